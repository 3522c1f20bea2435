"""Synthetic conveyor scenes for the track tests (independent of the simulator).

An underbody image (textured plate, dark holes, bright sealant beads) moves
right to left through an 848x480 frame (smaller in tests) with a chosen speed
profile and lighting changes; frames get dropped at random. The truth is the
underbody origin in frame px per kept frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

VIEWS_LAYOUT = {  # u0, v0, width, height in underbody px
    "lower_front": (20, 30, 150, 120),
    "lower_center": (210, 30, 150, 120),
    "lower_back": (400, 30, 150, 120),
}
UB_SIZE = (570, 180)  # length (u), width (v)


def make_underbody(seed: int) -> np.ndarray:
    """(v, u, 3) uint8 BGR underbody image."""
    rng = np.random.default_rng(seed)
    length, width = UB_SIZE
    coarse = rng.normal(0, 1, (width // 6 + 1, length // 6 + 1)).astype(np.float32)
    base = cv2.resize(coarse, (length, width), interpolation=cv2.INTER_CUBIC)
    gray = np.clip(95 + 18 * base, 0, 255).astype(np.uint8)
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    for _ in range(22):  # holes and plates
        x, y = int(rng.integers(5, length - 30)), int(rng.integers(5, width - 30))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(4, 12)), (30, 30, 35), -1)
        else:
            cv2.rectangle(
                img,
                (x, y),
                (x + int(rng.integers(10, 40)), y + int(rng.integers(8, 25))),
                (140, 135, 130),
                -1,
            )
    for _ in range(9):  # sealant beads
        pts = np.cumsum(rng.integers(-40, 41, (4, 2)), axis=0) + np.array(
            [rng.integers(40, length - 40), width // 2]
        )
        pts = np.clip(pts, 5, [length - 5, width - 5]).astype(np.int32)
        cv2.polylines(img, [pts], False, (200, 215, 225), int(rng.integers(3, 7)))
    return img


def templates_for(ub: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, dict[str, int]]]:
    images, meta = {}, {}
    for view, (u0, v0, w, h) in VIEWS_LAYOUT.items():
        images[view] = ub[v0 : v0 + h, u0 : u0 + w].copy()
        meta[view] = {"u0": u0, "v0": v0, "width": w, "height": h}
    return images, meta


@dataclass(frozen=True)
class Scene:
    frames: list[np.ndarray]
    times: list[float]
    truth: list[dict[int, tuple[float, float]]]  # per kept frame: car -> origin (x, y)
    velocity: list[dict[int, tuple[float, float]]]
    fps: float
    size: tuple[int, int]


def render_scene(
    *,
    cars: int = 2,
    seconds: float = 6.0,
    fps: float = 30.0,
    size: tuple[int, int] = (848, 480),
    speed: Callable[[float], float] = lambda t: 250.0,
    spacing_s: float = 3.0,
    drop: float = 0.2,
    lighting: float = 0.3,
    seed: int = 0,
    y0: float = 150.0,
    jitter: float = 0.0,
) -> Scene:
    """Render a scene. ``speed(t)``: conveyor speed px/s (cars move towards -x)."""
    rng = np.random.default_rng(seed)
    ub = make_underbody(seed)
    fw, fh = size
    n = int(seconds * fps)
    dt = 1.0 / fps
    # Integrate the belt position once (all cars ride the same belt).
    belt = np.concatenate([[0.0], np.cumsum([speed(i * dt) * dt for i in range(n)])])
    bg = cv2.resize(rng.normal(60, 8, (fh // 8, fw // 8)).astype(np.float32), size)
    bg8 = cv2.cvtColor(np.clip(bg, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    # uint8 lighting and noise through cv2.addWeighted: cheap enough for the tests' budget.
    noise_bank = [np.clip(rng.normal(8, 2, (fh, fw, 3)), 0, 16).astype(np.uint8) for _ in range(3)]
    ramp_u8 = np.ascontiguousarray(
        np.broadcast_to(np.linspace(0, 255, fw).astype(np.uint8)[None, :, None], (fh, fw, 3))
    )
    uh, uw = ub.shape[:2]
    frames, times, truth, vel = [], [], [], []
    for i in range(n):
        t = i * dt
        if i > 0 and rng.random() < drop:
            continue
        frame = bg8.copy()
        tr, vv = {}, {}
        for c in range(cars):
            # Car c enters at t = c * spacing_s at the right edge.
            i_enter = round(c * spacing_s / dt)
            if i < i_enter:
                continue
            x = fw - (belt[i] - belt[i_enter])
            y = y0 + 6.0 * np.sin(0.7 * t + c) + (rng.normal(0, jitter) if jitter else 0.0)
            if x + uw < 0 or x > fw:
                continue
            # Sub-pixel shift of the small underbody image, then an integer paste.
            ix, iy = int(np.floor(x)), int(np.floor(y))
            m = np.array([[1, 0, x - ix], [0, 1, y - iy]], dtype=np.float32)
            patch = cv2.warpAffine(
                ub, m, (uw, uh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            x0, y0c = max(0, ix), max(0, iy)
            x1, y1 = min(fw, ix + uw), min(fh, iy + uh)
            if x1 > x0 and y1 > y0c:
                frame[y0c:y1, x0:x1] = patch[y0c - iy : y1 - iy, x0 - ix : x1 - ix]
            tr[c] = (float(x), float(y))
            vv[c] = (-speed(t), 0.0)
        if lighting:
            gain = 1.0 + lighting * np.sin(2 * np.pi * t / 2.3)
            amp = lighting * 60 * np.sin(2 * np.pi * t / 3.1)  # ramp from -amp to +amp across x
            beta = 2.0 * amp / 255.0
            frame = cv2.addWeighted(frame, gain, ramp_u8, beta, -amp)
            frame = cv2.addWeighted(frame, 1.0, noise_bank[i % len(noise_bank)], 1.0, -8.0)
        frames.append(frame)
        times.append(t)
        truth.append(tr)
        vel.append(vv)
    return Scene(frames, times, truth, vel, fps, size)


def truth_peaks(scene: Scene) -> dict[tuple[int, str], int]:
    """(car, view) -> kept-frame index where the view is fully inside and closest to the centre."""
    fw, fh = scene.size
    best: dict[tuple[int, str], tuple[float, int]] = {}
    for i, cars in enumerate(scene.truth):
        for c, (x, y) in cars.items():
            for view, (u0, v0, w, h) in VIEWS_LAYOUT.items():
                bx, by = x + u0, y + v0
                if bx < 0 or by < 0 or bx + w > fw or by + h > fh:
                    continue
                d = float(np.hypot(bx + w / 2 - fw / 2, by + h / 2 - fh / 2))
                if (c, view) not in best or d < best[(c, view)][0]:
                    best[(c, view)] = (d, i)
    return {k: v[1] for k, v in best.items()}


def write_scene(folder, scene: Scene, seed: int) -> None:
    """Write line.mp4 (mp4v, fixed fps), truth.jsonl and templates/ like the simulator."""
    import json
    from pathlib import Path

    folder = Path(folder)
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    vw = cv2.VideoWriter(
        str(folder / "line.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), scene.fps, scene.size
    )
    for f in scene.frames:
        vw.write(f)
    vw.release()
    with (folder / "truth.jsonl").open("w") as fh:
        for row in truth_rows(scene):
            fh.write(json.dumps(row) + "\n")
    images, meta = templates_for(make_underbody(seed))
    for v, im in images.items():
        cv2.imwrite(str(folder / "templates" / f"{v}.png"), im)
    (folder / "templates" / "views.json").write_text(json.dumps(meta))


def truth_rows(scene: Scene) -> list[dict]:
    """The scene's truth in the simulator's truth.jsonl shape (id, offset, velocity, views/peak)."""
    peaks = truth_peaks(scene)
    rows = []
    for i, (t, cars) in enumerate(zip(scene.times, scene.truth, strict=True)):
        out = []
        for c, xy in cars.items():
            views = {v: {"peak": peaks.get((c, v)) == i} for v in VIEWS_LAYOUT}
            out.append(
                {
                    "id": c,
                    "offset": list(xy),
                    "velocity": list(scene.velocity[i][c]),
                    "views": views,
                }
            )
        rows.append({"index": i, "t": t, "cars": out})
    return rows
