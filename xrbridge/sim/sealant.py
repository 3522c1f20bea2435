"""Sealant beads along the region trajectories, and the five defects inside them.

A bead is rendered from its geometry: along the resampled trajectory each
sample has a centre (path point + lateral offset) and a radius; the union of
the discs is the bead's footprint, and its distance transform over the local
radius gives a rounded (dome) profile that is shaded like the metal, with a
glossy crest. Defects change that geometry before rendering (a gap, a lateral
displacement, a split into two thinner beads, a reduced radius, a pit through
the bead), so they are lit, blurred and compressed like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.names import DEFECTS
from xrbridge.sim.layout import Layout, Path, Region, resample
from xrbridge.sim.texture import LIGHT, shade

SIZES = ("small", "medium", "large")
#: Defect length along the path at scale 1 per size (px).
SIZE_LENGTH = {"small": 20.0, "medium": 38.0, "large": 64.0}
#: How often each type is drawn (missing sealant dominates, as in the paper's Table 1).
TYPE_WEIGHTS = {
    "missing": 0.32,
    "misalignment": 0.2,
    "bifurcation": 0.16,
    "narrowing": 0.16,
    "hole": 0.16,
}
BEAD_BGR = (186.0, 196.0, 203.0)


@dataclass(frozen=True, slots=True)
class DefectSpec:
    """One defect: on ``region`` from arc length ``s0`` over ``length`` (underbody px).

    ``amount``: misalignment/bifurcation lateral offset (px), narrowing width
    factor, hole width factor; ``side``: +1/-1 direction of a misalignment.
    """

    id: int
    type: str
    view: str
    region: str
    size: str
    s0: float
    length: float
    amount: float
    side: int

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "type": self.type,
            "view": self.view,
            "region": self.region,
            "size": self.size,
            "s0": round(self.s0, 2),
            "length": round(self.length, 2),
            "amount": round(self.amount, 3),
            "side": self.side,
        }


def _bump(x: np.ndarray, ramp: float = 0.25) -> np.ndarray:
    a = np.clip(x / ramp, 0.0, 1.0)
    b = np.clip((1.0 - x) / ramp, 0.0, 1.0)
    return (a * a * (3 - 2 * a)) * (b * b * (3 - 2 * b))


def choose_defects(
    layout: Layout,
    rng: np.random.Generator,
    count: int,
    first_id: int,
    regions: list[Region] | None = None,
    existing: list[DefectSpec] | None = None,
) -> list[DefectSpec]:
    """Draw ``count`` defects at random regions, types and sizes (non-overlapping).

    ``regions``: where to draw (default: every region); ``existing``: defects
    already on the car, which the new ones must not overlap.
    """
    out: list[DefectSpec] = []
    before = list(existing or [])
    regions = layout.all_regions() if regions is None else regions
    types = list(TYPE_WEIGHTS)
    probs = np.asarray([TYPE_WEIGHTS[t] for t in types])
    s = layout.scale
    tries = 0
    while len(out) < count and tries < 200:
        tries += 1
        reg = regions[int(rng.integers(len(regions)))]
        typ = types[int(rng.choice(len(types), p=probs / probs.sum()))]
        size = SIZES[int(rng.integers(3))]
        w = reg.bead_width
        length = SIZE_LENGTH[size] * s
        amount, side = 0.0, int(rng.choice([-1, 1]))
        if typ == "misalignment":
            length *= 1.5
            amount = {"small": 1.3, "medium": 1.7, "large": 2.2}[size] * w
        elif typ == "bifurcation":
            length *= 1.4
            amount = {"small": 0.55, "medium": 0.7, "large": 0.85}[size] * w
        elif typ == "narrowing":
            length *= 1.3
            amount = {"small": 0.55, "medium": 0.45, "large": 0.38}[size]
        elif typ == "hole":
            length = {"small": 0.55, "medium": 0.85, "large": 1.3}[size] * w
            amount = 0.6
        plen = resample(reg.points).length
        margin = 10.0 * s
        if plen < length + 2 * margin:
            continue
        s0 = float(rng.uniform(margin, plen - length - margin))
        clash = any(
            d.region == reg.name and s0 < d.s0 + d.length + margin and d.s0 < s0 + length + margin
            for d in before + out
        )
        if clash:
            continue
        out.append(
            DefectSpec(first_id + len(out), typ, reg.view, reg.name, size, s0, length, amount, side)
        )
    return out


def _profile(
    path: Path,
    region: Region,
    defects: list[DefectSpec],
    jitter: np.ndarray | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Bead pieces: list of (offset (N,), radius (N,)) along the path, NaN radius = no bead."""
    s = path.s
    r = np.full(s.shape, region.bead_width / 2.0)
    off = np.zeros_like(s)
    if jitter is not None:
        r = r * (1.0 + 0.06 * jitter[0][: len(s)])
        off = off + 0.5 * jitter[1][: len(s)]
    seconds: list[tuple[np.ndarray, np.ndarray]] = []  # extra branches of bifurcations
    for d in defects:
        x = (s - d.s0) / d.length
        inside = (x >= 0) & (x <= 1)
        b = np.where(inside, _bump(np.clip(x, 0, 1)), 0.0)
        if d.type == "missing":
            edge = np.minimum(np.abs(s - d.s0), np.abs(s - d.s0 - d.length))
            taper = np.clip(edge / (region.bead_width * 0.6), 0.35, 1.0)
            r = np.where(inside, np.nan, np.where(edge < region.bead_width * 0.6, r * taper, r))
        elif d.type == "misalignment":
            off = off + d.side * d.amount * _bump(np.clip(x, 0, 1), 0.3) * inside
        elif d.type == "narrowing":
            r = r * (1.0 - (1.0 - d.amount) * b)
        elif d.type == "bifurcation":
            split = b > 0.12
            r2 = np.where(split, r * (1.0 - 0.4 * b), np.nan)
            seconds.append((off - d.amount * b, r2))
            off = off + d.amount * b
            r = np.where(split, r * (1.0 - 0.4 * b), r)
    return [(off, r), *seconds]


def _hole_ellipses(path: Path, region: Region, defects: list[DefectSpec]) -> list[tuple]:
    out = []
    for d in defects:
        if d.type != "hole":
            continue
        mid = d.s0 + d.length / 2
        i = int(np.argmin(np.abs(path.s - mid)))
        p, n = path.p[i], path.n[i]
        ang = float(np.degrees(np.arctan2(-n[0], n[1])))  # tangent direction
        out.append((p, (d.length / 2, region.bead_width * d.amount / 2), ang))
    return out


def defect_polygon(d: DefectSpec, region: Region, pad: float) -> np.ndarray:
    """The defect's outline in underbody px: (K, 2) float64, closed implicitly."""
    path = resample(region.points)
    sel = (path.s >= d.s0 - pad) & (path.s <= d.s0 + d.length + pad)
    p, n = path.p[sel], path.n[sel]
    pieces = _profile(path, region, [d], None)
    r0 = region.bead_width / 2.0
    hi = np.full(len(p), r0)
    lo = np.full(len(p), -r0)
    for off, r in pieces:
        o, rr = off[sel], np.nan_to_num(r[sel], nan=0.0)
        hi = np.maximum(hi, o + rr)
        lo = np.minimum(lo, o - rr)
    if d.type == "hole":
        hi = np.minimum(hi, r0)
        lo = np.maximum(lo, -r0)
    left = p + n * (hi + pad)[:, None]
    right = p + n * (lo - pad)[:, None]
    poly = np.concatenate([left, right[::-1]], axis=0).astype(np.float32)
    approx = cv2.approxPolyDP(poly.reshape(-1, 1, 2), 0.4, True).reshape(-1, 2)
    return approx.astype(np.float64)


def render_beads(
    color: np.ndarray,
    gloss: np.ndarray,
    layout: Layout,
    defects: list[DefectSpec],
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Draw every region's bead (with ``defects``) over the metal.

    color: (Wd, L, 3) float32 BGR metal (modified: seams, shadows); gloss: (Wd, L)
    float32. ``rng`` None renders the neutral reference (no per-car jitter).
    Returns (Wd, L, 4) uint8: BGR and glossiness (0..255) in the 4th channel.
    """
    H, W = color.shape[:2]
    sh = 4
    f = float(1 << sh)
    mask = np.zeros((H, W), np.uint8)
    rmap = np.zeros((H, W), np.float32)
    seams = np.zeros((H, W), np.float32)
    holes = np.zeros((H, W), np.uint8)
    for region in layout.all_regions():
        path = resample(region.points)
        ds = [d for d in defects if d.region == region.name]
        jitter = None
        if rng is not None:
            k = max(2, int(path.length / 25) + 2)
            jitter = np.stack(
                [
                    np.interp(
                        np.arange(len(path.s)), np.linspace(0, len(path.s), k), rng.normal(0, 1, k)
                    )
                    for _ in range(2)
                ]
            )
        pts = np.round(path.p * f).astype(np.int32)
        cv2.polylines(
            seams,
            [pts.reshape(-1, 1, 2)],
            region.closed,
            1.0,
            max(1, round(1.5 * layout.scale)),
            cv2.LINE_AA,
            sh,
        )
        for off, r in _profile(path, region, ds, jitter):
            c = path.p + path.n * off[:, None]
            ci = np.round(c * f).astype(np.int64)
            for (x, y), rad in zip(ci, r, strict=True):
                if not np.isfinite(rad) or rad <= 0.3:
                    continue
                cv2.circle(mask, (int(x), int(y)), round(rad * f), 255, -1, cv2.LINE_AA, sh)
                cv2.circle(rmap, (int(x), int(y)), round(rad * f), float(rad), -1, cv2.LINE_8, sh)
        for p, axes, ang in _hole_ellipses(path, region, ds):
            cv2.ellipse(
                holes,
                (round(p[0] * f), round(p[1] * f)),
                (round(axes[0] * f), round(axes[1] * f)),
                ang,
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
                sh,
            )
    bead_fp: np.ndarray = cv2.subtract(mask, holes)
    # metal: the seam under the sealant, a pit where a hole is, contact shadows
    metal: np.ndarray = color * (1.0 - 0.45 * seams)[..., None]
    pit = cv2.GaussianBlur(holes.astype(np.float32) / 255.0, (0, 0), 1.0)
    metal *= (1.0 - 0.4 * pit)[..., None]
    m01 = bead_fp.astype(np.float32) / 255.0
    sdx, sdy = 2.0 * layout.scale, 2.5 * layout.scale
    shadow = cv2.warpAffine(
        cv2.GaussianBlur(m01, (0, 0), 2.5 * layout.scale),
        np.array([[1, 0, sdx], [0, 1, sdy]], np.float32),
        (W, H),
    )
    metal *= (1.0 - 0.35 * shadow)[..., None]
    # bead: dome profile from the distance to its edge over the local radius
    dist = cv2.distanceTransform((bead_fp > 127).astype(np.uint8), cv2.DIST_L2, 5)
    hn = np.clip(dist / np.maximum(rmap, 0.5), 0.0, 1.0)
    dome0 = np.sqrt(np.clip(1.0 - (1.0 - hn) ** 2, 0.0, 1.0)).astype(np.float32)
    dome: np.ndarray = cv2.GaussianBlur(dome0, (0, 0), 0.7)
    height = dome * rmap * 0.9
    if rng is not None:  # the bead's surface is not perfectly smooth
        bumps = cv2.resize(
            rng.normal(0, 1, (H // 3 + 1, W // 3 + 1)).astype(np.float32),
            (W, H),
            interpolation=cv2.INTER_LINEAR,
        )
        height += 0.25 * bumps * dome
    sb = np.clip(shade(height, 1.0), 0.0, 2.0)
    # specular crest baked from the fixed workshop light
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    hv = LIGHT + np.array([0, 0, 1], np.float32)
    hv /= np.linalg.norm(hv)
    ndoth = (-gx * hv[0] - gy * hv[1] + hv[2]) / np.sqrt(1 + gx * gx + gy * gy)
    x = np.clip(ndoth, 0, 1)
    x8 = x * x
    x8 *= x8
    x8 *= x8
    x32 = x8 * x8
    x32 *= x32
    spec = x32 * x8 * 70.0  # Blinn-Phong exponent 40
    tone = np.asarray(BEAD_BGR, np.float32)
    if rng is not None:
        tone = tone * (1.0 + rng.normal(0, 0.025)) + rng.normal(0, 2.0, 3).astype(np.float32)
    bead = (0.5 + 0.55 * sb)[..., None] * tone[None, None, :] + spec[..., None]
    out = metal * (1.0 - m01[..., None]) + bead * m01[..., None]
    g = gloss * (1.0 - m01) + (0.3 + 0.7 * dome**4) * m01
    res = np.empty((H, W, 4), np.uint8)
    res[..., :3] = np.clip(out, 0, 255).astype(np.uint8)
    res[..., 3] = np.clip(g * 255.0, 0, 255).astype(np.uint8)
    return res


def bead_mask(layout: Layout, view: str, margin: float) -> np.ndarray:
    """ROI mask of ``view``: (height, width) uint8, 255 within bead/2 + margin of a path."""
    rect = layout.views[view]
    m = np.zeros((rect.height, rect.width), np.uint8)
    sh = 4
    f = float(1 << sh)
    for region in layout.regions[view]:
        pts = np.round((region.points - (rect.u0, rect.v0)) * f).astype(np.int32)
        th = round(region.bead_width + 2 * margin)
        cv2.polylines(m, [pts.reshape(-1, 1, 2)], region.closed, 255, th, cv2.LINE_8, sh)
    return m


__all__ = [
    "DEFECTS",
    "SIZES",
    "DefectSpec",
    "bead_mask",
    "choose_defects",
    "defect_polygon",
    "render_beads",
]
