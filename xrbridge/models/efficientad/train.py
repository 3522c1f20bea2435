"""EfficientAD training: teacher distillation, student + autoencoder, map calibration.

Three phases, each with a progress bar (``fit`` runs them in order):

1. ``distil_teacher``: the PDN teacher learns to reproduce a pretrained
   backbone's patch features. The paper distils on ImageNet (60,000 steps, 16
   images a step); ImageNet cannot be downloaded here, so we distil on the
   category's own training images under heavy augmentation (flips, 90-degree
   turns, colour jitter, grey) mixed with procedural textures
   (``xrbridge.models.textures``). The manifest records this
   (``training.teacher``). Target (``DistillTarget``): EfficientNet-Lite features
   of the image resized to twice the input (the paper's "teacher input 512" for
   a 256 model), stages s8 and s16 (upsampled to s8), each position's 3x3
   neighbourhood stacked (as PatchCore's locally aware features, 1,368 values
   for Lite0), reduced to ``channels`` (384) by PCA fitted on the training
   images. The paper reduces WideResNet-101 features to 384 by average pooling
   over channels; with 152 Lite0 channels, PCA of the neighbourhoods is the way
   to fill 384 meaningful channels.
2. ``train_student``: hard feature loss (only the distances above their 0.999
   quantile count), penalty on out-of-distribution images (student outputs on
   procedural textures pushed to 0; the paper uses ImageNet), autoencoder loss
   and student-autoencoder loss; Adam, lr decayed to 10 % at 95 % of the steps.
3. ``calibrate``: the 0.9/0.995 quantiles of both maps on held-out good images.

Two changes from the reference that buy CPU time, both documented in the
README: one colour-jittered image a step serves both the student-teacher and
the autoencoder losses (the reference runs the student on two versions), and
teacher and student see a random crop (``student_crop``, a multiple of 4)
and the autoencoder, which needs the whole image, is trained on the matching
window of its output. The PDNs have no padding, so their output on a crop is
exactly the matching window of their output on the whole image: the crop
changes how much is learnt per step, not what.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xrbridge.models.efficientad import anomaly_map as amap
from xrbridge.models.efficientad.model import (
    TARGET_OFFSET,
    BackboneTeacher,
    DistillTarget,
    EfficientADConfig,
    EfficientADModel,
)
from xrbridge.models.efficientad.options import TEACHERS, EfficientADOptions
from xrbridge.models.options import as_dict, parse
from xrbridge.models.textures import texture_images

#: Quantile above which student-teacher distances count in the hard feature loss.
HARD_QUANTILE = 0.999


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Training schedule of EfficientAD.

    Attributes:
        steps: student/autoencoder steps (paper: 70,000 at batch 1). Raising it
            improves accuracy roughly until the student stops improving on the
            good images; the default fits a few minutes on a 2-core CPU.
        distil_steps: teacher distillation steps (paper: 60,000 x 16 ImageNet images).
        distil_batch: crops per distillation step.
        distil_crop: side of the distillation crops (multiple of 4, >= 36).
        student_crop: side of the student's training crop (multiple of 4, >= 36);
            0 or >= image size = whole image (the paper). Smaller is cheaper per step.
        lr: Adam learning rate of student and autoencoder (paper: 1e-4 for 70,000
            steps; short schedules need more).
        distil_lr: Adam learning rate of the teacher.
        texture_share: share of distillation samples that are procedural textures.
        stats_images: at most this many training images for the teacher statistics.
        seed: seeds numpy and torch.
        teacher: "backbone" (the target itself is the teacher, no distillation) or
            "distilled" (a PDN teacher distilled for ``distil_steps``).
    """

    steps: int = 150
    distil_steps: int = 60
    distil_batch: int = 4
    distil_crop: int = 128
    student_crop: int = 128
    lr: float = 5e-4
    distil_lr: float = 1e-3
    texture_share: float = 0.25
    stats_images: int = 16
    seed: int = 0
    teacher: str = "backbone"

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


# ---------------------------------------------------------------- augmentation
def _rgb01(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 + 0.5


def _norm(x01: torch.Tensor) -> torch.Tensor:
    return (x01.clamp(0.0, 1.0) - 0.5) / 0.5


def colour_jitter(x: torch.Tensor, rng: np.random.Generator, amount: float = 0.2) -> torch.Tensor:
    """One of brightness, contrast or saturation jitter (the reference's AE augmentation).

    Args:
        x: (B, 3, H, W) normalised image(s), ``(rgb01 - 0.5) / 0.5``.
    Returns:
        the jittered images, same shape and normalisation.
    """
    x01 = _rgb01(x)
    f = float(rng.uniform(1 - amount, 1 + amount))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        out = x01 * f
    elif kind == 1:
        mean = x01.mean(dim=(1, 2, 3), keepdim=True)
        out = (x01 - mean) * f + mean
    else:
        grey = x01.mean(dim=1, keepdim=True)
        out = (x01 - grey) * f + grey
    return _norm(out)


def distil_augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Flips, 90-degree turns (square images), colour jitter and grey: (B,3,H,W) -> same."""
    if rng.random() < 0.5:
        x = x.flip(-1)
    if rng.random() < 0.5:
        x = x.flip(-2)
    if x.shape[-1] == x.shape[-2] and rng.random() < 0.5:
        x = x.rot90(1, dims=(-2, -1))
    x = colour_jitter(x, rng, 0.4)
    if rng.random() < 0.1:
        x = x.mean(dim=1, keepdim=True).expand_as(x)
    return x.contiguous()


def texture_batch(rng: np.random.Generator, n: int, height: int, width: int) -> torch.Tensor:
    """(n, 3, height, width) normalised procedural textures."""
    return torch.from_numpy(texture_images(rng, n, height, width))


# ---------------------------------------------------------------- distillation
def _check_crop(crop: int, side: int) -> int:
    if crop <= 0 or crop >= side:
        return side
    if crop < 36 or crop % 4:
        raise ValueError(f"crop must be a multiple of 4 and >= 36, got {crop}")
    return crop


def _crop_offsets(
    rng: np.random.Generator, h: int, w: int, crop_h: int, crop_w: int
) -> tuple[int, int]:
    """Random crop offsets in map cells (input offset = 4 x cell)."""
    return int(rng.integers(0, (h - crop_h) // 4 + 1)), int(rng.integers(0, (w - crop_w) // 4 + 1))


def distil_teacher(
    teacher: nn.Module,
    target: DistillTarget,
    images: torch.Tensor,
    cfg: TrainConfig,
    rng: np.random.Generator,
    progress: bool = True,
) -> list[float]:
    """Train ``teacher`` (a PDN) to reproduce ``target`` on augmented crops; returns the losses."""
    _, _, h, w = images.shape
    ch, cw = _check_crop(cfg.distil_crop, h), _check_crop(cfg.distil_crop, w)
    opt = torch.optim.Adam(teacher.parameters(), lr=cfg.distil_lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, max(1, cfg.distil_steps), cfg.distil_lr / 20
    )
    teacher.train()
    losses = []
    bar = tqdm(range(cfg.distil_steps), desc="distil teacher", disable=not progress, leave=False)
    for _ in bar:
        n_tex = int(rng.binomial(cfg.distil_batch, cfg.texture_share))
        idx = rng.integers(0, len(images), cfg.distil_batch - n_tex)
        parts = [distil_augment(images[idx], rng)] if len(idx) else []
        if n_tex:
            parts.append(texture_batch(rng, n_tex, h, w))
        batch = torch.cat(parts)
        a, b = _crop_offsets(rng, h, w, ch, cw)
        pred = teacher(batch[:, :, 4 * a : 4 * a + ch, 4 * b : 4 * b + cw])
        k_h, k_w = pred.shape[-2:]
        tgt = target(batch, (a + TARGET_OFFSET, b + TARGET_OFFSET, k_h, k_w))
        loss = F.mse_loss(pred, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    teacher.eval()
    return losses


# ---------------------------------------------------------------- student + autoencoder
@torch.no_grad()
def teacher_statistics(
    model: EfficientADModel, images: torch.Tensor, progress: bool = True
) -> None:
    """Set ``teacher_mean``/``teacher_std`` (per channel) from ``images`` (N, 3, H, W)."""
    total = None
    sq = None
    for i in tqdm(range(len(images)), desc="teacher statistics", disable=not progress, leave=False):
        out = model.teacher(images[i : i + 1]).double()
        s, s2 = out.mean(dim=(0, 2, 3)), (out**2).mean(dim=(0, 2, 3))
        total = s if total is None else total + s
        sq = s2 if sq is None else sq + s2
    assert total is not None and sq is not None
    mean = total / len(images)
    var = (sq / len(images) - mean**2).clamp_min(1e-12)
    model.teacher_mean.copy_(mean.float().view(1, -1, 1, 1))
    model.teacher_std.copy_(var.sqrt().float().view(1, -1, 1, 1))


def hard_feature_loss(distance: torch.Tensor, quantile: float = HARD_QUANTILE) -> torch.Tensor:
    """Mean of the squared distances at or above their ``quantile`` (the paper's L_hard)."""
    flat = distance.reshape(-1)
    k = max(1, math.ceil((1.0 - quantile) * flat.numel() - 1e-6))  # 1e-6: float fuzz
    return torch.topk(flat, k).values.mean()


def train_student(
    model: EfficientADModel,
    images: torch.Tensor,
    cfg: TrainConfig,
    rng: np.random.Generator,
    progress: bool = True,
) -> list[float]:
    """Train student and autoencoder with the teacher frozen; returns the total losses."""
    c = model.config.channels
    _, _, h, w = images.shape
    ch, cw = _check_crop(cfg.student_crop, h), _check_crop(cfg.student_crop, w)
    params = list(model.student.parameters()) + list(model.autoencoder.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(0.95 * cfg.steps)), gamma=0.1)
    model.teacher.eval()
    model.student.train()
    model.autoencoder.train()
    losses = []
    bar = tqdm(range(cfg.steps), desc="train student+AE", disable=not progress, leave=False)
    for _ in bar:
        image = colour_jitter(images[int(rng.integers(0, len(images)))][None], rng)
        a, b = _crop_offsets(rng, h, w, ch, cw)
        crop = image[:, :, 4 * a : 4 * a + ch, 4 * b : 4 * b + cw]
        with torch.no_grad():
            t = model.teacher_features(crop)
        k_h, k_w = t.shape[-2:]
        ae = model.autoencoder(image)[:, :, a : a + k_h, b : b + k_w]
        s = model.student(crop)
        loss_hard = hard_feature_loss((t - s[:, :c]) ** 2)
        penalty = texture_batch(rng, 1, ch, cw)
        loss_penalty = torch.mean(model.student(penalty)[:, :c] ** 2)
        loss_ae = torch.mean((t - ae) ** 2)
        loss_stae = torch.mean((ae - s[:, c:]) ** 2)
        loss = loss_hard + loss_penalty + loss_ae + loss_stae
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


@torch.no_grad()
def calibrate(model: EfficientADModel, images: torch.Tensor, progress: bool = True) -> None:
    """Set ``q_st``/``q_ae`` from the raw maps of held-out good ``images`` (N, 3, H, W)."""
    maps_st, maps_ae = [], []
    for i in tqdm(range(len(images)), desc="map quantiles", disable=not progress, leave=False):
        m_st, m_ae = model.raw_maps(images[i : i + 1])
        maps_st.append(m_st)
        maps_ae.append(m_ae)
    model.q_st.copy_(amap.map_quantiles(torch.cat(maps_st)))
    model.q_ae.copy_(amap.map_quantiles(torch.cat(maps_ae)))


def fit(
    config: EfficientADConfig,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    target: DistillTarget,
    cfg: TrainConfig,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[EfficientADModel, dict[str, object]]:
    """All of EfficientAD's training on (N, 3, H, W) normalised good images.

    Args:
        config: network shape (``config.height/width_px`` must match the images).
        train_images: training images (teacher distillation, student, autoencoder).
        val_images: held-out good images for the map quantiles (at least one).
        target: the distillation target around a pretrained backbone (not yet fitted).
        cfg: the schedule.

    Returns:
        the trained model (eval mode) and a dict of facts for the manifest.
    """
    if tuple(train_images.shape[-2:]) != (config.height, config.width_px):
        raise ValueError(
            f"images must be {config.height}x{config.width_px}, got {tuple(train_images.shape[-2:])}"
        )
    if len(val_images) == 0:
        raise ValueError("EfficientAD needs at least one held-out good image for calibration")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = EfficientADModel(config)
    say = log or (lambda _msg: None)
    timings = {}

    if cfg.teacher not in TEACHERS:
        raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {cfg.teacher!r}")
    t0 = time.perf_counter()
    explained = target.fit(train_images, rng)
    distil_losses: list[float] = []
    if cfg.teacher == "backbone":
        model.teacher = BackboneTeacher(target)
    else:
        distil_losses = distil_teacher(model.teacher, target, train_images, cfg, rng, progress)
        say(f"teacher distilled: loss {distil_losses[0]:.3f} -> {np.mean(distil_losses[-20:]):.3f}")
    timings["distil_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stats_idx = rng.permutation(len(train_images))[: cfg.stats_images]
    teacher_statistics(model, train_images[np.sort(stats_idx)], progress)
    losses = train_student(model, train_images, cfg, rng, progress)
    timings["student_s"] = time.perf_counter() - t0
    say(f"student trained: loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}")

    t0 = time.perf_counter()
    calibrate(model, val_images, progress)
    timings["calibrate_s"] = time.perf_counter() - t0
    info: dict[str, object] = {
        "schedule": cfg.to_dict(),
        "teacher": {
            "kind": cfg.teacher,
            "distilled_on": (
                "training images with augmentation + procedural textures (no ImageNet)"
                if cfg.teacher == "distilled"
                else None
            ),
            "target": "backbone s8+s16 3x3 neighbourhoods at 2x input size, PCA to channels",
            "pca_explained_variance": round(explained, 4),
            "loss_first": distil_losses[0] if distil_losses else None,
            "loss_last": float(np.mean(distil_losses[-20:])) if distil_losses else None,
        },
        "penalty_images": "procedural textures (xrbridge.models.textures), no ImageNet",
        "student_loss_first": losses[0] if losses else None,
        "student_loss_last": float(np.mean(losses[-20:])) if losses else None,
        "map_quantiles": {"st": model.q_st.tolist(), "ae": model.q_ae.tolist()},
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    return model, info


# ---------------------------------------------------------------- framework glue
#: Options of ``xrbridge train --model efficientad-s|m`` (TrainConfig.options) and defaults.
_DEFAULT = TrainConfig()
OPTIONS: dict[str, Any] = as_dict(EfficientADOptions())


class EfficientADTrainer:
    """Implements :class:`xrbridge.models.framework.Trainer` for EfficientAD (size in subclasses).

    ``fit`` keeps ``quantile_share`` of the images it gets (at least one) out of
    training for the map quantiles, as the reference keeps 10 % of train/good; the
    framework's own held-out images then calibrate the score normalisation.
    """

    name = "efficientad"
    size = "s"

    def __init__(self, config: Any) -> None:
        from xrbridge.errors import UsageError

        opts = as_dict(parse(EfficientADOptions, self.name, config.options))
        self.config = config
        self.opts = opts
        steps = config.steps if config.steps is not None else _DEFAULT.steps
        if steps < 1:
            raise UsageError(f"--steps must be >= 1, got {steps}")
        if float(opts["sigma"]) <= 0:
            raise UsageError(f"EfficientAD map smoothing sigma must be > 0, got {opts['sigma']}")
        self.schedule = TrainConfig(
            steps=int(steps), seed=int(config.seed),
            **{k: type(getattr(_DEFAULT, k))(opts[k]) for k in _SCHEDULE_KEYS},
        )  # fmt: skip
        h, w = config.image_size or (256, 256)  # None: the framework has not sized it yet
        for key in ("distil_crop", "student_crop"):
            crop = int(opts[key])
            if 0 < crop < min(h, w) and (crop < 36 or crop % 4):
                raise UsageError(f"{key} must be 0 or a multiple of 4 >= 36, got {crop}")
        self.net_config = EfficientADConfig(
            size=self.size, channels=int(opts["channels"]), width=float(opts["width"]),
            height=int(h), width_px=int(w),
        )  # fmt: skip
        self._raw: nn.Module | None = None
        self._info: dict[str, Any] = {}

    def fit(self, ctx: Any) -> dict[str, Any]:
        from xrbridge.models.backbones import build_backbone
        from xrbridge.models.efficientad.export import EfficientADRaw

        images = torch.from_numpy(np.ascontiguousarray(ctx.images))
        n = len(images)
        n_q = min(max(1, round(n * float(self.opts["quantile_share"]))), max(1, n - 1))
        order = np.random.default_rng(self.config.seed).permutation(n)
        q_idx, t_idx = np.sort(order[:n_q]), np.sort(order[n_q:] if n > 1 else order)
        target = DistillTarget(
            build_backbone(self.config.backbone, ("s8", "s16")), self.net_config.channels
        )
        model, info = fit(
            self.net_config,
            images[t_idx],
            images[q_idx],
            target,
            self.schedule,
            progress=self.config.progress,
        )
        sigma = float(self.opts["sigma"]) * self.net_config.height / 256.0
        self._raw = EfficientADRaw(model, sigma, ctx.roi).eval()
        self._info = {**info, "train_images": len(t_idx), "quantile_images": len(q_idx)}
        return dict(self._info)

    def raw_module(self) -> nn.Module:
        if self._raw is None:
            raise RuntimeError("fit() first")
        return self._raw

    def manifest_extra(self) -> dict[str, Any]:
        c = self.net_config
        return {
            "efficientad": {
                "size": c.size, "pdn": f"PDN-{c.size.upper()}", "channels": c.channels,
                "width": c.width, "sigma": float(self.opts["sigma"]),
                "teacher": self.schedule.teacher,
                "teacher_input": (
                    "image (HxW); distillation target from the backbone at 2H x 2W"
                    if self.schedule.teacher == "distilled"
                    else "the backbone at 2H x 2W, s8 + s16 3x3 neighbourhoods projected by PCA"
                ),
                "quantiles": {"start": amap.Q_START, "end": amap.Q_END},
                "hard_quantile": HARD_QUANTILE, "paper_steps": 70000,
            }
        }  # fmt: skip


_SCHEDULE_KEYS = (
    "distil_steps", "distil_batch", "distil_crop", "student_crop", "lr", "distil_lr",
    "texture_share", "stats_images", "teacher",
)  # fmt: skip


class EfficientADSTrainer(EfficientADTrainer):
    """EfficientAD-S: PDN-small teacher and student."""

    name = "efficientad-s"
    size = "s"


class EfficientADMTrainer(EfficientADTrainer):
    """EfficientAD-M: PDN-medium teacher and student."""

    name = "efficientad-m"
    size = "m"
