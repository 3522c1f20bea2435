"""Bead-width evidence: is the sealant bead thinner here than on the view's template?

No I/O. The matcher aligns each inferred crop to its view template, so crop
pixel (x, y) and template pixel (x, y) show the same spot of the underbody
(to a pixel or two). A ``narrowing`` leaves the bead where it should be, only
thinner: the anomaly models (trained on good crops, their maps blurred to
~30 px) score most narrowings right at their threshold. This module measures
the thinning directly:

1. From the template (once per view): the bead is the bright, wide
   structure: pixels brighter than an Otsu split of the upper half of the
   grey levels, opened with a disc of ``open_px`` (rivets, grille lines and
   highlights thinner than a bead drop out). ``band`` is that mask dilated by
   ``band_px``: where the car's bead may lie. The bead's **centre line** is
   where the distance to its edge is within a pixel of the local half-width,
   less the stretches near a bead's end (``end_px``: there a shift along the
   bead, or the car's own bead end, reads as thin). The bead's direction at
   each centre pixel comes from the structure tensor of the blurred mask.
2. Per crop: the bead pixels are those inside the band brighter than the
   local midpoint of two means, over the template's centre line (a narrowed
   bead still covers it) and over a ring of metal beside the bead, in windows
   of ``window_px`` computed at a quarter of the size (lighting varies over
   the view and from car to car; the bead's edges are soft). The template is
   segmented by the same rule, so both carry the same bias.
3. Width: the crop bead's distance transform, maximised across the bead over
   ``shift_px`` each way (the car's bead may sit a few pixels aside: alignment
   error, bead jitter; along the bead nothing is maximised, so a short
   narrowing is not hidden by the wider bead beside it), read on the
   template's centre line over the template's own half-width there, averaged
   per grid cell.
4. The ratios are divided by their median over the view: a car whose beads
   all read a little wider (or lit so they threshold wider) is not thin
   anywhere.

Returned per cell of the fusion grid: that normalised ratio (1 = as wide as
the template, 0.5 = half as wide, 0 = no bead), NaN where the cell holds too
little centre line to say (``min_share``). The fusion turns low ratios into
evidence (``FusionConfig.thin_ratio``); this module only measures.

Cost: about 2 ms of CPU for a 520 x 400 crop (a blur, two masked means at
quarter size, a threshold, a closing, one distance transform, a gather of
nine pixels across the bead at each of the ~4,000 centre-line pixels). At half size it
costs a third, but the bead is then ~3 px half-width and narrowings no
longer read.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.errors import InputError


@dataclass(frozen=True, slots=True)
class BeadConfig:
    """Trade-offs of the bead-width measure (px of the full-size crop).

    ``open_px``: the template's bright structures narrower than this are not
    bead (raise it past the bead width and the beads vanish; lower it and
    rivets and grille lines count as bead). ``band_px``: how far from the
    template's bead the crop's bead pixels are looked for. ``shift_px``: how
    far across the bead the crop's bead may sit aside (wider tolerates worse
    alignment; a bead shifted further reads thin). ``end_px``: radius of the
    disc that tells a bead's end (a centre pixel whose disc holds less than
    0.85 of a straight bead's share is dropped; larger drops more near ends).
    ``window_px``: the windows of the local bead and metal brightness (larger
    is steadier, smaller follows lighting better). ``min_contrast``: grey
    levels the bead must be brighter than the metal beside it to be measured.
    ``min_share``: a grid cell needs this share of its pixels on the centre
    line to get a ratio. ``scale``: measure at this fraction of the size (1:
    below it narrowings no longer read).
    """

    open_px: int = 7
    band_px: int = 5
    shift_px: float = 4.0
    end_px: float = 24.0
    window_px: int = 31
    min_contrast: float = 8.0
    min_share: float = 0.1
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.open_px < 1 or self.band_px < 0 or self.shift_px < 0:
            raise InputError(
                f"need open_px >= 1, band_px >= 0, shift_px >= 0; got {self.open_px}, "
                f"{self.band_px}, {self.shift_px}"
            )
        if not 0.0 < self.min_share < 1.0 or not 0.0 < self.scale <= 1.0:
            raise InputError(
                f"need 0 < min_share < 1 and 0 < scale <= 1; got {self.min_share}, {self.scale}"
            )


def _grey(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if (g.shape[1], g.shape[0]) != size:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    out: np.ndarray = g
    return out


def _otsu(values: np.ndarray) -> float:
    """Otsu's split of uint8 values (1-D); the mean for fewer than two distinct levels."""
    if values.size == 0:
        return 255.0
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    total, mtot = w0[-1], m0[-1]
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mtot * w0 / total - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1.0
    if between.max() <= 0:
        return float(values.mean())
    return float(np.argmax(between))


class BeadReference:
    """One view's bead, from its template; :meth:`ratio` compares a crop with it.

    Args:
        template: (h, w, 3) uint8 BGR, the view's template.
        grid_shape: (gh, gw) cells of the fusion grid the ratios are returned on.
        config: :class:`BeadConfig`.

    Raises:
        InputError: a template that is not (h, w, 3) uint8, an empty grid.
    """

    def __init__(
        self,
        template: np.ndarray,
        grid_shape: tuple[int, int],
        config: BeadConfig | None = None,
    ) -> None:
        self.config = c = config or BeadConfig()
        if (
            not isinstance(template, np.ndarray)
            or template.dtype != np.uint8
            or template.ndim != 3
            or template.shape[2] != 3
        ):
            got = (getattr(template, "shape", None), getattr(template, "dtype", None))
            raise InputError(f"template must be (h, w, 3) uint8, got {got[0]} {got[1]}")
        if grid_shape[0] < 1 or grid_shape[1] < 1:
            raise InputError(f"grid_shape must be positive, got {grid_shape}")
        h, w = template.shape[:2]
        self.crop_hw = (h, w)
        self.grid_shape = grid_shape
        self._size = (max(2, round(w * c.scale)), max(2, round(h * c.scale)))
        g = _grey(template, self._size)
        upper = g[g > np.median(g)]
        bright = (g > _otsu(upper)).astype(np.uint8)
        bead: np.ndarray = cv2.morphologyEx(bright, cv2.MORPH_OPEN, _disc(c.open_px * c.scale))
        self.band = cv2.dilate(bead, _disc(2 * c.band_px * c.scale)).astype(bool)
        self.bead = bead.astype(bool)
        dt = cv2.distanceTransform(bead, cv2.DIST_L2, cv2.DIST_MASK_5)
        half = cv2.dilate(dt, _disc(2 * c.open_px * c.scale))  # the bead's half-width nearby
        # the centre line: where the template's distance to the bead edge is (nearly) the
        # bead's half-width; the crop's width is read there
        centre = self.bead & (dt >= half - 1.0) & (half >= 0.5 * c.open_px * c.scale)
        # not near a bead's end: there a shift along the bead (alignment, the car's own
        # bead ends) reads as a thin bead. A disc of radius R around a centre pixel holds
        # about 2 R x width of bead mid-bead, about half of that at an end.
        rad = max(2, round(c.end_px * c.scale))
        disc = _disc(2 * rad + 1).astype(np.float32)
        around = cv2.filter2D(bead.astype(np.float32), -1, disc, borderType=cv2.BORDER_CONSTANT)
        self.centre = centre & (around >= 0.85 * (2 * rad + 1) * 2 * half)
        # the crop's bead is split from the metal beside it at the local midpoint of the two
        # brightnesses (lighting varies over the view, the bead's edges are soft): the means
        # over the template's bead centre (a narrowed bead still covers it) and over a ring
        # of metal beside the bead, in windows of ``window_px``, computed at a quarter of the
        # size (lighting is smooth) and interpolated back
        sw, sh = self._size
        self._small = (max(2, sw // 4), max(2, sh // 4))
        win = max(3, round(c.window_px * c.scale / 4)) | 1
        self._win = (win, win)
        ring = self.band & ~cv2.dilate(bead, _disc(2 * c.scale + 1)).astype(bool)
        self._top_u8 = self.centre.astype(np.uint8)
        self._ring_u8 = ring.astype(np.uint8)
        n_top = self._local_sum(self.centre.astype(np.float32))
        n_ring = self._local_sum(ring.astype(np.float32))
        self._n_ok = (n_top > 1e-3) & (n_ring > 1e-3)
        self._n_top = np.maximum(n_top, 1e-3)
        self._n_ring = np.maximum(n_ring, 1e-3)
        self._band_u8 = self.band.astype(np.uint8) * 255
        self._close = _disc(3)
        # the template's own width read the same way, so that both carry the same bias
        tdt = cv2.distanceTransform(self._segment(g), cv2.DIST_L2, cv2.DIST_MASK_5)
        # the centre line's pixels and their grid cells, for the per-cell means
        ys, xs = np.nonzero(self.centre)
        self._cidx = (ys * sw + xs).astype(np.intp)
        # the bead's direction at each centre pixel (structure tensor of the blurred bead):
        # the crop's bead is looked for across the bead only, so that along it a short
        # narrowing is not hidden by the wider bead beside it
        bf = cv2.GaussianBlur(bead.astype(np.float32), (0, 0), 2.0)
        gx = cv2.Sobel(bf, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(bf, cv2.CV_32F, 0, 1)
        jxx = cv2.GaussianBlur(gx * gx, (0, 0), 4.0)
        jyy = cv2.GaussianBlur(gy * gy, (0, 0), 4.0)
        jxy = cv2.GaussianBlur(gx * gy, (0, 0), 4.0)
        across = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # gradient direction: across the bead
        # four directions: x, the diagonal, y, the anti-diagonal (image y points down)
        q = np.round(across[ys, xs] / (np.pi / 4)).astype(int) % 4
        steps = np.array([(1, 0), (1, 1), (0, 1), (-1, 1)])[q]  # (N, 2) dx, dy across
        reach = round(c.shift_px * c.scale)
        d = np.arange(-reach, reach + 1)[:, None]
        ax = np.clip(xs[None, :] + d * steps[None, :, 0], 0, sw - 1)
        ay = np.clip(ys[None, :] + d * steps[None, :, 1], 0, sh - 1)
        self._across = (ay * sw + ax).astype(np.intp)  # (2 reach + 1, N) pixels across the bead
        self._chalf = np.maximum(tdt[ys, xs], 0.5).astype(np.float32)
        gh, gw = grid_shape
        cell = (ys * gh // sh) * gw + (xs * gw // sw)
        self._ccell = cell.astype(np.intp)
        self._ccount = np.bincount(self._ccell, minlength=gh * gw).astype(np.float32)
        px_per_cell = (sw * sh) / (gh * gw)
        self._valid = (self._ccount / px_per_cell >= c.min_share).reshape(gh, gw)

    def _local_sum(self, a: np.ndarray) -> np.ndarray:
        """Window means of ``a`` (uint8 or float32, measuring size) on the quarter-size grid."""
        small = cv2.resize(a, self._small, interpolation=cv2.INTER_AREA).astype(np.float32)
        out: np.ndarray = cv2.blur(small, self._win, borderType=cv2.BORDER_CONSTANT)
        return out

    def crop_bead(self, crop: np.ndarray) -> np.ndarray:
        """The crop's bead pixels inside the band, at the measuring scale: uint8 0/1 (h', w')."""
        if crop.ndim not in (2, 3) or crop.dtype != np.uint8 or crop.shape[:2] != self.crop_hw:
            raise InputError(
                f"crop must be {self.crop_hw[0]}x{self.crop_hw[1]} uint8 like its template, got "
                f"{crop.shape} {crop.dtype}"
            )
        return self._segment(_grey(crop, self._size))

    def _segment(self, grey: np.ndarray) -> np.ndarray:
        g = cv2.GaussianBlur(grey, (3, 3), 0)
        top = cv2.bitwise_and(g, g, mask=self._top_u8)
        ring = cv2.bitwise_and(g, g, mask=self._ring_u8)
        mb = self._local_sum(top) / self._n_top
        mr = self._local_sum(ring) / self._n_ring
        ok = self._n_ok & (mb > mr + self.config.min_contrast)
        thr_small = np.where(ok, 0.5 * (mb + mr), 255.0).astype(np.uint8)
        thr = cv2.resize(thr_small, self._size, interpolation=cv2.INTER_LINEAR)
        out = cv2.bitwise_and(cv2.compare(g, thr, cv2.CMP_GT), self._band_u8)
        closed: np.ndarray = cv2.morphologyEx(out, cv2.MORPH_CLOSE, self._close)
        return closed

    def ratio(self, crop: np.ndarray) -> np.ndarray:
        """Bead width in ``crop`` relative to the template, per grid cell.

        Args:
            crop: (h, w, 3) or (h, w) uint8, the view's crop aligned to the template
                (same size).

        Returns:
            (gh, gw) float32: the crop's bead half-width over the template's on the
            template's bead centre line (mean over the cell), divided by the median over
            the view's cells (1: as wide, 0.5: half as wide, 0: no bead); NaN where the
            cell holds too little of the centre line to say.

        Raises:
            InputError: a crop of another size than the template, or not uint8.
        """
        dt = cv2.distanceTransform(self.crop_bead(crop), cv2.DIST_L2, cv2.DIST_MASK_5)
        # the crop's bead may sit up to shift_px aside (alignment, bead jitter): its widest
        # point across the bead within that reach
        vals = dt.ravel()[self._across].max(axis=0)
        rel = vals / self._chalf
        gh, gw = self.grid_shape
        sums = np.bincount(self._ccell, weights=rel, minlength=gh * gw)
        r = np.full(gh * gw, np.nan, np.float32)
        v = self._valid.ravel()
        r[v] = sums[v] / self._ccount[v]
        out = r.reshape(gh, gw)
        if v.any():
            med = float(np.median(out[self._valid]))
            if med > 0.05:
                out /= med
        return out


def _disc(diameter: float) -> np.ndarray:
    k = max(1, round(diameter)) | 1
    out: np.ndarray = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return out
