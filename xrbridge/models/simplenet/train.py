"""SimpleNet training: frozen backbone features, Gaussian anomaly features, truncated L1.

The backbone is frozen, so the patch features of the good images are extracted
once; training then only touches two small networks on feature vectors, which
is what makes it practical on a 2-core CPU (mpdd_metal_plate: about a minute).
Each step draws ``batch_patches`` normal patches q (inside the ROI when there
is one), adds Gaussian noise (std ``noise_std``, 0.03 by default) to make anomalous ones
q + e, and minimises the truncated L1 loss of the paper,
``max(0, m - D(q)) + max(0, m + D(q + e))`` with margin m (0.5). The adapter
(bias-free linear, AdamW) and the discriminator (Adam) are trained together, as
in the reference; the learning rates fall to 10 % along a cosine.

``steps`` (``--steps``, default 400) counts discriminator steps.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from xrbridge.errors import UsageError
from xrbridge.models.backbones import STAGE_NAMES
from xrbridge.models.features import PatchFeatures
from xrbridge.models.options import as_dict, parse
from xrbridge.models.simplenet.model import (
    Discriminator,
    SimpleNetHead,
    SimpleNetRaw,
    score_pixels,
)
from xrbridge.models.simplenet.options import SimpleNetOptions
from xrbridge.names import check_name

DEFAULT_STEPS = 400


def truncated_l1(
    true_logits: torch.Tensor, fake_logits: torch.Tensor, margin: float
) -> torch.Tensor:
    """The paper's loss: normal logits pushed above ``margin``, noised ones below ``-margin``."""
    return (
        torch.clamp(margin - true_logits, min=0).mean()
        + torch.clamp(margin + fake_logits, min=0).mean()
    )


class SimpleNetTrainer:
    """Implements :class:`xrbridge.models.framework.Trainer` for SimpleNet."""

    name = "simplenet"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.opts = parse(SimpleNetOptions, self.name, config.options)
        o = self.opts
        self.layers = tuple(s.strip() for s in o.layers.split(",") if s.strip())
        if not self.layers:
            raise UsageError("simplenet option layers: expected stages like s8,s16, got none")
        for s in self.layers:
            check_name("stage", s, STAGE_NAMES)
        if not 0 < o.top_share <= 1:
            raise UsageError(f"simplenet option top_share: expected in (0, 1], got {o.top_share}")
        for key in ("noise_std", "margin", "lr", "adapter_lr", "sigma"):
            if not getattr(o, key) > 0:
                raise UsageError(f"simplenet option {key}: expected > 0, got {getattr(o, key)}")
        for key in ("hidden", "batch_patches", "topk"):
            if getattr(o, key) < 1:
                raise UsageError(f"simplenet option {key}: expected >= 1, got {getattr(o, key)}")
        self.steps = DEFAULT_STEPS if config.steps is None else int(config.steps)
        if self.steps < 1:
            raise UsageError(f"--steps must be >= 1, got {self.steps}")
        self.features = PatchFeatures(config.backbone, self.layers).to(config.device).eval()
        self._raw: SimpleNetRaw | None = None

    def _extract(self, images: np.ndarray, batch: int = 8) -> torch.Tensor:
        """(N,3,H,W) -> (N, C, h, w) aggregated patch features (CPU float32)."""
        out = []
        with torch.inference_mode():
            for i in tqdm(
                range(0, len(images), batch),
                desc="features",
                leave=False,
                disable=not self.config.progress,
            ):
                x = torch.from_numpy(images[i : i + batch]).to(self.config.device)
                out.append(self.features.raw_features(x).cpu())
        return torch.cat(out)

    def fit(self, ctx: Any) -> dict[str, Any]:
        o, dev = self.opts, self.config.device
        t0 = time.perf_counter()
        fmap = self._extract(ctx.images)  # (N, C, h, w)
        n, c, gh, gw = fmap.shape
        t_feat = time.perf_counter() - t0
        valid = None
        if ctx.roi is not None:
            import cv2

            valid = torch.from_numpy(
                cv2.resize(ctx.roi.astype(np.float32), (gw, gh), interpolation=cv2.INTER_AREA) > 0
            )
        full_valid = torch.from_numpy(ctx.roi) if ctx.roi is not None and ctx.roi.any() else None
        feats = fmap.permute(0, 2, 3, 1).reshape(n, gh * gw, c)
        if valid is not None and bool(valid.any()):
            feats = feats[:, valid.reshape(-1)]
        feats = feats.reshape(-1, c).contiguous()
        head = SimpleNetHead(c)
        if o.feature_norm:  # unit mean squared distance to the mean: per channel 1 / sqrt(C)
            head.set_standardisation(feats.mean(0), feats.std(0) * math.sqrt(c))
        disc = Discriminator(c, o.hidden)
        head, disc = head.to(dev), disc.to(dev)
        opt_a = torch.optim.AdamW(head.parameters(), lr=o.adapter_lr)
        opt_d = torch.optim.Adam(disc.parameters(), lr=o.lr, weight_decay=1e-5)
        g = torch.Generator().manual_seed(int(self.config.seed))
        t0 = time.perf_counter()
        losses: list[float] = []
        p_true: list[float] = []
        head.train()
        disc.train()
        bar = tqdm(
            range(self.steps), desc="simplenet", leave=False, disable=not self.config.progress
        )
        for step in bar:
            frac = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / self.steps))
            for opt_, base in ((opt_a, o.adapter_lr), (opt_d, o.lr)):
                for group in opt_.param_groups:
                    group["lr"] = base * frac
            idx = torch.randint(0, len(feats), (o.batch_patches,), generator=g)
            q = head(feats[idx].to(dev))
            noise = torch.randn(q.shape, generator=g).to(dev) * o.noise_std
            logits = disc(torch.cat([q, q + noise]))
            t, f = logits[: len(q)], logits[len(q) :]
            loss = truncated_l1(t, f, o.margin)
            opt_a.zero_grad()
            opt_d.zero_grad()
            loss.backward()
            opt_a.step()
            opt_d.step()
            losses.append(float(loss.detach()))
            p_true.append(
                float(
                    (
                        (t.detach() >= o.margin).float().mean()
                        + (f.detach() < -o.margin).float().mean()
                    )
                    / 2
                )
            )
            if step % 50 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{p_true[-1]:.2f}")
        head.eval()
        disc.eval()
        h, w = ctx.images.shape[-2:]
        sigma = float(o.sigma) * h / 256.0
        n_pix = int(full_valid.sum()) if full_valid is not None else int(h * w)
        k = score_pixels(o.image_pool, n_pix, o.top_share, o.topk)
        self._raw = (
            SimpleNetRaw(self.features, head, disc, (h, w), sigma, full_valid, k).to(dev).eval()
        )
        return {
            "patches": len(feats),
            "feature_dim": int(c),
            "steps": self.steps,
            "feature_seconds": round(t_feat, 3),
            "train_seconds": round(time.perf_counter() - t0, 3),
            "loss_first": losses[0],
            "loss_last": float(np.mean(losses[-20:])),
            "separated_last": float(np.mean(p_true[-20:])),
            "score_pixels": k,
        }

    def raw_module(self) -> SimpleNetRaw:
        if self._raw is None:
            raise RuntimeError("fit() first")
        return self._raw

    def manifest_extra(self) -> dict[str, Any]:
        return {"simplenet": {**as_dict(self.opts), "layers": list(self.layers)}}
