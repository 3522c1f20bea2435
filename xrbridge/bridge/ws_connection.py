"""One WebSocket connection: its control session, outbox sender and ticker.

The reader feeds each message to the session and carries out its actions
(:meth:`WsConnection.apply`); the sender drains the newest-wins outbox (1011
for a client that takes nothing for ``send_timeout_s``); the ticker enforces
the auth deadline and sends heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from xrbridge import __version__
from xrbridge.bridge import protocol as P
from xrbridge.bridge import session as S
from xrbridge.bridge.hub import Published, Subscriber
from xrbridge.bridge.ingest import ingest_push
from xrbridge.wire.codec import overlay_to_msgpack


def _encode(msg: Published) -> bytes:
    return overlay_to_msgpack(msg.overlay) if msg.overlay is not None else P.pack(msg.payload or {})


class WsConnection:
    """The per-connection tasks of :class:`~xrbridge.bridge.ws_server.WsServer`."""

    def __init__(self, server: Any, conn: ServerConnection) -> None:
        hub, s = server.hub, server.settings
        self.hub, self.settings, self.limits = hub, s, server.limits
        self.server, self.backoff, self.conn = server, server.backoff, conn
        self.addr = getattr(conn, "xr_addr", "?")
        authed = S.token_ok(s.token, getattr(conn, "xr_token", None))
        self.session = S.ControlSession(
            hub,
            token=s.token,
            server=f"xrbridge {__version__}",
            heartbeat_s=s.heartbeat_s,
            limits=self.limits,
            now=time.time(),
            authed=authed,
            on_error=hub.metrics.error,
        )
        # room for one overlay and one preview per stream plus the control replies
        self.sub = Subscriber("websocket", set(), max_keys=s.queue_keys + 2 * len(hub.streams))

    async def run(self) -> None:
        hub, conn, session = self.hub, self.conn, self.session
        limit = self.settings.max_message_bytes
        if not session.authed:  # nothing but a small hello is read before auth
            conn.protocol.max_message_size = self.limits.preauth_bytes
        hub.subscribe(self.sub)
        tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._tick())]
        try:
            with contextlib.suppress(ConnectionClosed):
                await self.apply(session.opened())
                async for data in conn:
                    was_authed = session.authed
                    actions = session.receive_bytes(data, limit, time.time())
                    if session.authed and not was_authed:
                        conn.protocol.max_message_size = 2 * limit
                        self.backoff.succeeded(self.addr)
                        self.server.authenticated(conn)
                    if not await self.apply(actions):
                        break
        finally:
            sent = conn.protocol.close_sent
            if sent is not None and sent.code == P.CLOSE_TOO_BIG:
                hub.metrics.error("too_large")
            hub.unsubscribe(self.sub)
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def apply(self, actions: list[Any]) -> bool:
        """Carry out the session's actions; False once the connection is to be closed."""
        session, sub = self.session, self.sub
        for a in actions:
            if isinstance(a, S.Reply):
                sub.queue.put(a.msg, key=a.key)
            elif isinstance(a, S.Subscribe):
                sub.streams = None if a.streams is None else set(a.streams)
                sub.video = a.video
                self.hub.offer_raised_alerts(sub)
            elif isinstance(a, S.SelectModel):
                try:
                    await self.hub.select_model(a.stream_id, a.name)
                    more = session.select_done(a.stream_id, a.name)
                except Exception as exc:  # a model that fails to load is an answer, not a crash
                    more = session.select_done(a.stream_id, a.name, exc)
                await self.apply(more)
            elif isinstance(a, S.Push):
                try:
                    t_arr, px = time.perf_counter(), self.settings.max_image_pixels
                    await ingest_push(self.hub, a, max_pixels=px, t_arrival=t_arr)
                except P.ProtocolError as exc:
                    await self.apply(session.failed(exc.code, str(exc)))
            elif isinstance(a, S.Close):
                if a.failed_auth:  # answer a wrong token after the address's backoff
                    await asyncio.sleep(self.backoff.failed(self.addr, time.monotonic()))
                end = time.monotonic() + 0.5  # let the sender flush the error first
                while len(sub.queue) and time.monotonic() < end:
                    await asyncio.sleep(0.01)
                await self.conn.close(a.code, a.reason)
                return False
        return True

    async def _send_loop(self) -> None:
        m, limit = self.hub.metrics, self.limits.send_timeout_s
        while (msg := await self.sub.queue.get()) is not None:
            data = P.pack(msg) if isinstance(msg, dict) else msg.encoded("msgpack", _encode)
            try:
                await asyncio.wait_for(self.conn.send(data), limit)
            except TimeoutError:  # it stopped reading: PROTOCOL.md promises 1011
                m.error("slow_subscriber")
                await self.conn.close(P.CLOSE_INTERNAL, "subscriber stopped reading")
                return
            if isinstance(msg, Published) and msg.overlay is not None:
                lag = self.hub.streams[msg.stream_id].stats.last_seq - msg.overlay.seq
                e2e = time.perf_counter() - msg.t_arrival
                m.record_sent("websocket", e2e, msg.t_wait, msg.t_pipeline, msg.t_model, lag)

    async def _tick(self) -> None:
        """Auth deadline (checked often before auth), then one heartbeat every ``heartbeat_s``."""
        beat_s, session = self.settings.heartbeat_s, self.session
        quick = min(beat_s, max(0.05, self.limits.auth_deadline_s / 4))
        last = time.monotonic()
        while True:
            await asyncio.sleep(beat_s if session.authed else quick)
            if session.authed and time.monotonic() - last < beat_s * 0.99:
                continue
            last = time.monotonic()
            if not await self.apply(session.tick(time.time(), self.sub.queue.dropped)):
                return
