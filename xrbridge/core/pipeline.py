"""The synchronous per-stream pipeline: Frame -> OverlayFrame (+ inspection records).

    frame -> view matching + Kalman tracking (xrbridge.core.extraction)
          -> crop of the best visible view, aligned to its template
          -> model (injected callable: crop (h, w, 3) uint8 BGR -> (map (H, W) float32, score))
          -> fusion on the car (xrbridge.core.fusion; with the crop's bead width against
             its template, xrbridge.core.beadwidth) -> confirmed defects, verdicts
             (``PipelineConfig(fusion=None)``: regions -> the per-view stabiliser of
             earlier releases)
          -> severity + hints -> OverlayFrame

No asyncio, no sockets: the bridge wraps :meth:`StreamPipeline.process` in an
executor. The model runs every ``infer_every``-th frame (or whenever the
caller passes ``infer=True/False``); in between, the tracker keeps measuring
and predicting, and the last stable defects are redrawn where the car is now
(their coordinates are on the car, view-normalised).

Cars that leave the frame leave an :class:`~xrbridge.core.records.InspectionRecord`:
handed to the ``sink`` given at construction, or (without one) kept for
:meth:`StreamPipeline.pop_records` / :meth:`StreamPipeline.close`. Writing them
(SQLite, PostgreSQL) is the caller's job; the models are given as callables
(loading ONNX artefacts is :mod:`xrbridge.io.models`'s job).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from xrbridge.core.beadwidth import BeadConfig, BeadReference
from xrbridge.core.extraction import ExtractConfig, Extractor, TrackRecord
from xrbridge.core.fusion import (
    FusedDefect,
    Fusion,
    FusionConfig,
    Observation,
    geometry_from_templates,
)
from xrbridge.core.hints import HintConfig, make_hint
from xrbridge.core.matching import MatchConfig, TemplateMatcher, ViewTemplate
from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
from xrbridge.core.regions import (
    RegionConfig,
    ViewPlacement,
    check_map,
    find_regions,
)
from xrbridge.core.severity import SeverityConfig, severity
from xrbridge.core.stabilizer import Stabilizer, StabilizerConfig, StableDefect
from xrbridge.core.tracker import TrackerConfig
from xrbridge.core.types import Defect, Frame, OverlayFrame, TrackState, ViewMatch
from xrbridge.core.verdict import CarVerdict
from xrbridge.errors import InputError, ModelError

#: crop (h, w, 3) uint8 BGR -> (anomaly map (H, W) float32 normalised, image score normalised)
ModelFn = Callable[[np.ndarray], tuple[np.ndarray, float]]
#: receives each car's record when the car leaves (in the thread that calls ``process``)
RecordSink = Callable[[InspectionRecord], None]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of one stream's pipeline (grouped per stage).

    ``infer_every``: run the model on every N-th frame (1 = every frame); the
    tracker carries the overlays in between. ``display_latency_s``: the track
    and the overlay positions are predicted this far past ``t_capture`` (the
    time until the headset shows them). ``thresholds``: per-view normalised
    pixel thresholds (from the models' manifests); a view without an entry uses
    ``regions.threshold``. ``emit_candidates``: also stream unconfirmed
    defects (``confirmed=False``, ``defect_id=0``).
    """

    stream_id: str = "line-1"
    model_name: str = "patchcore"
    infer_every: int = 1
    display_latency_s: float = 0.0
    emit_candidates: bool = False
    max_centre_offset_px: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    regions: RegionConfig = field(default_factory=RegionConfig)
    severity: SeverityConfig = field(default_factory=SeverityConfig)
    hints: HintConfig = field(default_factory=HintConfig)
    stabilizer: StabilizerConfig = field(default_factory=StabilizerConfig)
    #: evidence fused on the car (xrbridge.core.fusion); None: the per-view stabiliser of
    #: earlier releases decides alone (no verdicts)
    fusion: FusionConfig | None = field(default_factory=FusionConfig)
    #: a car's verdict rides on the overlays for this long after it left (clients key it
    #: by stream and car id), so a client that missed a frame still gets it
    verdict_repeat_s: float = 2.0
    #: bead width of each inferred crop against its template, as evidence for the fusion
    #: (xrbridge.core.beadwidth; narrowings); None: the model's map alone
    bead: BeadConfig | None = field(default_factory=BeadConfig)
    match: MatchConfig | None = None
    tracker: TrackerConfig | None = None
    extract: ExtractConfig | None = None


@dataclass(slots=True)
class _CarLog:
    t_first: float
    t_last: float
    scores: dict[str, float] = field(default_factory=dict)  # view -> max image score
    last: dict[str, tuple[StableDefect, ...]] = field(default_factory=dict)  # view -> last update


class StreamPipeline:
    """One stream: ``process(frame) -> OverlayFrame``.

    Args:
        templates: the view templates (with their underbody offsets).
        model: one callable for every view, or a mapping view -> callable.
        config: :class:`PipelineConfig`.
        rois: optional view -> (h, w) mask applied to the map (nonzero = kept;
            resized to the map's size). Leave None when the model graph masks.
        clock: seconds, for ``t_emit`` (default ``time.perf_counter``); the
            emit time is ``t_capture`` + the processing time measured with it.
        sink: called with each car's record when the car leaves; None: the
            records wait for :meth:`pop_records` / :meth:`close`.
    """

    def __init__(
        self,
        templates: Sequence[ViewTemplate],
        model: ModelFn | Mapping[str, ModelFn],
        config: PipelineConfig | None = None,
        rois: Mapping[str, np.ndarray] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sink: RecordSink | None = None,
    ) -> None:
        self.config = c = config or PipelineConfig()
        self.matcher = TemplateMatcher(templates, c.match)
        self.extractor = Extractor(self.matcher, c.tracker, c.extract)
        self._templates = {t.view: t for t in templates}
        self._model = model
        self._rois = dict(rois or {})
        self._roi_cache: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self._region_cfg = {
            v: RegionConfig(
                threshold=c.thresholds.get(v, c.regions.threshold),
                min_area_px=c.regions.min_area_px,
                max_vertices=c.regions.max_vertices,
                epsilon_frac=c.regions.epsilon_frac,
                max_regions=c.regions.max_regions,
                mm_per_px=c.regions.mm_per_px,
            )
            for v in self._templates
        }
        self.stabilizer = Stabilizer(c.stabilizer)
        self.fusion = (
            None
            if c.fusion is None
            else Fusion(geometry_from_templates(templates), config=c.fusion)
        )
        self._beads: dict[str, BeadReference] = {}
        if self.fusion is not None and c.bead is not None and self.fusion.config.thin_ratio > 0:
            for t in templates:  # built now (a few ms per view), not on a live frame
                self._beads[t.view] = BeadReference(t.image, self.fusion.grid_shape(t.view), c.bead)
        self._verdicts: list[CarVerdict] = []
        self._recent: list[CarVerdict] = []
        self._clock = clock
        self._sink = sink
        self._cars: dict[int, _CarLog] = {}
        self._records: list[InspectionRecord] = []
        self._n = 0
        self.inferences = 0
        #: seconds spent in the last :meth:`process` per stage: "match" (matching +
        #: tracking), "model", "overlay" (regions, stabiliser, severity, hints)
        self.last_timing: dict[str, float] = {}

    def set_model(
        self,
        model: ModelFn | Mapping[str, ModelFn],
        *,
        model_name: str,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        """Switch the model between two frames; cars, their ids and tracks carry on.

        The records of cars inspected by both models name the model at the car's end.
        """
        import dataclasses

        c = self.config
        th = dict(c.thresholds if thresholds is None else thresholds)
        self.config = dataclasses.replace(c, model_name=model_name, thresholds=th)
        self._model = model
        for v, rc in self._region_cfg.items():
            self._region_cfg[v] = dataclasses.replace(rc, threshold=th.get(v, c.regions.threshold))

    # ------------------------------------------------------------------ helpers

    def _model_for(self, view: str) -> ModelFn:
        if callable(self._model):
            return self._model
        if view not in self._model:
            raise ModelError(f"no model for view {view!r}; have {sorted(self._model)}")
        return self._model[view]

    def _roi(self, view: str, shape: tuple[int, int]) -> np.ndarray | None:
        if view not in self._rois:
            return None
        key = (view, shape)
        if key not in self._roi_cache:
            m = self._rois[view]
            self._roi_cache[key] = cv2.resize(
                m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST
            )
        return self._roi_cache[key]

    def _best_match(
        self, tracks: Sequence[TrackRecord], size: tuple[int, int]
    ) -> tuple[TrackRecord, ViewMatch] | None:
        """The fully visible view closest to the frame centre, over all cars."""
        fw, fh = size
        best: tuple[float, TrackRecord, ViewMatch] | None = None
        for tr in tracks:
            for mt in tr.matches:
                if not callable(self._model) and mt.view not in self._model:
                    continue  # a view without a model is tracked, not inspected
                x0, y0 = round(mt.x), round(mt.y)
                if x0 < 0 or y0 < 0 or x0 + mt.width > fw or y0 + mt.height > fh:
                    continue
                d = math.hypot(mt.x + mt.width / 2 - fw / 2, mt.y + mt.height / 2 - fh / 2)
                lim = self.config.max_centre_offset_px
                if lim is not None and abs(mt.x + mt.width / 2 - fw / 2) > lim:
                    continue
                if best is None or d < best[0]:
                    best = (d, tr, mt)
        return None if best is None else (best[1], best[2])

    def _infer(self, pixels: np.ndarray, mt: ViewMatch) -> tuple[np.ndarray, float]:
        x0, y0 = round(mt.x), round(mt.y)
        crop = pixels[y0 : y0 + mt.height, x0 : x0 + mt.width]
        try:
            amap, score = self._model_for(mt.view)(crop)
        except ModelError:
            raise
        except Exception as exc:  # the injected model is third-party code
            raise ModelError(
                f"model failed on view {mt.view}: {type(exc).__name__}: {exc}"
            ) from exc
        score = float(score)
        if not math.isfinite(score):
            raise ModelError(f"model returned image score {score} for view {mt.view}")
        self.inferences += 1
        return amap, score

    def _to_defect(
        self, sd: StableDefect, place: ViewPlacement, track: TrackState, t: float
    ) -> Defect:
        c = self.config
        px, cpx, bbox = _placed(place, sd.contour_uv, sd.centroid_uv)
        return Defect(
            defect_id=sd.defect_id,
            view=sd.view,
            contour_px=px,
            contour_uv=sd.contour_uv,
            bbox_px=bbox,
            centroid_px=cpx,
            centroid_uv=sd.centroid_uv,
            area_px=sd.area_px,
            peak_score=sd.peak_score,
            mean_score=sd.mean_score,
            severity=severity(min(sd.peak_score, 1.0), min(sd.area_uv, 1.0), c.severity),
            age_frames=sd.age_frames,
            confirmed=sd.confirmed,
            hint=make_hint(sd.centroid_uv, cpx, (place.width, place.height), track, t, c.hints),
            hits=sd.hits,
            area_mm2=sd.area_mm2,
        )

    # --------------------------------------------------------------------- API

    def process(self, frame: Frame, infer: bool | None = None) -> OverlayFrame:
        """Process one frame; ``infer`` forces (True) or skips (False) the model call.

        Raises:
            InputError: a frame of another size than the first one.
            ModelError: the model failed or returned a bad map/score
                (InputError from the map check is re-raised as ModelError).
        """
        start = self._clock()
        c = self.config
        pixels = frame.pixels
        rec = self.extractor.process(pixels, frame.t_capture, frame.seq)
        t_matched = self._clock()
        model_s = 0.0
        self._close_gone_cars({tr.car_id for tr in rec.tracks})
        t_show = frame.t_capture + c.display_latency_s
        for tr in rec.tracks:
            log = self._cars.setdefault(tr.car_id, _CarLog(frame.t_capture, frame.t_capture))
            log.t_last = frame.t_capture

        do_infer = (self._n % c.infer_every == 0) if infer is None else infer
        self._n += 1
        best = self._best_match(rec.tracks, (pixels.shape[1], pixels.shape[0]))
        image_score: float | None = None
        view: str | None = None
        track_state: TrackState | None = None
        defects: list[Defect] = []
        if best is not None:
            tr, mt = best
            view = mt.view
            log = self._cars[tr.car_id]
            if do_infer:
                t0 = self._clock()
                amap, image_score = self._infer(pixels, mt)
                model_s = self._clock() - t0
                if self.fusion is not None:
                    self._fuse(tr, mt, amap, frame.t_capture, pixels)
                else:
                    log.last[mt.view] = self._stabilise(tr, mt, amap)
                log.scores[mt.view] = max(log.scores.get(mt.view, 0.0), image_score)
            # where the car (and its defects) will be at display time
            st = self.extractor.tracker.predict_state(tr.car_id, t_show)
            assert st is not None
            tpl = self._templates[mt.view]
            track_state = TrackState(tr.car_id, st.x, st.y, st.vx, st.vy, st.t, mt.view, mt.score)
            place = ViewPlacement(mt.view, st.x + tpl.u0, st.y + tpl.v0, tpl.width, tpl.height)
            if self.fusion is None:
                for sd in log.last.get(mt.view, ()):
                    if sd.confirmed or c.emit_candidates:
                        defects.append(self._to_defect(sd, place, track_state, t_show))
        elif rec.tracks:
            tr = max(rec.tracks, key=lambda r: r.score)
            st = self.extractor.tracker.predict_state(tr.car_id, t_show)
            if st is not None:
                track_state = TrackState(
                    tr.car_id, st.x, st.y, st.vx, st.vy, st.t, tr.view, tr.score
                )
        if self.fusion is not None and track_state is not None:
            defects = self._fused_defects(track_state, view, pixels.shape[1], t_show)
        end = self._clock()
        self.last_timing = {
            "match": t_matched - start,
            "model": model_s,
            "overlay": end - t_matched - model_s,
        }
        return OverlayFrame(
            stream_id=c.stream_id,
            seq=frame.seq,
            t_capture=frame.t_capture,
            t_emit=frame.t_capture + (end - start),
            model=c.model_name,
            view=view,
            track=track_state,
            image_score=image_score,
            defects=tuple(defects),
            verdicts=self._live_verdicts(frame.t_capture),
        )

    # ---------------------------------------------------------- fusion hookup

    def _stabilise(
        self, tr: TrackRecord, mt: ViewMatch, amap: np.ndarray
    ) -> tuple[StableDefect, ...]:
        place = ViewPlacement(mt.view, mt.x, mt.y, mt.width, mt.height)
        try:
            regions = find_regions(
                amap, place, self._region_cfg[mt.view], self._roi(mt.view, np.shape(amap)[-2:])
            )
        except InputError as exc:
            raise ModelError(f"bad anomaly map from the {mt.view} model: {exc}") from exc
        return tuple(self.stabilizer.update(tr.car_id, mt.view, regions, (mt.width, mt.height)))

    def _bead_ratio(self, pixels: np.ndarray, mt: ViewMatch) -> np.ndarray | None:
        """The crop's bead width against its template per fusion cell (None: channel off)."""
        ref = self._beads.get(mt.view)  # built in __init__ when the channel is on
        if ref is None:
            return None
        x0, y0 = round(mt.x), round(mt.y)
        return ref.ratio(pixels[y0 : y0 + mt.height, x0 : x0 + mt.width])

    def _fuse(
        self, tr: TrackRecord, mt: ViewMatch, amap: np.ndarray, t: float, pixels: np.ndarray
    ) -> None:
        assert self.fusion is not None
        size = (pixels.shape[1], pixels.shape[0])
        ratio = self._bead_ratio(pixels, mt)
        ob = Observation(
            mt.view, mt.x, mt.y, mt.score, tr.velocity, t, size, self._region_cfg[mt.view].threshold
        )
        try:
            a = check_map(amap)
            roi = self._roi(mt.view, a.shape)
            self.fusion.update(
                tr.car_id, ob, a if roi is None else np.where(roi > 0, a, 0.0), ratio
            )
        except InputError as exc:
            raise ModelError(f"bad anomaly map from the {mt.view} model: {exc}") from exc

    def _fused_defects(
        self, track: TrackState, view: str | None, frame_w: int, t: float
    ) -> list[Defect]:
        """The car's confirmed defects (every view that reaches into the frame) at display time."""
        assert self.fusion is not None
        fds = list(self.fusion.defects(track.car_id))
        if self.config.emit_candidates and view is not None:
            fds += self.fusion.candidates(track.car_id, view)
        out = []
        for fd in fds:
            tpl = self._templates[fd.view]
            place = ViewPlacement(
                fd.view, track.x + tpl.u0, track.y + tpl.v0, tpl.width, tpl.height
            )
            if place.x >= frame_w or place.x + place.width <= 0:
                continue
            out.append(self._fused_to_defect(fd, place, track, t))
        return out

    def _fused_to_defect(
        self, fd: FusedDefect, place: ViewPlacement, track: TrackState, t: float
    ) -> Defect:
        px, cpx, bbox = _placed(place, fd.contour_uv, fd.centroid_uv)
        mm = self.config.regions.mm_per_px
        return Defect(
            defect_id=fd.defect_id,
            view=fd.view,
            contour_px=px,
            contour_uv=fd.contour_uv,
            bbox_px=bbox,
            centroid_px=cpx,
            centroid_uv=fd.centroid_uv,
            area_px=fd.area_px,
            peak_score=fd.peak_score,
            mean_score=fd.mean_score,
            severity=fd.severity,
            age_frames=fd.frames,
            confirmed=fd.confirmed,
            hint=make_hint(
                fd.centroid_uv, cpx, (place.width, place.height), track, t, self.config.hints
            ),
            hits=fd.frames,
            area_mm2=None if mm is None else fd.area_px * mm * mm,
            size_class=fd.size_class,
            type_guess=fd.type_guess,
            confidence=fd.confidence,
        )

    def _live_verdicts(self, t: float) -> tuple[CarVerdict, ...]:
        keep = self.config.verdict_repeat_s
        self._recent = [v for v in self._recent if t - v.t_last <= keep]
        return tuple(self._recent)

    def pop_verdicts(self) -> list[CarVerdict]:
        """Verdicts of the cars that left since the last call (oldest first)."""
        out, self._verdicts = self._verdicts, []
        return out

    def _close_gone_cars(self, present: set[int]) -> None:
        for car_id in [k for k in self._cars if k not in present]:
            self._finish(car_id)

    def _finish(self, car_id: int) -> None:
        log = self._cars.pop(car_id)
        self.extractor.forget(car_id)  # a stream runs for days: keep no crops of cars gone
        verdict = None
        if self.fusion is not None:
            fused = self.fusion.defects(car_id)
            verdict = self.fusion.finish(car_id, self.config.stream_id, log.t_first, log.t_last)
            self._verdicts.append(verdict)
            self._recent.append(verdict)
            confirmed = [_as_stable(d) for d in fused]
        else:
            sev = self.config.severity
            confirmed = [
                _RecordView(
                    d.defect_id,
                    d.view,
                    severity(min(d.peak_score, 1.0), min(d.area_uv, 1.0), sev),
                    d.peak_score,
                    d.mean_score,
                    d.hits,
                    d.centroid_uv,
                    d.area_px,
                    d.area_mm2,
                    d.contour_uv,
                )
                for d in self.stabilizer.finish_car(car_id)
            ]
        views = []
        for v in self._templates:
            if v not in log.scores:
                continue
            ds = tuple(
                RecordDefect(
                    defect_id=d.defect_id,
                    severity=d.severity,
                    peak_score=d.peak_score,
                    mean_score=d.mean_score,
                    hits=d.hits,
                    centroid_uv=d.centroid_uv,
                    area_px=d.area_px,
                    area_mm2=d.area_mm2,
                    contour_uv=tuple(float(x) for x in d.contour_uv.reshape(-1)),
                )
                for d in confirmed
                if d.view == v
            )
            views.append(ViewResult(v, log.scores[v], ds))
        record = InspectionRecord(
            stream_id=self.config.stream_id,
            car_id=car_id,
            t_first=log.t_first,
            t_last=log.t_last,
            model=self.config.model_name,
            views=tuple(views),
            verdict=verdict,
        )
        if self._sink is not None:
            self._sink(record)
        else:
            self._records.append(record)

    def pop_records(self) -> list[InspectionRecord]:
        """Records of the cars that left since the last call (oldest first; empty with a sink)."""
        out, self._records = self._records, []
        return out

    def close(self) -> list[InspectionRecord]:
        """End of stream: finish every car still tracked and return all pending records.

        With a sink, the records go to the sink and the list is empty.
        """
        for car_id in list(self._cars):
            self._finish(car_id)
        return self.pop_records()


@dataclass(frozen=True, slots=True)
class _RecordView:
    """What a record needs of a confirmed defect (stabiliser or fusion)."""

    defect_id: int
    view: str
    severity: str
    peak_score: float
    mean_score: float
    hits: int
    centroid_uv: tuple[float, float]
    area_px: float
    area_mm2: float | None
    contour_uv: np.ndarray


def _as_stable(d: FusedDefect) -> _RecordView:
    return _RecordView(
        d.defect_id,
        d.view,
        d.severity,
        d.peak_score,
        d.mean_score,
        d.frames,
        d.centroid_uv,
        d.area_px,
        None,
        d.contour_uv,
    )


def _placed(
    place: ViewPlacement, contour_uv: np.ndarray, centroid_uv: tuple[float, float]
) -> tuple[np.ndarray, tuple[float, float], tuple[float, float, float, float]]:
    """A view-normalised contour and centroid placed in the frame: (contour px, centroid px, bbox)."""
    px = place.uv_to_px(contour_uv)
    cpx = (place.x + centroid_uv[0] * place.width, place.y + centroid_uv[1] * place.height)
    x0, y0 = px.min(axis=0)
    x1, y1 = px.max(axis=0)
    return px, cpx, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
