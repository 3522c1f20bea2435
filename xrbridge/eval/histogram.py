"""Streaming pixel-score histograms: bounded memory for any number of images.

Each image's anomaly map (at the mask's resolution) is binned into
``n_bins`` equal bins over ``[lo, hi)`` and only the per-bin counts are kept:
positives (defect pixels), negatives (normal pixels) and PRO weights (each
defect pixel adds 1 / area of its connected ground-truth region, so the sum
over the bins at or above a threshold, divided by the number of regions, is
the per-region overlap PRO of that threshold). Memory is ``3 * n_bins``
float64 per group whatever the test set size: 1.5 MiB at the default
65,536 bins.

Binning is the only approximation: every metric derived from the counts is
exact for scores rounded down to their bin's lower edge, and
:func:`xrbridge.eval.metrics.pixel_metrics` reports how far the exact value
can be (the pairs or the curve segments that fall inside one bin).

Model outputs are normalised to ``[0, 1]`` (docs/contracts.md), the
default range. Values outside the range do not get clipped: the range is
widened by a power of two (bins merge in aligned groups, so the counts stay
exact for the coarser bins) until they fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_BINS = 1 << 16


@dataclass(frozen=True, slots=True)
class Histograms:
    """Per-bin counts of one group of images. Arrays: (n_bins,) float64, lowest bin first."""

    pos: np.ndarray
    neg: np.ndarray
    pro: np.ndarray
    n_regions: int
    edges: np.ndarray  # (n_bins,) lower edge of each bin

    def __add__(self, other: Histograms) -> Histograms:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("histograms with different bins cannot be added")
        return Histograms(
            self.pos + other.pos,
            self.neg + other.neg,
            self.pro + other.pro,
            self.n_regions + other.n_regions,
            self.edges,
        )


@dataclass(slots=True)
class _Group:
    pos: np.ndarray
    neg: np.ndarray
    pro: np.ndarray
    n_regions: int = 0


@dataclass(slots=True)
class PixelAccumulator:
    """Accumulates binned pixel scores per group (e.g. per defect type).

    ``n_bins`` is the trade-off: more bins, tighter error bounds and more
    memory (24 bytes per bin and group) and time per :meth:`histograms` call.
    """

    n_bins: int = DEFAULT_BINS
    lo: float = 0.0
    hi: float = 1.0
    _groups: dict[str, _Group] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_bins < 2 or self.n_bins & (self.n_bins - 1):
            raise ValueError(f"n_bins must be a power of two >= 2, got {self.n_bins}")
        if not self.hi > self.lo:
            raise ValueError(f"need hi > lo, got [{self.lo}, {self.hi}]")

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self._groups)

    def _widen(self, vmin: float, vmax: float) -> None:
        """Double the range (merging bin pairs) until [vmin, vmax] fits."""
        while vmin < self.lo or vmax >= self.hi:
            width = self.hi - self.lo
            grow_up = vmax >= self.hi
            for g in self._groups.values():
                for name in ("pos", "neg", "pro"):
                    a = getattr(g, name)
                    merged = a.reshape(-1, 2).sum(axis=1)
                    z = np.zeros_like(merged)
                    setattr(g, name, np.r_[merged, z] if grow_up else np.r_[z, merged])
            if grow_up:
                self.hi = self.lo + 2 * width
            else:
                self.lo = self.hi - 2 * width

    def add(self, scores: np.ndarray, regions: np.ndarray, group: str = "all") -> None:
        """Add one image.

        Args:
            scores: (H, W) float anomaly map at the mask's resolution.
            regions: (H, W) integer labels of the ground truth: 0 = normal,
                k > 0 = defect pixel of connected region k (labels need not
                be consecutive; regions count per image).
            group: name of the group the image belongs to.
        """
        s = np.asarray(scores, dtype=np.float64).ravel()
        lab = np.asarray(regions).ravel()
        if s.shape != lab.shape:
            raise ValueError(
                f"scores and regions differ in size: {scores.shape} vs {regions.shape}"
            )
        if s.size == 0:
            return
        if not np.isfinite(s).all():
            raise ValueError("anomaly map contains NaN or infinite values")
        self._widen(float(s.min()), float(s.max()))
        g = self._groups.get(group)
        if g is None:
            g = _Group(np.zeros(self.n_bins), np.zeros(self.n_bins), np.zeros(self.n_bins))
            self._groups[group] = g
        scale = self.n_bins / (self.hi - self.lo)
        b = np.minimum(((s - self.lo) * scale).astype(np.int64), self.n_bins - 1)
        defect = lab > 0
        g.neg += np.bincount(b[~defect], minlength=self.n_bins)
        if defect.any():
            b_d, lab_d = b[defect], lab[defect]
            ids, inverse, sizes = np.unique(lab_d, return_inverse=True, return_counts=True)
            g.pos += np.bincount(b_d, minlength=self.n_bins)
            g.pro += np.bincount(b_d, weights=1.0 / sizes[inverse], minlength=self.n_bins)
            g.n_regions += int(ids.size)

    def histograms(self, groups: tuple[str, ...] | None = None) -> Histograms:
        """The summed histograms of ``groups`` (all groups when None)."""
        names = self.groups if groups is None else groups
        edges = self.lo + (self.hi - self.lo) * np.arange(self.n_bins) / self.n_bins
        z = np.zeros(self.n_bins)
        out = Histograms(z, z, z, 0, edges)
        for name in names:
            g = self._groups.get(name)
            if g is not None:
                out = out + Histograms(g.pos, g.neg, g.pro, g.n_regions, edges)
        return out
