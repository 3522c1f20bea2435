"""Per-frame view extraction: matching + tracking + peak-frame choice, no I/O.

:class:`Extractor` takes frames with their capture times and returns, per
frame, what every confirmed car track did (:class:`FrameRecord`). It keeps,
per car and view, the crop of the frame where the view was at *peak
visibility*: fully inside the frame with its centre closest to the frame
centre (the same rule the simulator's truth uses). The crop is aligned to the
template (same size, taken at the matched position), so it can feed training
directly.

Search strategy (why it is fast): a tracked car is searched only in a window
around each view's predicted position, sized from the filter's position
uncertainty; the whole frame is searched (coarse, then refined) only for new
cars, with the positions of tracked cars excluded, one view per frame in
turn while cars are tracked (``birth_every``), every view while none is or
after a track missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from xrbridge.core.matching import PreparedFrame, TemplateMatcher
from xrbridge.core.tracker import ConveyorTracker, Measurement, Track, TrackerConfig
from xrbridge.core.types import ViewMatch
from xrbridge.errors import InputError


@dataclass(frozen=True, slots=True)
class ExtractConfig:
    """Search settings around tracked cars.

    window_sigma: search radius in position standard deviations of the prediction.
    min_window / max_window: bounds of that radius, px. A larger window is
        slower and may lock onto a neighbouring structure; a smaller one loses
        a car whose speed changed more than the filter expected. After a miss,
        one re-acquisition search uses ``max_window`` (see
        :meth:`ConveyorTracker.correct`).
    birth_every: each view's whole-frame search (new cars) runs every N
        frames, the views staggered so that a frame pays for about 1/N of the
        search (with 3 views and N = 3, one view per frame). Every view is
        searched on every frame while no track is live, and on the frame
        where a track missed a view it should have seen (windowed score below
        the threshold) and the next one. 1 = every view on every frame.
        Raising N saves time but delays finding a new car by up to N-1 frames.
    """

    window_sigma: float = 4.0
    min_window: float = 16.0
    max_window: float = 120.0
    birth_every: int = 3

    def __post_init__(self) -> None:
        if self.birth_every < 1:
            raise InputError(f"birth_every must be >= 1, got {self.birth_every}")
        if not 0 < self.min_window <= self.max_window:
            raise InputError(
                f"windows must satisfy 0 < min_window <= max_window, got {self.min_window}, {self.max_window}"
            )


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """One confirmed car in one frame.

    measured: the underbody origin from this frame's accepted matches (mean), or
    None while coasting; filtered: the Kalman state's origin; velocity: px/s;
    view/score: the best accepted match of this frame (None/0 when coasting);
    matches: every accepted match.
    """

    car_id: int
    view: str | None
    score: float
    measured: tuple[float, float] | None
    filtered: tuple[float, float]
    velocity: tuple[float, float]
    matches: tuple[ViewMatch, ...]


@dataclass(frozen=True, slots=True)
class FrameRecord:
    index: int
    t: float
    tracks: tuple[TrackRecord, ...]


@dataclass(slots=True)
class Peak:
    """The peak-visibility frame of one car's view. ``crop``: (h, w, 3) uint8 BGR."""

    car_id: int
    view: str
    index: int
    t: float
    score: float
    x: float
    y: float
    distance: float  # view centre to frame centre, px
    crop: np.ndarray = field(repr=False)


class Extractor:
    """Matches, tracks and picks peak frames over a stream of frames.

    Args:
        matcher: the view templates and matching settings.
        tracker: Kalman settings (:class:`TrackerConfig`).
        config: search settings (:class:`ExtractConfig`).
    """

    def __init__(
        self,
        matcher: TemplateMatcher,
        tracker: TrackerConfig | None = None,
        config: ExtractConfig | None = None,
    ) -> None:
        self.matcher = matcher
        self.tracker = ConveyorTracker(tracker)
        self.config = config or ExtractConfig()
        self._peaks: dict[tuple[int, str], Peak] = {}
        self._n = 0
        self._size: tuple[int, int] | None = None
        self._missed = True  # search every view on the first frame

    def _offset(self, view: str) -> tuple[float, float]:
        t = self.matcher.templates[view]
        return t.u0, t.v0

    def _window(self, tr: Track) -> float:
        c = self.config
        return float(np.clip(c.window_sigma * tr.position_std() + 2.0, c.min_window, c.max_window))

    def _visible(self, x: float, y: float, view: str) -> float:
        """Fraction of a view's rectangle inside the frame for origin (x, y)."""
        assert self._size is not None
        fw, fh = self._size
        t = self.matcher.templates[view]
        u0, v0 = self._offset(view)
        x0, y0 = x + u0, y + v0
        iw = max(0.0, min(fw, x0 + t.width) - max(0.0, x0))
        ih = max(0.0, min(fh, y0 + t.height) - max(0.0, y0))
        return iw * ih / (t.width * t.height)

    def process(self, frame: np.ndarray, t: float, index: int | None = None) -> FrameRecord:
        """Process one frame.

        Args:
            frame: (H, W, 3) uint8 BGR, the same size for every call.
            t: capture time, seconds (non-decreasing).
            index: frame index for the records (default: call count).
        Returns:
            The confirmed tracks of this frame.
        Raises:
            InputError: wrong frame shape/dtype, or a frame size change.
        """
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"frame must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
        size = (frame.shape[1], frame.shape[0])
        if self._size is None:
            self.matcher.check_frame_size(*size)
            self._size = size
        elif size != self._size:
            raise InputError(f"frame size changed from {self._size} to {size}")
        idx = self._n if index is None else index
        self._n += 1
        rep = self.matcher.prepare(frame)
        trk = self.tracker
        trk.predict(t)

        accepted: dict[int, list[tuple[Measurement, ViewMatch, bool]]] = {}
        missed = False
        for tr in trk.tracks:
            found = self._measure(rep, tr, self._window(tr))
            ok = trk.correct(tr, [f[0] for f in found])
            if not ok:
                # Missed in the normal window: the belt may be braking or
                # starting faster than the filter expects. One wide search,
                # accepted as a maneuver (costs time only on missed frames).
                wide = self.config.max_window
                found = self._measure(rep, tr, wide)
                ok = trk.correct(tr, [f[0] for f in found], reacquire_px=wide)
                # A miss where a view should have been seen: the windowed score
                # dropped, so the whole frame is searched for every view.
                st = tr.state()
                mv = self.matcher.config.min_visible
                missed = missed or (
                    not ok and any(self._visible(st.x, st.y, v) >= mv for v in self.matcher.views)
                )
            accepted[tr.key] = [f for f in found if f[0] in ok]

        self._births(rep, self._birth_views(bool(trk.tracks), missed or self._missed))
        self._missed = missed

        gone = [
            tr
            for tr in trk.tracks
            if max(self._visible(tr.state().x, tr.state().y, v) for v in self.matcher.views)
            < self.matcher.config.min_visible
        ]
        trk.prune(gone)

        records = []
        for tr in trk.tracks:
            if not tr.confirmed:
                continue
            assert tr.car_id is not None
            acc = accepted.get(tr.key, [])
            for _m, mt, full in acc:
                if full:
                    self._consider_peak(tr.car_id, mt, frame, idx, t)
            st = tr.state()
            measured = None
            best_view, best_score = None, 0.0
            if acc:
                measured = (
                    float(np.mean([a[0].x for a in acc])),
                    float(np.mean([a[0].y for a in acc])),
                )
                best = max(acc, key=lambda a: a[0].score)
                best_view, best_score = best[0].view, best[0].score
            records.append(
                TrackRecord(
                    car_id=tr.car_id,
                    view=best_view,
                    score=best_score,
                    measured=measured,
                    filtered=(st.x, st.y),
                    velocity=(st.vx, st.vy),
                    matches=tuple(a[1] for a in acc),
                )
            )
        return FrameRecord(idx, float(t), tuple(records))

    def _measure(
        self, rep: PreparedFrame, tr: Track, margin: float
    ) -> list[tuple[Measurement, ViewMatch, bool]]:
        """Search every view of one track around its prediction (+- margin px)."""
        st = tr.state()
        found = []
        for view in self.matcher.views:
            u0, v0 = self._offset(view)
            res = self.matcher.search_window(rep, view, st.x + u0, st.y + v0, margin)
            if res is not None:
                mt = res.match
                found.append((Measurement(mt.x - u0, mt.y - v0, mt.score, view), mt, res.full))
        return found

    def _birth_views(self, live: bool, missed: bool) -> tuple[str, ...]:
        """The views whose whole-frame search runs on this frame (see ``birth_every``)."""
        views = self.matcher.views
        n = self.config.birth_every
        if n == 1 or not live or missed:
            return views
        k = (self._n - 1) % n
        return tuple(v for i, v in enumerate(views) if i % n == k)

    def _births(self, rep: PreparedFrame, views: tuple[str, ...]) -> None:
        trk = self.tracker
        cands: list[Measurement] = []
        for view in views:
            u0, v0 = self._offset(view)
            exclude = [(tr.state().x + u0, tr.state().y + v0) for tr in trk.tracks]
            for mt in self.matcher.search_frame(rep, view, exclude):
                cands.append(Measurement(mt.x - u0, mt.y - v0, mt.score, view))
        min_w = min(t.width for t in self.matcher.templates.values())
        for m in sorted(cands, key=lambda c: -c.score):
            explained = any(
                math.hypot(m.x - tr.state().x, m.y - tr.state().y) < min_w / 2 for tr in trk.tracks
            )
            if not explained:
                trk.spawn(m)

    def _consider_peak(
        self, car_id: int, mt: ViewMatch, frame: np.ndarray, index: int, t: float
    ) -> None:
        assert self._size is not None
        fw, fh = self._size
        x0, y0 = round(mt.x), round(mt.y)
        if x0 < 0 or y0 < 0 or x0 + mt.width > fw or y0 + mt.height > fh:
            return
        d = math.hypot(mt.x + mt.width / 2 - fw / 2, mt.y + mt.height / 2 - fh / 2)
        key = (car_id, mt.view)
        old = self._peaks.get(key)
        if old is None or d < old.distance:
            crop = frame[y0 : y0 + mt.height, x0 : x0 + mt.width].copy()
            self._peaks[key] = Peak(car_id, mt.view, index, float(t), mt.score, mt.x, mt.y, d, crop)

    def forget(self, car_id: int) -> None:
        """Drop the peak crops kept for ``car_id`` (a streaming caller whose car left)."""
        for key in [k for k in self._peaks if k[0] == car_id]:
            del self._peaks[key]

    def peaks(self) -> list[Peak]:
        """Peak-visibility crops so far, sorted by car id then view order."""
        order = {v: i for i, v in enumerate(self.matcher.views)}
        return sorted(self._peaks.values(), key=lambda p: (p.car_id, order[p.view]))
