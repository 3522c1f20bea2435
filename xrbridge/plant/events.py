"""Plant events: MQTT topics and JSON payloads (schema version 1). Pure, no I/O.

Topics (each ``<...>`` one topic level; none may be empty or hold ``/ + #``)::

    xrbridge/<plant>/<line>/<stream>/verdict          a car left: OK/NOK/INCOMPLETE QoS 1
    xrbridge/<plant>/<line>/<stream>/defect           a defect was confirmed      QoS 1
    xrbridge/<plant>/<line>/<stream>/health           the stream's counters       QoS 1, retained
    xrbridge/<plant>/<line>/<stream>/alert/<robot>    drift raised / cleared      QoS 1, retained
    xrbridge/<plant>/<line>/_bridge/<bridge>/status   online / offline (last will) QoS 1, retained

Every payload is a UTF-8 JSON object with these keys first::

    schema    1 (this module's SCHEMA_VERSION; a consumer refuses what it does not know)
    type      verdict | defect | health | alert | bridge
    event_id  "<bridge>:<seq>" unique per event; a QoS 1 duplicate repeats it
    seq       per-bridge counter, +1 per event, never reused (also across restarts)
    bridge, plant, line, stream
    time      unix seconds (wall clock of the bridge) when the event was made

and then the type's own keys (see the ``*_body`` functions and docs/plant.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xrbridge.errors import UsageError

SCHEMA_VERSION = 1
ROOT = "xrbridge"
TYPES = ("verdict", "defect", "health", "alert", "bridge")
BRIDGE_LEVEL = "_bridge"


def check_level(name: str, what: str) -> str:
    """A valid single MQTT topic level (raises UsageError naming ``what``)."""
    if not name or any(c in name for c in "/+#\0") or name.startswith("$"):
        raise UsageError(
            f"{what} must be a non-empty MQTT topic level without / + # $, got {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one bridge on one line of one plant."""

    plant: str
    line: str
    bridge: str

    def __post_init__(self) -> None:
        check_level(self.plant, "plant")
        check_level(self.line, "line")
        check_level(self.bridge, "bridge id")

    @property
    def prefix(self) -> str:
        return f"{ROOT}/{self.plant}/{self.line}"

    def stream(self, stream: str, kind: str, robot: str | None = None) -> str:
        if kind not in TYPES[:4]:
            raise UsageError(f"event type must be one of {', '.join(TYPES[:4])}, got {kind!r}")
        check_level(stream, "stream id")
        if stream.startswith("_"):
            raise UsageError(f"stream id must not start with '_' (reserved), got {stream!r}")
        t = f"{self.prefix}/{stream}/{kind}"
        if kind == "alert":
            t += "/" + check_level(robot or "", "robot")
        return t

    @property
    def status(self) -> str:
        return f"{self.prefix}/{BRIDGE_LEVEL}/{self.bridge}/status"

    def subscription(self) -> str:
        """Everything this line publishes (for consumers)."""
        return f"{self.prefix}/#"


def envelope(
    topics: Topics, kind: str, stream: str, seq: int, t: float, body: Mapping[str, Any]
) -> bytes:
    """The payload bytes of one event."""
    d: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "type": kind,
        "event_id": f"{topics.bridge}:{seq}",
        "seq": seq,
        "bridge": topics.bridge,
        "plant": topics.plant,
        "line": topics.line,
        "stream": stream,
        "time": round(float(t), 3),
    }
    d.update(body)
    return json.dumps(d, separators=(",", ":"), allow_nan=False).encode()


def decode(payload: bytes) -> dict[str, Any]:
    """Parse a payload and check the schema version (raises ValueError)."""
    d = json.loads(payload)
    if not isinstance(d, dict) or d.get("schema") != SCHEMA_VERSION:
        raise ValueError(
            f"expected an xrbridge event of schema {SCHEMA_VERSION}, got {payload[:80]!r}"
        )
    return d


def verdict_body(
    record: Any, robots_defective: list[str] | None = None, scene: Any = None
) -> dict[str, Any]:
    """A car left: from its inspection record (``xrbridge.core.records.InspectionRecord``).

    With the record's :class:`~xrbridge.core.verdict.CarVerdict` (pipelines with
    fusion, the default): ``verdict`` is its status (``OK`` / ``NOK`` /
    ``INCOMPLETE``) with ``confidence``, ``reason``, ``views_seen``,
    ``views_missing`` and the confirmed ``defects`` (type guess, size class,
    severity, confidence, position on the underbody and, with ``scene`` (a
    :class:`~xrbridge.plant.robots.RobotScene`), the sealant region and robot).
    ``verdict_source`` is ``"car_verdict"``.

    Without one (a pipeline without fusion) the old rule: ``NOK`` when the
    record holds a confirmed defect, else ``OK``, ``confidence`` null,
    ``verdict_source`` ``"record"``.
    """
    views = [
        {
            "view": v.view,
            "image_score": None if v.image_score is None else round(float(v.image_score), 4),
            "n_defects": len(v.defects),
            "severities": [d.severity for d in v.defects],
        }
        for v in record.views
    ]
    body: dict[str, Any] = {"car_id": int(record.car_id)}
    cv = getattr(record, "verdict", None)
    if cv is None:
        body.update(
            verdict="NOK" if record.n_defects else "OK",
            verdict_source="record",
            confidence=None,
            reason="",
            n_defects=int(record.n_defects),
            views_seen=[v.view for v in record.views],
            views_missing=[],
            defects=[],
        )
    else:
        # the record's per-view defects carry the view-normalised centroid (-> region, robot)
        uv = {(v.view, d.defect_id): d.centroid_uv for v in record.views for d in v.defects}
        defects = []
        for d in cv.defects:
            region = robot = None
            if scene is not None and (d.view, d.defect_id) in uv:
                region, robot = scene.region_robot(d.view, uv[(d.view, d.defect_id)])
            defects.append(
                {
                    "defect_id": int(d.defect_id),
                    "view": d.view,
                    "type_guess": d.type_guess,
                    "size_class": d.size_class,
                    "severity": d.severity,
                    "confidence": round(float(d.confidence), 4),
                    "centroid_ub": [round(float(x), 2) for x in d.centroid_ub],
                    "location": d.location,
                    "length_px": round(float(d.length_px), 2),
                    "area_px": round(float(d.area_px), 2),
                    "area_mm2": None if d.area_mm2 is None else round(float(d.area_mm2), 2),
                    "peak_score": round(float(d.peak_score), 4),
                    "frames": int(d.frames),
                    "region": region,
                    "robot": robot,
                }
            )
        body.update(
            verdict=cv.status,
            verdict_source="car_verdict",
            confidence=round(float(cv.confidence), 4),
            reason=cv.reason,
            n_defects=len(cv.defects),
            views_seen=list(cv.views_seen),
            views_missing=list(cv.views_missing),
            defects=defects,
        )
    body.update(
        model=record.model,
        t_first=float(record.t_first),
        t_last=float(record.t_last),
        views=views,
    )
    if robots_defective is not None:
        body["robots_defective"] = sorted(robots_defective)
    return body


def defect_body(
    car_id: int, view: str, defect: Any, region: str | None = None, robot: str | None = None
) -> dict[str, Any]:
    """A confirmed defect (``xrbridge.core.types`` overlay defect or a record defect)."""
    cu, cv = defect.centroid_uv
    return {
        "car_id": int(car_id),
        "defect_id": int(defect.defect_id),
        "view": view,
        "severity": defect.severity,
        "peak_score": round(float(getattr(defect, "peak_score", 0.0)), 4),
        "centroid_uv": [round(float(cu), 4), round(float(cv), 4)],
        "region": region,
        "robot": robot,
    }


def health_body(status: Mapping[str, Any]) -> dict[str, Any]:
    """A stream's status (``Stream.status()`` of the bridge), as is."""
    return {k: v for k, v in status.items() if k != "stream"}


def alert_body(alert: Any) -> dict[str, Any]:
    """A :class:`xrbridge.core.drift.DriftAlert`."""
    d = dict(alert.to_dict())
    d.pop("stream_id", None)
    return d


def bridge_body(state: str) -> dict[str, Any]:
    return {"state": state}
