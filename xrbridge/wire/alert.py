"""Encode and decode drift alerts (:class:`~xrbridge.core.drift.DriftAlert`) for both wire formats.

msgpack: a map with ``"type": "robot_alert"``, ``schema_version`` and the
alert's fields (unity_client_stub/PROTOCOL.md); it travels on the WebSocket
like the status messages. protobuf: ``xrbridge.v1.RobotAlert``
(protos/xrbridge/v1/control.proto), streamed by ``Subscribe.Alerts``.
Decoding checks types and raises :class:`~xrbridge.errors.WireError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

from xrbridge.core.drift import CLEARED, RAISED, DriftAlert
from xrbridge.core.types import SCHEMA_VERSION
from xrbridge.errors import WireError
from xrbridge.wire.gen import control_pb2

#: The ``type`` key of an alert message in msgpack.
ALERT_TYPE = "robot_alert"
STATES = (RAISED, CLEARED)

#: (field, allowed types), in protobuf field order after schema_version.
_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("stream_id", (str,)),
    ("robot", (str,)),
    ("state", (str,)),
    ("rate", (int, float)),
    ("defective", (int,)),
    ("cars", (int,)),
    ("car_id", (int,)),
    ("t", (int, float)),
    ("cars_seen", (int,)),
    ("threshold", (int, float)),
)


def alert_to_dict(a: DriftAlert) -> dict[str, Any]:
    """The msgpack mapping of ``a`` as plain Python values (also JSON-safe)."""
    return {
        "type": ALERT_TYPE,
        "schema_version": SCHEMA_VERSION,
        "stream_id": a.stream_id,
        "robot": a.robot,
        "state": a.state,
        "rate": float(a.rate),
        "defective": int(a.defective),
        "cars": int(a.cars),
        "car_id": int(a.car_id),
        "t": float(a.t),
        "cars_seen": int(a.cars_seen),
        "threshold": float(a.threshold),
    }


def alert_from_dict(m: Any) -> DriftAlert:
    """Inverse of :func:`alert_to_dict`. Raises WireError on a malformed message."""
    if not isinstance(m, Mapping):
        raise WireError(f"alert message must be a map, got {type(m).__name__}")
    if m.get("type", ALERT_TYPE) != ALERT_TYPE:
        raise WireError(f"expected type {ALERT_TYPE!r}, got {m.get('type')!r}")
    version = m.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise WireError(f"alert.schema_version must be {SCHEMA_VERSION}, got {version!r}")
    vals: dict[str, Any] = {}
    for key, types in _FIELDS:
        if key not in m:
            raise WireError(f"alert: missing key {key!r}")
        v = m[key]
        if isinstance(v, bool) or not isinstance(v, types):
            names = "/".join(t.__name__ for t in types)
            raise WireError(f"alert.{key}: expected {names}, got {type(v).__name__}")
        vals[key] = v
    if vals["state"] not in STATES:
        raise WireError(f"alert.state must be one of {STATES}, got {vals['state']!r}")
    if not 0.0 <= vals["rate"] <= 1.0:
        raise WireError(f"alert.rate must be in [0, 1], got {vals['rate']}")
    if not vals["robot"]:
        raise WireError("alert.robot must not be empty")
    return DriftAlert(
        robot=vals["robot"],
        state=vals["state"],
        rate=float(vals["rate"]),
        defective=vals["defective"],
        cars=vals["cars"],
        car_id=vals["car_id"],
        stream_id=vals["stream_id"],
        t=float(vals["t"]),
        cars_seen=vals["cars_seen"],
        threshold=float(vals["threshold"]),
    )


def alert_to_msgpack(a: DriftAlert) -> bytes:
    return msgpack.packb(alert_to_dict(a), use_bin_type=True)


def alert_from_msgpack(data: bytes) -> DriftAlert:
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise WireError(f"not a msgpack alert message: {exc}") from exc
    return alert_from_dict(m)


def alert_to_proto(a: DriftAlert) -> control_pb2.RobotAlert:
    d = alert_to_dict(a)
    del d["type"]
    return control_pb2.RobotAlert(**d)


def alert_from_proto(msg: control_pb2.RobotAlert | bytes) -> DriftAlert:
    if isinstance(msg, bytes | bytearray | memoryview):
        parsed = control_pb2.RobotAlert()
        try:
            parsed.ParseFromString(bytes(msg))
        except Exception as exc:  # protobuf's DecodeError
            raise WireError(f"not a protobuf RobotAlert: {exc}") from exc
        msg = parsed
    d: dict[str, Any] = {"type": ALERT_TYPE, "schema_version": msg.schema_version}
    for key, _ in _FIELDS:
        d[key] = getattr(msg, key)
    return alert_from_dict(d)
