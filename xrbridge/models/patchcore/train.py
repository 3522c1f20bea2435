"""PatchCore training: extract patch features of the good images, project, coreset, bank.

Options (``TrainConfig.options`` / ``xrbridge train`` flags):

- ``coreset_ratio`` (default 0.03): fraction of all training patches kept in the bank.
  Raising it covers rarer normal patterns (fewer false alarms) but makes the bank,
  the build and the in-graph search proportionally bigger; lowering it speeds
  everything up until normal variation is no longer covered.
- ``max_bank`` (default 8192): cap on the bank size whatever the ratio.
- ``proj_dim`` (default 128): PCA projection of the C concatenated channels
  (Lite0 s8+s16: 152) fitted on training patches; "0" keeps all C.
- ``search_budget`` (default 8192 x 64 = 524,288): the most bank entries x dims the
  in-graph search may hold (1,024 patches x budget multiply-adds: about the backbone's
  cost). When the coreset wants more entries than ``search_budget / proj_dim``, the PCA
  keeps fewer dims (a multiple of 8, at least 16) so that the bank can have them:
  magnetic_tile (700k patches) gets 8,192 x 64 instead of 4,096 x 128, image AUROC
  0.925 -> 0.949 at the same cost; mpdd_metal_plate (1,659 entries) keeps 128 dims.
  0 = no budget.
- ``coreset_group_size`` (default 25000 patches): above this many patches the greedy
  selection is two-level (see :mod:`.coreset`); 0 = always single-level (exact greedy).
- ``refit`` (default 1): after calibration on the held-out good images, rebuild the bank
  from all good images (fit + held-out); 0 keeps the bank of the fit images only.
- ``image_score`` (default "topk": mean of the ``topk`` (default 10) highest patch
  scores) or "eq4" (the paper's eq. 4 on the highest patch score).
- ``position_norm`` (default "auto"): 1 = z-score each patch score with the mean and
  spread (3x3-smoothed) of its grid position on the held-out good images before the image
  score is taken (the map keeps raw distances); 0 = off; "auto" = on when there are at
  least ``POSITION_MIN_IMAGES`` (30) held-out images. Helps where parts of the frame are
  always a little unusual (magnetic_tile, 76 held-out: image AUROC 0.931 -> 0.940 with
  "topk"); with a handful of held-out images the statistics are noise (mpdd_metal_plate,
  5 held-out, seed 2: 1.000 -> 0.942 even with the shrinkage below).
- ``position_prior`` (default 30): with N held-out images, each position's statistics
  are weighted N : 30 against those of all positions pooled, so that a handful of
  held-out images (mpdd_metal_plate: 5) cannot make the z-scores noise.
- ``tiles`` (default "auto"): R x C overlapping tiles of the base input size, analysed
  at (nearly) R times the resolution and stitched in the graph (:mod:`.tiling`); "auto"
  takes 2 x 2 when the native training images are at least 3x the base input on both
  axes (``tiling.TILE_MIN_FACTOR``; a 1024 x 1024 part -> 480 x 480 input), else none
  (mpdd_metal_plate's 512 x 512 stays untiled); "1" = off. Raising it
  finds smaller defects on large images at about R*C times the cost per image.
- ``tile_overlap`` (default 32 px): border shared by neighbouring tiles; each grid cell
  takes the features of the tile where it lies farthest from the border.
- ``layers`` (default "s8,s16"), ``k`` (eq. 4 neighbourhood, default 3),
  ``sigma`` (Gaussian smoothing at 256 px, scaled with the image height, or the tile
  height with tiles; default 4).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from xrbridge.errors import UsageError
from xrbridge.models.backbones import STAGE_NAMES
from xrbridge.models.features import PatchFeatures
from xrbridge.models.framework import FitContext, TrainConfig
from xrbridge.models.options import as_dict, parse
from xrbridge.models.patchcore.anomaly_map import IMAGE_SCORES, BankScorer
from xrbridge.models.patchcore.coreset import greedy_coreset
from xrbridge.models.patchcore.export import PatchCoreRaw
from xrbridge.models.patchcore.options import PatchCoreOptions
from xrbridge.models.patchcore.tiling import (
    TiledFeatures,
    TilePlan,
    auto_grid,
    native_size,
    parse_tiles,
    plan_for_input,
)
from xrbridge.names import check_name

#: The defaults of :class:`PatchCoreOptions` as a plain dict.
DEFAULTS: dict[str, Any] = as_dict(PatchCoreOptions())


POSITION_MIN_IMAGES = 30  # position_norm "auto": fewer held-out images than this -> off


class PatchCoreTrainer:
    """Implements :class:`xrbridge.models.framework.Trainer` for PatchCore."""

    name = "patchcore"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        opts = as_dict(parse(PatchCoreOptions, "patchcore", config.options))
        self.opts = opts
        self.layers = tuple(s.strip() for s in str(opts["layers"]).split(",") if s.strip())
        for s in self.layers:
            check_name("stage", s, STAGE_NAMES)
        if str(opts["position_norm"]) not in ("0", "1", "auto"):
            raise UsageError(f"position_norm must be 0, 1 or auto, got {opts['position_norm']!r}")
        if opts["image_score"] not in IMAGE_SCORES:
            raise UsageError(
                f"unknown image score {opts['image_score']!r}; valid: {', '.join(IMAGE_SCORES)}"
            )
        if int(opts["topk"]) < 1:
            raise UsageError(f"topk must be >= 1, got {opts['topk']}")
        ratio = float(opts["coreset_ratio"])
        if not 0.0 < ratio <= 1.0:
            raise UsageError(f"coreset ratio must be in (0, 1], got {ratio}")
        try:
            self._grid = parse_tiles(str(opts["tiles"]))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        overlap = int(opts["tile_overlap"])
        if overlap < 0 or overlap % 16:
            raise UsageError(f"tile_overlap must be a multiple of 16 and >= 0, got {overlap}")
        self.features = PatchFeatures(config.backbone, self.layers).to(config.device)
        self._plan: TilePlan | None = None
        self._tile_rule = ""
        self._tiler: TiledFeatures | None = None
        self._raw: PatchCoreRaw | None = None
        self._feats: torch.Tensor | None = None
        self._pca_mc: tuple[torch.Tensor, torch.Tensor] | None = None
        self._hold_feats: torch.Tensor | None = None
        self._info: dict[str, Any] = {}
        self._pos_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def input_size(self, base: tuple[int, int], paths: list[Any]) -> tuple[tuple[int, int], str]:
        """The model input for a base size (no --image-size given): base, or R x C tiles of it.

        ``tiles`` "auto" looks at the native size of the training images (:func:`auto_grid`).
        """
        overlap = int(self.opts["tile_overlap"])
        if self._grid is not None:
            grid, why = self._grid, f"tiles {self._grid[0]}x{self._grid[1]} (given)"
        else:
            native = native_size(paths)
            grid = auto_grid(base, native) if native else (1, 1)
            nat = f"{native[0]:.0f}x{native[1]:.0f}" if native else "unknown"
            why = f"tiles {grid[0]}x{grid[1]} (auto: native {nat}, base {base[0]}x{base[1]})"
        self._plan = TilePlan(grid[0], grid[1], base, overlap if grid != (1, 1) else 0)
        self._tile_rule = why
        return self._plan.size, why

    def _tiling(self, h: int, w: int) -> None:
        """Fix the tile plan for an (h, w) input (a given --image-size: tiles only if asked)."""
        if self._plan is None or self._plan.size != (h, w):
            grid = self._grid or (1, 1)
            try:
                self._plan = plan_for_input((h, w), grid, int(self.opts["tile_overlap"]))
            except ValueError as exc:
                raise UsageError(f"patchcore tiles: {exc}") from exc
            self._tile_rule = (
                f"tiles {grid[0]}x{grid[1]} ({'given' if self._grid else 'auto: size given'})"
            )
        if self._plan.count > 1:
            self._tiler = TiledFeatures(self.features, self._plan, self.features.stride)

    def _extract(self, images: np.ndarray) -> torch.Tensor:
        """(N,3,H,W) -> (N*P, C) raw aggregated patch features (CPU float32)."""
        bs = int(self.opts["batch"])
        out = []
        with torch.inference_mode():
            for i in tqdm(
                range(0, len(images), bs),
                desc="features",
                leave=False,
                disable=not self.config.progress,
            ):
                x = torch.from_numpy(images[i : i + bs]).to(self.config.device)
                if self._tiler is not None:
                    f = self._tiler.run(self.features.raw_features, x)
                else:
                    f = self.features.raw_features(x)
                out.append(f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).cpu())
        return torch.cat(out)

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        self._tiling(*ctx.images.shape[-2:])
        t0 = time.perf_counter()
        feats = self._extract(ctx.images)
        t_feat = time.perf_counter() - t0
        t0, c_bank = time.perf_counter(), time.process_time()
        dim = _budget_dim(len(feats), self.opts)
        if 0 < dim < feats.shape[1]:
            mean, comps = _pca(feats, dim, self.config.seed)
            self.features.set_projection(mean, comps)
            self._pca_mc = (torch.from_numpy(mean), torch.from_numpy(comps))
            feats = self._project(feats)
        self._feats = feats
        return self._build(ctx, feats, t_feat, t0, c_bank)

    def _project(self, feats: torch.Tensor) -> torch.Tensor:
        """(N, C) raw patch features -> (N, D) with the fitted PCA (unchanged without one)."""
        if self._pca_mc is None:
            return feats
        return (feats - self._pca_mc[0]) @ self._pca_mc[1].t()

    def adapt(self, ctx: FitContext) -> dict[str, Any]:
        """Per-position statistics of the held-out good images' patch scores (``position_norm``)."""
        mode = str(self.opts["position_norm"])
        if mode == "0" or self._raw is None:
            return {"position_norm": False}
        if mode == "auto" and len(ctx.images) < POSITION_MIN_IMAGES:
            return {
                "position_norm": False,
                "position_norm_skipped": f"auto: {len(ctx.images)} held-out images < {POSITION_MIN_IMAGES}",
            }
        scorer = self._raw.scorer
        # Projected held-out features, kept for refit() (which would extract them again).
        self._hold_feats = self._project(self._extract(ctx.images))
        h, w = ctx.images.shape[-2:]
        grid = (h // self.features.stride, w // self.features.stride)
        per_image = self._hold_feats.reshape(len(ctx.images), grid[0] * grid[1], -1)
        rows = []
        with torch.inference_mode():
            for q in per_image:  # (P, D) -> (1, D, h, w)
                f = q.t().reshape(1, -1, *grid).to(self.config.device)
                rows.append(scorer.patch_scores(f)[1].cpu())
        s = torch.stack(rows)  # (N, P)
        mean, scale = _position_stats(s, grid, float(self.opts["position_prior"]))
        self._pos_stats = (mean, scale)
        scorer.set_position_stats(mean, scale)
        return {"position_norm": True, "position_norm_images": len(s)}

    def refit(self, ctx: FitContext) -> dict[str, Any]:
        """Rebuild the bank from the fit images plus ``ctx.images`` (the held-out ones)."""
        if not int(self.opts["refit"]) or self._feats is None:
            return {"refit": False}
        t0 = time.perf_counter()
        extra = (
            self._hold_feats
            if self._hold_feats is not None
            else self._project(self._extract(ctx.images))
        )
        t_feat = time.perf_counter() - t0
        t0, c_bank = time.perf_counter(), time.process_time()
        feats = torch.cat([self._feats, extra])
        self._feats = self._hold_feats = None
        calib_bank = self._info.get("bank_size")
        info = self._build(ctx, feats, t_feat, t0, c_bank)
        return {**info, "refit": True, "calibration_bank_size": calib_bank}

    def _build(
        self, ctx: FitContext, feats: torch.Tensor, t_feat: float, t0: float, c_bank: float
    ) -> dict[str, Any]:
        n = min(_bank_size(len(feats), self.opts), len(feats))
        budget = int(self.opts["search_budget"])
        if budget > 0:  # refit adds the held-out patches: trim to the budget at the fitted dims
            n = max(1, min(n, budget // int(feats.shape[1])))
        gsize = int(self.opts["coreset_group_size"])
        groups = max(1, len(feats) // gsize) if gsize > 0 else 1
        c0 = time.process_time()
        sel = greedy_coreset(
            feats,
            n,
            int(self.opts["coreset_proj_dim"]),
            self.config.seed,
            progress=self.config.progress,
            groups=groups,
        )
        cpu_coreset = time.process_time() - c0
        bank = feats[torch.from_numpy(sel)].contiguous()
        support = _knn_table(bank, int(self.opts["k"]))
        t_bank, c_bank = time.perf_counter() - t0, time.process_time() - c_bank
        h, w = ctx.images.shape[-2:]
        stride = self.features.stride
        valid = None
        if ctx.roi is not None:
            import cv2

            valid = torch.from_numpy(
                cv2.resize(
                    ctx.roi.astype(np.float32),
                    (w // stride, h // stride),
                    interpolation=cv2.INTER_AREA,
                )
                > 0
            )
        # sigma is in pixels of the analysed image: tiles keep the base scale
        tile_h = self._plan.tile[0] if self._plan is not None else h
        sigma = float(self.opts["sigma"]) * tile_h / 256.0
        scorer = BankScorer(
            bank,
            support,
            (h, w),
            sigma,
            valid,
            str(self.opts["image_score"]),
            int(self.opts["topk"]),
        )
        if self._pos_stats is not None:  # refit keeps the statistics taken with the fit bank
            scorer.set_position_stats(*self._pos_stats)
        feats_mod = self._tiler if self._tiler is not None else self.features
        self._raw = PatchCoreRaw(feats_mod, scorer).to(self.config.device).eval()
        self._info = {
            "patches": len(feats),
            "bank_size": n,
            "feature_dim": int(bank.shape[1]),
            "feature_seconds": round(t_feat, 3),
            "bank_seconds": round(t_bank, 3),
            "bank_cpu_seconds": round(c_bank, 3),
            "coreset_cpu_seconds": round(cpu_coreset, 3),
            "coreset_groups": groups,
            "tiles": self._plan.count if self._plan is not None else 1,
        }
        return dict(self._info)

    def raw_module(self) -> PatchCoreRaw:
        if self._raw is None:
            raise RuntimeError("fit() first")
        return self._raw

    def manifest_extra(self) -> dict[str, Any]:
        opts = {k: self.opts[k] for k in DEFAULTS if k != "batch"}
        tiling = {**self._plan.as_dict(), "rule": self._tile_rule} if self._plan else None
        return {"patchcore": {**opts, "layers": list(self.layers), "tiling": tiling}}


def _bank_size(patches: int, opts: dict[str, Any]) -> int:
    """Coreset size for ``patches`` training patches: ``coreset_ratio`` of them, capped."""
    return max(1, min(round(patches * float(opts["coreset_ratio"])), int(opts["max_bank"])))


def _budget_dim(patches: int, opts: dict[str, Any]) -> int:
    """PCA dims for ``patches`` training patches: ``proj_dim``, lowered (to a multiple of 8,
    at least 16) when the coreset's bank times ``proj_dim`` would exceed ``search_budget``."""
    dim, budget = int(opts["proj_dim"]), int(opts["search_budget"])
    n = _bank_size(patches, opts)
    if dim <= 0 or budget <= 0 or n * dim <= budget:
        return dim
    return max(16, budget // n // 8 * 8)


def _pca(
    feats: torch.Tensor, dim: int, seed: int, limit: int = 200_000
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (C,) and top-``dim`` principal directions (dim, C) of the patch features."""
    g = torch.Generator().manual_seed(seed)
    sample = feats[torch.randperm(len(feats), generator=g)[:limit]].double()
    mean = sample.mean(0)
    cov = (sample - mean).t() @ (sample - mean) / max(len(sample) - 1, 1)
    _, vecs = torch.linalg.eigh(cov)
    comps = vecs[:, -dim:].flip(1).t()
    return mean.float().numpy(), comps.float().numpy()


def _position_stats(
    s: torch.Tensor, grid: tuple[int, int], prior: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, P) good patch scores -> per-position (mean, scale), shrunk towards the pooled ones.

    Each position's mean and variance (3x3-smoothed) are averaged with those of all
    positions pooled, weighted N : ``prior`` (empirical-Bayes shrinkage): with few
    held-out images (mpdd_metal_plate: 5) the per-position spread is noise, and dividing
    by it ranks images by that noise (seed 0 image AUROC 1.000 -> 0.58 with "topk", 0.56 with
    "eq4", without shrinkage).
    """
    n = len(s)
    mean_p = _smooth(s.mean(0), grid)
    var_p = _smooth(s.var(0) if n > 1 else torch.zeros_like(s[0]), grid)
    mean_g, var_g = s.mean(), (s.var() if s.numel() > 1 else torch.zeros(()))
    w = n / (n + prior) if n + prior > 0 else 1.0
    mean = w * mean_p + (1 - w) * mean_g
    std = (w * var_p + (1 - w) * var_g).sqrt()
    # floor: a tenth of the average spread (or of the mean score when all spreads are 0)
    floor = 0.1 * float(std.mean()) if float(std.mean()) > 0 else 0.1 * float(mean.mean())
    return mean, std + max(floor, 1e-6)


def _smooth(v: torch.Tensor, grid: tuple[int, int] | torch.Size) -> torch.Tensor:
    """(P,) per-position values -> (P,) 3x3-averaged on the (h, w) grid (edges: valid cells only)."""
    h, w = int(grid[0]), int(grid[1])
    m = torch.nn.functional.avg_pool2d(v.reshape(1, 1, h, w), 3, 1, 1, count_include_pad=False)
    return m.reshape(-1)


def _knn_table(bank: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """(M, k) indices of each bank entry's k nearest entries (itself first)."""
    k = min(k, len(bank))
    sq = (bank * bank).sum(1)
    out = []
    for i in range(0, len(bank), chunk):
        b = bank[i : i + chunk]
        d2 = sq[i : i + chunk, None] - 2.0 * b @ bank.t() + sq[None]
        d2[torch.arange(len(b)), torch.arange(i, i + len(b))] = -1.0  # self first
        out.append(torch.topk(d2, k, dim=1, largest=False).indices)
    return torch.cat(out)
