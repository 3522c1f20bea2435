"""The WebSocket server: bytes in and out of a :class:`~xrbridge.bridge.session.ControlSession`.

The protocol lives in the session; each connection's tasks are in
:mod:`xrbridge.bridge.ws_connection`; HTTP GETs go to :mod:`xrbridge.bridge.http`.

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
import ssl
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from xrbridge.bridge import protocol as P
from xrbridge.bridge.http import HttpRoutes, response
from xrbridge.bridge.hub import Hub
from xrbridge.bridge.limits import AuthBackoff, ConnectionLimiter, raise_fd_limit
from xrbridge.bridge.session import token_ok
from xrbridge.bridge.settings import Settings
from xrbridge.bridge.ws_connection import WsConnection


class WsServer:
    """WebSocket sessions + HTTP routes for one hub."""

    def __init__(
        self, hub: Hub, settings: Settings, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.hub, self.settings, self.ssl_context = hub, settings, ssl_context
        self.limits = settings.limits()
        # never more connections than file descriptors: the streams, models and logs need theirs
        fds = raise_fd_limit()
        total = max(16, min(self.limits.max_connections, fds - 128))
        self.conns = ConnectionLimiter(total, min(total, self.limits.per_address))
        self.backoff = AuthBackoff(self.limits.backoff_initial_s, self.limits.backoff_max_s)
        self.unauthenticated = 0  # open sessions still without the token (capped: room for holders)
        self.http = HttpRoutes(hub)
        self.server: Server | None = None
        self.port = 0

    async def start(self) -> int:
        s, lim, conns, server = self.settings, self.limits, self.conns, self

        class Limited(ServerConnection):  # counted from accept to close; over a cap: dropped
            xr_unauth = False

            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                self.xr_addr = str((transport.get_extra_info("peername") or ("?",))[0])
                self.xr_counted = conns.acquire(self.xr_addr)
                if not self.xr_counted:
                    transport.abort()

            def data_received(self, data: bytes) -> None:
                super().data_received(data)
                sent = self.protocol.close_sent
                if self.xr_unauth and sent is not None and sent.code == P.CLOSE_TOO_BIG:
                    self.transport.abort()  # refused before auth: read no more of its message

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                server.authenticated(self)
                if self.xr_counted:
                    self.xr_counted = False
                    conns.release(self.xr_addr)

        self.server = await serve(
            self._connection,
            s.host,
            s.ws_port,
            process_request=self._process_request,
            ssl=self.ssl_context,
            max_size=2 * s.max_message_bytes,
            max_queue=4,
            ping_interval=max(1.0, s.heartbeat_s),
            ping_timeout=max(2.0, 4 * s.heartbeat_s),
            compression=None,
            close_timeout=2,
            open_timeout=lim.handshake_timeout_s,
            create_connection=Limited,
        )
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
            m.error("origin")
            return response(HTTPStatus.FORBIDDEN, b"origin not allowed\n")
        auth = request.headers.get("Authorization")
        token = parse_qs(url.query).get("token", [None])[0]
        if auth is not None:
            token = auth[7:] if auth.startswith("Bearer ") else ""
        conn.xr_token = token  # type: ignore[attr-defined]
        if token is not None and not token_ok(self.settings.token, token):
            m.error("unauthenticated")
            await asyncio.sleep(
                self.backoff.failed(getattr(conn, "xr_addr", "?"), time.monotonic())
            )
            return response(HTTPStatus.UNAUTHORIZED, b"bad bearer token\n")
        authed = token_ok(self.settings.token, token)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self.http.get(url.path, authed)
        if not authed:  # no token yet: only so many such sessions, the rest is for token holders
            if self.unauthenticated >= self.limits.max_unauthenticated:
                m.error("too_many_connections")
                return response(
                    HTTPStatus.SERVICE_UNAVAILABLE, b"too many unauthenticated connections\n"
                )
            self.unauthenticated += 1
            conn.xr_unauth = True  # type: ignore[attr-defined]
        return None

    def authenticated(self, conn: ServerConnection) -> None:
        """The connection authenticated or ended: its unauthenticated slot is free."""
        if getattr(conn, "xr_unauth", False):
            conn.xr_unauth = False  # type: ignore[attr-defined]
            self.unauthenticated -= 1

    async def _connection(self, conn: ServerConnection) -> None:
        await WsConnection(self, conn).run()
