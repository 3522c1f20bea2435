"""Defects stable over frames: association, N-of-M confirmation, hold, smoothing, ids.

No I/O. Flickering overlays cost the operator's trust (seed paper, section
8.2: "overlays remain stable, consistent, and clearly distinguishable"), so a
region becomes a defect only after it was seen in ``confirm_n`` of the last
``confirm_m`` inferences of its car and view, stays on screen ``keep_k``
inferences after it was last seen, and its contour is smoothed over frames.

Association happens in view-normalised underbody coordinates (u, v) of one
car and view: a defect is fixed on the car, so its (u, v) barely move while
the car crosses the frame; frame px would move with the conveyor.

Ids are per car, 1, 2, 3, ... in the order defects are *confirmed*; an
unconfirmed candidate has ``defect_id = 0``. A confirmed id never changes or
returns while its car is tracked.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from xrbridge.core.regions import Region
from xrbridge.errors import InputError


@dataclass(frozen=True, slots=True)
class StabilizerConfig:
    """Trade-offs of the stabiliser.

    ``confirm_n`` of ``confirm_m``: raising N (or lowering M) suppresses more
    one-frame false alarms but delays a real defect by more frames.
    ``keep_k``: inferences a confirmed defect stays after it was last seen;
    raising it bridges missed detections, but a repaired/left defect lingers.
    ``gate_px``: association radius (view px) added to half the defect's size;
    too small splits one defect into two ids, too large merges neighbours.
    ``smooth_alpha``: weight of the newest contour (1 = no smoothing; lower is
    steadier but follows a growing region more slowly). ``contour_points``:
    vertices of a smoothed contour. ``forget_after``: updates of the
    stabiliser after which a car that was not updated is dropped.
    ``max_drift_px``: a candidate whose observed centroids scatter more than
    this (standard deviation, view px; at least a quarter of the defect's
    size) is not confirmed: a defect is fixed on the car, while cable
    shadows, reflections and anything else that moves relative to the car
    drift. Raising it tolerates noisier detections of large defects; lowering
    it rejects more moving clutter.
    ``min_peak``: a candidate is confirmed only once its peak score (max over
    its frames) reached this. Regions barely above the calibrated threshold
    (0.5-0.6, i.e. within 10 % of the calibration score range) are where a
    calibrated model's false alarms concentrate; on the simulator run in
    docs/overlay.md every true defect peaked >= 0.72 while about
    half of the false overlays never exceeded 0.6. 0.5 disables the gate.
    """

    confirm_n: int = 3
    confirm_m: int = 5
    keep_k: int = 5
    gate_px: float = 20.0
    smooth_alpha: float = 0.4
    contour_points: int = 32
    forget_after: int = 300
    max_drift_px: float = 6.0
    min_peak: float = 0.6

    def __post_init__(self) -> None:
        if not 1 <= self.confirm_n <= self.confirm_m:
            raise InputError(
                f"need 1 <= confirm_n <= confirm_m, got {self.confirm_n}, {self.confirm_m}"
            )
        if self.keep_k < 0 or not 0.0 < self.smooth_alpha <= 1.0 or self.contour_points < 3:
            raise InputError(
                f"need keep_k >= 0, 0 < smooth_alpha <= 1, contour_points >= 3; got "
                f"{self.keep_k}, {self.smooth_alpha}, {self.contour_points}"
            )


@dataclass(frozen=True, slots=True)
class StableDefect:
    """A defect's state after an update. ``contour_uv``: (R, 2) float32 view-normalised."""

    defect_id: int  # 0 while unconfirmed
    car_id: int
    view: str
    contour_uv: np.ndarray
    centroid_uv: tuple[float, float]
    area_uv: float
    area_px: float
    area_mm2: float | None
    peak_score: float  # max over the frames it was seen in
    mean_score: float  # mean of the per-frame mean scores
    hits: int
    age_frames: int
    confirmed: bool
    seen_now: bool


def resample_closed(poly: np.ndarray, n: int) -> np.ndarray:
    """A closed polygon (N, 2) resampled to ``n`` points equally spaced along its perimeter."""
    p = np.asarray(poly, dtype=np.float64)
    if len(p) == 1:
        return np.repeat(p, n, axis=0)
    closed = np.vstack([p, p[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return np.repeat(p[:1], n, axis=0)
    s = np.linspace(0.0, cum[-1], n, endpoint=False)
    return np.stack([np.interp(s, cum, closed[:, 0]), np.interp(s, cum, closed[:, 1])], axis=1)


def _align(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Roll ``new`` (R, 2) so that its points correspond best to ``old`` (R, 2)."""
    r = len(new)
    idx = (np.arange(r)[None, :] + np.arange(r)[:, None]) % r
    cost = ((new[idx] - old[None]) ** 2).sum(axis=(1, 2))
    best: np.ndarray = new[idx[int(np.argmin(cost))]]
    return best


@dataclass(slots=True)
class _Track:
    defect_id: int
    view: str
    contour: np.ndarray  # (R, 2) float64 uv
    centroid: np.ndarray  # (2,) uv
    area_uv: float
    area_px: float
    area_mm2: float | None
    peak: float
    score_sum: float
    hits: int
    born: int
    last_seen: int
    window: deque[bool] = field(default_factory=deque)
    confirmed: bool = False
    c_sum: np.ndarray = field(default_factory=lambda: np.zeros(2))  # sums of centroids, view px
    c_sq: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def add_centroid(self, c_px: np.ndarray) -> None:
        self.c_sum += c_px
        self.c_sq += c_px * c_px

    def drift(self) -> float:
        """Standard deviation (px) of the observed centroids (0 for one)."""
        mean = self.c_sum / self.hits
        var = np.maximum(self.c_sq / self.hits - mean * mean, 0.0)
        return float(np.sqrt(var.sum()))


@dataclass(slots=True)
class _CarView:
    n: int = 0  # updates of this car and view
    tracks: list[_Track] = field(default_factory=list)


@dataclass(slots=True)
class _Car:
    views: dict[str, _CarView] = field(default_factory=dict)
    next_id: int = 1
    last_update: int = 0
    done: list[StableDefect] = field(default_factory=list)  # confirmed and no longer held


class Stabilizer:
    """Per-car, per-view defect tracks over successive inferences."""

    def __init__(self, config: StabilizerConfig | None = None) -> None:
        self.config = config or StabilizerConfig()
        self._cars: dict[int, _Car] = {}
        self._updates = 0

    def update(
        self, car_id: int, view: str, regions: list[Region], view_size_px: tuple[int, int]
    ) -> list[StableDefect]:
        """Feed one inference's regions of ``car_id``'s ``view``.

        Args:
            car_id: the tracked car.
            view: the view that was inferred.
            regions: this inference's regions (view-normalised coordinates).
            view_size_px: (width, height) of the view, to measure distances in px.

        Returns:
            Every candidate and held defect of this car and view after the update.
        """
        c = self.config
        self._updates += 1
        car = self._cars.setdefault(car_id, _Car())
        car.last_update = self._updates
        cv = car.views.setdefault(view, _CarView())
        cv.n += 1
        n = cv.n
        w, h = view_size_px
        scale = np.array([w, h], dtype=np.float64)

        pairs: list[tuple[float, int, int]] = []
        if cv.tracks and regions:
            tc = np.array([tr.centroid for tr in cv.tracks]) * scale  # (T, 2) view px
            rc = np.array([rg.centroid_uv for rg in regions]) * scale  # (R, 2)
            gate = c.gate_px + 0.5 * np.sqrt([max(tr.area_px, 0.0) for tr in cv.tracks])
            dist = np.hypot(*(tc[:, None, :] - rc[None, :, :]).transpose(2, 0, 1))  # (T, R)
            ti_s, ri_s = np.nonzero(dist <= gate[:, None])
            pairs = [(float(dist[t, r]), int(t), int(r)) for t, r in zip(ti_s, ri_s, strict=True)]
        pairs.sort()
        used_t: set[int] = set()
        matched: dict[int, Region] = {}
        absorbed: set[int] = set()
        for _d, ti, ri in pairs:
            if ri in matched or ri in absorbed:
                continue
            if ti in used_t:
                # a second fragment of an already matched defect: evidence, not a new candidate
                absorbed.add(ri)
                cv.tracks[ti].peak = max(cv.tracks[ti].peak, regions[ri].peak_score)
                continue
            used_t.add(ti)
            matched[ri] = regions[ri]
            self._observe(cv.tracks[ti], regions[ri], n, scale)

        for ti, tr in enumerate(cv.tracks):
            if ti not in used_t:
                tr.window.append(False)
                while len(tr.window) > c.confirm_m:
                    tr.window.popleft()

        for ri, rg in enumerate(regions):
            if ri in matched or ri in absorbed:
                continue
            contour = resample_closed(rg.contour_uv, c.contour_points)
            tr = _Track(
                defect_id=0,
                view=view,
                contour=contour,
                centroid=np.asarray(rg.centroid_uv, dtype=np.float64),
                area_uv=rg.area_uv,
                area_px=rg.area_px,
                area_mm2=rg.area_mm2,
                peak=rg.peak_score,
                score_sum=rg.mean_score,
                hits=1,
                born=n,
                last_seen=n,
                window=deque([True]),
            )
            tr.add_centroid(np.asarray(rg.centroid_uv) * scale)
            cv.tracks.append(tr)

        keep: list[_Track] = []
        for tr in cv.tracks:
            if not tr.confirmed and sum(tr.window) >= c.confirm_n and tr.peak >= c.min_peak:
                if tr.drift() > max(c.max_drift_px, 0.25 * math.sqrt(max(tr.area_px, 0.0))):
                    continue  # moves relative to the car: not a defect of the car
                tr.confirmed = True
                tr.defect_id = car.next_id
                car.next_id += 1
            missed = n - tr.last_seen
            if tr.confirmed and missed > c.keep_k:
                car.done.append(self._snapshot(car_id, tr, n))
            elif not tr.confirmed and (sum(tr.window) == 0 or missed >= c.confirm_m):
                pass  # a candidate that can no longer be confirmed
            else:
                keep.append(tr)
        cv.tracks = keep
        self._forget_stale()
        return [self._snapshot(car_id, tr, n) for tr in cv.tracks]

    def _observe(self, tr: _Track, rg: Region, n: int, scale: np.ndarray) -> None:
        c = self.config
        a = c.smooth_alpha
        new = _align(resample_closed(rg.contour_uv, c.contour_points), tr.contour)
        tr.contour = (1.0 - a) * tr.contour + a * new
        tr.centroid = (1.0 - a) * tr.centroid + a * np.asarray(rg.centroid_uv)
        tr.area_uv = (1.0 - a) * tr.area_uv + a * rg.area_uv
        tr.area_px = (1.0 - a) * tr.area_px + a * rg.area_px
        if rg.area_mm2 is not None:
            tr.area_mm2 = (
                rg.area_mm2 if tr.area_mm2 is None else (1.0 - a) * tr.area_mm2 + a * rg.area_mm2
            )
        tr.peak = max(tr.peak, rg.peak_score)
        tr.score_sum += rg.mean_score
        tr.hits += 1
        tr.add_centroid(np.asarray(rg.centroid_uv) * scale)
        tr.last_seen = n
        tr.window.append(True)
        while len(tr.window) > c.confirm_m:
            tr.window.popleft()

    def _snapshot(self, car_id: int, tr: _Track, n: int) -> StableDefect:
        return StableDefect(
            defect_id=tr.defect_id,
            car_id=car_id,
            view=tr.view,
            contour_uv=np.clip(tr.contour, 0.0, 1.0).astype(np.float32),
            centroid_uv=(float(tr.centroid[0]), float(tr.centroid[1])),
            area_uv=float(tr.area_uv),
            area_px=float(tr.area_px),
            area_mm2=tr.area_mm2,
            peak_score=float(tr.peak),
            mean_score=float(tr.score_sum / tr.hits),
            hits=tr.hits,
            age_frames=n - tr.born + 1,
            confirmed=tr.confirmed,
            seen_now=tr.last_seen == n,
        )

    def _forget_stale(self) -> None:
        limit = self.config.forget_after
        for car_id in [
            k for k, car in self._cars.items() if self._updates - car.last_update > limit
        ]:
            del self._cars[car_id]

    def cars(self) -> list[int]:
        """Cars with state."""
        return sorted(self._cars)

    def finish_car(self, car_id: int) -> list[StableDefect]:
        """Every confirmed defect of a car (held and finished), ordered by id; forgets the car."""
        car = self._cars.pop(car_id, None)
        if car is None:
            return []
        out = list(car.done)
        for cv in car.views.values():
            out.extend(self._snapshot(car_id, tr, cv.n) for tr in cv.tracks if tr.confirmed)
        return sorted(out, key=lambda d: d.defect_id)
