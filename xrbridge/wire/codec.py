"""Encode and decode the domain values for the two wire formats.

Both formats are built from :mod:`xrbridge.core.types` with the same field
names, so the HoloLens stream (msgpack) and the cell-to-cell stream
(protobuf, ``protos/xrbridge/v1``) cannot drift:

- msgpack: a map per message with the dataclass field names as keys, plus a
  leading ``"type": "overlay_frame"``; ``None`` is ``nil``; point lists are
  flat interleaved float lists (``[x0, y0, x1, y1, ...]``), tuples are lists.
  The field-by-field mapping is ``unity_client_stub/PROTOCOL.md``.
- protobuf: the messages of ``xrbridge.v1``; ``None`` is an absent
  ``optional`` field or message.

Contours travel as float32 in both formats; all other floats as float64, so a
value decoded from either format equals the other one exactly.

Decoding checks the schema version, required keys and types and raises
:class:`~xrbridge.errors.WireError` naming what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np

from xrbridge.core.types import SCHEMA_VERSION, Defect, Frame, Hint, OverlayFrame, TrackState
from xrbridge.errors import InputError, WireError
from xrbridge.wire.gen import frame_pb2, overlay_pb2
from xrbridge.wire.verdict import (
    verdict_from_dict,
    verdict_proto_to_dict,
    verdict_to_dict,
    verdict_to_proto,
)

#: The ``type`` key of an overlay message in msgpack.
OVERLAY_TYPE = "overlay_frame"

_TRACK_FIELDS = ("car_id", "x", "y", "vx", "vy", "t", "view", "score")
_HINT_FIELDS = (
    "location",
    "angle_deg",
    "distance",
    "distance_unit",
    "moving_dir",
    "speed",
    "time_to_station_s",
)


# ---------------------------------------------------------------- plain dicts


def _flat(points: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(points, dtype=np.float32).reshape(-1)]


def _points(flat: Any, name: str) -> np.ndarray:
    a = np.asarray(list(flat), dtype=np.float32)
    if a.size % 2:
        raise WireError(f"{name} must hold x, y pairs (even length), got {a.size} values")
    return a.reshape(-1, 2)


def _hint_to_dict(h: Hint) -> dict[str, Any]:
    return {
        "location": h.location,
        "angle_deg": float(h.angle_deg),
        "distance": float(h.distance),
        "distance_unit": h.distance_unit,
        "moving_dir": h.moving_dir,
        "speed": float(h.speed),
        "time_to_station_s": None if h.time_to_station_s is None else float(h.time_to_station_s),
    }


def _defect_to_dict(d: Defect) -> dict[str, Any]:
    return {
        "defect_id": int(d.defect_id),
        "view": d.view,
        "contour_px": _flat(d.contour_px),
        "contour_uv": _flat(d.contour_uv),
        "bbox_px": [float(v) for v in d.bbox_px],
        "centroid_px": [float(v) for v in d.centroid_px],
        "centroid_uv": [float(v) for v in d.centroid_uv],
        "area_px": float(d.area_px),
        "peak_score": float(d.peak_score),
        "mean_score": float(d.mean_score),
        "severity": d.severity,
        "age_frames": int(d.age_frames),
        "confirmed": bool(d.confirmed),
        "hint": None if d.hint is None else _hint_to_dict(d.hint),
        "hits": int(d.hits),
        "area_mm2": None if d.area_mm2 is None else float(d.area_mm2),
        "size_class": d.size_class,
        "type_guess": d.type_guess,
        "confidence": float(d.confidence),
    }


def _track_to_dict(t: TrackState) -> dict[str, Any]:
    return {
        "car_id": int(t.car_id),
        "x": float(t.x),
        "y": float(t.y),
        "vx": float(t.vx),
        "vy": float(t.vy),
        "t": float(t.t),
        "view": t.view,
        "score": float(t.score),
    }


def overlay_to_dict(frame: OverlayFrame) -> dict[str, Any]:
    """The msgpack mapping of ``frame`` as plain Python values (also JSON-safe)."""
    return {
        "type": OVERLAY_TYPE,
        "schema_version": int(frame.schema_version),
        "stream_id": frame.stream_id,
        "seq": int(frame.seq),
        "t_capture": float(frame.t_capture),
        "t_emit": float(frame.t_emit),
        "model": frame.model,
        "view": frame.view,
        "track": None if frame.track is None else _track_to_dict(frame.track),
        "image_score": None if frame.image_score is None else float(frame.image_score),
        "defects": [_defect_to_dict(d) for d in frame.defects],
        "verdicts": [verdict_to_dict(v) for v in frame.verdicts],
    }


def _get(m: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in m:
        raise WireError(f"{where}: missing key {key!r}")
    v = m[key]
    if v is None and type(None) in (types if isinstance(types, tuple) else (types,)):
        return None
    # bool is an int in Python: keep flags and numbers apart
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise WireError(f"{where}.{key}: expected {types}, got bool")
    if not isinstance(v, types):
        raise WireError(f"{where}.{key}: expected {types}, got {type(v).__name__}")
    return v


_NUM = (int, float)
_OPT_NUM = (int, float, type(None))


def _hint_from_dict(m: Any) -> Hint:
    if not isinstance(m, Mapping):
        raise WireError(f"defect.hint: expected a map or nil, got {type(m).__name__}")
    t = _get(m, "time_to_station_s", _OPT_NUM, "hint")
    return Hint(
        location=_get(m, "location", str, "hint"),
        angle_deg=float(_get(m, "angle_deg", _NUM, "hint")),
        distance=float(_get(m, "distance", _NUM, "hint")),
        distance_unit=_get(m, "distance_unit", str, "hint"),
        moving_dir=_get(m, "moving_dir", str, "hint"),
        speed=float(_get(m, "speed", _NUM, "hint")),
        time_to_station_s=None if t is None else float(t),
    )


def _pair(v: Any, n: int, name: str) -> tuple[float, ...]:
    if not isinstance(v, list | tuple) or len(v) != n:
        raise WireError(f"defect.{name}: expected a list of {n} numbers, got {v!r}")
    return tuple(float(x) for x in v)


def _defect_from_dict(m: Any) -> Defect:
    if not isinstance(m, Mapping):
        raise WireError(f"defects[]: expected a map, got {type(m).__name__}")
    w = "defect"
    hint = _get(m, "hint", (Mapping, type(None)), w)
    area_mm2 = m.get("area_mm2")
    bbox = _pair(_get(m, "bbox_px", list, w), 4, "bbox_px")
    try:
        return Defect(
            defect_id=_get(m, "defect_id", int, w),
            view=_get(m, "view", str, w),
            contour_px=_points(_get(m, "contour_px", list, w), "contour_px"),
            contour_uv=_points(_get(m, "contour_uv", list, w), "contour_uv"),
            bbox_px=(bbox[0], bbox[1], bbox[2], bbox[3]),
            centroid_px=_pair(_get(m, "centroid_px", list, w), 2, "centroid_px"),  # type: ignore[arg-type]
            centroid_uv=_pair(_get(m, "centroid_uv", list, w), 2, "centroid_uv"),  # type: ignore[arg-type]
            area_px=float(_get(m, "area_px", _NUM, w)),
            peak_score=float(_get(m, "peak_score", _NUM, w)),
            mean_score=float(_get(m, "mean_score", _NUM, w)),
            severity=_get(m, "severity", str, w),
            age_frames=_get(m, "age_frames", int, w),
            confirmed=_get(m, "confirmed", bool, w),
            hint=None if hint is None else _hint_from_dict(hint),
            hits=int(m.get("hits", 0)),
            area_mm2=None if area_mm2 is None else float(area_mm2),
            # added in the same schema version: absent in older senders' messages
            size_class=_opt_str(m, "size_class", w),
            type_guess=_opt_str(m, "type_guess", w),
            confidence=_opt_num(m, "confidence", w),
        )
    except InputError as exc:
        raise WireError(f"defect: {exc}") from exc


def _opt_str(m: Mapping[str, Any], key: str, where: str) -> str:
    v = m.get(key, "")
    if not isinstance(v, str):
        raise WireError(f"{where}.{key}: expected str, got {type(v).__name__}")
    return v


def _opt_num(m: Mapping[str, Any], key: str, where: str) -> float:
    v = m.get(key, 0.0)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise WireError(f"{where}.{key}: expected a number, got {type(v).__name__}")
    return float(v)


def _track_from_dict(m: Any) -> TrackState:
    if not isinstance(m, Mapping):
        raise WireError(f"track: expected a map or nil, got {type(m).__name__}")
    return TrackState(
        car_id=_get(m, "car_id", int, "track"),
        x=float(_get(m, "x", _NUM, "track")),
        y=float(_get(m, "y", _NUM, "track")),
        vx=float(_get(m, "vx", _NUM, "track")),
        vy=float(_get(m, "vy", _NUM, "track")),
        t=float(_get(m, "t", _NUM, "track")),
        view=_get(m, "view", (str, type(None)), "track"),
        score=float(_get(m, "score", _NUM, "track")),
    )


def overlay_from_dict(m: Any) -> OverlayFrame:
    """Inverse of :func:`overlay_to_dict`. Raises WireError on a malformed message."""
    if not isinstance(m, Mapping):
        raise WireError(f"overlay message must be a map, got {type(m).__name__}")
    kind = m.get("type", OVERLAY_TYPE)
    if kind != OVERLAY_TYPE:
        raise WireError(f"expected type {OVERLAY_TYPE!r}, got {kind!r}")
    w = "overlay"
    version = _get(m, "schema_version", int, w)
    if version != SCHEMA_VERSION:
        raise WireError(f"schema_version must be {SCHEMA_VERSION}, got {version}")
    track = _get(m, "track", (Mapping, type(None)), w)
    score = _get(m, "image_score", _OPT_NUM, w)
    defects = _get(m, "defects", list, w)
    verdicts = m.get("verdicts", [])
    if not isinstance(verdicts, list):
        raise WireError(f"overlay.verdicts: expected a list, got {type(verdicts).__name__}")
    return OverlayFrame(
        stream_id=_get(m, "stream_id", str, w),
        seq=_get(m, "seq", int, w),
        t_capture=float(_get(m, "t_capture", _NUM, w)),
        t_emit=float(_get(m, "t_emit", _NUM, w)),
        model=_get(m, "model", str, w),
        view=_get(m, "view", (str, type(None)), w),
        track=None if track is None else _track_from_dict(track),
        image_score=None if score is None else float(score),
        defects=tuple(_defect_from_dict(d) for d in defects),
        schema_version=version,
        verdicts=tuple(verdict_from_dict(v) for v in verdicts),
    )


# -------------------------------------------------------------------- msgpack


def overlay_to_msgpack(frame: OverlayFrame) -> bytes:
    """``frame`` as msgpack bytes (unity_client_stub/PROTOCOL.md)."""
    return msgpack.packb(overlay_to_dict(frame), use_bin_type=True)


def overlay_from_msgpack(data: bytes) -> OverlayFrame:
    """Decode msgpack bytes. Raises WireError when they are not an overlay message."""
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise WireError(f"not a msgpack overlay message: {exc}") from exc
    return overlay_from_dict(m)


# ------------------------------------------------------------------- protobuf


def overlay_to_proto(frame: OverlayFrame) -> overlay_pb2.OverlayFrame:
    """``frame`` as an ``xrbridge.v1.OverlayFrame`` message."""
    d = overlay_to_dict(frame)
    msg = overlay_pb2.OverlayFrame(
        schema_version=d["schema_version"],
        stream_id=d["stream_id"],
        seq=d["seq"],
        t_capture=d["t_capture"],
        t_emit=d["t_emit"],
        model=d["model"],
    )
    if d["view"] is not None:
        msg.view = d["view"]
    if d["image_score"] is not None:
        msg.image_score = d["image_score"]
    if d["track"] is not None:
        tr = {k: v for k, v in d["track"].items() if v is not None}
        msg.track.CopyFrom(overlay_pb2.TrackState(**tr))
    for dd in d["defects"]:
        fields = {k: v for k, v in dd.items() if v is not None and k != "hint"}
        pd = msg.defects.add(**fields)
        if dd["hint"] is not None:
            h = {k: v for k, v in dd["hint"].items() if v is not None}
            pd.hint.CopyFrom(overlay_pb2.Hint(**h))
    for v in frame.verdicts:
        msg.verdicts.append(verdict_to_proto(v))
    return msg


def overlay_to_proto_bytes(frame: OverlayFrame) -> bytes:
    """``frame`` as serialised protobuf bytes (deterministic field order)."""
    return overlay_to_proto(frame).SerializeToString(deterministic=True)


def _proto_to_dict(msg: overlay_pb2.OverlayFrame) -> dict[str, Any]:
    def opt(m: Any, name: str) -> Any:
        return getattr(m, name) if m.HasField(name) else None

    track = None
    if msg.HasField("track"):
        t = msg.track
        track = {k: getattr(t, k) for k in _TRACK_FIELDS}
        track["view"] = opt(t, "view")
    defects = []
    for pd in msg.defects:
        hint = None
        if pd.HasField("hint"):
            hint = {k: getattr(pd.hint, k) for k in _HINT_FIELDS}
            hint["time_to_station_s"] = opt(pd.hint, "time_to_station_s")
        defects.append(
            {
                "defect_id": pd.defect_id,
                "view": pd.view,
                "contour_px": list(pd.contour_px),
                "contour_uv": list(pd.contour_uv),
                "bbox_px": list(pd.bbox_px),
                "centroid_px": list(pd.centroid_px),
                "centroid_uv": list(pd.centroid_uv),
                "area_px": pd.area_px,
                "peak_score": pd.peak_score,
                "mean_score": pd.mean_score,
                "severity": pd.severity,
                "age_frames": pd.age_frames,
                "confirmed": pd.confirmed,
                "hint": hint,
                "hits": pd.hits,
                "area_mm2": opt(pd, "area_mm2"),
                "size_class": pd.size_class,
                "type_guess": pd.type_guess,
                "confidence": pd.confidence,
            }
        )
    return {
        "type": OVERLAY_TYPE,
        "schema_version": msg.schema_version,
        "stream_id": msg.stream_id,
        "seq": msg.seq,
        "t_capture": msg.t_capture,
        "t_emit": msg.t_emit,
        "model": msg.model,
        "view": opt(msg, "view"),
        "track": track,
        "image_score": opt(msg, "image_score"),
        "defects": defects,
        "verdicts": [verdict_proto_to_dict(v) for v in msg.verdicts],
    }


def overlay_from_proto(msg: overlay_pb2.OverlayFrame | bytes) -> OverlayFrame:
    """Decode an ``xrbridge.v1.OverlayFrame`` (message or bytes). Raises WireError."""
    if isinstance(msg, bytes | bytearray | memoryview):
        parsed = overlay_pb2.OverlayFrame()
        try:
            parsed.ParseFromString(bytes(msg))
        except Exception as exc:  # protobuf raises DecodeError or RuntimeWarning types
            raise WireError(f"not a protobuf OverlayFrame: {exc}") from exc
        msg = parsed
    return overlay_from_dict(_proto_to_dict(msg))


# ----------------------------------------------------------------- frames


_ENCODINGS = {
    "jpeg": frame_pb2.IMAGE_ENCODING_JPEG,
    "png": frame_pb2.IMAGE_ENCODING_PNG,
    "raw": frame_pb2.IMAGE_ENCODING_RAW_BGR,
}


def frame_to_proto(frame: Frame, encoding: str = "jpeg", quality: int = 90) -> frame_pb2.Frame:
    """``frame`` as an ``xrbridge.v1.Frame`` with its pixels encoded (jpeg, png or raw BGR)."""
    import cv2

    if encoding not in _ENCODINGS:
        raise WireError(f"encoding must be one of {tuple(_ENCODINGS)}, got {encoding!r}")
    h, w = frame.pixels.shape[:2]
    if encoding == "raw":
        data = np.ascontiguousarray(frame.pixels).tobytes()
    else:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if encoding == "jpeg" else []
        ok, buf = cv2.imencode(".jpg" if encoding == "jpeg" else ".png", frame.pixels, params)
        if not ok:
            raise WireError(f"could not encode the frame as {encoding}")
        data = buf.tobytes()
    return frame_pb2.Frame(
        stream_id=frame.stream_id,
        seq=frame.seq,
        t_capture=frame.t_capture,
        width=w,
        height=h,
        encoding=_ENCODINGS[encoding],
        data=data,
    )


def frame_from_proto(msg: frame_pb2.Frame | bytes) -> Frame:
    """Decode an ``xrbridge.v1.Frame`` into the domain Frame. Raises WireError."""
    import cv2

    if isinstance(msg, bytes | bytearray | memoryview):
        parsed = frame_pb2.Frame()
        try:
            parsed.ParseFromString(bytes(msg))
        except Exception as exc:
            raise WireError(f"not a protobuf Frame: {exc}") from exc
        msg = parsed
    w, h = msg.width, msg.height
    if msg.encoding == frame_pb2.IMAGE_ENCODING_RAW_BGR:
        if w <= 0 or h <= 0 or len(msg.data) != w * h * 3:
            raise WireError(
                f"raw BGR frame must hold {h}x{w}x3 = {h * w * 3} bytes, got {len(msg.data)}"
            )
        pixels: np.ndarray = np.frombuffer(msg.data, dtype=np.uint8).reshape(h, w, 3).copy()
    elif msg.encoding in (frame_pb2.IMAGE_ENCODING_JPEG, frame_pb2.IMAGE_ENCODING_PNG):
        decoded = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise WireError(
                f"frame {msg.seq}: image data could not be decoded ({len(msg.data)} bytes)"
            )
        if (w or h) and decoded.shape[:2] != (h, w):
            raise WireError(
                f"frame {msg.seq}: header says {h}x{w}, image is {decoded.shape[0]}x{decoded.shape[1]}"
            )
        pixels = decoded
    else:
        raise WireError(f"frame {msg.seq}: unknown image encoding {msg.encoding}")
    try:
        return Frame(stream_id=msg.stream_id, seq=msg.seq, t_capture=msg.t_capture, pixels=pixels)
    except InputError as exc:
        raise WireError(str(exc)) from exc
