"""The WebSocket server (``websockets`` library) and the small HTTP side on the same port.

HTTP (plain GET, no upgrade): ``/`` the viewer page, ``/metrics`` Prometheus
text, ``/status`` JSON per stream, ``/healthz``. Everything else upgrades to
the WebSocket session of :mod:`xrbridge.bridge.protocol`.

Per connection: a reader loop (client messages; a bad one gets an ``error``
message and is counted, the connection stays), a sender task draining the
subscriber's newest-wins outbox, and a heartbeat task. A slow reader only
fills its own outbox, whose older overlays are replaced: nobody else waits.

Auth: when a token is configured, a client presents it as
``Authorization: Bearer <token>`` at the handshake, as ``?token=`` in the URL
(browsers cannot set headers), or in its ``hello``. A wrong header is refused
at the handshake (HTTP 401); a missing one leaves the connection
unauthenticated until a ``hello`` with the right token: any other message gets
``error unauthenticated`` and close code 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import ssl
import time
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from xrbridge import __version__
from xrbridge.bridge import protocol as P
from xrbridge.bridge.hub import Hub, Published, Subscriber
from xrbridge.bridge.settings import Settings
from xrbridge.bridge.sources import decode_image
from xrbridge.core.types import Frame
from xrbridge.errors import ImageError, InputError, LimitError, UnknownNameError, WireError
from xrbridge.wire.codec import overlay_to_msgpack


def _encode(msg: Published) -> bytes:
    if msg.overlay is not None:
        return overlay_to_msgpack(msg.overlay)
    return P.pack(msg.payload or {})


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store"), ("Connection", "close")])
    return Response(status.value, status.phrase, headers, body)


def viewer_page() -> bytes:
    return resources.files("xrbridge.bridge").joinpath("static/index.html").read_bytes()


class WsServer:
    """WebSocket sessions + HTTP routes for one hub."""

    def __init__(self, hub: Hub, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.hub = hub
        self.settings = settings
        self.ssl_context = ssl_context
        self.server: Server | None = None
        self.port = 0
        self._page = viewer_page()

    # -- lifecycle --------------------------------------------------------------
    async def start(self) -> int:
        s = self.settings
        self.server = await serve(
            self._session, s.host, s.ws_port, process_request=self._process_request,
            ssl=self.ssl_context, max_size=2 * s.max_message_bytes, max_queue=4,
            ping_interval=max(1.0, s.heartbeat_s), ping_timeout=max(2.0, 4 * s.heartbeat_s),
            compression=None, close_timeout=2,
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()

    # -- HTTP + handshake checks ------------------------------------------------
    def _token_ok(self, presented: str | None) -> bool:
        want = self.settings.token
        return not want or (presented is not None and hmac.compare_digest(presented.encode(), want.encode()))

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        m = self.hub.metrics
        url = urlsplit(request.path)
        origin = request.headers.get("Origin")
        allowed = self.settings.allowed_origins
        if origin is not None and allowed and origin not in allowed:
            m.errors.inc("origin")
            return _response(HTTPStatus.FORBIDDEN, b"origin not allowed\n", "text/plain")
        auth = request.headers.get("Authorization")
        token = parse_qs(url.query).get("token", [None])[0]
        if auth is not None:
            token = auth[7:] if auth.startswith("Bearer ") else ""
        conn.xr_token = token  # type: ignore[attr-defined]
        if token is not None and not self._token_ok(token):
            m.errors.inc("unauthenticated")
            return _response(HTTPStatus.UNAUTHORIZED, b"bad bearer token\n", "text/plain")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if url.path in ("/", "/index.html"):
            return _response(HTTPStatus.OK, self._page, "text/html; charset=utf-8")
        if url.path == "/healthz":
            return _response(HTTPStatus.OK, b"ok\n", "text/plain")
        if url.path in ("/metrics", "/status"):
            if not self._token_ok(token):
                m.errors.inc("unauthenticated")
                return _response(HTTPStatus.UNAUTHORIZED, b"bearer token required\n", "text/plain")
            if url.path == "/metrics":
                return _response(HTTPStatus.OK, m.render().encode(), "text/plain; version=0.0.4")
            return _response(HTTPStatus.OK, json.dumps(self.hub.status()).encode(), "application/json")
        return _response(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    # -- the session ------------------------------------------------------------
    async def _session(self, conn: ServerConnection) -> None:
        hub, s = self.hub, self.settings
        authed = self._token_ok(getattr(conn, "xr_token", None))
        # room for one overlay and one preview per stream plus the control replies
        sub = Subscriber("websocket", set(), max_keys=s.queue_keys + 2 * len(hub.streams))
        hub.subscribe(sub)
        # before authentication the hello names no streams or models
        sub.queue.put(P.hello(f"xrbridge {__version__}", sorted(hub.streams) if authed else [],
                              hub.list_models() if authed else [], s.heartbeat_s, bool(s.token)),
                      key="hello")
        sender = asyncio.create_task(self._send_loop(conn, sub))
        beat = asyncio.create_task(self._heartbeat(sub))
        try:
            async for data in conn:
                try:
                    authed = await self._handle(conn, sub, data, authed)
                except ConnectionClosed:
                    raise
                except Exception as caught:  # a bug must not end the session either
                    exc = caught if isinstance(caught, P.ProtocolError) else \
                        P.ProtocolError("internal", f"{type(caught).__name__}: {caught}")
                    hub.metrics.errors.inc(exc.code)
                    sub.queue.put(P.error(exc.code, str(exc)))
                    if exc.code == "unauthenticated":
                        await asyncio.sleep(0.05)  # let the sender flush the error
                        await conn.close(P.CLOSE_POLICY, "unauthenticated")
                        break
        except ConnectionClosed as exc:
            if exc.rcvd is None and exc.sent is not None and exc.sent.code == P.CLOSE_TOO_BIG:
                hub.metrics.errors.inc("too_large")
        finally:
            if conn.close_code == P.CLOSE_TOO_BIG:
                hub.metrics.errors.inc("too_large")
            hub.unsubscribe(sub)
            beat.cancel()
            sender.cancel()
            for t in (beat, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _send_loop(self, conn: ServerConnection, sub: Subscriber) -> None:
        m = self.hub.metrics
        while True:
            msg = await sub.queue.get()
            if msg is None:
                return
            if isinstance(msg, dict):  # a control reply
                data = P.pack(msg)
                await conn.send(data)
                continue
            data = msg.encoded("msgpack", _encode)
            await conn.send(data)
            if msg.overlay is not None:
                st = self.hub.streams[msg.stream_id].stats
                m.record_sent("websocket", time.perf_counter() - msg.t_arrival, msg.t_wait,
                              msg.t_pipeline, msg.t_model, st.last_seq - msg.overlay.seq)

    async def _heartbeat(self, sub: Subscriber) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            sub.queue.put({"type": "heartbeat", "t": time.time(),
                           "dropped": sub.queue.dropped}, key="heartbeat")

    async def _handle(self, conn: ServerConnection, sub: Subscriber, data: Any, authed: bool) -> bool:
        hub, s = self.hub, self.settings
        msg = P.parse_client(data, s.max_message_bytes)
        body = msg.body
        reply = sub.queue.put
        if msg.type == "hello":
            if not authed:
                if not self._token_ok(body.get("token")):
                    raise P.ProtocolError("unauthenticated", "hello: wrong or missing token")
                authed = True
            reply(P.hello(f"xrbridge {__version__}", sorted(hub.streams), hub.list_models(),
                          s.heartbeat_s, bool(s.token)), key="hello")
            return authed
        if not authed:
            raise P.ProtocolError("unauthenticated", f"{msg.type}: send hello with the token first")
        if msg.type == "ping":
            reply({"type": "pong", "id": body.get("id"), "t": time.time()})
        elif msg.type in ("subscribe", "unsubscribe"):
            wanted = set(body.get("streams") or [])
            unknown = sorted(wanted - set(hub.streams))
            if unknown:
                raise P.ProtocolError("unknown_stream", f"unknown streams {unknown}; valid: {sorted(hub.streams)}")
            if msg.type == "subscribe":
                sub.streams = None if not wanted else (sub.streams or set()) | wanted
                sub.video = bool(body.get("video", sub.video))
            else:
                sub.streams = set() if not wanted else (sub.streams or set(hub.streams)) - wanted
            reply({"type": "subscribed", "streams": sorted(sub.streams) if sub.streams is not None
                   else sorted(hub.streams), "video": sub.video})
        elif msg.type == "list_models":
            reply({"type": "models", "models": hub.list_models(),
                   "active": {k: v.model for k, v in hub.streams.items()}})
        elif msg.type == "status":
            reply({"type": "status_report", **hub.status()})
        elif msg.type == "select_model":
            sid = body.get("stream_id") or next(iter(hub.streams), "")
            if sid not in hub.streams:
                raise P.ProtocolError("unknown_stream", f"unknown stream {sid!r}; valid: {sorted(hub.streams)}")
            try:
                await hub.select_model(sid, body["name"])
            except UnknownNameError as exc:
                raise P.ProtocolError("unknown_model", str(exc)) from exc
            except Exception as exc:  # a model that fails to load is an answer, not a crash
                raise P.ProtocolError("model_failed", f"{type(exc).__name__}: {exc}") from exc
            reply({"type": "model_selected", "stream_id": sid, "name": body["name"]})
        elif msg.type == "frame":
            await self._push(body)
        return authed

    async def _push(self, body: dict[str, Any]) -> None:
        hub = self.hub
        t_arr = time.perf_counter()
        sid = body["stream_id"]
        if sid not in hub.streams:
            raise P.ProtocolError("unknown_stream", f"unknown stream {sid!r}; valid: {sorted(hub.streams)}")
        stream = hub.streams[sid]
        if stream.source.kind != "push":
            raise P.ProtocolError("not_push_stream", f"stream {sid!r} is a {stream.source.kind} stream")
        try:
            pixels = await asyncio.to_thread(decode_image, body["data"],
                                             max_pixels=self.settings.max_image_pixels)
        except LimitError as exc:
            raise P.ProtocolError("too_large", str(exc)) from exc
        except (ImageError, WireError) as exc:
            raise P.ProtocolError("bad_image", str(exc)) from exc
        hub.metrics.stage.observe(time.perf_counter() - t_arr, "decode")
        seq = body.get("seq", -1)
        if seq < 0:
            seq = stream.stats.frames_in
        frame = Frame(sid, int(seq), float(body["t_capture"]), pixels)
        try:
            await hub.push(sid, frame, t_arr)
        except InputError as exc:
            raise P.ProtocolError("wrong_size", str(exc)) from exc
