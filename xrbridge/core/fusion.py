"""Evidence fused on the car: anomaly maps accumulated in underbody coordinates.

No I/O. A sealant defect is fixed on the car; a cable, a hanger, a reflection
or an edge-of-frame artefact is fixed in the *frame* (or moves on its own), so
it slides over the car while the car travels. Each inference's anomaly map
(one view's crop, aligned to that view's template by the matcher) is
therefore added to a per-car, per-view evidence grid in view-normalised
underbody coordinates, and a region is confirmed only when, cell by cell:

- it was above the pixel threshold in at least ``min_frames`` inferences,
- over at least ``min_travel_px`` of car travel (a still car repeats the
  same picture, so frames alone are no proof), and
- in at least ``min_consistency`` of the (weighted) inferences that saw the
  cell: a cable hits a cell in one or two frames of twenty.

Each inference counts with a weight in [0, 1] (``FusionConfig`` says what
each factor does): the template match score (a poorly matched crop is
misaligned, its map smeared), per cell the distance to the frame border
(vignetting and half-seen structures at the edges), the car's speed (motion
blur) and how far the car moved since the view's previous inference (a
standing car adds little new evidence).

Confirmed regions get per-car ids 1, 2, ... in confirmation order; an id is
never withdrawn or reused while the car is tracked (the operator saw it). The
contour is the region's cells at or above ``contour_level`` of the way from
the threshold to the region's fused peak: the maps are blurred, the defects
thin, and the core of the fused blob is closer to the defect's polygon than
its foot. When the car leaves, :meth:`Fusion.finish` returns the
:class:`~xrbridge.core.verdict.CarVerdict` and forgets the car.

Cost per inference: one resize of the map to the grid (a few thousand
cells), a handful of array updates and one connected-component pass over
the cells that are hot; well under a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from xrbridge.core.hints import sector
from xrbridge.core.regions import check_map
from xrbridge.core.severity import SizeConfig, classify
from xrbridge.core.verdict import CarVerdict, VerdictDefect, ViewCoverage
from xrbridge.errors import InputError
from xrbridge.names import VIEWS


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Trade-offs of the fusion (defaults measured on simulator lines, docs/overlay.md).

    ``cell_px``: grid cell in underbody px; smaller follows thin defects more
    closely but costs more and makes each cell's evidence noisier.
    ``min_frames`` / ``min_travel_px`` / ``min_consistency``: the three
    confirmation gates (module doc); raising any of them removes more false
    regions and delays (or, for short views, loses) true ones.
    ``min_area_px``: smallest confirmed region, underbody px².
    ``match_floor`` / ``match_full``: template scores mapped to weights 0.2 /
    1 (linear between): a crop matched at ``match_floor`` is probably shifted.
    ``edge_px``: cells closer than this to the frame border count less
    (linearly down to ``edge_floor`` at the border).
    ``blur_speed_px_s``: car speed at which the motion weight is 0.5 (raise it
    for a shorter exposure). ``novelty_px``: car travel since the view's last
    inference for a full weight (a standing car's repeats count
    ``still_weight``).
    ``contour_level``: where between the threshold (0) and the fused peak (1)
    the contour is drawn; 0 is the whole hot blob.
    ``view_min_frames`` / ``view_min_travel_px``: a view counts as seen for the
    verdict with at least this many usable inferences over this much travel.
    """

    cell_px: float = 4.0
    min_frames: int = 4
    min_travel_px: float = 60.0
    min_consistency: float = 0.5
    min_area_px: float = 48.0
    match_floor: float = 0.5
    match_full: float = 0.8
    edge_px: float = 48.0
    edge_floor: float = 0.3
    blur_speed_px_s: float = 2500.0
    novelty_px: float = 4.0
    still_weight: float = 0.1
    contour_level: float = 0.35
    view_min_frames: int = 3
    view_min_travel_px: float = 60.0
    gate_px: float = 16.0
    size: SizeConfig = field(default_factory=SizeConfig)

    def __post_init__(self) -> None:
        if self.cell_px <= 0 or self.min_frames < 1 or self.min_travel_px < 0:
            raise InputError(
                f"need cell_px > 0, min_frames >= 1, min_travel_px >= 0; got {self.cell_px}, "
                f"{self.min_frames}, {self.min_travel_px}"
            )
        if not 0.0 <= self.min_consistency <= 1.0 or not 0.0 <= self.contour_level < 1.0:
            raise InputError(
                "need 0 <= min_consistency <= 1 and 0 <= contour_level < 1, got "
                f"{self.min_consistency}, {self.contour_level}"
            )
        if not self.match_floor < self.match_full:
            raise InputError(
                f"need match_floor < match_full, got {self.match_floor}, {self.match_full}"
            )


@dataclass(frozen=True, slots=True)
class ViewGeometry:
    """A view's template in underbody px: top-left (u0, v0) and size."""

    view: str
    u0: float
    v0: float
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Observation:
    """One inference of one view of one car.

    ``x, y``: the crop's top-left in frame px (the template match);
    ``match_score``: the match's score; ``velocity``: the car's (vx, vy) px/s;
    ``frame_size``: (W, H); ``threshold``: the normalised pixel threshold.
    """

    view: str
    x: float
    y: float
    match_score: float
    velocity: tuple[float, float]
    t: float
    frame_size: tuple[int, int]
    threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class FusedDefect:
    """A region of a car's fused evidence (confirmed, or a candidate with id 0).

    ``contour_uv``: (N, 2) float32 view-normalised; ``peak_score`` /
    ``mean_score``: of the fused (weighted mean) score inside the region.
    """

    defect_id: int
    view: str
    contour_uv: np.ndarray
    centroid_uv: tuple[float, float]
    area_px: float
    length_px: float
    width_px: float
    peak_score: float
    mean_score: float
    frames: int
    travel_px: float
    consistency: float
    confidence: float
    size_class: str
    severity: str
    type_guess: str
    confirmed: bool
    first_t: float


@dataclass(slots=True)
class _Grid:
    """Evidence of one view of one car (arrays (gh, gw))."""

    w_obs: np.ndarray  # sum of weights of the inferences that saw the cell
    w_hot: np.ndarray  # ... in which it was above threshold
    s_sum: np.ndarray  # sum of weight * score
    n_hot: np.ndarray  # inferences above threshold (int16)
    x_lo: np.ndarray  # car position (underbody origin, frame x) range while hot
    x_hi: np.ndarray
    frames: int = 0
    usable: int = 0
    x_min: float = math.inf
    x_max: float = -math.inf
    last_x: float | None = None
    hot_now: np.ndarray | None = None


@dataclass(slots=True)
class _Known:
    defect: FusedDefect


@dataclass(slots=True)
class _Car:
    grids: dict[str, _Grid] = field(default_factory=dict)
    known: list[_Known] = field(default_factory=list)
    next_id: int = 1


class Fusion:
    """Per-car evidence grids, confirmed defects and verdicts.

    Args:
        views: the views' template geometry (underbody px).
        underbody_size: (length, width) underbody px, for the position words;
            default: the extent of the views.
        config: :class:`FusionConfig`.
    """

    def __init__(
        self,
        views: Mapping[str, ViewGeometry],
        underbody_size: tuple[float, float] | None = None,
        config: FusionConfig | None = None,
    ) -> None:
        self.config = config or FusionConfig()
        self.views = dict(views)
        if not self.views:
            raise InputError("fusion needs at least one view geometry")
        if underbody_size is None:
            underbody_size = (
                max(g.u0 + g.width for g in self.views.values()),
                max(g.v0 + g.height for g in self.views.values()),
            )
        self.underbody_size = underbody_size
        self._cars: dict[int, _Car] = {}

    # ------------------------------------------------------------------ grids

    def _shape(self, view: str) -> tuple[int, int]:
        g = self.views[view]
        c = self.config.cell_px
        return max(1, round(g.height / c)), max(1, round(g.width / c))

    def _grid(self, car: _Car, view: str) -> _Grid:
        gr = car.grids.get(view)
        if gr is None:
            shape = self._shape(view)
            gr = car.grids[view] = _Grid(
                w_obs=np.zeros(shape, np.float32),
                w_hot=np.zeros(shape, np.float32),
                s_sum=np.zeros(shape, np.float32),
                n_hot=np.zeros(shape, np.int16),
                x_lo=np.full(shape, np.inf, np.float32),
                x_hi=np.full(shape, -np.inf, np.float32),
            )
        return gr

    def _weights(self, ob: Observation, gr: _Grid, shape: tuple[int, int]) -> np.ndarray:
        """Per-cell weight (gh, gw) of this inference."""
        c = self.config
        g = self.views[ob.view]
        w_match = float(
            np.clip((ob.match_score - c.match_floor) / (c.match_full - c.match_floor), 0, 1)
        )
        w_match = 0.2 + 0.8 * w_match
        speed = math.hypot(*ob.velocity)
        w_motion = 1.0 / (1.0 + (speed / c.blur_speed_px_s) ** 2)
        car_x = ob.x - g.u0
        if gr.last_x is None:
            w_new = 1.0
        else:
            w_new = max(c.still_weight, min(1.0, abs(car_x - gr.last_x) / c.novelty_px))
        base = w_match * w_motion * w_new
        gh, gw = shape
        W, H = ob.frame_size
        # cell centres in frame px -> distance to the nearest frame border
        xs = ob.x + (np.arange(gw, dtype=np.float32) + 0.5) * (g.width / gw)
        ys = ob.y + (np.arange(gh, dtype=np.float32) + 0.5) * (g.height / gh)
        ex = np.clip(np.minimum(xs, W - xs) / c.edge_px, 0.0, 1.0)
        ey = np.clip(np.minimum(ys, H - ys) / c.edge_px, 0.0, 1.0)
        edge = c.edge_floor + (1.0 - c.edge_floor) * np.minimum(ey[:, None], ex[None, :])
        return (base * edge).astype(np.float32)

    # -------------------------------------------------------------------- API

    def update(self, car_id: int, ob: Observation, anomaly_map: np.ndarray) -> list[FusedDefect]:
        """Add one inference of ``ob.view`` of ``car_id``; returns the car's defects.

        Args:
            car_id: the tracked car.
            ob: where the crop was and how much to trust it.
            anomaly_map: (H, W) float normalised scores of the crop (any H, W).

        Returns:
            Every confirmed defect of the car (all views), ordered by id.

        Raises:
            InputError: a view without geometry, a map that is not (H, W) finite floats.
        """
        if ob.view not in self.views:
            raise InputError(f"no geometry for view {ob.view!r}; have {sorted(self.views)}")
        a = check_map(anomaly_map)
        car = self._cars.setdefault(car_id, _Car())
        gr = self._grid(car, ob.view)
        gh, gw = gr.w_obs.shape
        m = cv2.resize(a, (gw, gh), interpolation=cv2.INTER_AREA)
        w = self._weights(ob, gr, (gh, gw))
        hot = m > ob.threshold
        car_x = ob.x - self.views[ob.view].u0
        gr.w_obs += w
        gr.s_sum += w * m
        gr.w_hot += np.where(hot, w, 0.0)
        gr.n_hot += hot
        np.minimum(gr.x_lo, np.where(hot, car_x, np.inf), out=gr.x_lo)
        np.maximum(gr.x_hi, np.where(hot, car_x, -np.inf), out=gr.x_hi)
        gr.frames += 1
        if float(w.max()) >= 0.5:
            gr.usable += 1
            gr.x_min = min(gr.x_min, car_x)
            gr.x_max = max(gr.x_max, car_x)
        gr.last_x = car_x
        gr.hot_now = hot
        self._confirm(car, ob.view, gr, ob.t)
        return self.defects(car_id)

    def _gates(self, gr: _Grid) -> np.ndarray:
        c = self.config
        with np.errstate(invalid="ignore", divide="ignore"):
            cons = np.where(gr.w_obs > 0, gr.w_hot / np.maximum(gr.w_obs, 1e-6), 0.0)
        travel = gr.x_hi - gr.x_lo
        return (
            (gr.n_hot >= c.min_frames) & (travel >= c.min_travel_px) & (cons >= c.min_consistency)
        )

    def _confirm(self, car: _Car, view: str, gr: _Grid, t: float) -> None:
        c = self.config
        mask = self._gates(gr).astype(np.uint8)
        if not mask.any():
            return
        g = self.views[view]
        gh, gw = mask.shape
        cw, ch = g.width / gw, g.height / gh
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        fused = gr.s_sum / np.maximum(gr.w_obs, 1e-6)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] * cw * ch < c.min_area_px:
                continue
            region = labels == k
            fd = self._describe(car, view, gr, region, fused, t)
            if fd is None:
                continue
            self._associate(car, fd)

    def _describe(
        self,
        car: _Car,
        view: str,
        gr: _Grid,
        region: np.ndarray,
        fused: np.ndarray,
        t: float,
    ) -> FusedDefect | None:
        c = self.config
        g = self.views[view]
        gh, gw = region.shape
        cw, ch = g.width / gw, g.height / gh
        vals = fused[region]
        peak = float(vals.max())
        lo = float(np.min(vals))
        core = region & (fused >= lo + c.contour_level * (peak - lo))
        ys, xs = np.nonzero(core)
        if xs.size == 0:
            return None
        # trace the outline on the region's box upsampled x4: the polygon then runs 1/8 cell
        # inside the cells' outer edges instead of through the border cells' centres
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        up = 4
        box = np.kron(core[y0:y1, x0:x1].astype(np.uint8), np.ones((up, up), np.uint8))
        mask = np.zeros((box.shape[0] + 2, box.shape[1] + 2), np.uint8)
        mask[1:-1, 1:-1] = box
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cont = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float32) - 1.0
        uv = np.empty_like(cont)
        uv[:, 0] = (x0 + (cont[:, 0] + 0.5) / up) / gw
        uv[:, 1] = (y0 + (cont[:, 1] + 0.5) / up) / gh
        cu = (float(xs.mean()) + 0.5) / gw
        cv_ = (float(ys.mean()) + 0.5) / gh
        pts = np.stack([(xs + 0.5) * cw, (ys + 0.5) * ch], axis=1).astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts) if len(pts) >= 2 else ((0, 0), (0, 0), 0)
        length = max(rw, rh) + cw
        width = min(rw, rh) + ch
        area = float(core.sum()) * cw * ch
        with np.errstate(invalid="ignore", divide="ignore"):
            cons = float(np.mean(gr.w_hot[region] / np.maximum(gr.w_obs[region], 1e-6)))
        frames = int(gr.n_hot[region].max())
        travel = float((gr.x_hi - gr.x_lo)[region].max())
        conf = (
            cons
            * min(1.0, frames / (2 * c.min_frames))
            * min(1.0, travel / (2 * max(c.min_travel_px, 1.0)))
        )
        conf = 0.5 + 0.5 * float(np.clip(conf, 0.0, 1.0))
        size_class, severity, type_guess = classify(length, width, peak, conf, c.size)
        return FusedDefect(
            defect_id=0,
            view=view,
            contour_uv=np.clip(uv, 0.0, 1.0),
            centroid_uv=(cu, cv_),
            area_px=area,
            length_px=float(length),
            width_px=float(width),
            peak_score=peak,
            mean_score=float(vals.mean()),
            frames=frames,
            travel_px=travel,
            consistency=cons,
            confidence=conf,
            size_class=size_class,
            severity=severity,
            type_guess=type_guess,
            confirmed=True,
            first_t=t,
        )

    def _associate(self, car: _Car, fd: FusedDefect) -> None:
        g = self.views[fd.view]
        gate = self.config.gate_px
        best: tuple[float, _Known] | None = None
        for kn in car.known:
            d0 = kn.defect
            if d0.view != fd.view:
                continue
            du = (d0.centroid_uv[0] - fd.centroid_uv[0]) * g.width
            dv = (d0.centroid_uv[1] - fd.centroid_uv[1]) * g.height
            dist = math.hypot(du, dv) - 0.5 * (d0.length_px + fd.length_px)
            if dist <= gate and (best is None or dist < best[0]):
                best = (dist, kn)
        if best is not None:
            kn = best[1]
            kn.defect = _replace(fd, kn.defect.defect_id, kn.defect.first_t)
            return
        car.known.append(_Known(_replace(fd, car.next_id, fd.first_t)))
        car.next_id += 1

    def defects(self, car_id: int) -> list[FusedDefect]:
        """The car's confirmed defects, ordered by id (empty for an unknown car)."""
        car = self._cars.get(car_id)
        return [] if car is None else [k.defect for k in car.known]

    def candidates(self, car_id: int, view: str) -> list[FusedDefect]:
        """This inference's hot regions of ``view`` that are not (yet) confirmed, id 0."""
        car = self._cars.get(car_id)
        if car is None or view not in car.grids or car.grids[view].hot_now is None:
            return []
        gr = car.grids[view]
        hot = gr.hot_now.copy()
        hot &= ~self._gates(gr)
        n, labels = cv2.connectedComponents(hot.astype(np.uint8), connectivity=8)
        fused = gr.s_sum / np.maximum(gr.w_obs, 1e-6)
        out = []
        for k in range(1, min(n, 9)):
            fd = self._describe(car, view, gr, labels == k, fused, 0.0)
            if fd is not None:
                out.append(_replace(fd, 0, 0.0, confirmed=False))
        return out

    def cars(self) -> list[int]:
        return sorted(self._cars)

    def coverage(self, car_id: int) -> tuple[ViewCoverage, ...]:
        """How well each view of the car was seen so far."""
        c = self.config
        car = self._cars.get(car_id, _Car())
        out = []
        for v in self.views:
            gr = car.grids.get(v)
            if gr is None:
                out.append(ViewCoverage(v, 0, 0.0, False))
                continue
            travel = max(0.0, gr.x_max - gr.x_min) if gr.usable else 0.0
            ok = gr.usable >= c.view_min_frames and travel >= c.view_min_travel_px
            out.append(ViewCoverage(v, gr.usable, travel, ok))
        return tuple(out)

    def finish(
        self, car_id: int, stream_id: str, t_first: float, t_last: float, lost: bool = False
    ) -> CarVerdict:
        """The car's verdict; forgets the car.

        Args:
            lost: the track was lost (not a normal exit): views not yet seen
                are reported missing as usual; the reason says so.
        """
        c = self.config
        cov = self.coverage(car_id)
        car = self._cars.pop(car_id, _Car())
        defects = tuple(self._verdict_defect(k.defect) for k in car.known)
        seen = tuple(x.view for x in cov if x.complete)
        missing = tuple(x.view for x in cov if not x.complete)
        if defects:
            status = "NOK"
            conf = max(d.confidence for d in defects)
            reason = f"{len(defects)} defect" + ("s" if len(defects) > 1 else "")
            if missing:
                reason += f"; not seen: {', '.join(missing)}"
        elif missing:
            status = "INCOMPLETE"
            conf = len(seen) / max(len(cov), 1)
            reason = "not seen: " + ", ".join(missing)
        else:
            status = "OK"
            share = 1.0
            for x in cov:
                share *= min(1.0, x.frames / (2 * c.view_min_frames)) * min(
                    1.0, x.travel_px / (2 * max(c.view_min_travel_px, 1.0))
                )
            residual = 0.0
            for gr in car.grids.values():
                near = gr.n_hot >= max(1, c.min_frames // 2)
                if near.any():
                    cons = gr.w_hot[near] / np.maximum(gr.w_obs[near], 1e-6)
                    residual = max(residual, float(cons.max()))
            conf = 0.5 + 0.5 * share * (1.0 - 0.5 * min(residual, 1.0))
            reason = "no defect"
        if lost:
            reason += " (track lost)"
        return CarVerdict(
            stream_id=stream_id,
            car_id=car_id,
            status=status,
            confidence=float(np.clip(conf, 0.0, 1.0)),
            t_first=t_first,
            t_last=t_last,
            views_seen=seen,
            views_missing=missing,
            defects=defects,
            coverage=cov,
            reason=reason,
        )

    def _verdict_defect(self, d: FusedDefect) -> VerdictDefect:
        g = self.views[d.view]
        ub = d.contour_uv.astype(np.float32) * (g.width, g.height) + (g.u0, g.v0)
        cu = g.u0 + d.centroid_uv[0] * g.width
        cv_ = g.v0 + d.centroid_uv[1] * g.height
        return VerdictDefect(
            defect_id=d.defect_id,
            view=d.view,
            type_guess=d.type_guess,
            size_class=d.size_class,
            severity=d.severity,
            confidence=float(np.clip(d.confidence, 0.0, 1.0)),
            centroid_ub=(float(cu), float(cv_)),
            contour_ub=ub.astype(np.float32),
            length_px=d.length_px,
            area_px=d.area_px,
            location=self.location(cu, cv_),
            frames=d.frames,
            travel_px=d.travel_px,
            peak_score=d.peak_score,
        )

    def location(self, u: float, v: float) -> str:
        """Where (u, v) underbody px lies on the car, seen from the car's centre."""
        length, width = self.underbody_size
        du, dv = u - length / 2, v - width / 2
        if abs(du) < 0.1 * length and abs(dv) < 0.15 * width:
            return "centre"
        # front = small u; with the camera below, the car's left is small v
        return sector(math.degrees(math.atan2(-dv, -du)) % 360.0)


def _replace(
    fd: FusedDefect, defect_id: int, first_t: float, confirmed: bool = True
) -> FusedDefect:
    return FusedDefect(
        defect_id=defect_id,
        view=fd.view,
        contour_uv=fd.contour_uv,
        centroid_uv=fd.centroid_uv,
        area_px=fd.area_px,
        length_px=fd.length_px,
        width_px=fd.width_px,
        peak_score=fd.peak_score,
        mean_score=fd.mean_score,
        frames=fd.frames,
        travel_px=fd.travel_px,
        consistency=fd.consistency,
        confidence=fd.confidence,
        size_class=fd.size_class,
        severity=fd.severity,
        type_guess=fd.type_guess,
        confirmed=confirmed,
        first_t=first_t,
    )


def geometry_from_templates(
    templates: Mapping[str, object] | list[object],
) -> dict[str, ViewGeometry]:
    """ViewGeometry per view from :class:`~xrbridge.core.matching.ViewTemplate` values."""
    items = templates.values() if isinstance(templates, Mapping) else templates
    out = {}
    for t in items:
        view = str(t.view)  # type: ignore[attr-defined]
        if view not in VIEWS:
            raise InputError(f"view must be one of {VIEWS}, got {view!r}")
        h, w = t.image.shape[:2]  # type: ignore[attr-defined]
        out[view] = ViewGeometry(view, float(t.u0), float(t.v0), int(w), int(h))  # type: ignore[attr-defined]
    return out
