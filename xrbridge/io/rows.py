"""Table rows of the record stores: one conversion for SQLite and PostgreSQL.

Pure functions between the values (:class:`~xrbridge.core.records.InspectionRecord`,
:class:`~xrbridge.core.drift.DriftAlert`) and the tuples the stores bind or
fetch. The SQL (placeholders, JSON vs JSONB casts) stays in each store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from xrbridge.core.records import InspectionRecord, views_from_json, views_to_json
from xrbridge.core.verdict import verdict_from_json, verdict_to_json

__all__ = [
    "ALERT_COLUMNS",
    "ALERT_INSERT_COLUMNS",
    "RECORD_INSERT_COLUMNS",
    "alert_from_row",
    "alert_to_row",
    "record_from_row",
    "record_to_row",
]

#: the columns of :func:`record_to_row`, in order (a store may append its own)
RECORD_INSERT_COLUMNS = (
    "recorded_at",
    "stream_id",
    "car_id",
    "t_first",
    "t_last",
    "model",
    "n_defects",
    "views",
    "verdict",
)
#: the columns of an alert row as read back (:func:`alert_from_row`)
ALERT_COLUMNS = (
    "id",
    "recorded_at",
    "bridge",
    "stream_id",
    "robot",
    "state",
    "rate",
    "defective",
    "cars",
    "car_id",
    "t",
)
#: the columns of :func:`alert_to_row`, in order
ALERT_INSERT_COLUMNS = ALERT_COLUMNS[1:]


def record_to_row(record: InspectionRecord) -> tuple[Any, ...]:
    """The values for :data:`RECORD_INSERT_COLUMNS`; views and verdict as JSON text.

    A record whose ``recorded_at`` is 0 gets the wall clock now.
    """
    return (
        record.recorded_at or time.time(),
        record.stream_id,
        int(record.car_id),
        float(record.t_first),
        float(record.t_last),
        record.model,
        record.n_defects,
        views_to_json(record.views),
        None
        if record.verdict is None
        else json.dumps(verdict_to_json(record.verdict), separators=(",", ":")),
    )


def record_from_row(r: Sequence[Any]) -> InspectionRecord:
    """The record of a row ``(id, recorded_at, stream_id, car_id, t_first, t_last,
    model, views, verdict)``, views and verdict as JSON text (verdict may be NULL)."""
    return InspectionRecord(
        stream_id=r[2],
        car_id=r[3],
        t_first=r[4],
        t_last=r[5],
        model=r[6],
        views=views_from_json(r[7]),
        recorded_at=r[1],
        id=r[0],
        verdict=None if r[8] is None else verdict_from_json(json.loads(r[8])),
    )


def alert_to_row(alert: Any, at: float | None, bridge: str) -> tuple[Any, ...]:
    """The values for :data:`ALERT_INSERT_COLUMNS` of a DriftAlert (``at`` None or 0: now)."""
    return (
        at or time.time(),
        bridge,
        alert.stream_id,
        alert.robot,
        alert.state,
        float(alert.rate),
        int(alert.defective),
        int(alert.cars),
        int(alert.car_id),
        float(alert.t),
    )


def alert_from_row(r: Sequence[Any]) -> dict[str, Any]:
    """An alert row read in :data:`ALERT_COLUMNS` order, as a dict of those keys."""
    return dict(zip(ALERT_COLUMNS, r, strict=True))
