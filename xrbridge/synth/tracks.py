"""Where the sealant is: bead tracks (centre polyline + width), the paths file.

A :class:`Track` is one sealant bead in an image's pixel grid: its centre line
as a polyline and its width. The paths file (``paths.json``, docs/synth.md) is
a list of named tracks, one per region:

    {"version": 1,
     "image_size": [520, 400],                  # optional: W, H the points refer to
     "regions": [{"name": "lower_front_01",
                  "points": [[40.0, 78.0], [200.0, 66.0], ...],   # x, y image px
                  "width": 12.0,                                  # bead width, px
                  "closed": false}]}

:func:`sample` resamples a track at 1 px into arc length, points and unit
normals: every defect is drawn in that (arc length s, normal offset t) frame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from xrbridge.errors import InputError


@dataclass(frozen=True, slots=True)
class Track:
    """One bead. ``points``: (N, 2) float64 x, y image px (N >= 2); ``width``: px."""

    name: str
    points: np.ndarray
    width: float
    closed: bool = False

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise InputError(f"track {self.name!r}: points must be (N>=2, 2), got {pts.shape}")
        if not (math.isfinite(self.width) and self.width > 0):
            raise InputError(f"track {self.name!r}: width must be > 0 px, got {self.width!r}")
        object.__setattr__(self, "points", pts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.points],
            "width": round(float(self.width), 2),
            "closed": self.closed,
        }


@dataclass(frozen=True, slots=True)
class Sampled:
    """A track resampled at ~1 px: ``p`` (N, 2) points, ``n`` (N, 2) unit normals,
    ``s`` (N,) arc length from the start."""

    p: np.ndarray
    n: np.ndarray
    s: np.ndarray

    @property
    def length(self) -> float:
        return float(self.s[-1])

    def at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points and normals at arc lengths ``s`` (any shape), linearly interpolated."""
        sc = np.clip(s, 0.0, self.length)
        p = np.stack([np.interp(sc, self.s, self.p[:, 0]), np.interp(sc, self.s, self.p[:, 1])], -1)
        n = np.stack([np.interp(sc, self.s, self.n[:, 0]), np.interp(sc, self.s, self.n[:, 1])], -1)
        n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
        return p, n


def sample(track: Track, step: float = 1.0) -> Sampled:
    """Resample ``track`` every ``step`` px, with smoothed normals (no jumps at corners)."""
    pts = track.points
    if track.closed and np.linalg.norm(pts[0] - pts[-1]) > 1e-6:
        pts = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, math.ceil(cum[-1] / step) + 1)
    s = np.linspace(0.0, cum[-1], n)
    p = np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)
    t = np.gradient(p, axis=0)
    k = np.ones(9) / 9.0
    mode: Literal["wrap", "edge"] = "wrap" if track.closed else "edge"
    t = np.stack([np.convolve(np.pad(t[:, i], 4, mode=mode), k, "valid") for i in range(2)], 1)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    return Sampled(p, np.stack([-t[:, 1], t[:, 0]], axis=1), s)


def rasterize(tracks: list[Track], shape: tuple[int, int], extra: float = 0.0) -> np.ndarray:
    """Bead footprint of ``tracks`` in an (H, W) uint8 mask (255 = bead), each
    track drawn ``width + 2 * extra`` px wide."""
    m = np.zeros(shape, np.uint8)
    f = 16.0
    for tr in tracks:
        pts = np.round(tr.points * f).astype(np.int32).reshape(-1, 1, 2)
        th = max(1, round(tr.width + 2 * extra))
        cv2.polylines(m, [pts], tr.closed, 255, th, cv2.LINE_8, 4)
    return m


def check_inside(tracks: list[Track], width: int, height: int, source: str) -> None:
    """Raise InputError naming the first point outside the ``width`` x ``height`` image."""
    for tr in tracks:
        for x, y in tr.points:
            if not (0.0 <= x <= width - 1 and 0.0 <= y <= height - 1):
                raise InputError(
                    f"{source}: region {tr.name!r} point ({x:.1f}, {y:.1f}) lies outside the "
                    f"{width}x{height} images; provide points within x 0..{width - 1}, "
                    f"y 0..{height - 1}"
                )


def load_paths(path: Path) -> list[Track]:
    """Read a paths file (format in the module docstring); InputError when malformed."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise InputError(f"paths file {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"paths file {path}: not readable JSON ({exc})") from exc
    regions = doc.get("regions") if isinstance(doc, dict) else None
    if not isinstance(regions, list) or not regions:
        raise InputError(
            f'paths file {path}: expected {{"regions": [{{"name", "points", '
            f'"width"}}, ...]}} with at least one region'
        )
    tracks = []
    for i, r in enumerate(regions):
        if not isinstance(r, dict) or "points" not in r or "width" not in r:
            raise InputError(f'paths file {path}: region {i} needs "points" and "width"')
        try:
            tracks.append(
                Track(
                    str(r.get("name", f"region_{i + 1:02d}")),
                    np.asarray(r["points"], dtype=np.float64),
                    float(r["width"]),
                    bool(r.get("closed", False)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"paths file {path}: region {i}: {exc}") from exc
    size = doc.get("image_size")
    if size is not None and (not isinstance(size, list) or len(size) != 2):
        raise InputError(f"paths file {path}: image_size must be [width, height], got {size!r}")
    return tracks


def paths_doc(tracks: list[Track], image_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The paths-file JSON document for ``tracks`` (``image_size`` = (W, H))."""
    doc: dict[str, Any] = {"version": 1}
    if image_size is not None:
        doc["image_size"] = [int(image_size[0]), int(image_size[1])]
    doc["regions"] = [t.to_dict() for t in tracks]
    return doc


def tracks_from_scene(scene: dict[str, Any], view: str) -> list[Track]:
    """The simulator's regions of ``view`` (``scene.json``) in the view crop's pixel grid."""
    rect = scene["views"][view]
    off = np.array([rect["u0"], rect["v0"]], np.float64)
    return [
        Track(
            r["name"],
            np.asarray(r["polyline_ub"], np.float64) - off,
            float(r["bead_width"]),
            bool(r["closed"]),
        )
        for r in scene["regions"][view]
    ]


def refine(track: Sampled, width: float, gray: np.ndarray) -> Sampled:
    """Move the centre line onto the bead seen in ``gray`` ((H, W) float32).

    Paths are drawn once per category but each image's bead sits a little
    differently (placement, motion blur). Per sample, the centroid of the
    cross profile's contrast against the profile's ends (within +-0.8 width)
    gives the bead's centre; offsets are smoothed over two bead widths and
    limited to a quarter width. Returns the shifted track (normals kept).
    """
    r = width / 2.0
    ts = np.linspace(-width, width, int(4 * width) + 1)
    prof = cross_profiles(gray, track.p, track.n, ts)
    outer = np.abs(ts) >= 0.8 * width
    bg = np.median(prof[:, outer], axis=1, keepdims=True)
    inner = np.abs(ts) <= 0.8 * width
    c = np.abs(prof - bg) * inner
    wsum = c.sum(1)
    off = np.where(wsum > 1e-6, (c * ts).sum(1) / np.maximum(wsum, 1e-6), 0.0)
    k = max(3, int(2 * width)) | 1
    off = np.convolve(np.pad(off, k // 2, mode="edge"), np.ones(k) / k, "valid")
    off = np.clip(off, -r / 2, r / 2)
    return Sampled(track.p + track.n * off[:, None], track.n, track.s)


def cross_profiles(
    gray: np.ndarray, points: np.ndarray, normals: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """``gray`` ((H, W) float32) sampled across a track: (N, len(ts)).

    Row i holds the image at ``points[i] + normals[i] * t`` for each offset t of
    ``ts`` (px), bilinear, edges replicated.
    """
    pts = points[:, None, :] + normals[:, None, :] * ts[None, :, None]
    return sample_at(gray, pts, cv2.BORDER_REPLICATE)


def sample_at(image: np.ndarray, pts: np.ndarray, border: int) -> np.ndarray:
    """``image`` sampled bilinearly at ``pts`` ((..., 2) x, y px), with the OpenCV
    ``border`` mode outside it; shape ``pts.shape[:-1]`` (+ channels)."""
    return cv2.remap(
        image,
        pts[..., 0].astype(np.float32),
        pts[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=border,
    )
