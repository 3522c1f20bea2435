"""Parts of SimpleNet and MemSeg that the contract test does not look into."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xrbridge.errors import UsageError
from xrbridge.models.memseg.options import MemSegOptions
from xrbridge.models.memseg.simulate import perlin_mask, sealant_defect, simulate, structure_noise
from xrbridge.models.memseg.train import focal_loss
from xrbridge.models.options import parse
from xrbridge.models.simplenet.train import truncated_l1


def _img(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.8, (64, 64, 3)).astype(np.float32)


def test_perlin_mask_stays_in_the_foreground_and_is_never_empty() -> None:
    rng = np.random.default_rng(0)
    fg = np.zeros((64, 64), bool)
    fg[10:30, 5:60] = True
    for _ in range(20):
        m = perlin_mask(rng, fg)
        assert m.any() and not (m & ~fg).any()
        assert m.sum() <= 0.3 * fg.sum()


def test_simulate_pastes_only_inside_the_mask_with_the_given_transparency() -> None:
    rng = np.random.default_rng(1)
    img = _img()
    opts = dataclasses.replace(MemSegOptions(), anomaly_prob=1.0, transparency_min=1.0)
    out, mask = simulate(rng, img, None, opts)
    assert mask.any()
    np.testing.assert_array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0] - img[mask > 0]).mean() > 0.01
    none = dataclasses.replace(opts, anomaly_prob=0.0)
    out, mask = simulate(rng, img, None, none)
    assert not mask.any() and np.array_equal(out, img)


def test_structure_noise_is_a_permutation_of_the_image_cells() -> None:
    img = _img()
    out = structure_noise(np.random.default_rng(2), img, 8)
    assert out.shape == img.shape
    np.testing.assert_allclose(np.sort(out.ravel()), np.sort(img.ravel()), atol=1e-6)


def test_sealant_defects_follow_the_roi() -> None:
    rng = np.random.default_rng(3)
    img = _img()
    roi = np.zeros((64, 64), bool)
    roi[28:36, :] = True  # a horizontal bead
    img[roi] = 0.9
    near = np.zeros_like(roi)
    near[14:50, :] = True
    for _ in range(20):
        out, mask = sealant_defect(rng, img, roi)
        assert not (mask > 0)[~near].any(), "a sealant defect stays on or next to the bead"
        if mask.any():
            assert np.abs(out - img)[mask > 0].mean() > 0.05


def test_losses() -> None:
    p = torch.tensor([0.9, 0.1])
    t = torch.tensor([1.0, 0.0])
    want = -(0.1**4) * np.log(0.9)
    assert abs(float(focal_loss(p, t, 4.0)) - want) < 1e-6
    assert float(truncated_l1(torch.tensor([0.6, 0.7]), torch.tensor([-0.6, -0.9]), 0.5)) == 0.0
    assert abs(float(truncated_l1(torch.tensor([0.0]), torch.tensor([0.0]), 0.5)) - 1.0) < 1e-6


def test_option_choices_and_bools_are_checked() -> None:
    with pytest.raises(UsageError, match="foreground: expected one of all, otsu"):
        parse(MemSegOptions, "memseg", {"foreground": "sky"})
    from xrbridge.models.simplenet.options import SimpleNetOptions

    assert parse(SimpleNetOptions, "simplenet", {"feature_norm": "0"}).feature_norm is False
    with pytest.raises(UsageError, match="feature_norm: expected bool"):
        parse(SimpleNetOptions, "simplenet", {"feature_norm": "maybe"})


def test_efficientad_distilled_at_its_default_schedule_says_it_is_a_smoke_test(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from xrbridge import cli

    missing = Path(str(tmp_path)) / "no_such_category"
    base = ["train", "--model", "efficientad-s", "--data", str(missing), "--out", str(missing)]
    assert cli.main([*base, "--teacher", "distilled"]) == 2
    err = capsys.readouterr().err
    assert "smoke test" in err and "--distil-steps 300 --steps 1200" in err
    # the default teacher (the backbone) needs no warning
    assert cli.main(base) == 2
    assert "smoke test" not in capsys.readouterr().err
    # distillation flags without the distilled teacher: said, not silently ignored
    assert cli.main([*base, "--distil-steps", "300", "--distil-lr", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "--distil-steps, --distil-lr only apply to --teacher distilled" in err
    assert (
        cli.main(
            [
                "train",
                "--model",
                "efficientad-s",
                "--data",
                str(missing),
                "--out",
                str(missing),
                "--steps",
                "1200",
                "--distil-steps",
                "300",
                "--teacher",
                "distilled",
            ]
        )
        == 2
    )
    assert "smoke test" not in capsys.readouterr().err
