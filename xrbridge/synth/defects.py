"""The five sealant defects drawn into an image's pixels, each with its exact mask.

Every defect is a change of the bead's geometry over a stretch of a track,
drawn in the track's own frame (arc length ``s`` along the centre line, offset
``t`` along the normal):

- the bead-free surface ``B`` under the stretch is re-synthesised, per side out
  to where the metal beside the bead is open again (past its contact shadow,
  short of a rail or groove): a calm metal strip beside the bead is copied
  over it (same panel, same texture, same noise) and Poisson-blended into the
  surrounding metal so no seam, colour jump or ghost of the bead remains;
- the new bead is drawn over ``B`` piece by piece: each piece (centre offset
  ``o(s)``, radius ``r(s)``) samples the original bead at
  ``t' = (t - o) * r0 / r``, so it keeps the bead's own colour, dome shading,
  crest highlight, blur and noise;
- missing: no piece over the stretch (tapered ends); misalignment: the piece
  moves sideways by ``amount`` px; bifurcation: two thinner pieces diverge by
  ``+-amount`` px; narrowing: the radius drops to ``amount`` x r0; hole: an
  elliptic void (``amount`` x the bead width across) with the bead re-domed
  into a crater around it (its look read off the bead's own cross profile at
  the same distance from an edge, the estimated light deciding which wall is
  lit, darker the deeper it lies in the well) over the metal floor in the
  walls' shadow;
- the change is faded in over the mask's padding, then the camera's last
  steps are re-applied (``camera.finish_patch``: noise, JPEG round trip on the
  image's own grid and quality).

The mask is the stretch's union of old and new bead extents plus ``pad`` px
(the simulator's convention); the image is unchanged outside it, by
construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import ndtr

from xrbridge.errors import InputError
from xrbridge.names import DEFECTS
from xrbridge.synth.blend import (
    bead_support,
    blur_across,
    edge_sigma,
    noise_sigma,
    poisson_fill,
)
from xrbridge.synth.camera import JpegFit, finish_patch
from xrbridge.synth.tracks import Sampled, sample_at


@dataclass(frozen=True, slots=True)
class DefectParams:
    """One defect on a track.

    ``s0``/``length``: stretch along the track (px). ``amount``: misalignment
    and bifurcation offset (px), narrowing width factor, hole width factor.
    ``side``: +1/-1, direction of a misalignment (and which neighbour strip
    fills the surface). ``pad``: mask margin (px). ``seam``: how much darker
    the panel joint under a missing bead shows (0 = no joint).
    """

    type: str
    size: str
    region: str
    s0: float
    length: float
    amount: float
    side: int
    pad: float
    seam: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "size": self.size,
            "region": self.region,
            "s0": round(self.s0, 2),
            "length": round(self.length, 2),
            "amount": round(self.amount, 3),
            "side": self.side,
            "pad": round(self.pad, 2),
            "seam": round(self.seam, 3),
        }


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def bump(x: np.ndarray, ramp: float = 0.25) -> np.ndarray:
    """0 outside [0, 1], 1 in the middle, smooth ramps of ``ramp`` at both ends."""
    return _smoothstep(x / ramp) * _smoothstep((1.0 - x) / ramp) * ((x >= 0) & (x <= 1))


def _pieces(
    p: DefectParams,
    s: np.ndarray,
    r0: float,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """New bead pieces at arc lengths ``s``: [(offset, radius, source shift along s)];
    radius 0 = no bead there."""
    x = (s - p.s0) / p.length
    inside = (x >= 0) & (x <= 1)
    b = bump(x)
    r = np.full(s.shape, r0)
    off = np.zeros_like(s)
    if p.type == "missing":
        # the bead thins towards the gap and ends in a rounded cap (as a nozzle that
        # stops leaves it), not in a cut
        edge = np.minimum(np.abs(s - p.s0), np.abs(s - p.s0 - p.length))
        taper = np.clip(edge / (1.2 * r0), 0.35, 1.0)
        rc = 0.35 * r0
        cap = rc * np.sqrt(np.clip(1.0 - (edge / rc) ** 2, 0.0, 1.0))
        r = np.where(inside, cap, np.where(edge < 1.2 * r0, r0 * taper, r0))
        return [(off, r, 0.0)]
    if p.type == "misalignment":
        return [(p.side * p.amount * bump(x, 0.3), r, 0.0)]
    if p.type == "narrowing":
        return [(off, r * (1.0 - (1.0 - p.amount) * b), 0.0)]
    if p.type == "bifurcation":
        split = b > 0.12
        rr = np.where(split, r * (1.0 - 0.4 * b), r)
        r2 = np.where(split, rr, 0.0)
        return [(off + p.amount * b, rr, 0.0), (off - p.amount * b, r2, 1.5 * r0)]
    return [(off, r, 0.0)]  # hole: the bead stays, a void is cut into it


def _fields(
    p: DefectParams, s: np.ndarray, t: np.ndarray, r0: float, own: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """Each new piece as a bead laid along its own centre line (as a nozzle lays it,
    the simulator too: discs along the path), not sheared sideways: per pixel
    ``(signed distance from the centre line (+ = the +t side), the piece's radius
    at the nearest centre point, that point's arc length, source shift along s)``;
    radius 0 where the piece has no bead near. (h, w) arrays like ``s`` and ``t``.
    A displaced bead keeps its thickness on the slopes and its bends are round;
    a gap's ends are round caps."""
    if not own.any():
        return []
    step = 0.25
    grid = np.arange(float(s[own].min()) - 1.0, float(s[own].max()) + 1.0, step)
    q = np.stack([s.ravel(), t.ravel()], 1)
    out = []
    for off, rad, shift in _pieces(p, grid, r0):
        ok = rad > 0.3
        if not ok.any():
            z = np.zeros(s.shape)
            out.append((np.full(s.shape, np.inf), z, s.copy(), shift))
            continue
        slope = np.gradient(off, step)[ok]
        pts = np.stack([grid[ok], off[ok]], 1)
        d, i = cKDTree(pts).query(q)
        d, i = d.reshape(s.shape), i.reshape(s.shape)
        nrm = np.sqrt(1.0 + slope * slope)
        cross = (t - pts[i, 1]) / nrm[i] - slope[i] * (s - pts[i, 0]) / nrm[i]
        out.append((np.where(cross >= 0, d, -d), rad[ok][i], pts[i, 0], shift))
    return out


def _extent(p: DefectParams, r0: float) -> float:
    """How far beyond [s0, s0 + length] the geometry changes (px)."""
    return 1.2 * r0 + 1.0 if p.type == "missing" else 1.0


#: of the sky a well's walls hide, the share that still reaches its inside off the walls
WALL_BOUNCE = 0.4


def well_light(
    half_width: float | np.ndarray, depth: float | np.ndarray, bounce: float | np.ndarray = 1.0
) -> np.ndarray:
    """Light ``depth`` px down a round well ``half_width`` px across, relative to open
    ground: the share of the open sky seen from there (``b^2 / (b^2 + d^2)``, 1 at the
    rim) plus ``WALL_BOUNCE`` of the rest off the walls, times ``bounce``."""
    b2 = np.square(np.asarray(half_width, np.float64))
    sky = b2 / (b2 + np.square(depth) + 1e-12)
    return np.asarray(sky + (1 - sky) * WALL_BOUNCE * bounce)


def _joint(t: np.ndarray) -> np.ndarray:
    """The panel joint under a bead: a line 2 px either side of its centre (1 on it)."""
    return np.clip(1.0 - np.abs(t) / 2.0, 0.0, 1.0)


def _remap(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return sample_at(image, pts, cv2.BORDER_REFLECT_101)


def _binned(
    dist: np.ndarray, values: np.ndarray, grid: np.ndarray, half: float, q: float | None = None
) -> np.ndarray:
    """Per distance of ``grid``, the median (or ``q``-th percentile) of ``values``
    whose ``dist`` is within ``half`` of it; NaN where fewer than 3 are."""
    f = np.full(grid.shape, np.nan)
    for i, di in enumerate(grid):
        b = np.abs(dist - di) <= half
        if b.sum() >= 3:
            f[i] = float(np.median(values[b]) if q is None else np.percentile(values[b], q))
    return f


def shadow_profile(
    gray: np.ndarray,
    t: np.ndarray,
    where: np.ndarray,
    r0: float,
    depth: float,
    start: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brightness of the metal beside a bead relative to the metal further out.

    gray: (h, w) float32; t: (h, w) offset from the centre line; where: (h, w)
    bool metal pixels to learn from; start: per side (+, -), how far past ``r0``
    the bead's own blurred edge reaches (px; the shadow is read from there and
    held inwards). Returns ``(d, f_plus, f_minus)``: distance past the bead's
    edge (px) and the factor on each side (1 = unshadowed).
    """
    d_all = np.abs(t) - r0
    d = np.arange(0.0, depth + 0.01, 0.5)
    out = []
    for side, st in ((1.0, start[0]), (-1.0, start[1])):
        sel = where & (np.sign(t) == side) & (d_all >= 0)
        if sel.sum() < 20:
            out.append(np.ones_like(d))
            continue
        f = _binned(d_all[sel], gray[sel], d, 0.5)
        f[d < st - 0.25] = np.nan
        ok = np.nonzero(np.isfinite(f))[0]
        if len(ok) < 3:
            out.append(np.ones_like(d))
            continue
        f = np.interp(np.arange(len(d)), ok, f[ok])  # held inwards from ``start``
        f = f / max(float(f.max()), 1.0)
        # a contact shadow is darkest at the bead and lightens outwards: a band that
        # darkens away from the bead, past lit metal or straight from the bead's edge,
        # is the surface (a groove, a rail, a panel edge), which the fill already has
        i0 = int(ok[0])
        if float(f[i0:].min()) < float(f[i0]) - 0.03:
            out.append(np.ones_like(d))
            continue
        f = np.maximum.accumulate(f)
        # ... and is the part that recovers within ``depth``; a contact shadow under
        # diffuse light darkens by less than 40 %
        f = np.clip(f / max(float(f[-1]), 1e-3), 0.6, 1.0)
        out.append(f)
    return d, out[0], out[1]


def fill_holes(m: np.ndarray) -> np.ndarray:
    """``m`` ((h, w) bool) with every background area it encloses filled in."""
    out = np.pad((~m).astype(np.uint8), 1, constant_values=1)
    cv2.floodFill(out, None, (0, 0), 2)
    return m | (out[1:-1, 1:-1] == 1)


def metal_edge(
    gray: np.ndarray,
    t: np.ndarray,
    where: np.ndarray,
    start: tuple[float, float],
    limit: float,
    step: float = 0.5,
) -> tuple[tuple[float, bool, float], tuple[float, bool, float]]:
    """How far from the centre line the surface beside a bead is open metal again.

    gray: (h, w) float32; t: (h, w) offset from the centre line; where: (h, w)
    bool metal pixels to read; start: per side (+, -), where the bead's blurred
    edge ends (px from the centre line). Per side, the brightness by distance
    (lower quartile along the track) rises through the contact shadow to the
    open metal and may fall again into a rail, a groove, a panel edge or a row
    of holes further out; the edge is where it has come three quarters of the
    way back up to its brightest before the first such fall (below 85 % of the
    brightest so far). Returns ``((edge, walled, peak) on the + side, (...) on
    the - side)``: the edge within ``start``..``limit`` px, whether such a fall
    follows (a rail or groove walls that side in) and where the brightest
    point before it is (px from the centre line).
    """
    out = []
    for side, st in zip((1.0, -1.0), start, strict=True):
        d = np.arange(st, limit + 1e-6, step)
        sel = where & (np.sign(t) == side) & (np.abs(t) >= st - step) & (np.abs(t) <= limit)
        # (the darker quartile: a row of holes or welds beside the bead walls it in
        # as a rail does, though most of the row is metal)
        f = _binned(np.abs(t[sel]), gray[sel], d, step, q=25.0)
        if np.isfinite(f).sum() < 2:
            out.append((float(limit), False, float(limit)))
            continue
        ok = np.nonzero(np.isfinite(f))[0]
        f = np.interp(np.arange(len(d)), ok, f[ok])
        # outwards, the first fall below 85 % of the brightest so far is a wall
        fall = np.nonzero(f < 0.85 * np.maximum.accumulate(f))[0]
        walled = bool(len(fall))
        k = int(np.argmax(f[: fall[0]])) if walled else int(np.argmax(f))
        thr = f[k] - 0.25 * (f[k] - float(f[: k + 1].min()))
        out.append((float(d[int(np.nonzero(f[: k + 1] >= thr)[0][0])]), walled, float(d[k])))
    return out[0], out[1]


def render_defect(
    image: np.ndarray,
    track: Sampled,
    width: float,
    p: DefectParams,
    rng: np.random.Generator,
    light: np.ndarray,
    jpeg: JpegFit | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw defect ``p`` on the bead ``track`` (``width`` px wide) of ``image``.

    image: (H, W, 3) uint8 BGR. light: (2,) unit vector towards the light.
    jpeg: the image's JPEG step (``camera.estimate_jpeg``), re-applied to the
    drawn patch; None: noise only.
    Returns ``(defective image (H, W, 3) uint8, mask (H, W) uint8 255 = defect)``;
    pixels outside the mask are identical to ``image``. Raises InputError for
    an unknown type or a stretch that does not fit on the track.
    """
    if p.type not in DEFECTS:
        raise InputError(f"unknown defect type {p.type!r}; valid: {', '.join(DEFECTS)}")
    if p.s0 < 0 or p.s0 + p.length > track.length or p.length <= 0:
        raise InputError(
            f"defect stretch {p.s0:.1f}..{p.s0 + p.length:.1f} px does not fit on "
            f"a {track.length:.1f} px track"
        )
    H, W = image.shape[:2]
    r0 = width / 2.0
    pad = p.pad
    ext = _extent(p, r0)
    band_max = r0 + 1.0 * width  # how far the surface is re-synthesised, at most
    s_lo, s_hi = p.s0 - ext - 2 * r0, p.s0 + p.length + ext + 2 * r0
    reach = (
        band_max + abs(p.amount if p.type in ("misalignment", "bifurcation") else 0) + r0 + pad + 4
    )

    # ---- crop around the stretch and the (s, t) frame of its pixels ----------------
    sel = (track.s >= s_lo) & (track.s <= s_hi)
    ps, ns, ss = track.p[sel], track.n[sel], track.s[sel]
    x0 = max(0, int(np.floor(ps[:, 0].min() - reach)))
    y0 = max(0, int(np.floor(ps[:, 1].min() - reach)))
    x1 = min(W, int(np.ceil(ps[:, 0].max() + reach)) + 1)
    y1 = min(H, int(np.ceil(ps[:, 1].max() + reach)) + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    pix = np.stack([xx, yy], -1).astype(np.float64)
    near = cKDTree(ps).query(pix.reshape(-1, 2))[1].reshape(pix.shape[:2])
    dvec = pix - ps[near]
    nrm = ns[near]
    tan = np.stack([nrm[..., 1], -nrm[..., 0]], -1)
    s = ss[near] + (dvec * tan).sum(-1)
    t = (dvec * nrm).sum(-1)
    # only pixels whose nearest centre point is inside the stretch's window belong to it
    own = (near > 0) & (near < len(ss) - 1)

    crop = image[y0:y1, x0:x1].astype(np.float32)
    # new edges as soft as the bead's own (optics, motion blur): a crisper edge than
    # the rest of the image is what gives a pasted shape away
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    sig_e = edge_sigma(gray, ps[::3], ns[::3], r0)
    sig_b = max(0.5, sig_e)

    def soft(v: np.ndarray) -> np.ndarray:
        # a step seen through the image's blur: the Gaussian's integral (a smoothstep of
        # the same width is sharper at its centre, which the fine-scale statistics see)
        a = ndtr(v / sig_b)
        return np.where(a < 1e-3, 0.0, np.where(a > 1 - 1e-3, 1.0, a))

    def to_xy(s_src: np.ndarray, t_src: np.ndarray) -> np.ndarray:
        pp, nn = track.at(s_src)
        return pp + nn * t_src[..., None]

    # ---- the bead-free surface B over the band ------------------------------------
    a0 = soft(r0 - np.abs(t)) * own
    in_s = (s >= p.s0 - ext) & (s <= p.s0 + p.length + ext)
    shadow = None
    # how far the bead reaches in the image on each side (its blurred edge): the new
    # bead covers as much (scaled), and a contact shadow is read from there outwards
    reach_p, reach_m = bead_support(gray, ps[::3], ns[::3], r0, sig_e)
    # the surface is re-synthesised out to where the metal beside the bead is open
    # again, per side: past the contact shadow (a removed or moved bead takes its
    # shadow along), short of a rail or groove further out (filled from, it would
    # smear its dark across the uncovered metal), read beside the stretch
    near = own & ~((s >= p.s0 - ext - r0) & (s <= p.s0 + p.length + ext + r0))
    metal = near & (a0 < 0.05)
    (edge_p, wall_p, peak_p), (edge_m, wall_m, peak_m) = metal_edge(
        gray[y0:y1, x0:x1], t, metal, (max(reach_p, r0), max(reach_m, r0)), band_max
    )
    # (a pixel past the edge, but not onto a wall's slope: its brightest point is the
    # last open metal)
    band_p = min(edge_p + 1.0, peak_p if wall_p else band_max, band_max)
    band_m = min(edge_m + 1.0, peak_m if wall_m else band_max, band_max)
    band = max(band_p, band_m)
    if p.type != "hole":
        # the bead's contact shadow, learnt beside the stretch: it follows the new
        # geometry (a thinner or displaced bead uncovers lit metal where it was dark)
        shadow = shadow_profile(
            gray[y0:y1, x0:x1],
            t,
            metal & (t <= band_p) & (t >= -band_m),
            r0,
            band_max - r0,
            (max(0.0, reach_p - r0), max(0.0, reach_m - r0)),
        )
    region = own & in_s & (t <= band_p) & (t >= -band_m)
    region[[0, -1], :] = False
    region[:, [0, -1]] = False
    # candidate donors: the metal strips beside the bead, at a few distances on both
    # sides. A donor must be as calm as the open metal beside the stretch, between
    # the bead's edge and the band's (its strongest gradients no stronger): a rail,
    # weld, hole or panel edge copied in would give the fill away. Without one, the
    # surface is filled smoothly from its boundary (membrane) and the noise step
    # below restores the grain.
    st_p, st_m = max(reach_p, r0) + 1.0, max(reach_m, r0) + 1.0
    ring = metal & (((t >= st_p) & (t <= band_p + 1)) | ((t <= -st_m) & (t >= -band_m - 1)))

    def grad98(img: np.ndarray, where: np.ndarray) -> float:
        g = img.mean(-1) if img.ndim == 3 else img
        gx = np.abs(np.diff(g, axis=1, append=g[:, -1:]))
        gy = np.abs(np.diff(g, axis=0, append=g[-1:, :]))
        v = np.maximum(gx, gy)[where]
        return float(np.percentile(v, 98)) if v.size else 0.0

    guide = np.zeros_like(crop)
    if region.any() and ring.sum() >= 16:
        limit = 1.3 * grad98(crop, ring) + 1.0
        grain = noise_sigma(crop, metal)
        cands = []
        for k in (1.0, 1.5, 2.0):
            for side in (p.side, -p.side):
                g = _remap(image, to_xy(s, t + side * (k * 2.0 * band + 2.0))).astype(np.float32)
                if grad98(g, region) <= limit:
                    # of the calm ones, the one whose grain is most like the metal's
                    cands.append((abs(noise_sigma(g, region) - grain), k, side, g))
        if cands:
            guide = min(cands, key=lambda v: v[:3])[3]
    # the fill meets the metal where it is open; a rail or groove just past the band
    # is not what lies under the bead: on a walled side the fill meets the open
    # metal's own level (read at its brightest point before the rail, beside the
    # stretch), not the rail, whose dark it would smear inwards
    fixed = ~region & (a0 < 0.05)
    target = crop
    for sgn, b_s, wall, peak in ((1.0, band_p, wall_p, peak_p), (-1.0, band_m, wall_m, peak_m)):
        zone = metal & (np.abs(sgn * t - peak) <= 0.75)
        if wall and zone.sum() >= 8:
            if target is crop:
                target = crop.copy()
            target[in_s & (sgn * t > b_s)] = np.median(crop[zone], axis=0)
    surface = poisson_fill(target, guide, region, fixed)
    surface[~region] = crop[~region]

    if p.type != "hole" and p.seam > 0:
        # sealant is laid over a panel joint: where its footprint is uncovered (a
        # missing stretch, a bead moved or split off it) the joint shows, a thin dark
        # line along the old centre (``seam`` = how much darker); the new bead,
        # drawn over the surface next, hides it wherever it still lies
        line = _joint(t) * region
        surface = surface * (1.0 - p.seam * line)[..., None]

    fields = _fields(p, s, t, r0, own)
    if shadow is not None:
        # distance to the new bead in the image plane, from its own centre line: near
        # the cap of a missing stretch the shadow rounds off instead of ending in a cut
        dist_new = np.full(s.shape, np.inf)
        side_new = np.sign(t + 1e-9)
        rad_near = np.full(s.shape, r0)
        for dd_s, rad_n, _, _ in fields:
            # (from the new bead's seen edge: its measured reach, scaled like it)
            rch = np.where(dd_s >= 0, reach_p, reach_m)
            dd = np.where(rad_n > 0.3, np.abs(dd_s) - rad_n * rch / r0 + (rch - r0), np.inf)
            closer = dd < dist_new
            dist_new = np.where(closer, dd, dist_new)
            side_new = np.where(closer, np.sign(dd_s + 1e-9), side_new)
            rad_near = np.where(closer, rad_n, rad_near)
        # a thinner bead is a lower one (the same dome, scaled): its shadow is as
        # much shorter
        d = np.clip(dist_new, 0.0, None) * r0 / np.clip(rad_near, 0.25 * r0, None)
        f = np.where(
            side_new > 0,
            np.interp(d, shadow[0], shadow[1], right=1.0),
            np.interp(d, shadow[0], shadow[2], right=1.0),
        )
        surface = np.where(region[..., None], surface * f[..., None], surface)

    # ---- the new bead over the surface ------------------------------------------
    out = surface.copy()
    alpha_new = np.zeros(s.shape, np.float32)
    # the new bead covers what the old one covered in the image, scaled like it: out
    # to where its own blurred edge meets the metal (``bead_support``), not to the
    # nominal radius, or the copy's edge is cut twice and it comes out too thin
    blur_w = np.zeros(s.shape, np.float32)
    for dd_s, rad, s_near, s_shift in fields:
        rs = np.where(dd_s >= 0, reach_p, reach_m) / r0
        a = soft(rad * rs - np.abs(dd_s)) * (rad > 0.3) * own
        t_src = np.where(rad > 0.3, dd_s * r0 / np.maximum(rad, 0.3), t)
        bead = _remap(image, to_xy(s_near + s_shift, t_src)).astype(np.float32)
        out = out * (1 - a[..., None]) + bead * a[..., None]
        alpha_new = np.maximum(alpha_new, a)
        # a bead squeezed into less width is a minified copy, its blur shrunk with it
        squeeze = np.clip(1.0 - (np.maximum(rad, 0.3) / r0) ** 2, 0.0, 1.0)
        near_w = soft(rad * rs + 3.0 * sig_b - np.abs(dd_s)) * (rad > 0.3) * own
        blur_w = np.maximum(blur_w, (squeeze * near_w).astype(np.float32))
    if blur_w.max() > 0.05:
        # ... so the camera's blur is restored on the composite (sigma_e^2 (1 - (r/r0)^2)
        # more, as a mix), where the thinner bead meets the surface too: blurring only
        # the copy inside its footprint would cut the blur's spread off at the edge.
        # Across the track only: that is the blur ``edge_sigma`` measured
        n_mid = ns[len(ns) // 2]
        smooth = blur_across(out, n_mid, sig_b)
        out = out + (smooth - out) * blur_w[..., None]
    # outside the band the surface is the original image, where beads stay as they were
    # (and beyond the stretch, where the pieces are the old bead redrawn)
    keep = ~region & ((alpha_new < 1e-3) | ~in_s)
    out[keep] = crop[keep]

    # ---- hole: a void through the bead, the bead re-domed into a crater around it ------
    if p.type == "hole":
        mid = p.s0 + p.length / 2
        a_ax, b_ax = p.length / 2, max(1.0, r0 * p.amount)
        # the void is an ellipse in the image, along the track's direction at its
        # centre (as the renderer draws it): in the (s, t) frame it would fan out or
        # tear where the track bends sharply within it
        pm, nn = track.at(np.full(1, mid))
        tg = np.array([nn[0, 1], -nn[0, 0]])
        rel = pix - pm[0]
        us, vs = rel @ tg, rel @ nn[0]
        u, v = us / a_ax, vs / b_ax
        rho = np.sqrt(u * u + v * v)
        # distance from the void's edge (first order: (rho - 1) / |grad rho|), px
        grad = np.sqrt((u / a_ax) ** 2 + (v / b_ax) ** 2) / np.maximum(rho, 1e-6)
        d_void = (rho - 1.0) / np.maximum(grad, 1e-6)
        ah = (soft(-d_void) * own).astype(np.float32)
        # the way down into the void, in image axes (towards its centre)
        fs, ft = -u / a_ax, -v / b_ax
        fl = np.hypot(fs, ft) + 1e-9
        face = (fs / fl)[..., None] * tg + (ft / fl)[..., None] * nn[0]
        # sealant wets up to the void's edge: the bead is a dome over what is left of
        # its footprint, so near the void it has the height and slope of a bead edge.
        # Its look there is read off the bead's own cross profile at the same distance
        # from an edge: the symmetric part (dome, crest) as it is, the antisymmetric
        # part (the lit and the shaded flank) scaled by how the wall faces the light
        # compared with the flank it was measured on.
        ts = np.arange(-r0, r0 + 0.01, 0.25)
        sw = own & (np.abs(s - mid) > a_ax + r0) & (np.abs(s - mid) < a_ax + 4 * r0)
        s_prof = s[sw] if sw.any() else np.array([mid])
        s_grid = np.linspace(float(s_prof.min()), float(s_prof.max()), 24)
        prof = np.median(
            _remap(image, to_xy(np.repeat(s_grid, len(ts)), np.tile(ts, len(s_grid)))).reshape(
                len(s_grid), len(ts), -1
            ),
            axis=0,
        ).astype(np.float32)
        sym = (prof + prof[::-1]) / 2
        anti = (prof - prof[::-1]) / 2  # + side minus - side, indexed by t >= 0 half

        def look(uu: np.ndarray, sign: np.ndarray) -> np.ndarray:
            k = np.clip((uu + r0) / 0.25, 0, len(ts) - 1)
            i0 = np.floor(k).astype(int)
            i1 = np.minimum(i0 + 1, len(ts) - 1)
            w1 = (k - i0)[..., None]
            sy = sym[i0] * (1 - w1) + sym[i1] * w1
            an = anti[i0] * (1 - w1) + anti[i1] * w1
            return sy + sign[..., None] * an

        nl = float(nn[0] @ light)
        nl = np.sign(nl) * max(abs(nl), 0.35) if nl != 0 else 0.35
        e_out = r0 - np.abs(t)  # distance from the bead's outer edge
        e_new = np.minimum(e_out, np.maximum(d_void, 0.0))
        # (its change fades out within the mask's padding: the mask stays the void's
        # stretch plus ``pad``, the simulator's convention, and still holds every
        # changed pixel)
        crater = own & (e_out > 0) & (d_void < np.minimum(e_out, pad))
        c = np.clip((face @ light) / nl, -1.5, 1.5)
        old = look(np.abs(t), np.sign(t))
        new = look(np.clip(r0 - e_new, 0, r0), c)
        # the walls are in the same well as the floor: a point at ``e`` from the void
        # is as high as the bead's dome is at ``e`` from an edge (a bead about as high
        # as its radius), below the rim by ``r0 (1 - dome)``, and sees the sky over an
        # opening ``b + e`` wide. The flank the look was read off has open metal beside
        # it and sees the whole sky.
        ee = np.clip(e_new, 0.0, r0)
        depth = r0 * (1.0 - np.sqrt(np.clip(1.0 - (1.0 - ee / r0) ** 2, 0.0, 1.0)))
        new = new * well_light(b_ax + ee, depth)[..., None]
        # the profile's shape carries the image's blur already; a hard switch between
        # the two would not: blend over the edge ramp
        wc = cv2.GaussianBlur(crater.astype(np.float32), (0, 0), max(0.5, sig_e))
        out = out + (new - old) * (wc * a0)[..., None]
        # the floor: the metal under the bead (its panel joint included), in the shadow
        # of the walls: lit only from the part of the sky the walls leave open (a well
        # of the void's half-width and the bead's height, about its radius) and darker
        # still on the side the light comes from, where the near wall shades it
        ql = (u[..., None] * tg + v[..., None] * nn[0]) @ light
        floor_f = well_light(b_ax, r0, 1 - 0.5 * np.clip(ql, -1, 1))
        if p.seam > 0:
            floor_f = floor_f * (1.0 - p.seam * _joint(t))
        floor = surface * cv2.GaussianBlur(floor_f.astype(np.float32), (0, 0), 1.0)[..., None]
        out = out * (1 - ah[..., None]) + floor * ah[..., None]
        core = own & (np.abs(us) <= a_ax + 1) & (np.abs(vs) <= r0 + 1) & (np.abs(t) <= r0 + 1)
    else:
        # the old bead over the stretch, the new one where it differs, the fill
        if p.type == "missing":
            core = in_s & (t <= band_p + 0.5) & (t >= -band_m - 0.5)
        else:
            core = in_s & (np.abs(t) <= r0 + 0.5)
        for dd_s, rad, _, _ in fields:
            core |= in_s & (np.abs(dd_s) <= rad + 0.5)
        core = own & core

    # ---- fade in over the padding, then the camera's last steps ----------------------
    core8 = core.astype(np.uint8)
    rad_px = max(1, round(pad))
    kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad_px + 1, 2 * rad_px + 1))
    mask_c = cv2.dilate(core8, kern) > 0
    dist = cv2.distanceTransform((1 - core8).astype(np.uint8), cv2.DIST_L2, 3)
    lin = np.clip(1.0 - dist / max(pad, 1.0), 0.0, 1.0) * mask_c
    wgt = (lin * lin * (3 - 2 * lin)).astype(np.float32)  # no kink where the fade starts
    changed = np.abs(out - crop).max(-1) > 0.5
    comp = crop + (out - crop) * wgt[..., None]
    # resampling smoothed the sensor noise and moved the JPEG blocks: add noise where
    # the content is new and re-encode on the image's grid at its quality, so that the
    # inside of the mask measures like the outside
    sig_o = noise_sigma(crop, ~mask_c & own & (a0 < 0.05))  # the metal's grain, not bead edges
    lost = cv2.GaussianBlur(changed.astype(np.float32), (0, 0), 1.0) * wgt
    res = finish_patch(
        image, comp, wgt, np.clip(lost, 0, 1), (x0, y0, x1, y1), jpeg, sig_o, core & changed, rng
    )
    result = image.copy()
    result[y0:y1, x0:x1] = res
    mask = np.zeros((H, W), np.uint8)
    diff = np.abs(result[y0:y1, x0:x1].astype(np.int16) - image[y0:y1, x0:x1]).max(-1) > 0
    # a defect is an area: metal enclosed by it (inside a displaced or split bead's
    # loop, unchanged) belongs to it, as it would in a hand-drawn mask
    mask[y0:y1, x0:x1] = np.where(fill_holes(mask_c | diff), 255, 0).astype(np.uint8)
    return result, mask
