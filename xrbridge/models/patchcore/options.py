"""PatchCore's options (``xrbridge train --model patchcore`` flags); see train.py for the reasoning."""

from __future__ import annotations

from dataclasses import dataclass

from xrbridge.models.options import opt


@dataclass(frozen=True, slots=True)
class PatchCoreOptions:
    coreset_ratio: float = opt(0.03, "bank fraction of all training patches")
    max_bank: int = opt(8192, "bank size cap")
    proj_dim: int = opt(128, "PCA dims, 0 = none")
    search_budget: int = opt(8192 * 64, "max bank entries x dims; fewer PCA dims for a larger bank")
    layers: str = opt("s8,s16", "backbone stages, comma-separated")
    k: int = opt(3, "eq. 4 neighbourhood")
    sigma: float = opt(4.0, "Gaussian smoothing of the map at 256 px (scaled with the height)")
    coreset_proj_dim: int = opt(64, "random projection dims of the greedy coreset")
    coreset_group_size: int = opt(25000, "patches per group of the two-level coreset; 0 = exact")
    batch: int = opt(8, "images per feature batch", flag=False)
    refit: int = opt(
        1, "1 = rebuild the bank from all good images after calibration", choices=(0, 1)
    )
    image_score: str = opt(
        "topk", "image score: mean of the top-k patches or eq. 4", choices=("topk", "eq4")
    )
    topk: int = opt(10, "patches averaged by the topk image score")
    position_norm: str = opt(
        "auto",
        "z-score patch scores per position on held-out images (auto: with >= 30 held-out images)",
        choices=("0", "1", "auto"),
    )
    tiles: str = opt(
        "auto",
        "tile grid RxC (e.g. 2x2) for small defects on large images; 1 = off; "
        "auto: 2x2 when the native images are >= 3x the input size on both axes",
    )
    tile_overlap: int = opt(32, "pixels shared by neighbouring tiles (multiple of 16)")
    position_prior: float = opt(30.0, "weight of the pooled statistics against N held-out images")
