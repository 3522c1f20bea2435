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
import logging
import queue
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from xrbridge.errors import EventError, UsageError
from xrbridge.io.ratelog import RateLimitedLog
from xrbridge.plant.events import Topics, bridge_body, envelope
from xrbridge.plant.spool import Spool


@dataclass(frozen=True)
class MqttUrl:
    """Where the broker is: ``mqtt://`` (plain, port 1883) or ``mqtts://`` (TLS, port 8883)."""

    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool


def parse_mqtt_url(url: str) -> MqttUrl:
    """``mqtt[s]://[user[:password]@]host[:port]`` -> :class:`MqttUrl`."""
    expected = "mqtt://host[:port] or mqtts://host[:port] (TLS)"
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise UsageError(f"mqtt url must be {expected}, got {url!r} ({exc})") from exc
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise UsageError(f"mqtt url must be {expected}, got {url!r}")
    tls = u.scheme == "mqtts"
    return MqttUrl(u.hostname, port or (8883 if tls else 1883), u.username, u.password, tls)


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the handshake fails (paho would leave it to the collector)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except OSError:
            self.close()
            raise


@dataclass(frozen=True)
class MqttTls:
    """TLS files for an ``mqtts://`` broker (paths; empty: not used).

    ``ca``: the certificate authority that signed the broker's certificate
    (empty: the system's trust store); ``cert`` + ``key``: this bridge's client
    certificate, for brokers that authenticate clients by certificate
    (Mosquitto ``require_certificate true``).
    """

    ca: str = ""
    cert: str = ""
    key: str = ""

    def context(self) -> ssl.SSLContext:
        """A client context: the broker's certificate and host name verified."""
        ctx = ssl.create_default_context(cafile=self.ca or None)
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        ctx.sslsocket_class = _ClosingSSLSocket
        return ctx

    def check(self, url: MqttUrl) -> None:
        """Refuse a half or misplaced TLS setup with one line naming the setting."""
        given = {
            n: v
            for n, v in (("mqtt_ca", self.ca), ("mqtt_cert", self.cert), ("mqtt_key", self.key))
            if v
        }
        if given and not url.tls:
            raise UsageError(
                f"{', '.join(given)} given but the broker url is mqtt://: use mqtts://host:port "
                "for TLS, or drop the TLS files"
            )
        if bool(self.cert) != bool(self.key):
            raise UsageError(
                "a client certificate needs both mqtt_cert (certificate, PEM) and mqtt_key "
                f"(its private key, PEM); got mqtt_cert={self.cert!r}, mqtt_key={self.key!r}"
            )
        for name, path in given.items():
            if not Path(path).is_file():
                raise UsageError(f"{name}: expected a PEM file, got {path!r} (no such file)")


class MqttPublisher:
    """Publishes plant events of one bridge. Start with :meth:`start`, end with :meth:`stop`.

    ``url``: the broker (``mqtt://host:port``, or ``mqtts://host:port`` with
    ``tls`` for TLS and client certificates); ``spool``: path of the spool
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
        tls: MqttTls | None = None,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise UsageError("MQTT events need paho-mqtt: pip install 'xrbridge[plant]'") from exc

        target = parse_mqtt_url(url)
        self.host, self.port, self.tls = target.host, target.port, target.tls
        tls = tls or MqttTls()
        tls.check(target)
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
        if target.user is not None:
            self.client.username_pw_set(target.user, target.password)
        if target.tls:
            try:
                self.client.tls_set_context(tls.context())
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise UsageError(
                    f"mqtt TLS files could not be loaded (mqtt_ca={tls.ca!r}, "
                    f"mqtt_cert={tls.cert!r}, mqtt_key={tls.key!r}): {exc}"
                ) from exc
        self.client.will_set(topics.status, self._status_payload("offline"), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.max_inflight_messages_set(self.max_inflight)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_log = self._on_log
        self._log_error = ""  # paho's last error line (a TLS alert from the broker, say)
        self.last_error = ""  # why the last connection attempt failed ("" once connected)
        self._connect_exc: OSError | None = None
        reconnect = self.client.reconnect

        def reconnect_noting_why() -> Any:  # paho's on_connect_fail does not say why
            try:
                return reconnect()
            except OSError as exc:
                self._connect_exc = exc
                raise

        self.client.reconnect = reconnect_noting_why  # type: ignore[method-assign]
        self._log = RateLimitedLog(logging.getLogger("xrbridge.plant.mqtt"), every_s=30.0)
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
            "last_error": self.last_error,
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
            # refused by the broker: bad user / password, a client certificate it does not accept
            self._failed(f"broker refused the connection: {reason}")
            return
        self.last_error = self._log_error = ""
        self.connects += 1
        client.publish(self.topics.status, self._status_payload("online"), qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # no TCP connection or no TLS handshake; paho keeps retrying
        kind = "TLS" if self.tls else "plain"
        why = f": {self._connect_exc}" if self._connect_exc is not None else ""
        self._failed(f"cannot connect to {self.host}:{self.port} ({kind}){why}")

    def _failed(self, why: str) -> None:
        self.last_error = why
        self._log.warning("connect", f"mqtt: {why}; events stay spooled, retrying")

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        self.connected.clear()
        if getattr(reason, "is_failure", False):  # not our own disconnect
            self._failed(f"connection lost: {self._log_error or reason}")

    def _on_log(self, client: Any, userdata: Any, level: int, buf: str) -> None:
        if level == self._mqtt.MQTT_LOG_ERR:
            self._log_error = buf

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
