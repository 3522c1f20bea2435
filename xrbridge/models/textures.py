"""Procedural textures: stand-ins for natural images where ImageNet is out of reach.

EfficientAD's penalty term needs "images unlike the training images" (the paper
samples ImageNet); MemSeg-style anomaly synthesis needs Perlin noise. Both come
from here, generated on the fly from a seeded ``numpy.random.Generator``, so
nothing is downloaded and runs are reproducible.

Kinds (``KINDS``): fractal value noise ("perlin", several octaves of smoothly
interpolated random grids), stripes at a random angle and frequency,
checkerboards, random strokes and discs (OpenCV drawing), and blends of two of
these through a noise mask. Colours come from random palettes, sometimes grey.
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("perlin", "stripes", "checker", "shapes", "blend")


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, octaves: int = 5, persistence: float = 0.5
) -> np.ndarray:
    """Fractal (multi-octave) smooth noise, (height, width) float32 in [0, 1].

    Each octave is a random grid of 2**k + 1 cells per side resized with bicubic
    interpolation; amplitude falls by ``persistence`` per octave.
    """
    out = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    start = int(rng.integers(1, 4))
    for k in range(start, start + octaves):
        cells = 2**k + 1
        grid = rng.random((cells, cells), dtype=np.float32)
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _colourise(rng: np.random.Generator, gray: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) through a random two- or three-colour palette."""
    if rng.random() < 0.3:
        return np.repeat(gray[..., None], 3, axis=2)
    n = int(rng.integers(2, 4))
    stops = np.linspace(0.0, 1.0, n)
    colours = rng.random((n, 3), dtype=np.float32)
    chans = [np.interp(gray, stops, colours[:, c]) for c in range(3)]
    return np.stack(chans, axis=2).astype(np.float32)


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    freq = rng.uniform(2, 40) / max(h, w)
    phase = (np.cos(theta) * xx + np.sin(theta) * yy) * freq * 2 * np.pi
    wave = 0.5 + 0.5 * np.sin(phase)
    if rng.random() < 0.5:
        wave = (wave > 0.5).astype(np.float32)
    return wave


def _checker(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    cell = int(rng.integers(4, max(5, min(h, w) // 3)))
    yy, xx = np.mgrid[0:h, 0:w]
    return (((yy // cell) + (xx // cell)) % 2).astype(np.float32)


def _shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = np.full((h, w, 3), rng.random(3), np.float32)
    for _ in range(int(rng.integers(5, 40))):
        colour = tuple(float(c) for c in rng.random(3))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            x1, y1 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(img, (x0, y0), (x1, y1), colour, int(rng.integers(1, 8)), cv2.LINE_AA)
        else:
            radius = int(rng.integers(2, max(3, min(h, w) // 4)))
            cv2.circle(img, (x0, y0), radius, colour, -1, cv2.LINE_AA)
    return img


def random_texture(
    rng: np.random.Generator, height: int, width: int, kind: str | None = None
) -> np.ndarray:
    """One random texture image, (height, width, 3) float32 RGB in [0, 1].

    Args:
        rng: the random source (the texture is a pure function of its state).
        height, width: size in pixels.
        kind: one of ``KINDS``; random when None.

    Raises:
        ValueError: unknown ``kind``.
    """
    kind = kind or str(rng.choice(KINDS))
    if kind == "perlin":
        img = _colourise(rng, fractal_noise(rng, height, width, octaves=int(rng.integers(2, 7))))
    elif kind == "stripes":
        img = _colourise(rng, _stripes(rng, height, width))
    elif kind == "checker":
        img = _colourise(rng, _checker(rng, height, width))
    elif kind == "shapes":
        img = _shapes(rng, height, width)
    elif kind == "blend":
        a = random_texture(rng, height, width, str(rng.choice(KINDS[:4])))
        b = random_texture(rng, height, width, str(rng.choice(KINDS[:4])))
        m = (fractal_noise(rng, height, width, octaves=3) > 0.5).astype(np.float32)[..., None]
        img = a * m + b * (1 - m)
    else:
        raise ValueError(f"texture kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if rng.random() < 0.5:  # sensor-like grain, so that not every texture is perfectly smooth
        img = img + rng.normal(0.0, rng.uniform(0.01, 0.08), img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def texture_images(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """(n, 3, height, width) float32 textures normalised as model inputs, ``(rgb01 - 0.5) / 0.5``."""
    arr = np.stack([random_texture(rng, height, width) for _ in range(n)])
    return np.ascontiguousarray((arr.transpose(0, 3, 1, 2) - 0.5) / 0.5, dtype=np.float32)
