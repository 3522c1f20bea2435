"""MemSeg training: anomaly simulation, memory of good images, focal + L1 loss.

``fit`` keeps ``memory_images`` (30) of the fit images as the memory (their
encoder features become buffers of the graph), measures the attention scales
on them, then trains fusion and decoder for ``steps`` (default 400) steps of
``batch`` (4; the paper 8) images, each image turned into a simulated anomaly with
probability 0.9 (:mod:`.simulate`), with AdamW (lr 0.003, weight decay 5e-4),
a linear warm-up over 20 % of the steps and a cosine decay to lr / 100, and
the loss ``0.7 * focal(gamma 4) + 0.3 * L1`` of the anomalous channel's
probability against the simulated mask. The paper trains 15,000 steps on a
GPU; the default here fits a few minutes on a 2-core CPU (the encoder is
frozen, so each step runs the backbone forward only).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from xrbridge.errors import UsageError
from xrbridge.models.memseg.model import MemSegNet, MemSegRaw
from xrbridge.models.memseg.options import MemSegOptions
from xrbridge.models.memseg.simulate import simulate
from xrbridge.models.options import as_dict, parse

DEFAULT_STEPS = 400


def focal_loss(p: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Binary focal loss of probabilities ``p`` against 0/1 ``target`` (no alpha weighting)."""
    p = p.clamp(1e-6, 1 - 1e-6)
    pt = torch.where(target > 0.5, p, 1 - p)
    return (-((1 - pt) ** gamma) * torch.log(pt)).mean()


class MemSegTrainer:
    """Implements :class:`xrbridge.models.framework.Trainer` for MemSeg."""

    name = "memseg"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.opts = parse(MemSegOptions, self.name, config.options)
        o = self.opts
        for key in ("memory_images", "batch", "topk", "structure_grid"):
            if getattr(o, key) < 1:
                raise UsageError(f"memseg option {key}: expected >= 1, got {getattr(o, key)}")
        for key in ("anomaly_prob", "texture_share", "sealant_share", "focal_weight", "warmup"):
            if not 0.0 <= getattr(o, key) <= 1.0:
                raise UsageError(f"memseg option {key}: expected in [0, 1], got {getattr(o, key)}")
        if not 0.0 <= o.transparency_min <= o.transparency_max <= 1.0:
            raise UsageError(
                "memseg options transparency_min/max: expected 0 <= min <= max <= 1, got "
                f"{o.transparency_min}, {o.transparency_max}"
            )
        if not (o.lr > 0 and o.sigma > 0):
            raise UsageError(f"memseg options lr and sigma must be > 0, got {o.lr}, {o.sigma}")
        self.steps = DEFAULT_STEPS if config.steps is None else int(config.steps)
        if self.steps < 1:
            raise UsageError(f"--steps must be >= 1, got {self.steps}")
        self._raw: MemSegRaw | None = None

    def fit(self, ctx: Any) -> dict[str, Any]:
        o, dev, seed = self.opts, self.config.device, int(self.config.seed)
        images = ctx.images
        n, _, h, w = images.shape
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        n_mem = min(o.memory_images, n)
        mem_idx = np.sort(rng.permutation(n)[:n_mem])
        net = MemSegNet(self.config.backbone, n_mem, h, w).to(dev)
        t0 = time.perf_counter()
        with torch.no_grad():
            feats = [net.encode(torch.from_numpy(images[i : i + 1]).to(dev)) for i in mem_idx]
            for lvl, mem in enumerate(net.memories()):
                mem.copy_(torch.cat([f[lvl] for f in feats]))
            # attention scales: mean difference of the other good images to their nearest memory
            others = [i for i in range(n) if i not in set(mem_idx.tolist())][:16] or list(
                mem_idx[:4]
            )
            diffs = [
                net.differences(net.encode(torch.from_numpy(images[i : i + 1]).to(dev)))
                for i in others
            ]
            scale = torch.stack(
                [torch.stack([d[lvl].mean() for d in diffs]).mean() for lvl in range(3)]
            )
            net.att_scale.copy_(scale.clamp_min(1e-6))
        t_mem = time.perf_counter() - t0
        roi = ctx.roi
        rgb = np.ascontiguousarray((images.transpose(0, 2, 3, 1) * 0.5 + 0.5).clip(0, 1))
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        warm = max(1, int(o.warmup * self.steps))
        losses: list[float] = []
        t0 = time.perf_counter()
        net.train()
        bar = tqdm(range(self.steps), desc="memseg", leave=False, disable=not self.config.progress)
        for step in bar:
            if step < warm:
                lr = o.lr * (step + 1) / warm
            else:
                lr = o.lr / 100 + (o.lr - o.lr / 100) * 0.5 * (
                    1 + math.cos(math.pi * (step - warm) / max(1, self.steps - warm))
                )
            for g in opt.param_groups:
                g["lr"] = lr
            xs, ms = [], []
            for i in rng.integers(0, n, o.batch):
                xi, m = simulate(rng, rgb[i], roi, o)
                xs.append((xi.transpose(2, 0, 1) - 0.5) / 0.5)
                ms.append(m)
            x = torch.from_numpy(np.stack(xs).astype(np.float32))
            if roi is not None:
                x = torch.where(torch.from_numpy(roi)[None, None], x, torch.full_like(x, -1.0))
            mask = torch.from_numpy(np.stack(ms))[:, None].to(dev)
            logits = net(x.to(dev))
            p = torch.softmax(
                F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False), dim=1
            )[:, 1:2]
            loss = (
                o.focal_weight * focal_loss(p, mask, o.focal_gamma)
                + (1 - o.focal_weight) * (p - mask).abs().mean()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if step % 10 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        net.eval()
        valid = torch.from_numpy(roi) if roi is not None and roi.any() else None
        self._raw = MemSegRaw(net, (h, w), float(o.sigma) * h / 256.0, o.topk, valid).to(dev).eval()
        return {
            "memory_images": int(n_mem),
            "steps": self.steps,
            "memory_seconds": round(t_mem, 3),
            "train_seconds": round(time.perf_counter() - t0, 3),
            "loss_first": losses[0],
            "loss_last": float(np.mean(losses[-20:])),
            "attention_scales": [round(float(v), 6) for v in net.att_scale],
        }

    def raw_module(self) -> MemSegRaw:
        if self._raw is None:
            raise RuntimeError("fit() first")
        return self._raw

    def manifest_extra(self) -> dict[str, Any]:
        return {
            "memseg": {
                **as_dict(self.opts),
                "levels": ["s4", "s8", "s16"],
                "simulation": "Perlin-noise masks; procedural textures (no DTD) or "
                "shuffled-grid structure; sealant defects along the ROI",
            }
        }
