"""The MQTT event publisher: spool first, send in order, delete on PUBACK.

:class:`MqttPublisher` owns a paho-mqtt client (its network thread) and one
sender thread. :meth:`MqttPublisher.publish` only writes the event to the
on-disk :class:`~xrbridge.plant.spool.Spool` and returns, so the bridge never
waits for the broker. The sender hands spooled events to paho, oldest first,
at most ``max_inflight`` unacknowledged at a time, only while connected; each
PUBACK deletes its event from the spool. paho keeps QoS 1 messages that were
handed over but not acknowledged across reconnects and resends them first
(with the DUP flag), so after a broker restart the order is kept.

A last will (``offline``, retained) on the bridge's status topic tells
subscribers when the bridge vanished without saying goodbye; a clean
:meth:`stop` publishes ``offline`` itself.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from xrbridge.errors import EventError, UsageError
from xrbridge.plant.events import Topics, bridge_body, envelope
from xrbridge.plant.spool import Spool


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://[user[:password]@]host[:port]`` -> (host, port, user, password)."""
    try:
        u = urlsplit(url)
        port = u.port or 1883
    except ValueError as exc:
        raise UsageError(f"mqtt url must be mqtt://host[:port], got {url!r} ({exc})") from exc
    if u.scheme != "mqtt" or not u.hostname:
        raise UsageError(f"mqtt url must be mqtt://host[:port], got {url!r}")
    return u.hostname, port, u.username, u.password


class MqttPublisher:
    """Publishes plant events of one bridge. Start with :meth:`start`, end with :meth:`stop`.

    ``url``: the broker (``mqtt://host:port``); ``spool``: path of the spool
    file; ``keepalive``: seconds between pings (the broker sends the last will
    after 1.5 of them without a word); ``max_inflight``: unacknowledged events
    handed to the client at once (more: faster catch-up after an outage).
    """

    def __init__(
        self,
        url: str,
        topics: Topics,
        spool: str,
        *,
        keepalive: int = 10,
        max_inflight: int = 100,
        client_id: str | None = None,
        clock: Any = time.time,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise UsageError("MQTT events need paho-mqtt: pip install 'xrbridge[plant]'") from exc

        self.host, self.port, user, password = parse_mqtt_url(url)
        self.topics = topics
        self.spool = Spool(spool)
        self.max_inflight = int(max_inflight)
        self._clock = clock
        self._mqtt = mqtt
        cid = client_id or f"xrbridge-{topics.bridge}-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cid,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.will_set(topics.status, self._status_payload("offline"), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.max_inflight_messages_set(self.max_inflight)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.keepalive = int(keepalive)
        self.connected = threading.Event()
        self.connects = 0
        self.acked = 0
        self.published = 0
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}  # paho mid -> spool seq (sender thread only)
        self._handed = 0  # highest seq handed to paho
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; events are spooled until the broker answers."""
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._send_loop, name="xrbridge-mqtt", daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is empty (everything acknowledged); False on timeout."""
        end = time.monotonic() + timeout
        while len(self.spool) and time.monotonic() < end:
            self._wake.set()
            time.sleep(0.02)
        return len(self.spool) == 0

    def stop(self, flush_s: float = 2.0) -> None:
        """Send what can be sent within ``flush_s``, say ``offline``, disconnect.

        What is still spooled stays on disk for the next start.
        """
        if self._thread is None:
            self.spool.close()
            return
        if self.connected.is_set():
            self.flush(flush_s)
            info = self.client.publish(
                self.topics.status, self._status_payload("offline"), qos=1, retain=True
            )
            if self.connected.is_set():
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(timeout=1.0)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        self.client.disconnect()
        self.client.loop_stop()
        self.spool.close()
        self._thread = None

    def __enter__(self) -> MqttPublisher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- events -------------------------------------------------------------------
    def publish(
        self,
        kind: str,
        stream: str,
        body: dict[str, Any],
        *,
        robot: str | None = None,
        retain: bool = False,
    ) -> int:
        """Spool one event (never blocks on the network); returns its seq."""
        topic = self.topics.stream(stream, kind, robot)
        t = float(self._clock())
        seq = self.spool.put(
            topic, lambda s: envelope(self.topics, kind, stream, s, t, body), qos=1, retain=retain
        )
        self.published += 1
        self._wake.set()
        return seq

    def stats(self) -> dict[str, Any]:
        return {
            "connected": self.connected.is_set(),
            "published": self.published,
            "acked": self.acked,
            "spooled": len(self.spool),
            "dropped": self.spool.dropped,
            "connects": self.connects,
        }

    def _status_payload(self, state: str) -> bytes:
        return envelope(
            self.topics, "bridge", "_bridge", 0, float(self._clock()), bridge_body(state)
        )

    # -- paho callbacks (network thread: never block, never take our locks) --------
    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            return
        self.connects += 1
        client.publish(self.topics.status, self._status_payload("online"), qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        self.connected.clear()

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any = None
    ) -> None:
        self._acks.put(mid)
        self._wake.set()

    # -- sender thread --------------------------------------------------------------
    def _drain_acks(self) -> None:
        done = []
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                done.append(seq)
        if done:
            self.spool.ack(done)
            self.acked += len(done)

    def _send_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                self._drain_acks()
                if not self.connected.is_set():
                    continue
                room = self.max_inflight - len(self._inflight)
                if room <= 0:
                    continue
                for ev in self.spool.after(self._handed, room):
                    info = self.client.publish(ev.topic, ev.payload, qos=ev.qos, retain=ev.retain)
                    if info.rc not in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
                        # queue full or similar: try again later, from this event on
                        break
                    # NO_CONN: paho queued it and sends it after the reconnect
                    self._inflight[info.mid] = ev.seq
                    self._handed = ev.seq
                self._drain_acks()
        except EventError:
            # the spool's disk failed: nothing more can be sent safely; stats show it
            self.connected.clear()
