"""The camera and the cell: what the lens adds on top of the moving underbodies.

Illumination drift and gradients, vignetting, the lamps' specular reflections
on glossy metal and sealant, sensor noise, speed-dependent motion blur,
compression artefacts, occluders (hanger arms that travel with the car, static
cables) and the background above the conveyor. All of it is deterministic
for a seed: per-frame randomness comes from a generator seeded with the
frame's source index.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from xrbridge.sim.config import CameraConfig


class Camera:
    """Per-run fixed parts (background, lamps, cables, noise bank) and per-frame effects."""

    def __init__(
        self, cfg: CameraConfig, size: tuple[int, int], scale: float, rng: np.random.Generator
    ) -> None:
        self.cfg = cfg
        self.w, self.h = size
        self.scale = scale
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.nx = (xx / (w - 1) * 2 - 1).astype(np.float32)
        self.ny = (yy / (h - 1) * 2 - 1).astype(np.float32)
        r2 = (self.nx**2 * (w / h) ** 2 + self.ny**2) / ((w / h) ** 2 + 1)
        self.vignette = (1.0 - cfg.vignette * r2).astype(np.float32)
        self.phase = rng.uniform(0, 2 * math.pi, 6)
        # lamp reflections: two elongated lobes fixed in the frame
        lobes = np.zeros((h, w), np.float32)
        for cx, cy, sx, sy in ((0.38, 0.3, 0.05, 0.6), (0.7, 0.62, 0.04, 0.4)):
            cx += rng.uniform(-0.05, 0.05)
            lobes += np.exp(-(((xx / w - cx) / sx) ** 2 + ((yy / h - cy) / sy) ** 2))
        self.lobes = np.clip(lobes, 0, 1).astype(np.float32)
        self.background = self._background(rng)
        self.cables = self._cables(rng)
        nb = 6
        pad = 32
        # pre-scaled int16 noise frames; each frame adds a randomly shifted one
        self.noise_bank = (
            [
                np.round(rng.normal(0, cfg.noise_sigma, (h, w + pad, 3))).astype(np.int16)
                for _ in range(nb)
            ]
            if cfg.noise_sigma > 0
            else []
        )
        # the light varies smoothly: computed on a coarse grid, resized per frame
        self.small = (max(2, w // 8), max(2, h // 8))
        self.nx_s = cv2.resize(self.nx, self.small, interpolation=cv2.INTER_AREA)
        self.ny_s = cv2.resize(self.ny, self.small, interpolation=cv2.INTER_AREA)
        self.vig_s = cv2.resize(self.vignette, self.small, interpolation=cv2.INTER_AREA)
        self.lobes_s = cv2.resize(self.lobes, self.small, interpolation=cv2.INTER_AREA)
        self.pad = pad

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        """The cell above the conveyor seen past the cars: (H, W, 4) uint8, gloss 0."""
        w, h = self.w, self.h
        bg = np.zeros((h, w, 4), np.uint8)
        base = (42 + 18 * (1 - np.abs(self.ny))).astype(np.uint8)
        bg[..., 0] = base
        bg[..., 1] = base
        bg[..., 2] = base + 3
        s = self.scale
        for k in range(6):  # roof beams
            x = int((k + rng.uniform(0.2, 0.8)) * w / 6)
            cv2.line(
                bg, (x, 0), (x + int(rng.uniform(-40, 40)), h), (28, 28, 30, 0), max(1, int(14 * s))
            )
        for y in (int(12 * s), h - int(12 * s)):  # conveyor rails
            cv2.line(bg, (0, y), (w, y), (80, 84, 88, 40), max(1, int(8 * s)))
        return bg

    def _cables(self, rng: np.random.Generator) -> list[np.ndarray]:
        w, h = self.w, self.h
        out = []
        for k in range(self.cfg.cables):
            if k % 2 == 0:
                x0 = rng.uniform(0.04, 0.15) * w
                x1 = x0 + rng.uniform(-0.06, 0.1) * w
                ts = np.linspace(0, 1, 24)
                xs = x0 + (x1 - x0) * ts + 0.03 * w * np.sin(math.pi * ts)
                ys = ts * h
            else:
                x0 = rng.uniform(0.75, 0.85) * w
                ts = np.linspace(0, 1, 24)
                xs = x0 + ts * 0.2 * w
                ys = 0.02 * h + 0.1 * h * np.sin(math.pi * ts)
            out.append(np.stack([xs, ys], 1))
        return out

    # ---- per frame -------------------------------------------------------
    def blur_kernel(self, speed: float) -> np.ndarray | None:
        """Horizontal box kernel of length speed * exposure (fractional ends), or None."""
        length = speed * self.cfg.exposure_s
        if length < 1.05:
            return None
        n = math.ceil(length)
        n += 1 - n % 2  # odd, centred: blur does not move the car
        k = np.ones(n, np.float32)
        edge = (length - (n - 2)) / 2.0
        k[0] = k[-1] = max(0.0, min(1.0, edge))
        return (k / k.sum()).reshape(1, -1)

    def draw_hangers(
        self, frame4: np.ndarray, ox: float, oy: float, length: float, width: float
    ) -> None:
        """Hanger arms at 18% and 82% of the car: posts reaching over its sides."""
        if not self.cfg.hangers:
            return
        s = self.scale
        for a in (0.18, 0.82):
            x = ox + a * length
            aw = 24 * s
            reach = 30 * s
            for y0, y1 in ((0.0, oy + reach), (oy + width - reach, float(self.h))):
                pts = np.array(
                    [
                        [x - aw / 2, y0],
                        [x + aw / 2, y0],
                        [x + aw / 2 + 4 * s, y1],
                        [x - aw / 2 - 4 * s, y1],
                    ]
                )
                p = np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)
                cv2.fillPoly(frame4, [p], (58, 60, 64, 90), cv2.LINE_AA, 4)
                cv2.line(
                    frame4,
                    (round((x - aw / 4) * 16), round(y0 * 16)),
                    (round((x - aw / 4) * 16), round(y1 * 16)),
                    (92, 96, 100, 200),
                    max(1, round(3 * s)),
                    cv2.LINE_AA,
                    4,
                )

    def draw_cables(self, frame4: np.ndarray) -> None:
        for c in self.cables:
            p = np.round(c * 16).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(
                frame4, [p], False, (24, 24, 26, 60), max(2, round(4 * self.scale)), cv2.LINE_AA, 4
            )

    def light(self, t: float, full: bool = True) -> np.ndarray:
        """Illumination gain map at time t: (H, W) float32 around 1 (coarse grid if not full)."""
        c = self.cfg
        p = self.phase
        gain = 1.0 + c.drift * (
            0.6 * math.sin(2 * math.pi * t / 11.0 + p[0])
            + 0.4 * math.sin(2 * math.pi * t / 3.7 + p[1])
        )
        gain *= 1.0 + 0.01 * math.sin(2 * math.pi * t * 7.0 + p[5])  # lamp flicker
        gx = c.gradient * math.sin(2 * math.pi * t / 17.0 + p[2])
        gy = 0.7 * c.gradient * math.cos(2 * math.pi * t / 13.0 + p[3])
        lin = cv2.addWeighted(self.nx_s, gx, self.ny_s, gy, 1.0)
        small = cv2.multiply(lin, self.vig_s, scale=gain)
        if not full:
            return small
        return cv2.resize(small, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    def finish(self, frame4: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        """Lighting, specular lobes, noise, compression: (H, W, 4) uint8 -> (H, W, 3) uint8."""
        c = self.cfg
        size = (self.w, self.h)
        small = self.light(t, full=False)
        light3 = cv2.resize(cv2.merge((small, small, small)), size, interpolation=cv2.INTER_LINEAR)
        bgr = cv2.cvtColor(frame4, cv2.COLOR_BGRA2BGR)
        out = cv2.multiply(bgr, light3, dtype=cv2.CV_8U)
        if c.highlight > 0:
            # reflections of the lamps: glossy pixels light up where a lamp mirrors in them
            lobes = cv2.resize(
                cv2.multiply(self.lobes_s, small), size, interpolation=cv2.INTER_LINEAR
            )
            hl = cv2.multiply(
                cv2.extractChannel(frame4, 3), lobes, dtype=cv2.CV_8U, scale=c.highlight / 255.0
            )
            out = cv2.add(out, cv2.cvtColor(hl, cv2.COLOR_GRAY2BGR))
        if self.noise_bank:
            k = int(rng.integers(len(self.noise_bank)))
            x = int(rng.integers(self.pad))
            out = cv2.add(out, self.noise_bank[k][:, x : x + self.w], dtype=cv2.CV_8U)
        lo, hi = c.jpeg_quality
        if hi > 0:
            q = int(rng.integers(min(lo, hi), max(lo, hi) + 1))
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
            dec = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
            if dec is not None:
                out = dec
        return out
