"""The WebSocket server: bytes in and out of a :class:`~xrbridge.bridge.session.ControlSession`.

The protocol lives in the session; this adapter only moves messages. Per
connection: a reader (each message to the session, its actions carried out),
a sender draining the subscriber's newest-wins outbox (a client that takes
nothing for ``send_timeout_s`` is closed with 1011), and a ticker (auth
deadline, heartbeats). HTTP GETs go to :mod:`xrbridge.bridge.http`.

Limits at the door (:mod:`xrbridge.bridge.limits`): connections over the
total or per-address cap are dropped at accept; the handshake must finish in
``handshake_timeout_s``; before auth the largest message is
``preauth_message_bytes`` (the library closes with 1009 above it); failed
tokens are answered after a growing delay per address. Auth: ``Authorization:
Bearer`` at the handshake (wrong: HTTP 401), ``?token=`` (browsers), or a
``hello`` with the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from xrbridge import __version__
from xrbridge.bridge import protocol as P
from xrbridge.bridge.http import HttpRoutes, response
from xrbridge.bridge.hub import Hub, Published, Subscriber
from xrbridge.bridge.ingest import ingest_push
from xrbridge.bridge.limits import AuthBackoff, ConnectionLimiter
from xrbridge.bridge.session import (
    Close,
    ControlSession,
    Push,
    Reply,
    SelectModel,
    Subscribe,
    token_ok,
)
from xrbridge.bridge.settings import Settings
from xrbridge.wire.codec import overlay_to_msgpack


def _encode(msg: Published) -> bytes:
    return overlay_to_msgpack(msg.overlay) if msg.overlay is not None else P.pack(msg.payload or {})


class WsServer:
    """WebSocket sessions + HTTP routes for one hub."""

    def __init__(self, hub: Hub, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.hub, self.settings, self.ssl_context = hub, settings, ssl_context
        self.limits = settings.limits()
        self.conns = ConnectionLimiter(self.limits.max_connections, self.limits.per_address)
        self.backoff = AuthBackoff(self.limits.backoff_initial_s, self.limits.backoff_max_s)
        self.http = HttpRoutes(hub)
        self.server: Server | None = None
        self.port = 0

    async def start(self) -> int:
        s, lim, conns = self.settings, self.limits, self.conns

        class Limited(ServerConnection):  # counted from accept to close; over a cap: dropped at once
            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                self.xr_addr = str((transport.get_extra_info("peername") or ("?",))[0])
                self.xr_counted = conns.acquire(self.xr_addr)
                if not self.xr_counted:
                    transport.abort()

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                if self.xr_counted:
                    self.xr_counted = False
                    conns.release(self.xr_addr)

        self.server = await serve(
            self._session, s.host, s.ws_port, process_request=self._process_request, ssl=self.ssl_context,
            max_size=2 * s.max_message_bytes, max_queue=4, ping_interval=max(1.0, s.heartbeat_s),
            ping_timeout=max(2.0, 4 * s.heartbeat_s), compression=None, close_timeout=2,
            open_timeout=lim.handshake_timeout_s, create_connection=Limited)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        m, url = self.hub.metrics, urlsplit(request.path)
        origin, allowed = request.headers.get("Origin"), self.settings.allowed_origins
        if origin is not None and allowed and origin not in allowed:
            m.errors.inc("origin")
            return response(HTTPStatus.FORBIDDEN, b"origin not allowed\n")
        auth = request.headers.get("Authorization")
        token = parse_qs(url.query).get("token", [None])[0]
        if auth is not None:
            token = auth[7:] if auth.startswith("Bearer ") else ""
        conn.xr_token = token  # type: ignore[attr-defined]
        if token is not None and not token_ok(self.settings.token, token):
            m.errors.inc("unauthenticated")
            await asyncio.sleep(self.backoff.failed(getattr(conn, "xr_addr", "?"), time.monotonic()))
            return response(HTTPStatus.UNAUTHORIZED, b"bad bearer token\n")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return self.http.get(url.path, token_ok(self.settings.token, token))

    async def _session(self, conn: ServerConnection) -> None:
        hub, s = self.hub, self.settings
        session = ControlSession(hub, token=s.token, server=f"xrbridge {__version__}", heartbeat_s=s.heartbeat_s,
                                 limits=self.limits, now=time.time(),
                                 authed=token_ok(s.token, getattr(conn, "xr_token", None)),
                                 on_error=lambda code: hub.metrics.errors.inc(code))
        if not session.authed:  # nothing but a small hello is read before auth
            conn.protocol.max_message_size = self.limits.preauth_bytes
        sub = Subscriber("websocket", set(), max_keys=s.queue_keys + 2 * len(hub.streams))
        hub.subscribe(sub)
        tasks = [asyncio.create_task(self._send_loop(conn, sub)), asyncio.create_task(self._tick(conn, sub, session))]
        try:
            await self._apply(conn, sub, session, session.opened())
            async for data in conn:
                was_authed = session.authed
                actions = session.receive_bytes(data, s.max_message_bytes, time.time())
                if session.authed and not was_authed:
                    conn.protocol.max_message_size = 2 * s.max_message_bytes
                    self.backoff.succeeded(getattr(conn, "xr_addr", "?"))
                if not await self._apply(conn, sub, session, actions):
                    break
        except ConnectionClosed:
            pass
        finally:
            if conn.close_code == P.CLOSE_TOO_BIG:
                hub.metrics.errors.inc("too_large")
            hub.unsubscribe(sub)
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _apply(self, conn: ServerConnection, sub: Subscriber, session: ControlSession, actions: list[Any]) -> bool:
        """Carry out the session's actions; False once the connection is to be closed."""
        for a in actions:
            if isinstance(a, Reply):
                sub.queue.put(a.msg, key=a.key)
            elif isinstance(a, Subscribe):
                sub.streams = None if a.streams is None else set(a.streams)
                sub.video = a.video
            elif isinstance(a, SelectModel):
                try:
                    await self.hub.select_model(a.stream_id, a.name)
                    more = session.select_done(a.stream_id, a.name)
                except Exception as exc:  # a model that fails to load is an answer, not a crash
                    more = session.select_done(a.stream_id, a.name, exc)
                await self._apply(conn, sub, session, more)
            elif isinstance(a, Push):
                try:
                    await ingest_push(self.hub, a, max_pixels=self.settings.max_image_pixels,
                                      t_arrival=time.perf_counter())
                except P.ProtocolError as exc:
                    await self._apply(conn, sub, session, session.failed(exc.code, str(exc)))
            elif isinstance(a, Close):
                if a.code == P.CLOSE_POLICY:  # failed auth: answer after the address's backoff
                    await asyncio.sleep(self.backoff.failed(getattr(conn, "xr_addr", "?"), time.monotonic()))
                await self._flush(sub)
                await conn.close(a.code, a.reason)
                return False
        return True

    async def _flush(self, sub: Subscriber, timeout: float = 0.5) -> None:
        end = time.monotonic() + timeout
        while len(sub.queue) and time.monotonic() < end:
            await asyncio.sleep(0.01)

    async def _send_loop(self, conn: ServerConnection, sub: Subscriber) -> None:
        m, limit = self.hub.metrics, self.limits.send_timeout_s
        while (msg := await sub.queue.get()) is not None:
            data = P.pack(msg) if isinstance(msg, dict) else msg.encoded("msgpack", _encode)
            try:
                await asyncio.wait_for(conn.send(data), limit)
            except TimeoutError:  # it stopped reading: PROTOCOL.md promises 1011
                m.errors.inc("slow_subscriber")
                await conn.close(P.CLOSE_INTERNAL, "subscriber stopped reading")
                return
            if isinstance(msg, Published) and msg.overlay is not None:
                st = self.hub.streams[msg.stream_id].stats
                m.record_sent("websocket", time.perf_counter() - msg.t_arrival, msg.t_wait,
                              msg.t_pipeline, msg.t_model, st.last_seq - msg.overlay.seq)

    async def _tick(self, conn: ServerConnection, sub: Subscriber, session: ControlSession) -> None:
        """Auth deadline (checked often before auth), then one heartbeat every ``heartbeat_s``."""
        beat_s = self.settings.heartbeat_s
        last = time.monotonic()
        while True:
            await asyncio.sleep(beat_s if session.authed else min(beat_s, max(0.05, self.limits.auth_deadline_s / 4)))
            if session.authed and time.monotonic() - last < beat_s * 0.99:
                continue
            last = time.monotonic()
            if not await self._apply(conn, sub, session, session.tick(time.time(), sub.queue.dropped)):
                return
