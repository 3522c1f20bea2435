"""Find the sealant without a paths file: from the ROI mask, or by bead detection.

A bead is an elongated structure of roughly constant width that is brighter
(or darker) than the metal around it. Detection is classical image
processing, no trained network:

1. morphological top-hat (bright) and black-hat (dark) with a disc a little
   wider than the widest expected bead: keeps structures narrower than the
   disc, removes panels, gradients and wide shadows;
2. Otsu threshold of the response, a small opening and closing;
3. per connected component: skeleton (Zhang-Suen thinning) and distance
   transform give its length and width profile; keep components that are
   long (length >= ``min_elongation`` x width) and of roughly constant width
   (coefficient of variation of the width along the skeleton <= ``max_width_cv``);
4. the skeleton is cut at junctions into simple branches, each a
   :class:`~xrbridge.synth.tracks.Track` with the component's median width.

Both polarities are tried; the one with the larger accepted skeleton length x
contrast wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from xrbridge.synth.tracks import Sampled, Track, cross_profiles, sample

_N8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """Bead detection settings.

    ``max_width``: widest bead expected (px); the top-hat disc is 1.8x that.
    Raising it also keeps wider non-bead structures. ``min_width``: narrower
    components are noise or scratches. ``min_elongation``: length / width a
    component needs to count as a bead; lowering it admits blobs (welds,
    plugs). ``max_width_cv``: how much the width may vary along the bead.
    """

    max_width: float = 24.0
    min_width: float = 3.0
    min_elongation: float = 5.0
    max_width_cv: float = 0.45


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary (H, W) mask; returns a bool skeleton."""
    img = np.pad(mask > 0, 1).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [
                np.roll(np.roll(p, -dy, 0), -dx, 1)
                for dy, dx in ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
            ]
            b = sum(x.astype(np.int16) for x in n)
            seq = [*n, n[0]]
            a = sum(((seq[i] == 0) & (seq[i + 1] == 1)).astype(np.int16) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c1, c2 = p2 * p4 * p6, p4 * p6 * p8
            else:
                c1, c2 = p2 * p4 * p8, p2 * p6 * p8
            kill = (p == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if kill.any():
                img = img.copy()
                img[kill] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def branches(skel: np.ndarray, min_len: int) -> list[tuple[np.ndarray, bool]]:
    """Cut a skeleton at junctions into ordered pixel chains.

    Returns ``[(points (N, 2) float64 x, y, closed), ...]`` for chains of at
    least ``min_len`` pixels.
    """
    sk = skel.astype(np.uint8)
    k = np.ones((3, 3), np.float32)
    k[1, 1] = 0
    deg = cv2.filter2D(sk, cv2.CV_16S, k, borderType=cv2.BORDER_CONSTANT)
    simple = sk.copy()
    simple[(deg >= 3) & (sk > 0)] = 0
    n, lab = cv2.connectedComponents(simple, connectivity=8)
    out: list[tuple[np.ndarray, bool]] = []
    for c in range(1, n):
        ys, xs = np.nonzero(lab == c)
        if len(xs) < min_len:
            continue
        pix = set(zip(ys.tolist(), xs.tolist(), strict=True))
        nb = {
            q: [(q[0] + dy, q[1] + dx) for dy, dx in _N8 if (q[0] + dy, q[1] + dx) in pix]
            for q in pix
        }
        ends = [q for q, v in nb.items() if len(v) <= 1]
        closed = not ends
        start = min(ends) if ends else min(pix)
        chain, seen, cur = [start], {start}, start
        while True:
            nxt = [q for q in nb[cur] if q not in seen]
            if not nxt:
                break
            # prefer 4-neighbours so the chain does not skip corners
            nxt.sort(key=lambda q: abs(q[0] - cur[0]) + abs(q[1] - cur[1]))
            cur = nxt[0]
            seen.add(cur)
            chain.append(cur)
        if len(chain) < min_len:
            continue
        pts = np.asarray([(x, y) for y, x in chain], np.float64)
        out.append((pts, closed and len(chain) > 0.8 * len(pix)))
    return out


def _smooth(pts: np.ndarray, closed: bool, win: int = 7) -> np.ndarray:
    if len(pts) < win:
        return pts
    k = np.ones(win) / win
    mode: Literal["wrap", "edge"] = "wrap" if closed else "edge"
    h = win // 2
    sm = np.stack([np.convolve(np.pad(pts[:, i], h, mode=mode), k, "valid") for i in range(2)], 1)
    if not closed:
        sm[0], sm[-1] = pts[0], pts[-1]
    return sm


def _simplify(pts: np.ndarray, closed: bool) -> np.ndarray:
    approx = cv2.approxPolyDP(pts.astype(np.float32).reshape(-1, 1, 2), 0.6, closed)
    out = approx.reshape(-1, 2).astype(np.float64)
    if closed:
        out = np.vstack([out, out[:1]])
    return out


def bead_response(gray: np.ndarray, cfg: DetectConfig) -> tuple[np.ndarray, np.ndarray]:
    """Top-hat (bright beads) and black-hat (dark beads) responses: (H, W) float32 each."""
    g = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
    k = round(1.8 * cfg.max_width) | 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return (
        cv2.morphologyEx(g, cv2.MORPH_TOPHAT, disc),
        cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, disc),
    )


def _segment(
    resp: np.ndarray,
    roi: np.ndarray | None,
    cfg: DetectConfig,
) -> tuple[np.ndarray, list[tuple[np.ndarray, float, bool]], float]:
    """Threshold one response; returns (bead mask, [(points, width, closed)], total length)."""
    area = resp if roi is None else resp[roi > 0]
    if area.size == 0 or float(area.max()) <= 1e-6:
        return np.zeros(resp.shape, np.uint8), [], 0.0
    r8 = np.clip(resp / float(np.percentile(area, 99.5) + 1e-6) * 255, 0, 255).astype(np.uint8)
    vals = r8 if roi is None else r8[roi > 0]
    thr, _ = cv2.threshold(vals.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    m: np.ndarray = (r8 > thr).astype(np.uint8)
    if roi is not None:
        m &= (roi > 0).astype(np.uint8)
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    m = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, k3), cv2.MORPH_CLOSE, k3)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros_like(m)
    found: list[tuple[np.ndarray, float, bool]] = []
    total = 0.0
    for c in range(1, n):
        if stats[c, cv2.CC_STAT_AREA] < 4 * cfg.min_width**2:
            continue
        x, y, w, h = (int(v) for v in stats[c, :4])
        comp = (lab[y : y + h, x : x + w] == c).astype(np.uint8)
        comp_p = np.pad(comp, 1)
        dist = cv2.distanceTransform(comp_p, cv2.DIST_L2, 5)[1:-1, 1:-1]
        sk = thin(comp)
        widths = 2.0 * dist[sk]
        if len(widths) < 3:
            continue
        width = float(np.median(widths))
        cv = float(np.std(widths) / max(np.mean(widths), 1e-6))
        if width < cfg.min_width or width > cfg.max_width or cv > cfg.max_width_cv:
            continue
        if sk.sum() < cfg.min_elongation * width:
            continue
        ys, xs = np.nonzero(sk)
        H, W = resp.shape
        edge = np.minimum.reduce([xs + x, ys + y, W - 1 - xs - x, H - 1 - ys - y]) < 4
        if edge.mean() > 0.5:  # a frame border or crop edge, not a bead
            continue
        keep[y : y + h, x : x + w][comp > 0] = 255
        for pts, closed in branches(sk, max(3, int(cfg.min_elongation * width / 2))):
            pts = pts + np.array([x, y], np.float64)
            found.append((pts, width, closed))
            # longer and higher-contrast structures make a polarity more bead-like
            total += len(pts) * float(np.median(resp[pts[:, 1].astype(int), pts[:, 0].astype(int)]))
    return keep, found, total


def detect_tracks(
    image: np.ndarray, roi: np.ndarray | None = None, cfg: DetectConfig | None = None
) -> tuple[list[Track], np.ndarray]:
    """Detect sealant beads in ``image`` ((H, W, 3) BGR or (H, W) uint8).

    ``roi``: optional (H, W) mask; detection only inside it. Returns
    ``(tracks, bead_mask)``: tracks named ``track_01``, ... and the (H, W)
    uint8 footprint of the accepted components (255 = bead). Empty when
    nothing bead-like is found.
    """
    cfg = cfg or DetectConfig()
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    best: tuple[np.ndarray, list[tuple[np.ndarray, float, bool]], float] | None = None
    for resp in bead_response(gray, cfg):
        cand = _segment(resp, roi, cfg)
        if best is None or cand[2] > best[2]:
            best = cand
    assert best is not None
    mask, found, _ = best
    tracks = []
    for i, (pts, width, closed) in enumerate(sorted(found, key=lambda f: -len(f[0]))):
        tracks.append(
            Track(f"track_{i + 1:02d}", _simplify(_smooth(pts, closed), closed), width, closed)
        )
    return tracks, mask


def tracks_from_roi(
    image: np.ndarray, roi: np.ndarray, cfg: DetectConfig | None = None
) -> list[Track]:
    """Bead centre lines from the ROI mask's skeleton, widths measured in the image.

    The ROI (255 = analysed) is the bead plus a margin, so its skeleton is the
    bead's centre line. The width: full width at half contrast of the cross
    profiles (:func:`profile_width`); where that finds nothing, half the ROI's
    width. Returns [] when the ROI is empty.
    """
    cfg = cfg or DetectConfig()
    r = (roi > 127).astype(np.uint8)
    if not r.any():
        return []
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    g = gray.astype(np.float32)
    sk = thin(r)
    roi_dist = cv2.distanceTransform(r, cv2.DIST_L2, 5)
    tracks: list[Any] = []
    for pts, closed in branches(sk, 8):
        ij = pts.astype(int)
        roi_w = 2.0 * float(np.median(roi_dist[ij[:, 1], ij[:, 0]]))
        line = Track("tmp", _simplify(_smooth(pts, closed), closed), max(roi_w, 1.0), closed)
        width = profile_width(g, sample(line), roi_w / 2)
        width = float(np.clip(width if width > 0 else 0.5 * roi_w, cfg.min_width, roi_w))
        if len(pts) < 3 * width:
            continue
        tracks.append(Track(f"roi_{len(tracks) + 1:02d}", line.points, width, closed))
    return tracks


def profile_width(gray: np.ndarray, line: Sampled, half: float) -> float:
    """Median bead width along ``line`` in ``gray`` ((H, W) float32), 0 if none.

    Across each sample, within +-``half`` px: the contrast against the
    profile's ends, and the width of the run around the centre where it stays
    above half its peak (full width at half maximum).
    """
    ts = np.linspace(-half, half, max(5, int(4 * half) + 1))
    step = ts[1] - ts[0]
    prof = cross_profiles(gray, line.p, line.n, ts)
    ends = np.concatenate([prof[:, :2], prof[:, -2:]], axis=1)
    c = np.abs(prof - np.median(ends, axis=1, keepdims=True))
    mid = len(ts) // 2
    peak = c[:, max(0, mid - 2) : mid + 3].max(1, keepdims=True)
    above = c >= 0.5 * np.maximum(peak, 1e-6)
    widths = []
    for row, pk in zip(above, peak[:, 0], strict=True):
        if pk < 8.0 or not row[mid]:
            continue
        lo = mid
        while lo > 0 and row[lo - 1]:
            lo -= 1
        hi = mid
        while hi < len(row) - 1 and row[hi + 1]:
            hi += 1
        widths.append((hi - lo + 1) * step)
    return float(np.median(widths)) if len(widths) >= 3 else 0.0
