"""SimpleNet's image score: the mean of the top share of the smoothed map inside the ROI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xrbridge.errors import UsageError
from xrbridge.models.options import parse
from xrbridge.models.simplenet.model import (
    Discriminator,
    SimpleNetHead,
    SimpleNetRaw,
    score_pixels,
)
from xrbridge.models.simplenet.options import SimpleNetOptions


def test_score_pixels_by_option() -> None:
    assert score_pixels("max", 65536, 0.01, 10) == 1
    assert score_pixels("topk", 65536, 0.01, 10) == 10
    assert score_pixels("topk", 5, 0.01, 10) == 5
    assert score_pixels("top-share", 65536, 0.01, 10) == 655
    assert score_pixels("top-share", 20, 0.01, 10) == 1  # never empty


def test_default_image_score_is_top_one_percent() -> None:
    o = parse(SimpleNetOptions, "simplenet", {})
    assert (o.image_pool, o.top_share) == ("top-share", 0.01)
    assert parse(SimpleNetOptions, "simplenet", {"image_pool": "max"}).image_pool == "max"
    with pytest.raises(UsageError):
        parse(SimpleNetOptions, "simplenet", {"image_pool": "median"})


def test_image_pool_flag_reaches_simplenet() -> None:
    """``--image-score`` is PatchCore's flag (topk, eq4); SimpleNet's own is ``--image-pool``."""
    import argparse

    from xrbridge.commands.train import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(
        ["--model", "simplenet", "--data", "x", "--out", "y", "--image-pool", "max"]
    )
    assert args.opt_image_pool == "max"


class _Grid(nn.Module):
    """Stand-in for PatchFeatures: a fixed (1, C, h, w) feature grid."""

    def __init__(self, grid: torch.Tensor) -> None:
        super().__init__()
        self.grid = grid

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.grid + 0.0 * x.mean()


def test_raw_score_is_mean_of_top_share_inside_roi() -> None:
    torch.manual_seed(0)
    c, gh, gw, h, w = 8, 8, 8, 32, 32
    head, disc = SimpleNetHead(c).eval(), Discriminator(c, 16).eval()
    valid = torch.zeros(h, w, dtype=torch.bool)
    valid[4:28, 2:30] = True
    k = score_pixels("top-share", int(valid.sum()), 0.01, 10)
    raw = SimpleNetRaw(
        _Grid(torch.randn(1, c, gh, gw)),  # type: ignore[arg-type]
        head,
        disc,
        (h, w),
        1.0,
        valid,
        k,
    ).eval()
    with torch.no_grad():
        amap, score = raw(torch.zeros(1, 3, h, w))
    inside = np.sort(amap[0, 0].numpy()[valid.numpy()])[::-1]
    assert k == 7
    assert float(score[0]) == pytest.approx(float(inside[:k].mean()), abs=1e-5)
    assert float(score[0]) < float(inside[0])  # not the maximum
