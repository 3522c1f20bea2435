"""Where everything is when: the conveyor, the cars on it, the camera shake.

One overhead conveyor carries all cars at the same speed, right to left in
the frame (-x), front first. The speed varies smoothly (acceleration and
deceleration) and the conveyor makes short stops. Time is real: the source
frame k is at t = k / fps; dropped frames leave gaps in the file's timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrbridge.sim.config import SimConfig
from xrbridge.sim.layout import Layout


@dataclass(frozen=True, slots=True)
class Conveyor:
    """Sampled conveyor motion: ``t`` (K,) seconds, ``s`` (K,) travel px, ``v`` (K,) px/s."""

    t: np.ndarray
    s: np.ndarray
    v: np.ndarray

    def travel(self, t: float | np.ndarray) -> np.ndarray:
        return np.interp(t, self.t, self.s)

    def speed(self, t: float | np.ndarray) -> np.ndarray:
        return np.interp(t, self.t, self.v)

    def time_at(self, s: float) -> float:
        return float(np.interp(s, self.s, self.t))


def make_conveyor(cfg: SimConfig, rng: np.random.Generator, distance: float) -> Conveyor:
    """Speed profile that covers at least ``distance`` px (plus one second)."""
    speed = cfg.speed * cfg.scale
    dt = 1.0 / (cfg.fps * 4.0)
    duration = distance / speed * 1.6 + 10.0
    t = np.arange(0.0, duration, dt)
    ph = rng.uniform(0, 2 * math.pi, 2)
    v = speed * (
        1.0
        + 0.15 * np.sin(2 * math.pi * t / 6.5 + ph[0])
        + 0.07 * np.sin(2 * math.pi * t / 2.3 + ph[1])
    )
    factor = np.ones_like(t)
    if cfg.stops > 0:
        tt = float(rng.exponential(60.0 / cfg.stops)) + 1.5
        while tt < duration:
            hold = float(rng.uniform(0.4, 1.2))
            dec, acc = 0.5, 0.7
            a = np.clip((t - tt) / dec, 0, 1)
            b = np.clip((t - (tt + dec + hold)) / acc, 0, 1)
            f = (1 - a * a * (3 - 2 * a)) + b * b * (3 - 2 * b)
            factor = np.minimum(factor, np.clip(f, 0, 1))
            tt += dec + hold + acc + float(rng.exponential(60.0 / cfg.stops)) + 1.0
    v = v * factor
    s = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) * 0.5 * dt)])
    return Conveyor(t, s, v)


@dataclass(frozen=True, slots=True)
class CarPlan:
    """A car on the conveyor: its front enters the frame's right edge at travel ``s_enter``."""

    id: int
    variant: str
    s_enter: float
    y: float  # underbody origin y in the frame (before sway and camera shake)
    t_enter: float
    sway: tuple[float, float, float] = (0.0, 0.4, 0.0)  # amplitude px, frequency Hz, phase

    def sway_at(self, t: float) -> tuple[float, float]:
        """Lateral swing of the car on its hanger: (dy px, dy/dt px/s) at time t."""
        a, f, ph = self.sway
        w = 2 * math.pi * f
        return a * math.sin(w * t + ph), a * w * math.cos(w * t + ph)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per source frame k: time, travel, speed, camera shake; which frames are kept."""

    t: np.ndarray  # (N,)
    s: np.ndarray  # (N,)
    v: np.ndarray  # (N,) px/s (>= 0; cars move by -v in x)
    shake: np.ndarray  # (N, 2) px
    kept: np.ndarray  # (M,) source indices in the file, ascending

    def offset(self, car: CarPlan, k: int, frame_w: int) -> tuple[float, float]:
        """Underbody origin of ``car`` in source frame ``k`` (frame px, shake included)."""
        dy, _ = car.sway_at(float(self.t[k]))
        return (
            frame_w - (float(self.s[k]) - car.s_enter) + float(self.shake[k, 0]),
            car.y + dy + float(self.shake[k, 1]),
        )


def plan(
    cfg: SimConfig, layout: Layout, variants: tuple[str, ...], rng: np.random.Generator
) -> tuple[list[CarPlan], Timeline, Conveyor]:
    """Lay the cars out on the conveyor and sample the frames."""
    W, H = cfg.size
    L, Wd = layout.size
    s = cfg.scale
    gaps = rng.uniform(180, 620, cfg.cars) * s
    s_enter = np.cumsum(np.concatenate([[0.25 * cfg.speed * s], (L + gaps[1:])]))
    ys = (H - Wd) / 2.0 + rng.uniform(-3, 3, cfg.cars) * s
    var_idx = rng.integers(0, len(variants), cfg.cars)
    distance = float(s_enter[-1] + W + L + 0.25 * cfg.speed * s)
    conv = make_conveyor(cfg, rng, distance)
    sway = np.stack(
        [
            rng.uniform(0.5, 1.5, cfg.cars) * s,
            rng.uniform(0.25, 0.5, cfg.cars),
            rng.uniform(0, 2 * math.pi, cfg.cars),
        ],
        axis=1,
    )
    cars = [
        CarPlan(
            i,
            variants[int(var_idx[i])],
            float(s_enter[i]),
            float(ys[i]),
            conv.time_at(float(s_enter[i])),
            (float(sway[i, 0]), float(sway[i, 1]), float(sway[i, 2])),
        )
        for i in range(cfg.cars)
    ]
    t_end = conv.time_at(distance)
    n = math.floor(t_end * cfg.fps) + 1
    t = np.arange(n) / cfg.fps
    amp = cfg.camera.vibration_px * s
    ph = rng.uniform(0, 2 * math.pi, 4)
    shake = amp * np.stack(
        [
            0.7 * np.sin(2 * math.pi * 11.3 * t + ph[0])
            + 0.3 * np.sin(2 * math.pi * 4.1 * t + ph[1]),
            0.7 * np.sin(2 * math.pi * 8.7 * t + ph[2])
            + 0.3 * np.sin(2 * math.pi * 3.3 * t + ph[3]),
        ],
        axis=1,
    )
    drop = rng.random(n) < cfg.drop_frames
    drop[0] = False
    kept = np.nonzero(~drop)[0]
    tl = Timeline(t, conv.travel(t), conv.speed(t), shake, kept)
    return cars, tl, conv


def view_bbox(ox: float, oy: float, rect: tuple[int, int, int, int]) -> tuple[float, ...]:
    u0, v0, w, h = rect
    return (ox + u0, oy + v0, float(w), float(h))


def visible_fraction(bbox: tuple[float, ...], frame_w: int, frame_h: int) -> float:
    x, y, w, h = bbox
    iw = max(0.0, min(x + w, frame_w) - max(x, 0.0))
    ih = max(0.0, min(y + h, frame_h) - max(y, 0.0))
    return iw * ih / (w * h)
