"""Encode and decode :class:`~xrbridge.core.verdict.CarVerdict` for both wire formats.

msgpack: a map with the dataclass field names plus ``"type": "car_verdict"``
and ``schema_version``; ``contour_ub`` is a flat float32 list, pairs are
lists, ``None`` is nil (unity_client_stub/PROTOCOL.md). A verdict travels
alone (JSONL, records) or inside an overlay frame's ``verdicts`` list.
protobuf: ``xrbridge.v1.CarVerdict`` (protos/xrbridge/v1/overlay.proto).
Decoding checks types and raises :class:`~xrbridge.errors.WireError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np

from xrbridge.core.types import SCHEMA_VERSION
from xrbridge.core.verdict import CarVerdict, VerdictDefect, ViewCoverage, verdict_to_json
from xrbridge.errors import InputError, WireError
from xrbridge.wire.gen import overlay_pb2

#: The ``type`` key of a verdict message in msgpack.
VERDICT_TYPE = "car_verdict"

_NUM = (int, float)


def verdict_to_dict(v: CarVerdict) -> dict[str, Any]:
    """The msgpack mapping of ``v`` as plain Python values (also JSON-safe)."""
    return {"type": VERDICT_TYPE, "schema_version": SCHEMA_VERSION, **verdict_to_json(v)}


def _get(m: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in m:
        raise WireError(f"{where}: missing key {key!r}")
    val = m[key]
    allowed = types if isinstance(types, tuple) else (types,)
    if val is None and type(None) in allowed:
        return None
    if isinstance(val, bool) and bool not in allowed:
        raise WireError(f"{where}.{key}: expected {types}, got bool")
    if not isinstance(val, allowed):
        raise WireError(f"{where}.{key}: expected {types}, got {type(val).__name__}")
    return val


def _strings(m: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    vals = _get(m, key, list, where)
    if not all(isinstance(x, str) for x in vals):
        raise WireError(f"{where}.{key}: expected a list of strings, got {vals!r}")
    return tuple(vals)


def _defect_from_dict(m: Any) -> VerdictDefect:
    w = "verdict.defects[]"
    if not isinstance(m, Mapping):
        raise WireError(f"{w}: expected a map, got {type(m).__name__}")
    cen = _get(m, "centroid_ub", list, w)
    if len(cen) != 2 or not all(isinstance(x, _NUM) for x in cen):
        raise WireError(f"{w}.centroid_ub: expected [u, v], got {cen!r}")
    flat = np.asarray(_get(m, "contour_ub", list, w), np.float32)
    if flat.size % 2:
        raise WireError(
            f"{w}.contour_ub: expected u, v pairs (even length), got {flat.size} values"
        )
    mm = _get(m, "area_mm2", (int, float, type(None)), w)
    return VerdictDefect(
        defect_id=_get(m, "defect_id", int, w),
        view=_get(m, "view", str, w),
        type_guess=_get(m, "type_guess", str, w),
        size_class=_get(m, "size_class", str, w),
        severity=_get(m, "severity", str, w),
        confidence=float(_get(m, "confidence", _NUM, w)),
        centroid_ub=(float(cen[0]), float(cen[1])),
        contour_ub=flat.reshape(-1, 2),
        length_px=float(_get(m, "length_px", _NUM, w)),
        area_px=float(_get(m, "area_px", _NUM, w)),
        location=_get(m, "location", str, w),
        frames=_get(m, "frames", int, w),
        travel_px=float(_get(m, "travel_px", _NUM, w)),
        peak_score=float(_get(m, "peak_score", _NUM, w)),
        area_mm2=None if mm is None else float(mm),
    )


def verdict_from_dict(m: Any) -> CarVerdict:
    """Inverse of :func:`verdict_to_dict`. Raises WireError on a malformed message."""
    w = "verdict"
    if not isinstance(m, Mapping):
        raise WireError(f"verdict message must be a map, got {type(m).__name__}")
    kind = m.get("type", VERDICT_TYPE)
    if kind != VERDICT_TYPE:
        raise WireError(f"expected type {VERDICT_TYPE!r}, got {kind!r}")
    version = _get(m, "schema_version", int, w)
    if version != SCHEMA_VERSION:
        raise WireError(f"schema_version must be {SCHEMA_VERSION}, got {version}")
    cov = []
    for c in _get(m, "coverage", list, w):
        if not isinstance(c, Mapping):
            raise WireError(f"verdict.coverage[]: expected a map, got {type(c).__name__}")
        cov.append(
            ViewCoverage(
                view=_get(c, "view", str, "verdict.coverage[]"),
                frames=_get(c, "frames", int, "verdict.coverage[]"),
                travel_px=float(_get(c, "travel_px", _NUM, "verdict.coverage[]")),
                complete=_get(c, "complete", bool, "verdict.coverage[]"),
            )
        )
    try:
        return CarVerdict(
            stream_id=_get(m, "stream_id", str, w),
            car_id=_get(m, "car_id", int, w),
            status=_get(m, "status", str, w),
            confidence=float(_get(m, "confidence", _NUM, w)),
            t_first=float(_get(m, "t_first", _NUM, w)),
            t_last=float(_get(m, "t_last", _NUM, w)),
            views_seen=_strings(m, "views_seen", w),
            views_missing=_strings(m, "views_missing", w),
            defects=tuple(_defect_from_dict(d) for d in _get(m, "defects", list, w)),
            coverage=tuple(cov),
            reason=_get(m, "reason", str, w),
        )
    except InputError as exc:
        raise WireError(f"verdict: {exc}") from exc


def verdict_to_msgpack(v: CarVerdict) -> bytes:
    """``v`` as msgpack bytes (unity_client_stub/PROTOCOL.md)."""
    return msgpack.packb(verdict_to_dict(v), use_bin_type=True)


def verdict_from_msgpack(data: bytes) -> CarVerdict:
    """Decode msgpack bytes. Raises WireError when they are not a verdict message."""
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise WireError(f"not a msgpack verdict message: {exc}") from exc
    return verdict_from_dict(m)


def verdict_to_proto(v: CarVerdict) -> overlay_pb2.CarVerdict:
    """``v`` as an ``xrbridge.v1.CarVerdict`` message."""
    d = verdict_to_dict(v)
    msg = overlay_pb2.CarVerdict(**{k: d[k] for k in d if k not in ("type", "defects", "coverage")})
    for dd in d["defects"]:
        msg.defects.add(**{k: val for k, val in dd.items() if val is not None})
    for c in d["coverage"]:
        msg.coverage.add(**c)
    return msg


def verdict_proto_to_dict(msg: overlay_pb2.CarVerdict) -> dict[str, Any]:
    """The msgpack mapping of a protobuf verdict (then :func:`verdict_from_dict` checks it)."""
    defects = []
    for pd in msg.defects:
        defects.append(
            {
                "defect_id": pd.defect_id,
                "view": pd.view,
                "type_guess": pd.type_guess,
                "size_class": pd.size_class,
                "severity": pd.severity,
                "confidence": pd.confidence,
                "centroid_ub": list(pd.centroid_ub),
                "contour_ub": list(pd.contour_ub),
                "length_px": pd.length_px,
                "area_px": pd.area_px,
                "location": pd.location,
                "frames": pd.frames,
                "travel_px": pd.travel_px,
                "peak_score": pd.peak_score,
                "area_mm2": pd.area_mm2 if pd.HasField("area_mm2") else None,
            }
        )
    return {
        "type": VERDICT_TYPE,
        "schema_version": msg.schema_version,
        "stream_id": msg.stream_id,
        "car_id": msg.car_id,
        "status": msg.status,
        "confidence": msg.confidence,
        "t_first": msg.t_first,
        "t_last": msg.t_last,
        "views_seen": list(msg.views_seen),
        "views_missing": list(msg.views_missing),
        "defects": defects,
        "coverage": [
            {"view": c.view, "frames": c.frames, "travel_px": c.travel_px, "complete": c.complete}
            for c in msg.coverage
        ],
        "reason": msg.reason,
    }


def verdict_from_proto(msg: overlay_pb2.CarVerdict | bytes) -> CarVerdict:
    """Decode an ``xrbridge.v1.CarVerdict`` (message or bytes). Raises WireError."""
    if isinstance(msg, bytes | bytearray | memoryview):
        parsed = overlay_pb2.CarVerdict()
        try:
            parsed.ParseFromString(bytes(msg))
        except Exception as exc:  # protobuf raises DecodeError or RuntimeWarning types
            raise WireError(f"not a protobuf CarVerdict: {exc}") from exc
        msg = parsed
    return verdict_from_dict(verdict_proto_to_dict(msg))
