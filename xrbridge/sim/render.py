"""Compose frames: the cars' underbodies at sub-pixel offsets over the cell, then the camera.

A car's underbody (BGR + glossiness) is rendered once when it first enters
the frame and warped into every frame it appears in, blurred along the
motion by the speed of that frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from xrbridge.sim.camera import Camera
from xrbridge.sim.layout import Layout
from xrbridge.sim.sealant import DefectSpec, render_beads
from xrbridge.sim.texture import VARIANTS, render_metal, variant


@dataclass(frozen=True, slots=True)
class CarImage:
    """A rendered underbody: ``image`` (Wd, L, 4) uint8 BGR + gloss."""

    id: int
    variant: str
    image: np.ndarray


def render_car(
    layout: Layout, car_id: int, variant_name: str, defects: list[DefectSpec], seed: int
) -> CarImage:
    """Render one car's underbody with its defects (deterministic for seed and id)."""
    rng = np.random.default_rng([seed, 1000, car_id])
    color, gloss = render_metal(layout, variant(variant_name), rng)
    return CarImage(car_id, variant_name, render_beads(color, gloss, layout, defects, rng))


def render_reference(layout: Layout) -> np.ndarray:
    """The defect-free reference car under neutral light: (Wd, L, 3) uint8 BGR."""
    color, gloss = render_metal(layout, VARIANTS[0], np.random.default_rng(0), neutral=True)
    return render_beads(color, gloss, layout, [], None)[..., :3].copy()


def _paste(
    frame4: np.ndarray, img: np.ndarray, ox: float, oy: float, kernel: np.ndarray | None
) -> None:
    H, W = frame4.shape[:2]
    Wd, L = img.shape[:2]
    pad = 2 + (kernel.shape[1] // 2 if kernel is not None else 0)
    u_lo = max(0, math.floor(-ox) - pad)
    u_hi = min(L, math.ceil(W - ox) + pad)
    if u_hi <= u_lo:
        return
    src = img[:, u_lo:u_hi]
    if kernel is not None:
        src = cv2.filter2D(src, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    x0 = max(0, math.floor(ox + u_lo))
    x1 = min(W, math.ceil(ox + u_hi))
    y0 = max(0, math.floor(oy))
    y1 = min(H, math.ceil(oy + Wd))
    if x1 <= x0 or y1 <= y0:
        return
    m = np.array([[1, 0, ox + u_lo - x0], [0, 1, oy - y0]], np.float32)
    dst = np.ascontiguousarray(frame4[y0:y1, x0:x1])
    cv2.warpAffine(
        src,
        m,
        (x1 - x0, y1 - y0),
        dst=dst,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    frame4[y0:y1, x0:x1] = dst


def compose(
    camera: Camera,
    cars: list[tuple[CarImage, float, float]],
    speed: float,
    t: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One frame: ``cars`` as (image, offset x, offset y); returns (H, W, 3) uint8 BGR."""
    frame4 = camera.background.copy()
    kernel = camera.blur_kernel(speed)
    for car, ox, oy in cars:
        _paste(frame4, car.image, ox, oy, kernel)
    for car, ox, oy in cars:
        Wd, L = car.image.shape[:2]
        camera.draw_hangers(frame4, ox, oy, L, Wd)
    camera.draw_cables(frame4)
    return camera.finish(frame4, t, rng)
