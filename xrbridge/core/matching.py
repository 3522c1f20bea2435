"""View extraction by template matching (paper section 4.1), without I/O.

Each view (``lower_front``, ``lower_center``, ``lower_back``) has a template:
the view rectangle of a defect-free reference underbody, and its place in the
underbody, ``(u0, v0)`` (templates/views.json). A match of the view's template
at top-left ``(x, y)`` in a frame puts the car's underbody origin at
``(x - u0, y - v0)``.

Matching is ``cv2.matchTemplate(..., TM_CCOEFF_NORMED)`` + ``cv2.minMaxLoc`` on
a *representation* of the images rather than on raw BGR:

- ``"gray"``: grayscale. TM_CCOEFF_NORMED already removes a global gain and
  offset inside the template window, so uniform brightness changes cost nothing.
- ``"grad"``: L1 Sobel gradient magnitude of the blurred grayscale. An
  illumination ramp or vignette adds a slowly varying offset to gray levels
  (which a window's mean removal only cancels on average) but almost nothing
  to gradients, and a gain change scales gradients, which NCC cancels. It
  keeps the edges of beads, holes and panels that identify a view. See
  docs/extract.md for the measured comparison with ``"gray"``.

Two search modes over a two-level pyramid, so the per-frame cost stays a few
milliseconds (the templates are large, 520x400 for 848x480 frames, and
``matchTemplate``'s cost grows with the template's area, not the window's):

- :meth:`TemplateMatcher.search_window`: around a tracked car's predicted
  template position, at ``fine_scale`` (0.5: a quarter of the pixels, the
  peak refined to sub-pixel and scaled back; measured RMSE 0.27-0.31 px
  against 0.26 px at full resolution on simulated lines), with the template
  cropped to the part that lies inside the frame (a view entering or leaving
  still measures).
- :meth:`TemplateMatcher.search_frame`: the whole frame at a coarse scale
  (``coarse_scale``), refined at the fine scale around each peak; used only
  to find new cars. Several peaks per view are returned (several cars).

Templates are represented once, at both scales, when the matcher is built;
a frame once per frame (:meth:`TemplateMatcher.prepare`), the gray image
downscaled before the gradient filters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.core.types import ViewMatch
from xrbridge.errors import TemplateError
from xrbridge.names import VIEWS

REPRESENTATIONS = ("gray", "grad")


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Template-matching settings.

    threshold: minimum TM_CCOEFF_NORMED score of a match (the paper's user
        threshold). Raising it rejects weak/wrong matches (fewer false cars)
        but loses matches under strong lighting changes or partial views;
        lowering it does the opposite.
    representation: ``"grad"`` (lighting-robust, default) or ``"gray"``.
    coarse_scale: downscale factor of the whole-frame search for new cars.
        Lower is faster but may miss small or low-contrast views.
    fine_scale: downscale factor of the windowed searches that measure a car's
        position (sub-pixel, scaled back to full resolution). 1 is the most
        precise and by far the slowest: the views' templates are large (a
        520x400 template costs ~5 ms of CPU per search at full resolution,
        ~0.6 ms at 0.5); 0.5 keeps the position error well under a pixel.
    min_visible: fraction of a template's width and height that must lie in the
        frame (at the predicted position) for a windowed, partial-template
        search; a track whose views are all less visible ends. Lower keeps
        measuring entering/leaving cars longer, but a small template piece
        matches less reliably.
    max_peaks: at most this many new-car peaks per view and frame.
    """

    threshold: float = 0.6
    representation: str = "grad"
    coarse_scale: float = 0.25
    fine_scale: float = 0.5
    min_visible: float = 0.25
    max_peaks: int = 3

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise TemplateError(f"threshold must be in [-1, 1], got {self.threshold}")
        if self.representation not in REPRESENTATIONS:
            raise TemplateError(
                f"representation must be one of {REPRESENTATIONS}, got {self.representation!r}"
            )
        if not 0.05 <= self.coarse_scale <= 1.0:
            raise TemplateError(f"coarse_scale must be in [0.05, 1], got {self.coarse_scale}")
        if not self.coarse_scale <= self.fine_scale <= 1.0:
            raise TemplateError(
                f"fine_scale must be in [coarse_scale={self.coarse_scale}, 1], got {self.fine_scale}"
            )


@dataclass(frozen=True, slots=True)
class ViewTemplate:
    """One view's template. ``image``: (h, w, 3) uint8 BGR; ``(u0, v0)`` its
    top-left in underbody px."""

    view: str
    image: np.ndarray
    u0: float
    v0: float

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise TemplateError(f"view must be one of {VIEWS}, got {self.view!r}")
        im = self.image
        if (
            not isinstance(im, np.ndarray)
            or im.dtype != np.uint8
            or im.ndim != 3
            or im.shape[2] != 3
        ):
            got = (getattr(im, "shape", None), getattr(im, "dtype", type(im).__name__))
            raise TemplateError(f"template {self.view} must be hxwx3 uint8, got {got[0]} {got[1]}")
        if im.shape[0] < 8 or im.shape[1] < 8:
            raise TemplateError(f"template {self.view} must be at least 8x8, got {im.shape[:2]}")

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def represent(image: np.ndarray, mode: str = "grad") -> np.ndarray:
    """The matching representation of an image.

    Args:
        image: (H, W, 3) uint8 BGR or (H, W) uint8 gray.
        mode: one of :data:`REPRESENTATIONS`.
    Returns:
        (H, W) uint8: the gray image, or the L1 gradient magnitude
        (|Sobel x| + |Sobel y|) / 2 of the 3x3-blurred gray image.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if mode == "gray":
        return gray
    if mode != "grad":
        raise TemplateError(f"representation must be one of {REPRESENTATIONS}, got {mode!r}")
    # uint8/int16 all the way: ~1 ms for 848x480, four times cheaper than float.
    g = cv2.GaussianBlur(gray, (3, 3), 0)
    ax = cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 1, 0, ksize=3), alpha=0.5)
    ay = cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 0, 1, ksize=3), alpha=0.5)
    return cv2.add(ax, ay)


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """A frame's representation at the fine and coarse scale (computed once per frame).

    fine: (round(H*f), round(W*f)) uint8, f = ``fine_scale``; coarse:
    (round(H*c), round(W*c)) uint8, c = ``coarse_scale``; size: the frame's
    (W, H) in full-resolution px.
    """

    fine: np.ndarray
    coarse: np.ndarray
    size: tuple[int, int]


def _subpixel(res: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Refine the integer peak (x, y) of a score map by a 1-D parabola per axis."""

    def axis(m1: float, c: float, p1: float) -> float:
        den = m1 - 2.0 * c + p1
        if den >= 0.0:  # not a maximum (flat or convex): keep the integer peak
            return 0.0
        return float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5))

    h, w = res.shape
    dx = axis(res[y, x - 1], res[y, x], res[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = axis(res[y - 1, x], res[y, x], res[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` resized by ``scale`` (area averaging); itself at scale 1."""
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A windowed-search result: the match and whether the whole template was used."""

    match: ViewMatch
    full: bool


class TemplateMatcher:
    """Matches the view templates in frames. Build once; call per frame.

    The templates' representations at the fine and coarse scale are computed
    here, once; :meth:`prepare` computes the frame's, once per frame.

    Args:
        templates: the views to match (at least one).
        config: see :class:`MatchConfig`.
    Raises:
        TemplateError: no templates, or templates unusable.
    """

    def __init__(
        self, templates: Iterable[ViewTemplate], config: MatchConfig | None = None
    ) -> None:
        self.config = config or MatchConfig()
        self.templates: dict[str, ViewTemplate] = {t.view: t for t in templates}
        if not self.templates:
            raise TemplateError(
                "no view templates given; expected at least one of " + ", ".join(VIEWS)
            )
        self._fine: dict[str, np.ndarray] = {}
        self._coarse: dict[str, np.ndarray] = {}
        for v, t in self.templates.items():
            self._fine[v], self._coarse[v] = self._pyramid(t.image)

    def _pyramid(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fine, coarse) representations of a BGR image.

        The gray image is downscaled *before* the gradient: the costly filters
        then run on a quarter of the pixels at ``fine_scale`` 0.5.
        """
        c = self.config
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        fine = represent(_scaled(gray, c.fine_scale), c.representation)
        return fine, _scaled(fine, c.coarse_scale / c.fine_scale)

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(v for v in VIEWS if v in self.templates)

    def prepare(self, frame: np.ndarray) -> PreparedFrame:
        """Frame (H, W, 3) uint8 BGR -> its representations (once per frame)."""
        fine, coarse = self._pyramid(frame)
        return PreparedFrame(fine, coarse, (int(frame.shape[1]), int(frame.shape[0])))

    def check_frame_size(self, width: int, height: int) -> None:
        """Raise TemplateError if a template is larger than a (width x height) frame."""
        for v, t in self.templates.items():
            if t.width > width or t.height > height:
                raise TemplateError(
                    f"template {v} is {t.width}x{t.height}, larger than the {width}x{height} frame"
                )

    def search_window(
        self, frame: PreparedFrame, view: str, x: float, y: float, margin: float
    ) -> WindowResult | None:
        """Search ``view`` around its predicted template top-left (x, y) +- margin.

        The search runs at ``fine_scale`` with the template cropped to the part
        that lies inside the frame (a view entering or leaving still measures);
        the score map's peak is refined to sub-pixel and scaled back.

        Args:
            frame: from :meth:`prepare`.
            view: a view with a template.
            x, y: predicted template top-left, full-resolution frame px (may be
                outside the frame).
            margin: search radius in full-resolution px (>= 1).
        Returns:
            The best match (template top-left in frame px, sub-pixel) when its
            score reaches the threshold, else None. ``full`` is False when the
            template had to be cropped to the frame (a view entering/leaving).
        """
        t = self.templates[view]
        fw, fh = frame.size
        mv = self.config.min_visible
        # Visible at the predicted position: the same rule that ends a track.
        vis_w = min(t.width, fw - x) - max(0.0, -x)
        vis_h = min(t.height, fh - y) - max(0.0, -y)
        if vis_w < mv * t.width or vis_h < mv * t.height:
            return None
        s = self.config.fine_scale
        found = self._search(
            frame.fine, self._fine[view], x * s, y * s, max(1, math.ceil(margin * s))
        )
        if found is None:
            return None
        score, mx, my, full = found
        return WindowResult(ViewMatch(view, score, mx / s, my / s, t.width, t.height), full)

    def _search(
        self, rep: np.ndarray, trep: np.ndarray, x: float, y: float, m: int
    ) -> tuple[float, float, float, bool] | None:
        """One scale: template ``trep`` around top-left (x, y) +- m in ``rep`` (that scale's px).

        Returns (score, x, y, whole template used) or None below the threshold.
        """
        fh, fw = rep.shape
        th, tw = trep.shape
        mv = self.config.min_visible
        # Template part that stays inside the frame for any shift within +-m.
        tx0 = max(0, math.ceil(m - x))
        ty0 = max(0, math.ceil(m - y))
        tx1 = min(tw, math.floor(fw - m - x))
        ty1 = min(th, math.floor(fh - m - y))
        if tx1 - tx0 < max(4, 0.5 * mv * tw) or ty1 - ty0 < max(4, 0.5 * mv * th):
            return None
        wx0 = max(0, math.floor(x + tx0 - m))
        wy0 = max(0, math.floor(y + ty0 - m))
        wx1 = min(fw, math.ceil(x + tx1 + m) + 1)
        wy1 = min(fh, math.ceil(y + ty1 + m) + 1)
        if wx1 - wx0 < tx1 - tx0 or wy1 - wy0 < ty1 - ty0:
            return None
        full = tx0 == 0 and ty0 == 0 and tx1 == tw and ty1 == th
        tpl = trep if full else np.ascontiguousarray(trep[ty0:ty1, tx0:tx1])
        res = cv2.matchTemplate(rep[wy0:wy1, wx0:wx1], tpl, cv2.TM_CCOEFF_NORMED)
        _, score, _, loc = cv2.minMaxLoc(res)
        if not np.isfinite(score) or score < self.config.threshold:
            return None
        sx, sy = _subpixel(res, loc[0], loc[1])
        return float(score), wx0 + sx - tx0, wy0 + sy - ty0, full

    def search_frame(
        self,
        frame: PreparedFrame,
        view: str,
        exclude: Iterable[tuple[float, float]] = (),
    ) -> list[ViewMatch]:
        """Whole-frame search for new cars: coarse peaks, refined at the fine scale.

        Args:
            frame: from :meth:`prepare`.
            view: a view with a template.
            exclude: template top-left positions (frame px) already explained
                by tracked cars; peaks within half a template of them are ignored.
        Returns:
            Up to ``max_peaks`` fully visible matches scoring >= threshold, best first.
        """
        t = self.templates[view]
        s = self.config.coarse_scale
        small = frame.coarse
        ctpl = self._coarse[view]
        if small.shape[0] < ctpl.shape[0] or small.shape[1] < ctpl.shape[1]:
            return []
        res = cv2.matchTemplate(small, ctpl, cv2.TM_CCOEFF_NORMED)
        hx, hy = max(1, round(t.width * s / 2)), max(1, round(t.height * s / 2))
        for ex, ey in exclude:
            cx, cy = round(ex * s), round(ey * s)
            res[max(0, cy - hy) : max(0, cy + hy + 1), max(0, cx - hx) : max(0, cx + hx + 1)] = -1.0
        # The coarse score is lower than the fine one (detail is lost), so the
        # coarse stage uses a relaxed threshold and the refinement decides.
        coarse_thr = self.config.threshold - 0.25
        out: list[ViewMatch] = []
        margin = 2.0 / s + 2.0
        for _ in range(self.config.max_peaks * 2):
            _, cscore, _, loc = cv2.minMaxLoc(res)
            if cscore < coarse_thr:
                break
            cx, cy = loc
            res[max(0, cy - hy) : cy + hy + 1, max(0, cx - hx) : cx + hx + 1] = -1.0
            found = self.search_window(frame, view, cx / s, cy / s, margin)
            if found is not None and found.full:
                out.append(found.match)
            if len(out) >= self.config.max_peaks:
                break
        out.sort(key=lambda mt: -mt.score)
        return out


def templates_from_arrays(
    images: Mapping[str, np.ndarray], views_json: Mapping[str, Mapping[str, float]]
) -> list[ViewTemplate]:
    """Build :class:`ViewTemplate` values from images and views.json content.

    Args:
        images: view -> (h, w, 3) uint8 BGR.
        views_json: view -> {"u0", "v0", "width", "height"}.
    Raises:
        TemplateError: a view without its placement, or a size mismatch.
    """
    out = []
    for view in VIEWS:
        if view not in images:
            continue
        if view not in views_json:
            raise TemplateError(f"views.json has no entry for template {view}")
        meta = views_json[view]
        im = images[view]
        w, h = int(meta.get("width", im.shape[1])), int(meta.get("height", im.shape[0]))
        if (h, w) != im.shape[:2]:
            raise TemplateError(
                f"template {view} is {im.shape[1]}x{im.shape[0]}, views.json says {w}x{h}"
            )
        out.append(ViewTemplate(view, im, float(meta["u0"]), float(meta["v0"])))
    return out
