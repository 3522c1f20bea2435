"""Settings of the sealant-line simulator, checked in one place.

:class:`SimConfig` is what ``xrbridge simulate`` builds from its options and
what ``scene.json`` records (``config``), so a run can be reproduced from the
scene file alone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from xrbridge.errors import UsageError

#: Frame size the paper uses (width, height).
DEFAULT_SIZE = (848, 480)


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """What makes the real scene hard. Each knob at 0 switches its effect off.

    ``exposure_s``: motion blur length = speed * exposure (px); raising it
    blurs more at speed. ``noise_sigma``: Gaussian sensor noise (grey levels).
    ``jpeg_quality``: (lo, hi) quality of the per-frame compression round trip
    (lower = stronger 8x8 block artefacts; 0 disables it). ``drift``: relative
    amplitude of slow illumination drift; ``gradient``: relative strength of
    the moving brightness gradient; ``vignette``: darkening at the corners;
    ``highlight``: grey levels added by the lamps' specular reflections;
    ``vibration_px``: camera shake amplitude (px); ``cables``: static cables
    crossing the view; ``hangers``: hanger arms that occlude the car's sides.
    """

    exposure_s: float = 1 / 120
    noise_sigma: float = 3.0
    jpeg_quality: tuple[int, int] = (55, 85)
    drift: float = 0.12
    gradient: float = 0.22
    vignette: float = 0.3
    highlight: float = 90.0
    vibration_px: float = 0.6
    cables: int = 2
    hangers: bool = True


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulator run.

    cars: cars in the video (> 0). seed: everything random derives from it.
    fps: frames per second of the video. size: (width, height) of the frames.
    defect_rate: fraction of cars with defects (at least one defective car
    when > 0). drop_frames: fraction of frames removed from the file (their
    timestamps leave gaps). speed: mean conveyor speed in px/s at the default
    frame height (scaled with the frame). stops: mean number of short
    conveyor stops per minute. dataset_cars: extra cars rendered directly at
    peak for the data sets only. train_frames: frames per defect-free training
    car in the data sets (the paper's Table 2 uses 5). dataset: whether to
    write ``dataset/``.
    """

    cars: int = 6
    seed: int = 0
    fps: float = 30.0
    size: tuple[int, int] = DEFAULT_SIZE
    defect_rate: float = 0.4
    drop_frames: float = 0.0
    speed: float = 420.0
    stops: float = 3.0
    dataset_cars: int = 0
    train_frames: int = 5
    dataset: bool = True
    camera: CameraConfig = field(default_factory=CameraConfig)
    drift_robot: str = ""
    drift_rate: float = 0.0
    drift_from: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.cars, int) or self.cars <= 0:
            raise UsageError(f"--cars must be a positive integer, got {self.cars!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if not 1.0 <= self.fps <= 240.0:
            raise UsageError(f"--fps must be in [1, 240], got {self.fps!r}")
        w, h = self.size
        if not (160 <= w <= 3840 and 120 <= h <= 2160):
            raise UsageError(f"--size must be within 160x120..3840x2160, got {w}x{h}")
        if w % 2 or h % 2:
            raise UsageError(f"--size must have even width and height, got {w}x{h}")
        if w < 1.2 * h:
            raise UsageError(f"--size must be at least 1.2 times as wide as high, got {w}x{h}")
        if not 0.0 <= self.defect_rate <= 1.0:
            raise UsageError(f"--defect-rate must be in [0, 1], got {self.defect_rate!r}")
        if not 0.0 <= self.drop_frames < 0.9:
            raise UsageError(f"--drop-frames must be in [0, 0.9), got {self.drop_frames!r}")
        if not 20.0 <= self.speed <= 5000.0:
            raise UsageError(f"--speed must be in [20, 5000] px/s, got {self.speed!r}")
        if self.stops < 0:
            raise UsageError(f"--stops must be >= 0, got {self.stops!r}")
        if self.dataset_cars < 0:
            raise UsageError(f"--dataset-cars must be >= 0, got {self.dataset_cars!r}")
        if not 1 <= self.train_frames <= 20:
            raise UsageError(f"--train-frames must be in [1, 20], got {self.train_frames!r}")
        if not 0.0 <= self.drift_rate <= 1.0:
            raise UsageError(f"--drift-rate must be in [0, 1], got {self.drift_rate!r}")
        if self.drift_rate > 0 and not self.drift_robot:
            raise UsageError("--drift-rate needs --drift-robot (which robot drifts)")
        if not isinstance(self.drift_from, int) or self.drift_from < 0:
            raise UsageError(f"--drift-from must be a car index >= 0, got {self.drift_from!r}")

    @property
    def scale(self) -> float:
        """Underbody scale relative to the default 480-pixel-high frame."""
        return self.size[1] / DEFAULT_SIZE[1]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        d["camera"]["jpeg_quality"] = list(self.camera.jpeg_quality)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SimConfig:
        d = dict(d)
        cam = dict(d.pop("camera", {}))
        if "jpeg_quality" in cam:
            cam["jpeg_quality"] = tuple(cam["jpeg_quality"])
        d["size"] = tuple(d["size"])
        return SimConfig(camera=CameraConfig(**cam), **d)


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``848x480``); raise UsageError on anything else."""
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text or "")
    if not m:
        raise UsageError(f"--size must look like WIDTHxHEIGHT (e.g. 848x480), got {text!r}")
    return int(m.group(1)), int(m.group(2))
