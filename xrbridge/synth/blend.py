"""Seamless blending helpers: Poisson fill, noise matching, light direction.

``poisson_fill`` solves the Poisson equation (Perez et al. 2003, the idea
behind OpenCV's ``seamlessClone``) on an arbitrary pixel set with mixed
boundaries: fixed (Dirichlet) where the neighbour is trusted surface, free
(Neumann) where it is not (the bead that continues beyond a removed stretch),
so the filled surface meets the metal around it without a seam and ignores
the bead's brightness.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from xrbridge.synth.tracks import cross_profiles


def poisson_fill(
    target: np.ndarray, guide: np.ndarray, region: np.ndarray, fixed: np.ndarray
) -> np.ndarray:
    """Fill ``region`` of ``target`` with the gradients of ``guide``.

    target, guide: (H, W, C) float32, same shape. region: (H, W) bool, the
    unknown pixels (must not touch the array border). fixed: (H, W) bool,
    pixels outside ``region`` whose ``target`` value is the boundary condition;
    other outside neighbours are left free (zero normal derivative).
    Returns a copy of ``target`` with ``region`` replaced.
    """
    out = target.astype(np.float32).copy()
    ys, xs = np.nonzero(region)
    n = len(ys)
    if n == 0:
        return out
    H, W = region.shape
    idx = -np.ones((H, W), np.int64)
    idx[ys, xs] = np.arange(n)
    rows, cols, vals = [], [], []
    diag = np.zeros(n, np.float64)
    rhs = np.zeros((n, target.shape[2]), np.float64)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        ok = (qy >= 0) & (qy < H) & (qx >= 0) & (qx < W)
        qy_c, qx_c = np.clip(qy, 0, H - 1), np.clip(qx, 0, W - 1)
        inside = ok & region[qy_c, qx_c]
        bound = ok & ~inside & fixed[qy_c, qx_c]
        use = inside | bound
        diag += use
        g = (guide[ys, xs] - guide[qy_c, qx_c]).astype(np.float64)
        rhs += g * use[:, None]
        rhs += target[qy_c, qx_c].astype(np.float64) * bound[:, None]
        sel = np.nonzero(inside)[0]
        rows.append(sel)
        cols.append(idx[qy_c[sel], qx_c[sel]])
        vals.append(-np.ones(len(sel)))
    # a whisper of the guide keeps the system regular where no fixed pixel is reached
    eps = 1e-6
    diag += eps
    rhs += eps * guide[ys, xs].astype(np.float64)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    A = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsc()
    sol = spsolve(A, rhs)
    out[ys, xs] = np.asarray(sol, np.float32).reshape(n, -1)
    return out


def noise_sigma(img: np.ndarray, where: np.ndarray) -> float:
    """Sensor-noise level of ``img`` ((H, W, C) float32) over ``where`` ((H, W) bool):
    robust (MAD) standard deviation of the fine-scale residual, grey levels,
    over the flatter half of ``where`` (edges and lines would count as noise)."""
    if not where.any():
        return 0.0
    g = (img.mean(axis=2) if img.ndim == 3 else img).astype(np.float32)
    res = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    sm = cv2.GaussianBlur(g, (0, 0), 1.5)
    grad = np.hypot(cv2.Sobel(sm, cv2.CV_32F, 1, 0), cv2.Sobel(sm, cv2.CV_32F, 0, 1))
    flat = where & (grad <= np.percentile(grad[where], 50))
    v = res[flat] if flat.sum() >= 16 else res[where]
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def light_direction(
    image: np.ndarray,
    samples: list[tuple[np.ndarray, np.ndarray, float]],
) -> np.ndarray:
    """Estimate the in-plane light direction from how beads are shaded.

    A bead is a dome: its flank facing the light is brighter. For sample
    points ``p`` (N, 2) with normals ``n`` (N, 2) on beads of radius ``r``,
    the brightness difference between ``p + n r/2`` and ``p - n r/2`` is about
    ``k * dot(n, l)``; a least-squares fit gives ``l``. Returns a unit (2,)
    vector pointing towards the light (x, y image axes), (0, -1) when flat.
    """
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) if image.ndim == 3 else image
    ns, ds = [], []
    for p, n, r in samples:
        a = p + n * (r / 2)
        b = p - n * (r / 2)
        va = cv2.remap(
            g,
            a[:, 0:1].astype(np.float32),
            a[:, 1:2].astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )[:, 0]
        vb = cv2.remap(
            g,
            b[:, 0:1].astype(np.float32),
            b[:, 1:2].astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )[:, 0]
        ns.append(n)
        ds.append(va - vb)
    if not ns:
        return np.array([0.0, -1.0])
    N = np.concatenate(ns)
    D = np.concatenate(ds)
    sol, *_ = np.linalg.lstsq(N, D, rcond=None)
    norm = float(np.linalg.norm(sol))
    return sol / norm if norm > 1e-6 else np.array([0.0, -1.0])


def edge_sigma(gray: np.ndarray, points: np.ndarray, normals: np.ndarray, radius: float) -> float:
    """Blur of the bead's edges in ``gray`` ((H, W) float32), as a Gaussian sigma (px).

    Across the bead at ``points`` (N, 2) along ``normals``: the step from bead
    to metal has height ``c`` and steepest slope ``g``; a step blurred by a
    Gaussian of sigma ``s`` has ``g = c / (s * sqrt(2 pi))``. Median over the
    samples and both edges, at least 0.4 px.
    """
    ts = np.arange(-2.0 * radius, 2.0 * radius + 0.01, 0.25)
    prof = cross_profiles(gray, points, normals, ts)
    slope = np.abs(np.gradient(prof, 0.25, axis=1))
    sig = []
    for side in (ts < 0, ts > 0):
        inner = np.abs(ts) < 0.4 * radius
        outer = np.abs(ts) > 1.6 * radius
        c = np.abs(np.median(prof[:, inner], 1) - np.median(prof[:, outer & side], 1))
        near = side & (np.abs(ts) > 0.5 * radius) & (np.abs(ts) < 1.5 * radius)
        g = slope[:, near].max(1)
        ok = (c > 10) & (g > 1e-3)
        sig.append(c[ok] / (g[ok] * np.sqrt(2 * np.pi)))
    v = np.concatenate(sig)
    return float(max(0.4, np.median(v))) if v.size >= 5 else 0.8


def bead_support(
    gray: np.ndarray, points: np.ndarray, normals: np.ndarray, radius: float, sigma: float
) -> tuple[float, float]:
    """How far the bead in ``gray`` ((H, W) float32) reaches on each side (px).

    The bead's look, not the nominal width of a paths file: from the median
    cross profile at ``points`` (N, 2) along ``normals`` (+ side first), the
    half-contrast radius (between the crest and the metal 1.6-2 radii out) plus
    2.5 ``sigma`` (its blurred edge is gone there), but not past the first
    valley beyond it (a contact shadow or a neighbouring groove: not bead).
    Returns ``(reach on the + side, reach on the - side)``, each within
    0.6-1.6 ``radius``.
    """
    ts = np.arange(0.0, 2.0 * radius + 0.01, 0.25)
    out = []
    for side in (1.0, -1.0):
        prof = cross_profiles(gray, points, side * normals, ts)
        med = np.median(prof, axis=0)
        inner = float(med[ts < 0.4 * radius].mean())
        outer = float(np.median(med[ts > 1.6 * radius]))
        sgn = 1.0 if inner >= outer else -1.0
        v = sgn * (med - (inner + outer) / 2)  # > 0 on the bead, falling outwards
        below = np.nonzero((v <= 0) & (ts > 0.3 * radius))[0]
        if abs(inner - outer) < 10 or not len(below):
            out.append(radius)
            continue
        k = int(below[0])
        r_h = float(ts[k - 1] + (ts[k] - ts[k - 1]) * v[k - 1] / max(v[k - 1] - v[k], 1e-6))
        reach = r_h + 2.5 * sigma
        rise = np.nonzero((np.diff(v) >= 0) & (ts[:-1] > r_h))[0]
        if len(rise):
            reach = min(reach, float(ts[rise[0]]))
        out.append(float(np.clip(reach, 0.6 * radius, 1.6 * radius)))
    return out[0], out[1]


def blur_across(img: np.ndarray, normal: np.ndarray, sigma: float) -> np.ndarray:
    """``img`` blurred by a 1-D Gaussian of ``sigma`` px along ``normal`` ((2,) x, y).

    A bead's look across it carries the camera's blur across it (optics, and the
    motion blur where the bead lies across the motion); along it, blur changes
    nothing. Restoring the blur of a thinned bead isotropically would blur it
    where the image did not.
    """
    if sigma < 0.05:
        return img.copy()
    half = int(np.ceil(3.0 * sigma))
    size = 2 * half + 1
    line = np.zeros((size, size), np.float32)
    line[half, :] = cv2.getGaussianKernel(size, sigma)[:, 0]
    ang = float(np.degrees(np.arctan2(normal[1], normal[0])))
    rot = cv2.getRotationMatrix2D((float(half), float(half)), -ang, 1.0)
    k = np.asarray(cv2.warpAffine(line, rot, (size, size), flags=cv2.INTER_LINEAR), np.float32)
    k = k / max(float(k.sum()), 1e-6)
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
