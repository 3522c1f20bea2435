"""SimpleNet's options (``xrbridge train --model simplenet`` flags); see train.py."""

from __future__ import annotations

from dataclasses import dataclass

from xrbridge.models.options import opt


@dataclass(frozen=True, slots=True)
class SimpleNetOptions:
    layers: str = opt("s8,s16", "backbone stages, comma-separated")
    noise_std: float = opt(
        0.03,
        "std of the Gaussian anomaly features per standardised channel (the paper: 0.015;"
        " 0.03 measured better on magnetic_tile at 3 seeds, equal on mpdd_metal_plate)",
    )
    hidden: int = opt(1024, "discriminator hidden units (the paper: 1024)")
    margin: float = opt(0.5, "truncation threshold of the L1 loss (the paper: 0.5)")
    feature_norm: bool = opt(
        True,
        "standardise the channels on the training patches, scaled to unit mean squared distance to the mean",
    )
    batch_patches: int = opt(1024, "normal patches per step (as many noised copies join them)")
    lr: float = opt(
        1e-3, "Adam learning rate of the discriminator (the reference: 2e-4 over many more steps)"
    )
    adapter_lr: float = opt(
        1e-3, "AdamW learning rate of the feature adapter (the reference: 1e-4)"
    )
    # Not "image_score": that flag is PatchCore's, with other choices (one flag per name).
    image_pool: str = opt(
        "top-share",
        "image score from the smoothed map inside the ROI: mean of its highest --top-share"
        " of pixels, its maximum, or mean of its --topk highest pixels",
        choices=("top-share", "max", "topk"),
    )
    top_share: float = opt(0.01, "share of the ROI's pixels averaged by the top-share image score")
    topk: int = opt(10, "pixels averaged by the topk image score")
    sigma: float = opt(4.0, "Gaussian smoothing of the map at 256 px (scaled with the height)")
