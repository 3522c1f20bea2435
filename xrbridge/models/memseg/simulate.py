"""MemSeg's anomaly simulation (seed paper section 5.2 and section 6), numpy + OpenCV.

:func:`simulate` takes one good image (H,W,3 float32 RGB in [0,1]) and returns
(image, mask): with probability ``anomaly_prob`` a Perlin-noise region (fractal
noise thresholded so that 1-25 % of the foreground is covered) inside the
foreground gets noise pasted through it,

    I_a = (1 - M) * I + M * (d * N + (1 - d) * I),   d in [transparency_min, max]

where N is a procedural texture (texture anomaly; the DTD textures of the
reference are not available offline) or the image itself cut into a
``structure_grid`` x ``structure_grid`` grid whose cells are shuffled and flipped
(structure anomaly). With an ROI (the sealant paths), ``sealant_share`` of the
anomalies are sealant defects along the path instead: a stretch of the ROI
(a band along it, thinned or whole) is replaced by the bare surface next to it
(missing / narrowing), pitted (hole) or thickened with sealant colour beyond
the path (excess).
"""

from __future__ import annotations

import cv2
import numpy as np

from xrbridge.models.textures import fractal_noise, random_texture


def perlin_mask(rng: np.random.Generator, fg: np.ndarray) -> np.ndarray:
    """(H,W) bool blobs of fractal noise inside ``fg`` covering 1-25 % of it (never empty)."""
    h, w = fg.shape
    noise = fractal_noise(rng, h, w, octaves=int(rng.integers(3, 6)))
    if rng.random() < 0.5:
        noise = noise.T if h == w else cv2.flip(noise, int(rng.integers(-1, 2)))
    vals = noise[fg] if fg.any() else noise.ravel()
    thr = np.quantile(vals, 1.0 - float(rng.uniform(0.01, 0.25)))
    m = (noise > thr) & fg
    if not m.any():
        ys, xs = np.nonzero(fg) if fg.any() else (np.array([h // 2]), np.array([w // 2]))
        i = int(rng.integers(len(ys)))
        m[max(0, ys[i] - 4) : ys[i] + 4, max(0, xs[i] - 4) : xs[i] + 4] = True
        m &= fg if fg.any() else m
    return m


def structure_noise(rng: np.random.Generator, img: np.ndarray, grid: int) -> np.ndarray:
    """The image cut into grid x grid cells, shuffled, each randomly flipped."""
    h, w = img.shape[:2]
    ch, cw = h // grid, w // grid
    base = cv2.resize(img, (cw * grid, ch * grid))
    cells = [
        base[i * ch : (i + 1) * ch, j * cw : (j + 1) * cw] for i in range(grid) for j in range(grid)
    ]
    order = rng.permutation(len(cells))
    rows = []
    for i in range(grid):
        row = []
        for j in range(grid):
            c = cells[int(order[i * grid + j])]
            if rng.random() < 0.5:
                c = c[::-1]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            row.append(c)
        rows.append(np.concatenate(row, axis=1))
    return cv2.resize(np.concatenate(rows, axis=0), (w, h))


def otsu_foreground(img: np.ndarray) -> np.ndarray:
    """(H,W) bool: the brighter or darker Otsu class, whichever is smaller (the object)."""
    grey = (cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) * 255).astype(np.uint8)
    _, th = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = th > 0
    if fg.mean() > 0.5:
        fg = ~fg
    return fg if fg.mean() > 0.02 else np.ones_like(fg)


def sealant_defect(
    rng: np.random.Generator, img: np.ndarray, roi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A defect of the sealant bead along the ROI: (image, mask)."""
    h, w = roi.shape
    ys, xs = np.nonzero(roi)
    i = int(rng.integers(len(ys)))
    radius = int(rng.integers(max(3, min(h, w) // 24), max(4, min(h, w) // 6)))
    stretch = np.zeros((h, w), np.uint8)
    cv2.circle(stretch, (int(xs[i]), int(ys[i])), radius, 1, -1)
    stretch = stretch.astype(bool)
    kind = str(rng.choice(("missing", "narrowing", "hole", "excess")))
    out = img.copy()
    ring = cv2.dilate(roi.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~roi
    bare = (
        np.median(img[ring], axis=0)
        if ring.any()
        else img[~roi].mean(0)
        if (~roi).any()
        else img.mean((0, 1))
    )
    if kind in ("missing", "narrowing"):
        m = stretch & roi
        if kind == "narrowing":  # keep a thin core of the bead
            core = cv2.erode(roi.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2).astype(
                bool
            )
            m = m & ~core if (m & ~core).any() else m
        out[m] = bare + rng.normal(0, 0.02, (int(m.sum()), 3))
    elif kind == "hole":
        m = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 4))):
            j = int(rng.integers(len(ys)))
            r = int(rng.integers(2, max(3, radius // 2)))
            cv2.circle(m.view(np.uint8), (int(xs[j]), int(ys[j])), r, 1, -1)
        m &= roi
        out[m] = out[m] * 0.3
    else:  # excess: sealant spills beyond the path
        m = stretch & ~roi
        colour = np.median(img[roi], axis=0) if roi.any() else img.mean((0, 1))
        out[m] = colour + rng.normal(0, 0.02, (int(m.sum()), 3))
    if not m.any():
        return img, np.zeros((h, w), np.float32)
    return np.clip(out, 0, 1).astype(np.float32), m.astype(np.float32)


def simulate(
    rng: np.random.Generator, img: np.ndarray, roi: np.ndarray | None, opts: object
) -> tuple[np.ndarray, np.ndarray]:
    """One training sample: (H,W,3) RGB [0,1] good image -> (image, (H,W) float32 mask)."""
    h, w = img.shape[:2]
    o = opts
    if rng.random() >= o.anomaly_prob:  # type: ignore[attr-defined]
        return img, np.zeros((h, w), np.float32)
    if roi is not None and roi.any() and rng.random() < o.sealant_share:  # type: ignore[attr-defined]
        return sealant_defect(rng, img, roi)
    if roi is not None and roi.any():
        fg = roi
    elif o.foreground == "otsu":  # type: ignore[attr-defined]
        fg = otsu_foreground(img)
    else:
        fg = np.ones((h, w), bool)
    m = perlin_mask(rng, fg).astype(np.float32)[..., None]
    if rng.random() < o.texture_share:  # type: ignore[attr-defined]
        noise = random_texture(rng, h, w)
    else:
        noise = structure_noise(rng, img, int(o.structure_grid))  # type: ignore[attr-defined]
    d = float(rng.uniform(o.transparency_min, o.transparency_max))  # type: ignore[attr-defined]
    out = (1 - m) * img + m * (d * noise + (1 - d) * img)
    return out.astype(np.float32), m[..., 0]
