"""The camera's last steps, measured on the image and re-applied to a drawn patch.

A photograph's pixels went through optics (blur), the sensor (noise) and,
very often, a JPEG encoder (8x8 block quantisation). A defect drawn by
resampling such pixels has none of the three at the right strength: the
resampling smooths the noise, and the block artifacts it carries sit on a
shifted grid. After compositing, ``finish_patch`` adds sensor-like noise
and runs the patch through a JPEG round trip on the image's own block grid
at the image's own quality, so the inside of the mask has the fine-scale
statistics of the outside.

Both are estimated from the image alone (no knowledge of how it was made):

- block grid: the 8-px phase (x, y) at which luma steps are strongest;
- quality: the "JPEG ghost" (Farid 2009): re-encoding a decoded JPEG at its
  own quality on its own grid changes it far less than at a neighbouring
  quality, so the error curve over the quality has a dip there. No dip, no
  JPEG: the round trip is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.synth.blend import noise_sigma

QUALITIES = tuple(range(30, 98))


@dataclass(frozen=True, slots=True)
class JpegFit:
    """The image's JPEG step: ``quality`` (libjpeg scale), block grid origin
    ``phase`` (x, y) in 0..15 (the 16-px chroma MCU), ``dip``: how much
    smaller the re-encoding error is at ``quality`` than around it (> 1)."""

    quality: int
    phase: tuple[int, int]
    dip: float


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.float32)
    return cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.float32)


def _dct8() -> np.ndarray:
    k = np.arange(8)
    m = np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    m[0] /= np.sqrt(2)
    return m


def block_phases(image: np.ndarray, keep: int = 2, size: int = 128) -> list[tuple[int, int]]:
    """The ``keep`` likeliest 8-px block grid origins (x, y) of ``image``
    ((H, W[, 3]) uint8), best first. On its own grid a decoded JPEG's 8x8 DCT
    coefficients sit near multiples of the quantisation steps, most high
    frequencies at zero; on any other grid they spread. Score: the share of
    high-frequency coefficients within 0.5 of zero (scene edges cannot fake it
    the way they fake a row of strong steps)."""
    g = _luma(image) - 128.0
    H, W = g.shape
    y0, x0 = max(0, (H - size) // 2 - 8), max(0, (W - size) // 2 - 8)
    g = g[y0 : y0 + size + 8, x0 : x0 + size + 8]
    d = _dct8()
    u, v = np.mgrid[0:8, 0:8]
    high = (u + v) >= 5
    scores = []
    for py in range(8):
        for px in range(8):
            c = g[py:, px:]
            h8, w8 = (c.shape[0] // 8) * 8, (c.shape[1] // 8) * 8
            if h8 < 8 or w8 < 8:
                continue
            blocks = c[:h8, :w8].reshape(h8 // 8, 8, w8 // 8, 8).transpose(0, 2, 1, 3)
            coef = d @ blocks @ d.T
            sc = float((np.abs(coef[..., high]) < 0.5).mean())
            scores.append((sc, ((px + x0) % 8, (py + y0) % 8)))
    scores.sort(reverse=True)
    return [ph for _, ph in scores[:keep]]


def _roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return image.copy()
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return dec if dec is not None else image.copy()


def _aligned(image: np.ndarray, phase: tuple[int, int], size: int) -> np.ndarray:
    """A central crop of at most ``size`` px starting on the grid ``phase``."""
    H, W = image.shape[:2]
    px, py = phase
    x0 = px + max(0, ((W - px - size) // 2) // 16 * 16)
    y0 = py + max(0, ((H - py - size) // 2) // 16 * 16)
    return image[y0 : y0 + size, x0 : x0 + size]


def estimate_jpeg(image: np.ndarray, size: int = 128, min_dip: float = 1.6) -> JpegFit | None:
    """Estimate the JPEG quality and block grid of ``image`` ((H, W, 3) uint8).

    Returns None when the image shows no JPEG step (no error dip of at least
    ``min_dip`` over the neighbouring qualities) or is smaller than 32 px.
    """
    H, W = image.shape[:2]
    if min(H, W) < 32:
        return None
    phases = block_phases(image, keep=1)

    def curve(ph: tuple[int, int], qs: list[int]) -> np.ndarray:
        crop = _aligned(image, ph, size).astype(np.int16)
        return np.array(
            [
                float(np.abs(_roundtrip(crop.astype(np.uint8), q).astype(np.int16) - crop).mean())
                for q in qs
            ]
        )

    def dips(err: np.ndarray) -> np.ndarray:
        # the error at q against the smallest 2..4 qualities away
        out = np.zeros(len(err))
        for i in range(4, len(err) - 4):
            nb = np.concatenate([err[i - 4 : i - 1], err[i + 2 : i + 5]])
            out[i] = float(nb.min() / max(err[i], 1e-3))
        return out

    # chroma is subsampled 2x2, so the grid that matters is the 16-px MCU: of the
    # four 16-px origins on the 8-px phase, the true one gives by far the deepest dip
    qs = list(QUALITIES)
    px, py = phases[0]
    best_q, best_dip, best_ph = -1, 0.0, phases[0]
    for ph in [(px + ox, py + oy) for ox in (0, 8) for oy in (0, 8)]:
        d = dips(curve(ph, qs))
        i = int(np.argmax(d))
        if d[i] > best_dip:
            best_q, best_dip, best_ph = qs[i], float(d[i]), ph
    if best_dip < min_dip:
        return None
    return JpegFit(best_q, best_ph, round(best_dip, 3))


def finish_patch(
    image: np.ndarray,
    composite: np.ndarray,
    weight: np.ndarray,
    noise_weight: np.ndarray,
    box: tuple[int, int, int, int],
    fit: JpegFit | None,
    target_noise: float,
    measure: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Noise and JPEG round trip of a drawn patch, as the camera would have applied them.

    image: (H, W, 3) uint8 original. composite: (h, w, 3) float32 drawn patch at
    ``box`` = (x0, y0, x1, y1) of ``image``. weight: (h, w) float32 in [0, 1], how
    much of the patch is new (0 = original pixel, left untouched; the round trip
    covers every other pixel). noise_weight: (h, w) float32 in [0, 1], where the
    drawing lost the image's noise (resampled or new content). target_noise:
    the image's fine-scale noise (``noise_sigma`` of its metal). measure: (h, w) bool,
    where the new content's noise is measured. Returns the finished patch (h, w, 3)
    uint8, equal to ``image`` wherever ``weight`` is 0.
    """
    x0, y0, x1, y1 = box
    orig = image[y0:y1, x0:x1]
    live = weight > 0
    if not live.any():
        return orig.copy()
    white = rng.normal(0.0, 1.0, composite.shape).astype(np.float32)

    if fit is None:

        def develop(sig: float) -> np.ndarray:
            return np.clip(np.rint(composite + sig * white * weight[..., None]), 0, 255)
    else:
        # the block-aligned window around the patch, in the full image's grid
        px, py = fit.phase
        H, W = image.shape[:2]
        # (one MCU of margin: chroma upsampling reads the neighbours; a patch closer
        # to the image's top/left border than the grid origin starts a partial grid)
        ax, ay = x0 - (x0 - px) % 16, y0 - (y0 - py) % 16
        bx0 = ax - 16 if ax >= 16 else max(ax, 0)
        by0 = ay - 16 if ay >= 16 else max(ay, 0)
        bx1, by1 = min(W, x1 + 16), min(H, y1 + 16)
        base = image[by0:by1, bx0:bx1].astype(np.float32)
        sl = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))

        def develop(sig: float) -> np.ndarray:
            win = base.copy()
            win[sl] = composite + sig * white
            dec = _roundtrip(np.clip(np.rint(win), 0, 255).astype(np.uint8), fit.quality)
            return dec[sl].astype(np.float32)

    # sensor noise sits under the compression: find the level whose developed
    # result measures like the image (noise adds in variance, so two trials fit it)
    where = measure & live
    s0 = noise_sigma(develop(0.0), where) if where.sum() >= 16 else target_noise
    sig = 0.0
    if target_noise > s0 + 0.05:
        trial = max(1.0, 1.5 * target_noise)
        s1 = noise_sigma(develop(trial), where)
        gain = max((s1 * s1 - s0 * s0) / (trial * trial), 0.05)
        sig = float(min(np.sqrt((target_noise**2 - s0 * s0) / gain), 4.0 * target_noise))
    out = develop(sig)
    return np.where(live[..., None], np.clip(out, 0, 255), orig).astype(np.uint8)
