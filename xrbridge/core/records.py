"""Inspection records as plain values, and the :class:`RecordStore` protocol.

Each car that leaves the camera leaves one :class:`InspectionRecord`: the
stream, the car id, when it was inspected, the model, and per view the image
score and the confirmed defects (id, severity, scores, where on the
underbody). The pipeline returns them; writing them is the caller's job,
through any object that follows :class:`RecordStore` (the SQLite store in
:mod:`xrbridge.io.records`, a PostgreSQL store, a list in a test).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from xrbridge.core.verdict import CarVerdict, verdict_from_json, verdict_to_json


@dataclass(frozen=True, slots=True)
class RecordDefect:
    """A confirmed defect in a record; ``contour_uv``: flat [u0, v0, ...] view-normalised."""

    defect_id: int
    severity: str
    peak_score: float
    mean_score: float
    hits: int
    centroid_uv: tuple[float, float]
    area_px: float
    area_mm2: float | None
    contour_uv: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ViewResult:
    """One view of one car: its image score (normalised, max over inferences) and defects."""

    view: str
    image_score: float | None
    defects: tuple[RecordDefect, ...] = ()


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    """What one car leaves behind. ``recorded_at``: unix seconds (set by the store if 0)."""

    stream_id: str
    car_id: int
    t_first: float
    t_last: float
    model: str
    views: tuple[ViewResult, ...]
    recorded_at: float = 0.0
    id: int | None = field(default=None)
    #: the car-level result (OK / NOK / INCOMPLETE); None from pipelines without fusion
    verdict: CarVerdict | None = None

    @property
    def n_defects(self) -> int:
        return sum(len(v.defects) for v in self.views)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "stream_id": self.stream_id,
            "car_id": self.car_id,
            "t_first": self.t_first,
            "t_last": self.t_last,
            "model": self.model,
            "views": [asdict(v) for v in self.views],
            "recorded_at": self.recorded_at,
            "id": self.id,
        }
        d["verdict"] = None if self.verdict is None else verdict_to_json(self.verdict)
        d["n_defects"] = self.n_defects
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InspectionRecord:
        """The inverse of :meth:`to_json` (``n_defects`` is derived, ignored)."""
        return cls(
            stream_id=str(d["stream_id"]),
            car_id=int(d["car_id"]),
            t_first=float(d["t_first"]),
            t_last=float(d["t_last"]),
            model=str(d["model"]),
            views=views_from_json(d["views"]),
            recorded_at=float(d.get("recorded_at", 0.0)),
            id=d.get("id"),
            verdict=None if d.get("verdict") is None else verdict_from_json(d["verdict"]),
        )


def views_to_json(views: Sequence[ViewResult]) -> str:
    """The views as compact JSON text (what a store keeps in one column)."""
    return json.dumps([asdict(v) for v in views], separators=(",", ":"))


def views_from_json(data: str | list[Any]) -> tuple[ViewResult, ...]:
    """The inverse of :func:`views_to_json` (text, or the already parsed list)."""
    out = []
    for v in json.loads(data) if isinstance(data, str) else data:
        defects = tuple(
            RecordDefect(
                **{
                    **d,
                    "centroid_uv": tuple(d["centroid_uv"]),
                    "contour_uv": tuple(d["contour_uv"]),
                }
            )
            for d in v["defects"]
        )
        out.append(ViewResult(v["view"], v["image_score"], defects))
    return tuple(out)


@runtime_checkable
class RecordStore(Protocol):
    """Where inspection records are kept (SQLite here, PostgreSQL in the plant).

    An implementation must provide:

    - ``write(record) -> int``: commit one record in its own transaction and
      return its id once it is durable; raise :class:`xrbridge.errors.RecordError`
      (naming the store) when it cannot. A record whose ``recorded_at`` is 0
      gets the wall clock (unix seconds) of the write.
    - ``query(since=None) -> list[InspectionRecord]``: records with
      ``recorded_at >= since`` (None: all), oldest first, with their ``id`` and
      ``recorded_at`` filled in; RecordError when the store cannot be read.
    - ``close()``: release the connection; idempotent.

    Writes may come from one writer thread at a time; a store need not be
    safe for concurrent writers, but the SQLite one is.
    """

    def write(self, record: InspectionRecord) -> int: ...

    def query(self, since: float | None = None) -> list[InspectionRecord]: ...

    def close(self) -> None: ...
