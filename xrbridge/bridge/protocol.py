"""The WebSocket session messages around the overlay (pure: bytes in, values out).

Every WebSocket message is one msgpack map in a binary message with a
``type`` key. Overlays (``overlay_frame``) are encoded by
:mod:`xrbridge.wire.codec`; this module parses what clients send and builds
the other server messages. The table is in unity_client_stub/PROTOCOL.md.

Client -> server: ``hello`` {schema_version, client?, token?},
``subscribe`` {streams: [id] (empty: all), video?: bool}, ``unsubscribe``
{streams}, ``select_model`` {stream_id, name}, ``list_models``, ``status``,
``ping`` {id?}, ``frame`` {stream_id, seq, t_capture, data: JPEG/PNG bytes}.

Server -> client: ``hello``, ``subscribed``, ``models``, ``model_selected``,
``status``, ``pong``, ``heartbeat``, ``error`` {code, message, ref},
``overlay_frame``, ``video`` (viewer preview: JPEG bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from xrbridge.core.types import SCHEMA_VERSION
from xrbridge.errors import WireError

CLIENT_TYPES = (
    "hello",
    "subscribe",
    "unsubscribe",
    "select_model",
    "list_models",
    "status",
    "ping",
    "frame",
)

#: Error codes (also the ``kind`` label of ``xrbridge_errors_total``).
ERROR_CODES = (
    "bad_message",
    "unknown_type",
    "unknown_stream",
    "unknown_model",
    "bad_image",
    "wrong_size",
    "too_large",
    "unauthenticated",
    "not_push_stream",
    "schema_version",
    "model_failed",
    "internal",
)

# Close codes (RFC 6455 section 7.4.1)
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_POLICY = 1008  # unauthenticated
CLOSE_TOO_BIG = 1009  # message above the hard limit (sent by the websockets library)
CLOSE_INTERNAL = 1011


class ProtocolError(WireError):
    """A client message that breaks the session protocol; ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ClientMessage:
    type: str
    body: dict[str, Any]


def _field(
    body: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any = ...
) -> Any:
    if key not in body:
        if default is ...:
            raise ProtocolError("bad_message", f"{body.get('type')}: missing key {key!r}")
        return default
    v = body[key]
    tt = types if isinstance(types, tuple) else (types,)
    if isinstance(v, bool) and bool not in tt:
        raise ProtocolError("bad_message", f"{body.get('type')}.{key}: expected {types}, got bool")
    if not isinstance(v, tt):
        raise ProtocolError(
            "bad_message", f"{body.get('type')}.{key}: expected {types}, got {type(v).__name__}"
        )
    return v


def parse_client(data: bytes | str, max_bytes: int) -> ClientMessage:
    """Parse and check one client message. Raises ProtocolError with a code."""
    if isinstance(data, str):
        raise ProtocolError("bad_message", "expected a binary msgpack message, got a text message")
    if len(data) > max_bytes:
        raise ProtocolError(
            "too_large", f"message of {len(data)} bytes exceeds the limit of {max_bytes}"
        )
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError("bad_message", f"not msgpack ({type(exc).__name__}: {exc})") from exc
    if not isinstance(body, dict):
        raise ProtocolError("bad_message", f"expected a msgpack map, got {type(body).__name__}")
    kind = body.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", f"expected a str 'type' key, got {type(kind).__name__}")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind[:40]!r}; valid: {', '.join(CLIENT_TYPES)}"
        )
    if kind == "hello":
        v = _field(body, "schema_version", int, SCHEMA_VERSION)
        if v != SCHEMA_VERSION:
            raise ProtocolError(
                "schema_version", f"schema_version must be {SCHEMA_VERSION}, got {v}"
            )
        _field(body, "token", str, "")
        _field(body, "client", str, "")
    elif kind in ("subscribe", "unsubscribe"):
        streams = _field(body, "streams", list, [])
        if not all(isinstance(s, str) for s in streams):
            raise ProtocolError("bad_message", f"{kind}.streams: expected a list of str")
        _field(body, "video", bool, False)
    elif kind == "select_model":
        _field(body, "stream_id", str, "")
        _field(body, "name", str)
    elif kind == "ping":
        _field(body, "id", (int, str, type(None)), None)
    elif kind == "frame":
        _field(body, "stream_id", str)
        _field(body, "seq", int, -1)
        _field(body, "t_capture", (int, float))
        _field(body, "data", bytes)
    return ClientMessage(kind, body)


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


def error(code: str, message: str, ref: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message[:300], "ref": ref}


def hello(
    server: str, streams: list[str], models: list[str], heartbeat_s: float, auth_required: bool
) -> dict[str, Any]:
    return {
        "type": "hello",
        "schema_version": SCHEMA_VERSION,
        "server": server,
        "streams": streams,
        "models": models,
        "heartbeat_s": heartbeat_s,
        "auth_required": auth_required,
    }
