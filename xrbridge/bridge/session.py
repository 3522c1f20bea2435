"""The control session without I/O: client messages in, replies and actions out.

One :class:`ControlSession` per client connection (the python-websockets
idea). It holds the connection's state (authenticated or not, its stream
filter) and every rule of the protocol: auth, the limits before auth, the
bounded decode, subscribe, select_model, push, the error codes. It never
touches a socket, a clock or asyncio: the servers feed it bytes or decoded
messages with the time, and carry out what it returns:

- :class:`Reply` (a message for this client; ``key`` replaces a pending one),
- :class:`Close` (close with this code),
- :class:`Subscribe` (the new stream filter),
- :class:`SelectModel` (load and switch; report with :meth:`ControlSession.select_done`),
- :class:`Push` (decode and ingest a frame; report failures with :meth:`ControlSession.failed`).

The WebSocket server sends it every message; the gRPC server uses the same
stream lookup, model-name rules and error codes (:meth:`resolve_stream`,
:meth:`resolve_model`, :data:`GRPC_CODES`).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from xrbridge.bridge import protocol as P
from xrbridge.bridge.limits import Limits, check_msgpack
from xrbridge.errors import LimitError, WireError

#: session error code -> gRPC status code name (``grpc.StatusCode[...]``)
GRPC_CODES = {
    "unknown_stream": "NOT_FOUND",
    "unknown_model": "NOT_FOUND",
    "not_push_stream": "FAILED_PRECONDITION",
    "wrong_size": "INVALID_ARGUMENT",
    "bad_image": "INVALID_ARGUMENT",
    "bad_message": "INVALID_ARGUMENT",
    "too_large": "RESOURCE_EXHAUSTED",
    "unauthenticated": "UNAUTHENTICATED",
    "model_failed": "INTERNAL",
    "internal": "INTERNAL",
    "schema_version": "INVALID_ARGUMENT",
    "unknown_type": "INVALID_ARGUMENT",
}

SEQ_MAX = 2**63 - 1  # protobuf int64 / msgpack int64


@dataclass(frozen=True, slots=True)
class Reply:
    msg: dict[str, Any]
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str
    failed_auth: bool = False  # a wrong token: answer after the address's backoff


@dataclass(frozen=True, slots=True)
class Subscribe:
    streams: frozenset[str] | None  # None: all streams
    video: bool


@dataclass(frozen=True, slots=True)
class SelectModel:
    stream_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Push:
    stream_id: str
    seq: int | None  # None: the stream numbers it
    t_capture: float
    data: bytes


Action = Reply | Close | Subscribe | SelectModel | Push


class HubView(Protocol):
    """What the session reads of the hub (a :class:`~xrbridge.bridge.hub.Hub`)."""

    def stream_names(self) -> list[str]: ...

    def stream_kind(self, stream_id: str) -> str: ...

    def list_models(self) -> list[str]: ...

    def active_models(self) -> dict[str, str]: ...

    def status(self) -> dict[str, Any]: ...


def token_ok(want: str, presented: str | None) -> bool:
    """Constant-time token check; no token configured accepts everyone."""
    return not want or (
        presented is not None and hmac.compare_digest(presented.encode(), want.encode())
    )


def resolve_stream(hub: HubView, stream_id: str) -> str:
    """The stream a request names (empty: the first stream); ProtocolError ``unknown_stream``."""
    names = hub.stream_names()
    sid = stream_id or (names[0] if names else "")
    if sid not in names:
        raise P.ProtocolError("unknown_stream", f"unknown stream {sid!r}; valid: {sorted(names)}")
    return sid


def resolve_model(hub: HubView, name: str) -> str:
    """A model set name, also from a ListModels entry name ``<set>-<view>``; else ``unknown_model``."""
    names = hub.list_models()
    if name in names:
        return name
    for n in names:  # "patchcore-lower_front" (gRPC ListModels) selects the set "patchcore"
        if name.startswith(n + "-") and "/" not in name:
            return n
    raise P.ProtocolError(
        "unknown_model", f"unknown model {name[:80]!r}; valid: {', '.join(names)}"
    )


class ControlSession:
    """One client's session; see the module docstring for the actions."""

    def __init__(
        self,
        hub: HubView,
        *,
        token: str,
        server: str,
        heartbeat_s: float,
        limits: Limits,
        now: float,
        authed: bool = False,
        on_error: Callable[..., None] | None = None,
    ) -> None:
        self.hub = hub
        self.token = token
        self.server = server
        self.heartbeat_s = heartbeat_s
        self.limits = limits
        self.authed = authed or not token
        self.opened_at = now
        self.closed = False
        self.streams: frozenset[str] | None = frozenset()
        self.video = False
        self._on_error = on_error or (lambda code, detail="": None)

    # -- lifecycle ---------------------------------------------------------------
    def opened(self) -> list[Action]:
        """The first message: ``hello`` (before auth it names no streams or models)."""
        return [Reply(self._hello(), key="hello")]

    def tick(self, now: float, dropped: int = 0) -> list[Action]:
        """Periodic check: the auth deadline, then a heartbeat for an authenticated client.

        ``now``: unix seconds; ``dropped``: overlays dropped so far in this client's outbox.
        """
        if self.closed:
            return []
        if not self.authed:
            if now - self.opened_at >= self.limits.auth_deadline_s:
                return self._close(
                    P.CLOSE_POLICY, "authentication deadline passed", "unauthenticated"
                )
            return []
        return [Reply({"type": "heartbeat", "t": now, "dropped": int(dropped)}, key="heartbeat")]

    @property
    def max_message_bytes(self) -> int:
        """The largest message accepted now (small before auth)."""
        return self.limits.preauth_bytes if not self.authed else 2**31

    # -- input -------------------------------------------------------------------
    def receive_bytes(self, data: bytes | str, max_bytes: int, now: float = 0.0) -> list[Action]:
        """One raw WebSocket message: size, bounded decode, then :meth:`receive`.

        Before auth only a small ``hello`` is decoded: anything larger is refused unread.
        """
        if self.closed:
            return []
        limit = min(max_bytes, self.max_message_bytes)
        try:
            if isinstance(data, str):
                raise P.ProtocolError(
                    "bad_message", "expected a binary msgpack message, got a text message"
                )
            if len(data) > limit:
                raise P.ProtocolError(
                    "too_large", f"message of {len(data)} bytes exceeds the limit of {limit}"
                )
            try:
                check_msgpack(
                    data, max_depth=self.limits.max_depth, max_elements=self.limits.max_elements
                )
            except LimitError as exc:
                raise P.ProtocolError("too_large", str(exc)) from exc
            except WireError as exc:
                raise P.ProtocolError("bad_message", f"not msgpack ({exc})") from exc
            msg = P.parse_client(data, limit)
        except P.ProtocolError as exc:
            return self._error(exc)
        return self.receive(msg, now)

    def receive(self, msg: P.ClientMessage, now: float = 0.0) -> list[Action]:
        """One decoded client message (``now``: unix seconds, for ``pong``)."""
        if self.closed:
            return []
        try:
            return self._dispatch(msg, now)
        except P.ProtocolError as exc:
            return self._error(exc)

    def select_done(
        self, stream_id: str, name: str, error: BaseException | None = None
    ) -> list[Action]:
        """The outcome of a :class:`SelectModel` action."""
        if error is None:
            return [Reply({"type": "model_selected", "stream_id": stream_id, "name": name})]
        code = "unknown_model" if isinstance(error, P.ProtocolError) else "model_failed"
        # the message names the model, never a server path from the exception
        return self._error(
            P.ProtocolError(code, f"model {name!r} could not be loaded ({type(error).__name__})")
        )

    def failed(self, code: str, message: str) -> list[Action]:
        """A failed action (push decode, ingest) reported back as an ``error`` reply."""
        return self._error(P.ProtocolError(code, message))

    # -- rules -------------------------------------------------------------------
    def _dispatch(self, msg: P.ClientMessage, now: float) -> list[Action]:
        body = msg.body
        if msg.type == "hello":
            if not self.authed:
                if not token_ok(self.token, body.get("token")):
                    raise P.ProtocolError("unauthenticated", "hello: wrong or missing token")
                self.authed = True
            return [Reply(self._hello(), key="hello")]
        if not self.authed:
            raise P.ProtocolError("unauthenticated", f"{msg.type}: send hello with the token first")
        names = self.hub.stream_names()
        if msg.type == "ping":
            return [Reply({"type": "pong", "id": body.get("id"), "t": now})]
        if msg.type in ("subscribe", "unsubscribe"):
            wanted = set(body.get("streams") or [])
            unknown = sorted(wanted - set(names))
            if unknown:
                raise P.ProtocolError(
                    "unknown_stream", f"unknown streams {unknown}; valid: {sorted(names)}"
                )
            if msg.type == "subscribe":
                self.streams = None if not wanted else frozenset((self.streams or set()) | wanted)
                self.video = bool(body.get("video", self.video))
            else:
                self.streams = (
                    frozenset()
                    if not wanted
                    else frozenset(
                        (self.streams if self.streams is not None else set(names)) - wanted
                    )
                )
            shown = sorted(self.streams) if self.streams is not None else sorted(names)
            return [
                Subscribe(self.streams, self.video),
                Reply({"type": "subscribed", "streams": shown, "video": self.video}),
            ]
        if msg.type == "list_models":
            return [
                Reply(
                    {
                        "type": "models",
                        "models": self.hub.list_models(),
                        "active": self.hub.active_models(),
                    }
                )
            ]
        if msg.type == "status":
            return [Reply({"type": "status_report", **self.hub.status()})]
        if msg.type == "select_model":
            sid = resolve_stream(self.hub, body.get("stream_id") or "")
            return [SelectModel(sid, resolve_model(self.hub, body["name"]))]
        if msg.type == "frame":
            return [
                self.push_action(
                    body["stream_id"], body.get("seq", -1), body["t_capture"], body["data"]
                )
            ]
        raise P.ProtocolError(
            "unknown_type", f"unknown message type {msg.type!r}"
        )  # pragma: no cover

    def push_action(self, stream_id: str, seq: int, t_capture: float, data: bytes) -> Push:
        """Check a pushed frame's envelope (both transports)."""
        sid = resolve_stream(self.hub, stream_id)
        kind = self.hub.stream_kind(sid)
        if kind != "push":
            raise P.ProtocolError("not_push_stream", f"stream {sid!r} is a {kind} stream")
        if not 0 <= seq <= SEQ_MAX and seq != -1:
            raise P.ProtocolError(
                "bad_message", f"frame.seq must be in 0..2^63-1 (or -1), got {seq}"
            )
        t = float(t_capture)
        if not math.isfinite(t):
            raise P.ProtocolError(
                "bad_message", f"frame.t_capture must be a finite number, got {t}"
            )
        return Push(sid, None if seq < 0 else int(seq), t, data)

    def _hello(self) -> dict[str, Any]:
        return P.hello(
            self.server,
            sorted(self.hub.stream_names()) if self.authed else [],
            self.hub.list_models() if self.authed else [],
            self.heartbeat_s,
            bool(self.token),
        )

    def _error(self, exc: P.ProtocolError) -> list[Action]:
        self._on_error(exc.code, str(exc))
        out: list[Action] = [Reply(P.error(exc.code, str(exc)))]
        if exc.code == "unauthenticated" or (exc.code == "too_large" and not self.authed):
            out += self._close(
                P.CLOSE_POLICY, exc.code, None, failed_auth=exc.code == "unauthenticated"
            )
        return out

    def _close(
        self, code: int, reason: str, count: str | None, *, failed_auth: bool = False
    ) -> list[Action]:
        self.closed = True
        if count:
            self._on_error(count)
        return [Close(code, reason, failed_auth)]


def replies(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """The reply messages among ``actions`` (tests)."""
    return [a.msg for a in actions if isinstance(a, Reply)]
