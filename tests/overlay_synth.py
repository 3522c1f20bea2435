"""A conveyor scene WITH injected defects, and a template-difference model, for the overlay tests.

Built on the track helper's synthetic underbody (tests/track_synth.py): each
car is the reference underbody with some defects painted on (a grey patch:
sealant or structure missing, or a bright blob: extra sealant). A car moves
right to left at a constant speed; frames are dropped at random. The truth
per defect is its polygon in underbody px.

The model is a real (if simple) anomaly detector: the absolute difference
between the crop and the view's defect-free template, blurred, mapped to
normalised scores with 0.5 at ``thr`` grey levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from track_synth import UB_SIZE, VIEWS_LAYOUT, make_underbody, templates_for

from xrbridge.core.matching import ViewTemplate, templates_from_arrays
from xrbridge.core.types import Frame


@dataclass(frozen=True)
class SynthDefect:
    car: int
    defect_id: int
    view: str
    polygon_ub: np.ndarray  # (N, 2) underbody px


@dataclass(frozen=True)
class DefectScene:
    frames: list[Frame]
    templates: list[ViewTemplate]
    defects: list[SynthDefect]
    truth_x: list[dict[int, float]]  # per frame: car -> origin x


def _paint(ub: np.ndarray, rng: np.random.Generator, car: int, n: int) -> list[SynthDefect]:
    out: list[SynthDefect] = []
    views = list(VIEWS_LAYOUT)
    for k in range(n):
        view = views[(car + k) % len(views)]
        u0, v0, w, h = VIEWS_LAYOUT[view]
        for _ in range(100):  # keep defects apart and inside the view
            cu = u0 + rng.uniform(25, w - 25)
            cv = v0 + rng.uniform(25, h - 25)
            if all(np.hypot(*(d.polygon_ub.mean(0) - (cu, cv))) > 40 for d in out):
                break
        rw, rh = rng.uniform(7, 14), rng.uniform(6, 11)
        ang = rng.uniform(0, np.pi)
        box = cv2.boxPoints(((cu, cv), (2 * rw, 2 * rh), np.degrees(ang)))
        colour = (40, 40, 45) if k % 2 == 0 else (235, 240, 245)
        cv2.fillPoly(ub, [np.round(box * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
        out.append(SynthDefect(car, k + 1, view, box.astype(np.float64)))
    return out


def render_defect_scene(
    cars: int = 2,
    defects_per_car: int = 3,
    size: tuple[int, int] = (640, 240),
    speed: float = 300.0,
    fps: float = 30.0,
    spacing_s: float = 2.6,
    drop: float = 0.2,
    seed: int = 1,
) -> DefectScene:
    rng = np.random.default_rng(seed)
    ref = make_underbody(seed)
    images, meta = templates_for(ref)
    bodies, defects = [], []
    for c in range(cars):
        ub = ref.copy()
        defects += _paint(ub, rng, c, defects_per_car)
        bodies.append(ub)
    fw, fh = size
    y0 = (fh - UB_SIZE[1]) / 2
    t_end = (cars - 1) * spacing_s + (fw + UB_SIZE[0]) / speed
    bg = cv2.cvtColor(np.full((fh, fw), 60, np.uint8), cv2.COLOR_GRAY2BGR)
    frames, truth = [], []
    full = np.full(ref.shape[:2], 255, np.uint8)
    noise = [rng.normal(0, 1.5, (fh, fw, 3)).astype(np.float32) for _ in range(4)]
    for i in range(int(t_end * fps)):
        t = i / fps
        if i > 0 and rng.random() < drop:
            continue
        frame = bg.copy()
        tx = {}
        for c in range(cars):
            x = fw - speed * (t - c * spacing_s)
            if x > fw or x + UB_SIZE[0] < 0:
                continue
            m = np.array([[1, 0, x], [0, 1, y0]], np.float32)
            mask = cv2.warpAffine(full, m, size, flags=cv2.INTER_NEAREST)
            warped = cv2.warpAffine(bodies[c], m, size, flags=cv2.INTER_LINEAR)
            cv2.copyTo(warped, mask, frame)
            tx[c] = x
        frame = cv2.add(frame, noise[i % 4], dtype=cv2.CV_8U)
        frames.append(Frame("synth", i, t, frame))
        truth.append(tx)
    return DefectScene(frames, templates_from_arrays(images, meta), defects, truth)


class TemplateDiffModel:
    """crop -> (map, score): |crop - template| (gray, blurred), 0.5 at ``thr`` grey levels."""

    def __init__(
        self, templates: list[ViewTemplate], thr: float = 30.0, span: float = 120.0
    ) -> None:
        self.ref = {
            t.view: cv2.cvtColor(t.image, cv2.COLOR_BGR2GRAY).astype(np.float32) for t in templates
        }
        self.thr, self.span = thr, span
        self.views = [t.view for t in templates]
        self.sizes = {t.view: (t.height, t.width) for t in templates}

    def for_view(self, view: str):
        ref = self.ref[view]

        def run(crop: np.ndarray) -> tuple[np.ndarray, float]:
            g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
            d = cv2.GaussianBlur(np.abs(g - ref), (5, 5), 1.2)
            m = np.clip((d - self.thr) / self.span + 0.5, 0.0, 1.0)
            return m.astype(np.float32), float(m.max())

        return run

    def models(self) -> dict:
        return {v: self.for_view(v) for v in self.views}


def polygon_iou(a: np.ndarray, b: np.ndarray, size: tuple[int, int] = (600, 200)) -> float:
    """IoU of two polygons (N, 2) in underbody px, rasterised at 1/4 px."""
    w, h = size
    s = 4
    ma = np.zeros((h * s, w * s), np.uint8)
    mb = np.zeros_like(ma)
    cv2.fillPoly(ma, [np.round(np.asarray(a) * s).astype(np.int32)], 1)
    cv2.fillPoly(mb, [np.round(np.asarray(b) * s).astype(np.int32)], 1)
    inter = np.logical_and(ma, mb).sum()
    union = np.logical_or(ma, mb).sum()
    return float(inter / union) if union else 0.0
