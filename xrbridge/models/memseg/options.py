"""MemSeg's options (``xrbridge train --model memseg`` flags); see train.py."""

from __future__ import annotations

from dataclasses import dataclass

from xrbridge.models.options import opt


@dataclass(frozen=True, slots=True)
class MemSegOptions:
    memory_images: int = opt(30, "good images in the memory (the paper: 30)")
    batch: int = opt(4, "images per training step (the paper: 8)")
    lr: float = opt(3e-3, "AdamW learning rate (the paper: 0.003)")
    weight_decay: float = opt(5e-4, "AdamW weight decay (the paper: 5e-4)")
    warmup: float = opt(0.2, "share of the steps with a linear warm-up, then cosine to lr/100")
    anomaly_prob: float = opt(0.9, "probability that a training image gets a simulated anomaly")
    transparency_min: float = opt(0.8, "lowest weight of the pasted noise (the paper: 0.8)")
    transparency_max: float = opt(1.0, "highest weight of the pasted noise (the paper: 1.0)")
    texture_share: float = opt(
        0.5, "share of texture anomalies (the rest: structure, shuffled grid)"
    )
    structure_grid: int = opt(8, "grid of the structure anomalies (the paper: 8)")
    foreground: str = opt(
        "all",
        "where anomalies go without ROI: all, or otsu (binarised image)",
        choices=("all", "otsu"),
    )
    sealant_share: float = opt(
        0.5,
        "with an ROI: share of anomalies simulated as sealant defects "
        "along the ROI (missing, narrowing, hole, excess)",
    )
    focal_gamma: float = opt(4.0, "focal loss gamma (the paper: 4)")
    focal_weight: float = opt(0.7, "weight of the focal loss (the paper: 0.7; L1 gets 1 - it)")
    topk: int = opt(100, "map pixels averaged into the image score")
    sigma: float = opt(4.0, "Gaussian smoothing of the map at 256 px (scaled with the height)")
