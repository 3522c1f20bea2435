"""PatchCore tiles (small defects on large images) and the spread choice of held-out images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from tests.models_gen import make_category
from xrbridge.errors import DatasetError, UsageError
from xrbridge.models.artifact import load_manifest
from xrbridge.models.data import choose_holdout, kcentre_indices, strata_indices, thumbnails
from xrbridge.models.framework import TrainConfig, get_trainer, split_holdout, train
from xrbridge.models.patchcore.tiling import (
    TiledFeatures,
    TilePlan,
    auto_grid,
    parse_tiles,
    plan_for_input,
)
from xrbridge.models.preprocess import preprocess
from xrbridge.models.runtime import OnnxModel


class _CellMean(nn.Module):
    """A local stride-8 "feature": the mean of each 8x8 cell (tiling must not change it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(x, 8)


@pytest.mark.parametrize(
    ("rows", "cols", "tile", "overlap"),
    [(2, 2, (64, 64), 32), (2, 3, (64, 96), 16), (3, 1, (96, 64), 48), (1, 2, (64, 64), 0)],
)
def test_tiles_stitch_back_to_the_whole_image_grid(
    rows: int, cols: int, tile: tuple[int, int], overlap: int
) -> None:
    plan = TilePlan(rows, cols, tile, overlap)
    tiled = TiledFeatures(_CellMean(), plan, stride=8)
    x = torch.randn(2, 3, *plan.size)
    assert tiled.split(x).shape == (2 * rows * cols, 3, *tile)
    assert torch.equal(tiled(x), _CellMean()(x))


@pytest.mark.parametrize(
    ("base", "native", "grid"),
    [
        ((256, 256), (512, 512), (1, 1)),  # 2x native: not worth ~6x the cost (docs)
        ((256, 256), (768, 800), (2, 2)),  # 3x native: tiles
        ((256, 256), (1024, 1024), (2, 2)),
        ((256, 256), (300, 250), (1, 1)),  # about the input size: none
        ((256, 256), (1024, 400), (1, 1)),  # one axis only: none (the short axis decides)
        ((640, 256), (512, 205), (1, 1)),  # tall part smaller than its input
        ((256, 256), (3000, 4000), (2, 2)),  # capped at 2 per axis
    ],
)
def test_auto_grid_follows_the_native_size(
    base: tuple[int, int], native: tuple[float, float], grid: tuple[int, int]
) -> None:
    assert auto_grid(base, native) == grid


def test_tile_option_parsing_and_plans() -> None:
    assert parse_tiles("auto") is None and parse_tiles("1") == (1, 1)
    assert parse_tiles("2x3") == (2, 3) and parse_tiles("2") == (2, 2)
    for bad in ("0", "2x", "x2", "9x9", "two"):
        with pytest.raises(ValueError):
            parse_tiles(bad)
    assert plan_for_input((480, 480), (2, 2), 32) == TilePlan(2, 2, (256, 256), 32)
    assert TilePlan(2, 2, (256, 256), 32).size == (480, 480)
    with pytest.raises(ValueError, match="multiples of 32"):
        plan_for_input((64, 64), (2, 2), 32)


def test_auto_tiles_enlarge_the_input_for_large_images(tmp_path: Path) -> None:
    """input_size: native images 3x the base input -> 2x2 tiles of the base size."""
    paths = []
    for i, side in enumerate((192, 128)):
        folder = tmp_path / str(i)
        folder.mkdir()
        p = folder / "a.png"
        cv2.imwrite(str(p), np.zeros((side, side, 3), np.uint8))
        paths.append([p])
    cfg = TrainConfig(model="patchcore", data=tmp_path, out=tmp_path / "m", progress=False)
    trainer = get_trainer("patchcore", cfg)
    size, rule = trainer.input_size((64, 64), paths[0])  # type: ignore[attr-defined]
    assert size == (96, 96) and "tiles 2x2 (auto" in rule
    size, rule = trainer.input_size((64, 64), paths[1])  # type: ignore[attr-defined]  # 2x: none
    assert size == (64, 64) and "tiles 1x1" in rule
    off = get_trainer("patchcore", TrainConfig(**{**_kw(cfg), "options": {"tiles": "1"}}))
    assert off.input_size((64, 64), paths[0])[0] == (64, 64)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="tile_overlap"):
        get_trainer("patchcore", TrainConfig(**{**_kw(cfg), "options": {"tile_overlap": 20}}))
    with pytest.raises(UsageError, match="tiles"):
        get_trainer("patchcore", TrainConfig(**{**_kw(cfg), "options": {"tiles": "3y"}}))


def _kw(cfg: TrainConfig) -> dict[str, object]:
    return {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}


def test_tiled_model_trains_exports_and_onnx_agrees(tmp_path: Path) -> None:
    """2x2 tiles in the graph: the artifact keeps the contract and ONNX Runtime = torch."""
    data = make_category(tmp_path / "d", n_train=8, n_good=2, n_bad=2, size=96)
    out = tmp_path / "m"
    cfg = TrainConfig(
        model="patchcore",
        data=data,
        out=out,
        image_size=(96, 96),
        options={"coreset_ratio": 0.2, "proj_dim": 32, "tiles": "2x2"},
        progress=False,
        holdout=0.25,
    )
    res = train(cfg)
    m = load_manifest(out)
    assert m["patchcore"]["tiling"]["rows"] == 2 and m["patchcore"]["tiling"]["tile"] == [64, 64]
    assert m["training"]["tiles"] == 4 and m["outputs"]["anomaly_map"] == [1, 1, 96, 96]
    assert m["training"]["onnx_max_abs_diff"] < 1e-4
    model = OnnxModel(out, threads=1)
    from xrbridge.models.data import load_category

    good, bad = [], []  # raw scores: tiny calibration sets saturate the normalised ones
    for item in load_category(data).test:
        img = cv2.imread(str(item.path))
        amap, score = model.predict(img)
        assert amap.shape[-2:] == (96, 96)
        x = torch.from_numpy(preprocess(img, m))
        with torch.inference_mode():
            tm, ts = res.graph(x)
            (good if item.defect == "good" else bad).append(float(res.graph.raw(x)[1][0]))
        assert np.abs(tm.numpy().squeeze() - amap).max() < 1e-4
        assert abs(float(ts[0]) - score) < 1e-4
    assert min(bad) > max(good)


def test_kcentre_holdout_takes_one_image_per_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sizes = (30, 5, 3)  # a random draw of 3 would usually miss the small clusters
    emb = np.concatenate(
        [c + 0.3 * rng.standard_normal((n, 2)) for c, n in zip(centres, sizes, strict=True)]
    )
    label = np.repeat(np.arange(3), sizes)
    for seed in range(5):
        pick = kcentre_indices(emb, 3, seed)
        assert sorted(label[pick]) == [0, 1, 2]


def test_strata_holdout_is_proportional_and_covers_every_stratum() -> None:
    rng = np.random.default_rng(0)
    # 60 points along a line with a dense middle: 6 strata of 10 consecutive points each
    emb = np.sort(np.concatenate([rng.uniform(0, 1, 20), rng.uniform(0.4, 0.6, 40)]))[:, None]
    emb = np.hstack([emb, 0.01 * rng.standard_normal((60, 1))])
    for seed in range(5):
        pick = strata_indices(emb, 6, seed)
        assert len(set(pick)) == 6
        assert sorted(pick // 10) == list(range(6))  # one per tenth of the sorted rows
    assert len(strata_indices(emb, 7, 0)) == 7 and len(strata_indices(emb[:3], 3, 0)) == 3


def test_choose_holdout_strata_kcentre_and_random() -> None:
    rng = np.random.default_rng(1)
    images = rng.standard_normal((20, 3, 32, 32)).astype(np.float32)
    images[17:] += 3.0  # three brighter images: one of them is held out
    for choice in ("strata", "kcentre"):
        fit, hold = choose_holdout(images, 0.1, seed=0, choice=choice)
        assert len(hold) == 2 and not set(fit) & set(hold) and len(fit) + len(hold) == 20
    assert set(choose_holdout(images, 0.1, seed=0, choice="kcentre")[1]) & {17, 18, 19}
    assert thumbnails(images).shape == (20, 3 * 16 * 16)
    # "random" is the earlier seeded split
    paths = [Path(f"{i}.png") for i in range(20)]
    r_fit, r_hold = choose_holdout(images, 0.1, seed=3, choice="random")
    p_fit, p_hold = split_holdout(paths, 0.1, seed=3)
    assert [paths[i] for i in r_hold] == p_hold and [paths[i] for i in r_fit] == p_fit
    with pytest.raises(DatasetError, match="at least 2"):
        choose_holdout(images[:1], 0.1, 0)
    with pytest.raises(ValueError, match="strata, kcentre, random"):
        choose_holdout(images, 0.1, 0, choice="first")
