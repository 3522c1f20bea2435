"""Painted metal underbody: panels, rails, ribs, stamped holes, welds, car variants.

The structures come from the fixed :class:`~xrbridge.sim.layout.Layout`; a car
variant changes the paint and adds parts outside the view rectangles, and each
car adds its own mottling, grain and dirt, so one template per view matches
every car while no two cars look alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.sim.layout import Feature, Layout

#: Direction the workshop light comes from in the underbody image (x=u, y=v, z up to the camera).
LIGHT = np.array([-0.45, -0.55, 0.70], dtype=np.float32) / np.linalg.norm([-0.45, -0.55, 0.70])


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    paint_bgr: tuple[float, float, float]
    extras: tuple[Feature, ...]  # at scale 1, outside every view rectangle


VARIANTS: tuple[Variant, ...] = (
    Variant("sedan", (122.0, 124.0, 127.0), ()),
    Variant(
        "estate",
        (117.0, 121.0, 110.0),
        (
            Feature("hole", (300, 8, 5, 4, 0)),
            Feature("hole", (900, 432, 5, 4, 0)),
            Feature("hole", (1300, 8, 5, 4, 0)),
        ),
    ),
    Variant(
        "suv",
        (104.0, 114.0, 124.0),
        (
            Feature("plug", (1625, 120, 9)),
            Feature("plug", (1625, 320, 9)),
            Feature("rail", (1612, 200, 1640, 200, 30)),
        ),
    ),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)


def variant(name: str) -> Variant:
    for v in VARIANTS:
        if v.name == name:
            return v
    raise KeyError(name)


def _scaled(feat: Feature, s: float) -> Feature:
    if feat.kind == "hole":
        cx, cy, a, b, ang = feat.params
        return Feature("hole", (cx * s, cy * s, a * s, b * s, ang))
    return Feature(feat.kind, tuple(p * s for p in feat.params))


def shade(height: np.ndarray, strength: float) -> np.ndarray:
    """Lambert-like relative shading of a height map: (H, W) float32 around 1."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) * (strength / 8.0)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) * (strength / 8.0)
    inv = 1.0 / np.sqrt(1.0 + gx * gx + gy * gy)
    ndotl = (-gx * LIGHT[0] - gy * LIGHT[1] + LIGHT[2]) * inv
    return (ndotl / LIGHT[2]).astype(np.float32)


def _draw(
    feat: Feature,
    s: float,
    relief: np.ndarray,
    albedo: np.ndarray,
    gloss: np.ndarray,
    rng: np.random.Generator,
) -> None:
    p = feat.params
    sh = 4  # fixed-point bits for sub-pixel drawing
    f = float(1 << sh)

    def pt(x: float, y: float) -> tuple[int, int]:
        return (round(x * f), round(y * f))

    if feat.kind == "rail":
        x0, y0, x1, y1, w = p
        sig = max(1.0, w / 5)
        m = w + 3 * sig + 2
        bx0, by0 = max(0, int(min(x0, x1) - m)), max(0, int(min(y0, y1) - m))
        bx1 = min(relief.shape[1], int(max(x0, x1) + m))
        by1 = min(relief.shape[0], int(max(y0, y1) + m))
        band = np.zeros((by1 - by0, bx1 - bx0), np.float32)
        cv2.line(
            band,
            pt(x0 - bx0, y0 - by0),
            pt(x1 - bx0, y1 - by0),
            1.0,
            max(1, round(w)),
            cv2.LINE_AA,
            sh,
        )
        relief[by0:by1, bx0:bx1] += cv2.GaussianBlur(band, (0, 0), sig)
        cv2.line(gloss, pt(x0, y0), pt(x1, y1), 0.4, max(1, round(w * 0.3)), cv2.LINE_AA, sh)
    elif feat.kind == "edge":
        x0, y0, x1, y1 = p
        cv2.line(relief, pt(x0, y0), pt(x1, y1), 0.9, max(1, round(4 * s)), cv2.LINE_AA, sh)
    elif feat.kind == "ribs":
        x0, y0, x1, y1, n, horiz = p
        band = np.zeros_like(relief)
        for i in range(int(n)):
            a = (i + 0.5) / n
            if horiz:
                y = y0 + a * (y1 - y0)
                cv2.line(band, pt(x0, y), pt(x1, y), 1.0, max(1, round(5 * s)), cv2.LINE_AA, sh)
            else:
                x = x0 + a * (x1 - x0)
                cv2.line(band, pt(x, y0), pt(x, y1), 1.0, max(1, round(5 * s)), cv2.LINE_AA, sh)
        relief += cv2.GaussianBlur(band, (0, 0), 1.6 * s + 0.3) * 0.8
    elif feat.kind == "hole":
        cx, cy, a, b, ang = p
        axes = (max(1, round(a * f)), max(1, round(b * f)))
        cv2.ellipse(
            relief,
            pt(cx, cy),
            (axes[0] + int(3 * s * f), axes[1] + int(3 * s * f)),
            ang,
            0,
            360,
            0.5,
            -1,
            cv2.LINE_AA,
            sh,
        )
        cv2.ellipse(albedo, pt(cx, cy), axes, ang, 0, 360, 0.12, -1, cv2.LINE_AA, sh)
        cv2.ellipse(relief, pt(cx, cy), axes, ang, 0, 360, -0.4, -1, cv2.LINE_AA, sh)
    elif feat.kind == "opening":
        cx, cy, a, b = p
        cv2.ellipse(
            relief,
            pt(cx, cy),
            (round((a + 8 * s) * f), round((b + 8 * s) * f)),
            0,
            0,
            360,
            0.7,
            -1,
            cv2.LINE_AA,
            sh,
        )
        cv2.ellipse(
            albedo, pt(cx, cy), (round(a * f), round(b * f)), 0, 0, 360, 0.22, -1, cv2.LINE_AA, sh
        )
        cv2.ellipse(
            relief, pt(cx, cy), (round(a * f), round(b * f)), 0, 0, 360, -0.6, -1, cv2.LINE_AA, sh
        )
        inner = (round(a * 0.6 * f), round(b * 0.6 * f))
        cv2.ellipse(albedo, pt(cx + 6 * s, cy + 6 * s), inner, 0, 0, 360, 0.1, -1, cv2.LINE_AA, sh)
    elif feat.kind == "plug":
        cx, cy, r = p
        cv2.circle(relief, pt(cx, cy), round(r * f), 0.9, -1, cv2.LINE_AA, sh)
        cv2.circle(albedo, pt(cx, cy), round(r * f), 0.3, -1, cv2.LINE_AA, sh)
        cv2.circle(gloss, pt(cx, cy), round(r * f), 0.1, -1, cv2.LINE_AA, sh)
    elif feat.kind == "welds":
        x0, y0, x1, y1, spacing = p
        n = max(2, int(np.hypot(x1 - x0, y1 - y0) / spacing))
        for i in range(n + 1):
            x = x0 + (x1 - x0) * i / n + rng.normal(0, 0.4 * s)
            y = y0 + (y1 - y0) * i / n + rng.normal(0, 0.4 * s)
            cv2.circle(relief, pt(x, y), round(3.2 * s * f), -0.35, -1, cv2.LINE_AA, sh)
            cv2.circle(albedo, pt(x, y), round(2.0 * s * f), 0.72, -1, cv2.LINE_AA, sh)
    elif feat.kind == "panel":
        pass  # panels are drawn by shade, see render_metal


@functools.lru_cache(maxsize=8)
def _base(
    scale: float, variant_name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[tuple[int, int, int, int], ...]]:
    """Deterministic structure of a variant: (albedo, shading, gloss, panel rects).

    The welds are placed with a fixed generator: robots weld the same spots on
    every car. Cached, read-only arrays.
    """
    from xrbridge.sim.layout import build_layout

    layout = build_layout(scale)
    L, W = layout.size
    s = layout.scale
    relief = np.zeros((W, L), np.float32)
    albedo = np.ones((W, L), np.float32)
    gloss = np.full((W, L), 0.3, np.float32)
    panels: list[tuple[int, int, int, int]] = []
    wrng = np.random.default_rng(0)
    var = variant(variant_name)
    for feat in list(layout.features) + [_scaled(e, s) for e in var.extras]:
        if feat.kind == "panel":
            x0, y0, x1, y1 = (round(v) for v in feat.params)
            albedo[y0:y1, x0:x1] *= PANEL_TONES[len(panels) % len(PANEL_TONES)]
            # the panel's stamped border: a shallow step the light picks up
            cv2.rectangle(relief, (x0, y0), (x1 - 1, y1 - 1), 0.25, max(1, round(2 * s)))
            panels.append((x0, y0, x1, y1))
        else:
            _draw(feat, s, relief, albedo, gloss, wrng)
    relief_s: np.ndarray = cv2.GaussianBlur(relief, (0, 0), 0.8)
    sh = shade(relief_s, 6.0)
    for a in (albedo, sh, gloss):
        a.setflags(write=False)
    return albedo, sh, gloss, tuple(panels)


PANEL_TONES = (1.0, 0.95, 1.04, 0.98, 1.03, 0.96, 0.99, 1.05, 0.9, 1.02, 0.97)


def render_metal(
    layout: Layout, var: Variant, rng: np.random.Generator, neutral: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Render the bare painted underbody (no sealant).

    Returns ``(color, gloss)``: (Wd, L, 3) float32 BGR in 0..255 and (Wd, L)
    float32 glossiness in 0..1. ``neutral`` skips per-car randomness (the
    template reference car); otherwise ``rng`` adds the car's own paint tone,
    panel tones, mottling, stains and grain.
    """
    L, W = layout.size
    s = layout.scale
    albedo0, sh, gloss0, panels = _base(layout.scale, var.name)
    albedo = albedo0 * sh
    paint = np.asarray(var.paint_bgr, np.float32)
    if not neutral:
        for x0, y0, x1, y1 in panels:
            albedo[y0:y1, x0:x1] *= 1.0 + rng.normal(0, 0.012)
        gy, gx = max(2, W // 36), max(2, L // 36)
        mottle = cv2.resize(
            rng.normal(0, 1, (gy, gx)).astype(np.float32), (L, W), interpolation=cv2.INTER_CUBIC
        )
        albedo *= 1.0 + 0.035 * mottle
        for _ in range(int(rng.integers(3, 9))):  # dirt and overspray stains
            c = (int(rng.integers(0, L)), int(rng.integers(0, W)))
            ax = (int(rng.integers(4, 30) * s) + 1, int(rng.integers(3, 16) * s) + 1)
            r = int(max(ax) + 10)
            x0, y0, x1, y1 = max(0, c[0] - r), max(0, c[1] - r), min(L, c[0] + r), min(W, c[1] + r)
            stain = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.ellipse(
                stain, (c[0] - x0, c[1] - y0), ax, float(rng.uniform(0, 180)), 0, 360, 1.0, -1
            )
            albedo[y0:y1, x0:x1] *= 1.0 - float(rng.uniform(0.04, 0.12)) * cv2.GaussianBlur(
                stain, (0, 0), 3.0
            )
        paint = paint * (1.0 + rng.normal(0, 0.02, 3).astype(np.float32))
    color = albedo[..., None] * paint[None, None, :]
    if not neutral:
        color += rng.normal(0, 2.2, (W, L, 1)).astype(np.float32)  # paint grain
    return color, gloss0.copy()
