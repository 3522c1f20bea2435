"""Bad and odd inputs of the training data path and of the model registry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from xrbridge import cli
from xrbridge.errors import DatasetError, UnknownNameError
from xrbridge.models.data import CorruptImageWarning, load_category, load_images, load_mask
from xrbridge.models.framework import TrainConfig, get_trainer, split_holdout
from xrbridge.models.preprocess import to_bgr_uint8


def test_missing_train_good_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cat" / "test" / "good").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no train/good"):
        load_category(tmp_path / "cat")
    with pytest.raises(DatasetError, match="does not exist"):
        load_category(tmp_path / "nowhere")


def test_cli_reports_bad_data_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cat").mkdir()
    code = cli.main(
        [
            "train",
            "--model",
            "patchcore",
            "--data",
            str(tmp_path / "cat"),
            "--out",
            str(tmp_path / "m"),
            "--quiet",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train/good" in err[0]


def test_mixed_channels_and_sizes_are_handled(tmp_path: Path) -> None:
    good = tmp_path / "cat" / "train" / "good"
    good.mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(good / "grey.png"), rng.integers(0, 255, (40, 70), dtype=np.uint8))
    cv2.imwrite(str(good / "bgr.jpg"), rng.integers(0, 255, (90, 50, 3), dtype=np.uint8))
    cv2.imwrite(str(good / "bgra.png"), rng.integers(0, 255, (64, 64, 4), dtype=np.uint8))
    cv2.imwrite(str(good / "deep.png"), rng.integers(0, 65535, (30, 30), dtype=np.uint16))
    cat = load_category(tmp_path / "cat")
    x, kept = load_images(list(cat.train), 64, 96)
    assert x.shape == (4, 3, 64, 96) and x.dtype == np.float32
    assert len(kept) == 4
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


def test_corrupt_image_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    good = tmp_path / "cat" / "train" / "good"
    good.mkdir(parents=True)
    cv2.imwrite(str(good / "ok.png"), np.full((32, 32, 3), 100, np.uint8))
    (good / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    cat = load_category(tmp_path / "cat")
    with pytest.warns(CorruptImageWarning, match="broken.png"):
        x, kept = load_images(list(cat.train), 64, 64)
    assert [p.name for p in kept] == ["ok.png"]
    assert x.shape == (1, 3, 64, 64)


def test_masks_and_roi_resize(tmp_path: Path) -> None:
    from tests.models_gen import make_category

    cat = load_category(make_category(tmp_path, n_train=2, n_good=1, n_bad=2, roi=True))
    assert cat.roi is not None
    bad = [t for t in cat.test if t.defect != "good"]
    assert all(t.mask is not None for t in bad)
    m = load_mask(bad[0], 32, 32)
    assert m.shape == (32, 32) and m.dtype == bool and m.any()
    good = next(t for t in cat.test if t.defect == "good")
    assert not load_mask(good, 32, 32).any()


def test_bad_image_arrays_name_what_came() -> None:
    from xrbridge.errors import ImageError

    with pytest.raises(ImageError, match="float32"):
        to_bgr_uint8(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageError, match=r"\(4, 4, 2\)"):
        to_bgr_uint8(np.zeros((4, 4, 2), np.uint8))


def test_unknown_model_lists_valid_names(tmp_path: Path) -> None:
    cfg = TrainConfig(model="resnet", data=tmp_path, out=tmp_path / "m")
    with pytest.raises(UnknownNameError, match="patchcore, memseg, efficientad-s"):
        get_trainer("resnet", cfg)


def test_holdout_split_is_seeded_and_disjoint() -> None:
    paths = [Path(f"{i}.png") for i in range(20)]
    a_fit, a_hold = split_holdout(paths, 0.1, seed=3)
    b_fit, b_hold = split_holdout(paths, 0.1, seed=3)
    assert (a_fit, a_hold) == (b_fit, b_hold)
    assert len(a_hold) == 2 and not set(a_fit) & set(a_hold)
    with pytest.raises(DatasetError, match="at least 2"):
        split_holdout(paths[:1], 0.1, 0)
