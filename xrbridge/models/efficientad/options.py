"""EfficientAD's options (``xrbridge train --model efficientad-s|m`` flags); see train.py."""

from __future__ import annotations

from dataclasses import dataclass

from xrbridge.models.options import opt

#: Teachers: "backbone" (the pretrained backbone's projected features themselves) or
#: "distilled" (a PDN distilled from them, the paper's design).
TEACHERS = ("backbone", "distilled")


@dataclass(frozen=True, slots=True)
class EfficientADOptions:
    teacher: str = opt(
        "backbone",
        "backbone: the pretrained backbone's projected features are the teacher (works at CPU "
        "schedules); distilled: a PDN distilled from them (the paper's design; needs ImageNet-"
        "scale distillation, at chance here on magnetic_tile and the simulator's views)",
        choices=TEACHERS,
    )
    distil_steps: int = opt(60, "teacher distillation steps (the paper: 60,000 on ImageNet)")
    distil_batch: int = opt(4, "crops per distillation step")
    distil_crop: int = opt(128, "distillation crop side, multiple of 4 (0 = whole image)")
    student_crop: int = opt(128, "student training crop side, multiple of 4 (0 = whole image)")
    lr: float = opt(5e-4, "Adam learning rate of student and autoencoder")
    distil_lr: float = opt(1e-3, "Adam learning rate of the teacher")
    texture_share: float = opt(0.25, "share of distillation samples that are procedural textures")
    stats_images: int = opt(16, "training images for the teacher statistics")
    channels: int = opt(384, "PDN output channels")
    width: float = opt(1.0, "PDN width multiplier")
    sigma: float = opt(4.0, "Gaussian smoothing of the map at 256 px (scaled with the height)")
    quantile_share: float = opt(0.1, "share of the fit images kept for the map quantiles")
