"""The bridge's plant sinks: verdicts, confirmed defects, health and drift alerts.

:class:`PlantSinks` is wired by the composition root (``xrbridge.bridge.app``)
when plant settings are given:

- :meth:`PlantSinks.on_records` receives the inspection records of the cars
  that left (inference threads): each becomes a ``verdict`` event, goes
  through the stream's drift monitor, and a changed robot state becomes an
  ``alert`` event (retained), a row of the record store's alerts (both
  stores keep them), and a ``robot_alert`` message to the bridge's
  subscribers (WebSocket and the viewer, gRPC ``Subscribe.Alerts``);
- :meth:`PlantSinks.on_published` (a hub sink, event loop) sends a
  ``defect`` event the first time a defect of a car is confirmed;
- a health task sends every stream's counters every ``health_s`` seconds.

Nothing here blocks on the network: events go to the publisher's disk spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

from xrbridge.core.drift import DriftConfig, DriftMonitor
from xrbridge.plant.events import (
    Topics,
    alert_body,
    defect_body,
    health_body,
    verdict_body,
)
from xrbridge.plant.robots import RobotScene, load_robot_scene


def drift_config(settings: Any) -> DriftConfig:
    return DriftConfig(
        window=settings.drift_window,
        raise_rate=settings.drift_raise_rate,
        clear_rate=settings.drift_clear_rate,
        min_cars=settings.drift_min_cars,
        baseline_cars=settings.drift_baseline_cars,
        baseline_margin=settings.drift_baseline_margin,
    )


class PlantSinks:
    """Plant events of one bridge. ``publisher``: an MqttPublisher (None: drift only)."""

    def __init__(
        self,
        settings: Any,
        hub: Any,
        publisher: Any = None,
        store: Any = None,
        robots: RobotScene | None = None,
    ) -> None:
        self.hub = hub
        self.publisher = publisher
        self.store = store
        scene = Path(settings.templates) if settings.templates else None
        self.robots = robots or load_robot_scene(scene, settings.robots)
        self.config = drift_config(settings)
        self.health_s = float(settings.health_s)
        self.monitors: dict[str, DriftMonitor] = {}
        self.alerts: list[Any] = []  # every alert of this run (also for the summary)
        self._seen: set[tuple[str, int, int]] = set()
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def from_settings(settings: Any, hub: Any, store: Any = None) -> PlantSinks:
        """Build the publisher (when ``mqtt_url`` is set) and the sinks."""
        publisher = None
        if settings.mqtt_url:
            from xrbridge.plant.mqtt import MqttPublisher, MqttTls

            topics = Topics(settings.plant, settings.line, settings.bridge_name())
            tls = MqttTls(settings.mqtt_ca, settings.mqtt_cert, settings.mqtt_key)
            publisher = MqttPublisher(settings.mqtt_url, topics, settings.mqtt_spool, tls=tls)
        return PlantSinks(settings, hub, publisher, store)

    # -- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.publisher is not None:
            for sid in self.hub.streams:  # stream ids become topic levels: refuse bad ones now
                self.publisher.topics.stream(sid, "verdict")
            self.publisher.start()
            if self.health_s > 0:
                self._task = asyncio.create_task(self._health_loop(), name="plant-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.publisher is not None:
            self.publish_health()
            await asyncio.get_running_loop().run_in_executor(None, self.publisher.stop)

    # -- sinks ----------------------------------------------------------------------
    def on_records(self, records: list[Any]) -> None:
        """Cars that left (any thread): verdicts, drift, alerts.

        A spool that cannot be written (disk full) is counted in the bridge's
        errors (``events``), never raised into the pipeline.
        """
        from xrbridge.errors import EventError

        try:
            self._on_records(records)
        except EventError:
            self.hub.metrics.errors.inc("events")

    def _on_records(self, records: list[Any]) -> None:
        with self._lock:
            for rec in records:
                obs = self.robots.observe(rec)
                mon = self.monitors.setdefault(rec.stream_id, DriftMonitor(self.config))
                changed = mon.update(obs)
                if self.publisher is not None:
                    self.publisher.publish(
                        "verdict",
                        rec.stream_id,
                        verdict_body(rec, sorted(obs.defective), self.robots),
                    )
                for alert in changed:
                    self.alerts.append(alert)
                    self._to_subscribers(alert)
                    if self.publisher is not None:
                        self.publisher.publish(
                            "alert",
                            rec.stream_id,
                            alert_body(alert),
                            robot=alert.robot,
                            retain=True,
                        )
                    if self.store is not None and hasattr(self.store, "add_alert"):
                        from xrbridge.errors import RecordError

                        try:
                            self.store.add_alert(alert)
                        except RecordError:
                            self.hub.metrics.errors.inc("records")

    def _to_subscribers(self, alert: Any) -> None:
        """The alert to the bridge's subscribers, published on the event loop (any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        import time

        from xrbridge.bridge.hub import Published
        from xrbridge.wire.alert import alert_to_dict

        msg = Published(alert.stream_id, "alert", time.perf_counter(), payload=alert_to_dict(alert))
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the bridge is stopping
            loop.call_soon_threadsafe(self.hub.publish, msg)

    def on_published(self, msg: Any) -> None:
        """Hub sink (event loop): a defect event when a car's defect is first confirmed."""
        ov = msg.overlay
        if self.publisher is None or ov is None or ov.track is None or msg.kind != "inferred":
            return
        for d in ov.defects:
            key = (ov.stream_id, ov.track.car_id, d.defect_id)
            if not d.confirmed or key in self._seen:
                continue
            self._seen.add(key)
            region, robot = self.robots.region_robot(d.view, d.centroid_uv)
            self.publisher.publish(
                "defect", ov.stream_id, defect_body(ov.track.car_id, d.view, d, region, robot)
            )
        if len(self._seen) > 100_000:  # long runs: forget old cars
            self._seen.clear()

    def publish_health(self) -> None:
        if self.publisher is None:
            return
        for sid, stream in self.hub.streams.items():
            body = health_body(stream.status())
            mon = self.monitors.get(sid)
            body["robots"] = mon.status() if mon is not None else {}
            body["events"] = self.publisher.stats()
            self.publisher.publish("health", sid, body, retain=True)

    async def _health_loop(self) -> None:
        while True:
            self.publish_health()
            await asyncio.sleep(self.health_s)
