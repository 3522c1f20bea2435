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

A second, optional channel, the bead width (:mod:`xrbridge.core.beadwidth`,
passed as ``bead_ratio``): where the crop's bead is thinner than the
template's (``thin_ratio``), a cell counts as above threshold already at
threshold - ``thin_margin``. The models score narrowings at their threshold,
where their false alarms on bead ends also sit; the bead width tells the
two apart. Such a region is typed ``narrowing`` (``missing`` where the bead
is gone) and outlined by its thin centre-line cells widened to the bead.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from xrbridge.core.hints import sector
from xrbridge.core.matching import ViewTemplate
from xrbridge.core.regions import check_map, simplify_polygon
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
    ``centre_full_px`` / ``centre_zero_px`` / ``centre_floor``: a crop whose
    centre is within ``centre_full_px`` of the frame centre counts fully, one
    ``centre_zero_px`` off counts ``centre_floor`` (linear between): the view
    models were trained on crops near the centre and their maps are noisier
    off it. ``min_evidence``: the weights of a cell's hot inferences must add
    up to this (a burst of low-weight frames does not confirm).
    ``blur_speed_px_s``: car speed at which the motion weight is 0.5 (raise it
    for a shorter exposure). ``novelty_px``: car travel since the view's last
    inference for a full weight (a standing car's repeats count
    ``still_weight``).
    ``contour_level``: where between the threshold (0) and the fused peak (1)
    the contour is drawn; 0 is the whole hot blob.
    ``view_min_frames`` / ``view_min_travel_px``: a view counts as seen for the
    verdict with at least this many usable inferences over this much travel.
    ``gate_px``: a region whose outline comes this close (underbody px) to a
    confirmed defect of the same view updates it instead of getting a new id.
    ``max_vertices``: contour budget on the wire.
    ``thin_ratio`` / ``thin_margin``: bead-width evidence
    (:mod:`xrbridge.core.beadwidth`, when the caller passes ``bead_ratio``): a
    cell whose bead is thinner than ``thin_ratio`` of the template's counts as
    hot already at a score above threshold - ``thin_margin`` (instead of
    threshold + ``hot_margin``). The models score narrowings at their
    threshold, where their false alarms on bead ends also sit; the bead width
    tells the two apart. Raising ``thin_ratio`` or ``thin_margin`` finds
    fainter narrowings and lets more misaligned or badly lit beads through
    (the travel and consistency gates still apply); ``thin_ratio`` 0 turns the
    channel off. ``missing_ratio``: a confirmed region whose bead was on
    average below ``thin_ratio`` is guessed ``missing`` when its thinnest cell
    read below ``missing_ratio`` on average (the bead is gone there), else
    ``narrowing``.
    """

    cell_px: float = 4.0
    min_frames: int = 4
    min_travel_px: float = 60.0
    min_consistency: float = 0.6
    cell_consistency: float = 0.35
    min_area_px: float = 48.0
    match_floor: float = 0.5
    match_full: float = 0.8
    edge_px: float = 48.0
    edge_floor: float = 0.3
    centre_full_px: float = 80.0
    centre_zero_px: float = 170.0
    centre_floor: float = 0.25
    min_evidence: float = 3.0
    hot_margin: float = 0.05
    blur_speed_px_s: float = 2500.0
    novelty_px: float = 4.0
    still_weight: float = 0.1
    contour_level: float = 0.6
    view_min_frames: int = 3
    view_min_travel_px: float = 60.0
    gate_px: float = 16.0
    max_vertices: int = 24
    thin_ratio: float = 0.7
    thin_margin: float = 0.2
    missing_ratio: float = 0.25
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
    r_sum: np.ndarray  # sum of weight * bead-width ratio (cells with a ratio)
    r_w: np.ndarray  # ... of those weights
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

    def grid_shape(self, view: str) -> tuple[int, int]:
        """(rows, cols) of ``view``'s evidence grid (the shape of a ``bead_ratio``)."""
        if view not in self.views:
            raise InputError(f"no geometry for view {view!r}; have {sorted(self.views)}")
        return self._shape(view)

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
                r_sum=np.zeros(shape, np.float32),
                r_w=np.zeros(shape, np.float32),
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
        gh, gw = shape
        W, H = ob.frame_size
        # the models learned the views near the frame centre (peak visibility): a crop far
        # off-centre sees other lighting, other perspective, half-seen neighbours
        off = abs(ob.x + g.width / 2 - W / 2)
        w_pos = 1.0 - (off - c.centre_full_px) / max(c.centre_zero_px - c.centre_full_px, 1e-6)
        w_pos = float(np.clip(w_pos, c.centre_floor, 1.0))
        base = w_match * w_motion * w_new * w_pos
        # cell centres in frame px -> distance to the nearest frame border
        xs = ob.x + (np.arange(gw, dtype=np.float32) + 0.5) * (g.width / gw)
        ys = ob.y + (np.arange(gh, dtype=np.float32) + 0.5) * (g.height / gh)
        ex = np.clip(np.minimum(xs, W - xs) / c.edge_px, 0.0, 1.0)
        ey = np.clip(np.minimum(ys, H - ys) / c.edge_px, 0.0, 1.0)
        edge = c.edge_floor + (1.0 - c.edge_floor) * np.minimum(ey[:, None], ex[None, :])
        out: np.ndarray = (base * edge).astype(np.float32)
        return out

    # -------------------------------------------------------------------- API

    def update(
        self,
        car_id: int,
        ob: Observation,
        anomaly_map: np.ndarray,
        bead_ratio: np.ndarray | None = None,
    ) -> list[FusedDefect]:
        """Add one inference of ``ob.view`` of ``car_id``; returns the car's defects.

        Args:
            car_id: the tracked car.
            ob: where the crop was and how much to trust it.
            anomaly_map: (H, W) float normalised scores of the crop (any H, W).
            bead_ratio: optional (gh, gw) float (:meth:`grid_shape`), the crop's bead
                width over the template's per cell, NaN where unknown
                (:class:`~xrbridge.core.beadwidth.BeadReference`).

        Returns:
            Every confirmed defect of the car (all views), ordered by id.

        Raises:
            InputError: a view without geometry, a map that is not (H, W) finite floats,
                a ``bead_ratio`` of another shape than the grid.
        """
        if ob.view not in self.views:
            raise InputError(f"no geometry for view {ob.view!r}; have {sorted(self.views)}")
        a = check_map(anomaly_map)
        car = self._cars.setdefault(car_id, _Car())
        gr = self._grid(car, ob.view)
        gh, gw = gr.w_obs.shape
        m = cv2.resize(a, (gw, gh), interpolation=cv2.INTER_AREA)
        w = self._weights(ob, gr, (gh, gw))
        c = self.config
        hot = m > ob.threshold + c.hot_margin
        if bead_ratio is not None:
            if np.shape(bead_ratio) != (gh, gw):
                raise InputError(
                    f"bead_ratio must be {(gh, gw)} like the {ob.view} grid, got "
                    f"{np.shape(bead_ratio)}"
                )
            known = np.isfinite(bead_ratio)
            r = np.where(known, bead_ratio, 1.0)
            gr.r_sum += w * r * known
            gr.r_w += w * known
            if c.thin_ratio > 0:
                hot |= (r < c.thin_ratio) & (m > ob.threshold - c.thin_margin)
        car_x = ob.x - self.views[ob.view].u0
        gr.w_obs += w
        gr.s_sum += w * m
        gr.w_hot += w * hot
        gr.n_hot += hot
        np.minimum(gr.x_lo, np.float32(car_x), out=gr.x_lo, where=hot)
        np.maximum(gr.x_hi, np.float32(car_x), out=gr.x_hi, where=hot)
        gr.frames += 1
        if float(w.max()) >= 0.5:
            gr.usable += 1
            gr.x_min = min(gr.x_min, car_x)
            gr.x_max = max(gr.x_max, car_x)
        gr.last_x = car_x
        gr.hot_now = hot
        self._confirm(car, ob.view, gr, ob.t)
        return self.defects(car_id)

    def _gates(self, gr: _Grid) -> tuple[np.ndarray, int, int] | None:
        """The confirmation mask on the box of the cells hot often enough, with its offset.

        None when no cell was hot in ``min_frames`` inferences yet (the usual case:
        then nothing else is computed).
        """
        c = self.config
        often = (gr.n_hot >= c.min_frames) & (gr.w_hot >= c.min_evidence)
        rows = np.flatnonzero(often.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(often.any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        win = (slice(y0, y1), slice(x0, x1))
        cons = gr.w_hot[win] / np.maximum(gr.w_obs[win], 1e-6)
        travel = gr.x_hi[win] - gr.x_lo[win]
        mask = often[win] & (travel >= c.min_travel_px) & (cons >= c.cell_consistency)
        return mask, y0, x0

    def _confirm(self, car: _Car, view: str, gr: _Grid, t: float) -> None:
        c = self.config
        gated = self._gates(gr)
        if gated is None or not gated[0].any():
            return
        mask, oy, ox = gated
        g = self.views[view]
        gh, gw = gr.w_obs.shape
        cw, ch = g.width / gw, g.height / gh
        n, labels, stats, _ = cv2.connectedComponentsWithStats(
            mask.astype(np.uint8), connectivity=8
        )
        fds = []
        for k in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[k])
            if area * cw * ch < c.min_area_px:
                continue
            region = labels[y : y + h, x : x + w] == k
            fd = self._describe(view, gr, region, (oy + y, ox + x), t)
            if fd is not None and fd.consistency >= c.min_consistency:
                fds.append(fd)
        if fds:
            fds.sort(key=lambda d: -d.area_px)
            self._associate(car, view, fds)

    def _describe(
        self,
        view: str,
        gr: _Grid,
        region: np.ndarray,
        origin: tuple[int, int],
        t: float,
    ) -> FusedDefect | None:
        """A region (bool mask of its box, whose top-left cell is ``origin``) as a defect."""
        c = self.config
        g = self.views[view]
        gh, gw = gr.w_obs.shape
        cw, ch = g.width / gw, g.height / gh
        # the box one cell wider (within the grid): room to widen a bead's centre line
        oy, ox = origin
        py0, px0 = min(oy, 1), min(ox, 1)
        py1 = min(gh - oy - region.shape[0], 1)
        px1 = min(gw - ox - region.shape[1], 1)
        region = np.pad(region, ((py0, py1), (px0, px1)))
        oy, ox = oy - py0, ox - px0
        win = (slice(oy, oy + region.shape[0]), slice(ox, ox + region.shape[1]))
        w_obs = np.maximum(gr.w_obs[win], 1e-6)
        fused = gr.s_sum[win] / w_obs
        vals = fused[region]
        peak = float(vals.max())
        lo = float(np.min(vals))
        core = region & (fused >= lo + c.contour_level * (peak - lo))
        # bead-width evidence: the region's mean ratio, its thinnest cell, its thin cells
        r_sum, r_w = gr.r_sum[win], gr.r_w[win]
        seen = region & (r_w > 0)
        thin_bead = bool(seen.any()) and r_sum[seen].sum() < c.thin_ratio * r_w[seen].sum()
        thin = seen & (r_sum < c.thin_ratio * r_w)
        if thin_bead and thin.sum() >= 2:
            # a thin bead: the bead's centre-line cells where it was thin, widened by a cell
            # on each side to about the bead's width (the model's map, blurred ~30 px, draws
            # a blob far wider than the bead)
            core = cv2.dilate(thin.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
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
        cont = simplify_polygon(max(contours, key=cv2.contourArea), c.max_vertices, 0.01) - 1.0
        uv = np.empty_like(cont)
        uv[:, 0] = (ox + x0 + (cont[:, 0] + 0.5) / up) / gw
        uv[:, 1] = (oy + y0 + (cont[:, 1] + 0.5) / up) / gh
        cu = (ox + float(xs.mean()) + 0.5) / gw
        cv_ = (oy + float(ys.mean()) + 0.5) / gh
        pts = np.stack([(xs + 0.5) * cw, (ys + 0.5) * ch], axis=1).astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts) if len(pts) >= 2 else ((0, 0), (0, 0), 0)
        length = max(rw, rh) + cw
        width = min(rw, rh) + ch
        area = float(core.sum()) * cw * ch
        cons = float(np.mean(gr.w_hot[win][region] / w_obs[region]))
        frames = int(gr.n_hot[win][region].max())
        travel = float((gr.x_hi[win] - gr.x_lo[win])[region].max())
        conf = (
            cons
            * min(1.0, frames / (2 * c.min_frames))
            * min(1.0, travel / (2 * max(c.min_travel_px, 1.0)))
        )
        conf = 0.5 + 0.5 * float(np.clip(conf, 0.0, 1.0))
        size_class, severity, type_guess = classify(length, width, peak, conf, c.size)
        if thin_bead:
            thinnest = float((r_sum[seen] / r_w[seen]).min())
            type_guess = "missing" if thinnest < c.missing_ratio else "narrowing"
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

    def _associate(self, car: _Car, view: str, fds: list[FusedDefect]) -> None:
        """Match this update's regions of ``view`` to the car's confirmed defects, one to one.

        A region within ``gate_px`` of a confirmed defect updates it (the closest
        pairs first; between touching ones, the larger region); a second region
        near an already matched defect is a fragment of it, not a new defect;
        any other region gets the next id.
        """
        gate = self.config.gate_px
        known = [kn for kn in car.known if kn.defect.view == view]
        pairs = []
        near: set[int] = set()
        for i, fd in enumerate(fds):
            for j, kn in enumerate(known):
                dist = self._gap(kn.defect, fd)
                if dist <= gate:
                    pairs.append((max(dist, 0.0), -fd.area_px, i, j))
                    near.add(i)
        pairs.sort()
        used_i: set[int] = set()
        used_j: set[int] = set()
        for _d, _a, i, j in pairs:
            if i in used_i or j in used_j:
                continue
            used_i.add(i)
            used_j.add(j)
            kn = known[j]
            kn.defect = _replace(fds[i], kn.defect.defect_id, kn.defect.first_t)
        born: list[FusedDefect] = []
        for i, fd in enumerate(fds):  # largest first: a smaller piece next to it is a fragment
            if i in near or any(self._gap(b, fd) <= gate for b in born):
                continue
            born.append(fd)
            car.known.append(_Known(_replace(fd, car.next_id, fd.first_t)))
            car.next_id += 1

    def _gap(self, a: FusedDefect, b: FusedDefect) -> float:
        """Roughly the distance (underbody px) between two regions' outlines of one view."""
        g = self.views[a.view]
        du = (a.centroid_uv[0] - b.centroid_uv[0]) * g.width
        dv = (a.centroid_uv[1] - b.centroid_uv[1]) * g.height
        return math.hypot(du, dv) - 0.5 * (a.length_px + b.length_px)

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
        assert gr.hot_now is not None
        hot = gr.hot_now.copy()
        gated = self._gates(gr)
        if gated is not None:
            mask, oy, ox = gated
            hot[oy : oy + mask.shape[0], ox : ox + mask.shape[1]] &= ~mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(hot.astype(np.uint8), connectivity=8)
        out = []
        for k in range(1, min(n, 9)):
            x, y, w, h, _area = (int(v) for v in stats[k])
            fd = self._describe(view, gr, labels[y : y + h, x : x + w] == k, (y, x), 0.0)
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


def geometry_from_templates(templates: Iterable[ViewTemplate]) -> dict[str, ViewGeometry]:
    """ViewGeometry per view from :class:`~xrbridge.core.matching.ViewTemplate` values."""
    out = {}
    for t in templates:
        if t.view not in VIEWS:
            raise InputError(f"view must be one of {VIEWS}, got {t.view!r}")
        h, w = t.image.shape[:2]
        out[t.view] = ViewGeometry(t.view, float(t.u0), float(t.v0), int(w), int(h))
    return out
