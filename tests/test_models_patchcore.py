"""PatchCore end to end on generated data: train, export, ONNX Runtime == PyTorch, ROI, artifact checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.models_gen import make_category
from xrbridge import cli
from xrbridge.errors import ArtifactError, ModelError
from xrbridge.models.artifact import load_manifest
from xrbridge.models.data import load_category, load_images, load_mask
from xrbridge.models.framework import TrainConfig, TrainResult, train
from xrbridge.models.patchcore.coreset import greedy_coreset
from xrbridge.models.preprocess import preprocess
from xrbridge.models.runtime import OnnxModel

SIZE = 64
OPTS = {"coreset_ratio": 0.2, "proj_dim": 32}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_category(tmp_path_factory.mktemp("pc"), n_train=12, n_good=3, n_bad=3, size=SIZE)


@pytest.fixture(scope="module")
def trained(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainResult]:
    out = tmp_path_factory.mktemp("pcm") / "model"
    cfg = TrainConfig(
        model="patchcore",
        data=data,
        out=out,
        image_size=(SIZE, SIZE),
        options=OPTS,
        progress=False,
        holdout=0.25,
    )
    return out, train(cfg)


def test_artifact_files_and_manifest(trained: tuple[Path, TrainResult]) -> None:
    out, _res = trained
    m = load_manifest(out)
    assert (out / "model.onnx").is_file() and not (out / "roi.png").exists()
    assert m["model"] == "patchcore" and m["backbone"] == "efficientnet-lite0"
    assert m["input"]["height"] == SIZE and m["thresholds"] == {"image": 0.5, "pixel": 0.5}
    assert m["graph_contains"] == {
        "gaussian_blur": True,
        "score_normalization": True,
        "roi_mask": False,
    }
    assert m["training"]["images"] == 9 and m["training"]["heldout_images"] == 3
    assert len(m["training"]["fingerprint"]) == 64
    # refit after calibration: the bank covers all 12 good images
    assert m["training"]["refit"] and m["training"]["bank_size"] == round(12 * 64 * 0.2)
    assert m["training"]["calibration_bank_size"] == round(9 * 64 * 0.2)
    assert m["training"]["onnx_max_abs_diff"] < 1e-4
    # defaults: top-k score; position norm "auto" is off with 3 held-out images (< 30)
    assert m["patchcore"]["image_score"] == "topk" and m["patchcore"]["position_norm"] == "auto"
    assert m["training"]["position_norm"] is False
    assert "3 held-out images < 30" in m["training"]["position_norm_skipped"]


def test_onnxruntime_and_torch_agree_on_maps(trained: tuple[Path, TrainResult], data: Path) -> None:
    out, res = trained
    model = OnnxModel(out, threads=1)
    cat = load_category(data)
    x, _ = load_images([t.path for t in cat.test], SIZE, SIZE)
    for i in range(len(x)):
        om, os_ = model.run(x[i : i + 1])
        with torch.inference_mode():
            tm, ts = res.graph(torch.from_numpy(x[i : i + 1]))
        assert om.shape == (SIZE, SIZE)
        np.testing.assert_allclose(om, tm[0, 0].numpy(), atol=1e-4, rtol=0)
        assert abs(os_ - float(ts[0])) < 1e-4
        assert om.min() >= 0.0 and om.max() <= 1.0


def test_defects_score_higher_and_are_localised(
    trained: tuple[Path, TrainResult], data: Path
) -> None:
    out, _ = trained
    model = OnnxModel(out, threads=1)
    import cv2

    good, bad, inside, outside = [], [], [], []
    for item in load_category(data).test:
        amap, score = model.predict(cv2.imread(str(item.path)))
        if item.defect == "good":
            good.append(score)
        else:
            bad.append(score)
            mask = load_mask(item, SIZE, SIZE)
            inside.append(amap[mask].mean())
            outside.append(amap[~mask].mean())
    assert min(bad) > max(good)
    assert min(bad) > 0.5  # above the calibrated threshold
    assert np.mean(inside) > np.mean(outside)


def test_roi_masks_input_and_map_and_is_recorded(data: Path, tmp_path: Path) -> None:
    cat = make_category(tmp_path, n_train=6, n_good=1, n_bad=1, size=SIZE, roi=True)
    out = tmp_path / "roi_model"
    code = cli.main(
        [
            "train",
            "--model",
            "patchcore",
            "--data",
            str(cat),
            "--out",
            str(out),
            "--image-size",
            str(SIZE),
            "--coreset-ratio",
            "0.2",
            "--proj-dim",
            "32",
            "--quiet",
        ]
    )
    assert code == 0
    m = load_manifest(out)
    assert m["roi"]["applied"] and m["roi"]["file"] == "roi.png" and (out / "roi.png").is_file()
    assert m["graph_contains"]["roi_mask"]
    model = OnnxModel(out, threads=1)
    import cv2

    img = cv2.imread(str(next((cat / "test" / "blob").iterdir())))
    x = preprocess(img, model.manifest)
    assert np.all(x[0, :, :, SIZE // 2 :] == -1.0)  # masked input: black right half
    amap, _ = model.run(x)
    assert np.all(amap[:, SIZE // 2 :] == 0.0)  # masked map
    # --roi none trains without it even though the category has roi.png
    out2 = tmp_path / "no_roi"
    assert (
        cli.main(
            [
                "train",
                "--model",
                "patchcore",
                "--data",
                str(cat),
                "--out",
                str(out2),
                "--image-size",
                str(SIZE),
                "--roi",
                "none",
                "--quiet",
            ]
        )
        == 0
    )
    assert not load_manifest(out2)["roi"]["applied"]


def test_manifest_graph_mismatch_is_refused(
    trained: tuple[Path, TrainResult], tmp_path: Path
) -> None:
    out, _ = trained
    for key, change, match in (
        (
            "score_normalization",
            lambda m: m["score_normalization"]["image"].update(threshold=1.0),
            "disagree on 'score_normalization'",
        ),
        ("input", lambda m: m["input"].update(height=128), "shape"),
        ("model", lambda m: m.update(model="efficientad-s"), "disagree on 'model'"),
    ):
        bad = tmp_path / key
        shutil.copytree(out, bad)
        m = json.loads((bad / "manifest.json").read_text())
        change(m)
        (bad / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(ArtifactError, match=match):
            OnnxModel(bad)
    broken = tmp_path / "nomanifest"
    shutil.copytree(out, broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        OnnxModel(broken)


def test_runtime_rejects_wrong_input(trained: tuple[Path, TrainResult]) -> None:
    model = OnnxModel(trained[0], threads=1, warmup=0)
    with pytest.raises(ModelError, match=r"\(1, 3, 64, 64\) float32"):
        model.run(np.zeros((1, 3, 32, 32), np.float32))


def test_bench_prints_json(
    trained: tuple[Path, TrainResult], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            ["bench", "--model", str(trained[0]), "--runs", "5", "--warmup", "1", "--threads", "1"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in (
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "fps",
        "gflops",
        "gflops_per_s",
        "provider",
        "threads",
    ):
        assert key in out
    assert out["provider"] == "CPUExecutionProvider" and out["gflops"] > 0
    assert out["p50_ms"] <= out["p90_ms"] <= out["p99_ms"]


def test_greedy_coreset_covers_every_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0] * 8, [50.0] * 8, [-50.0] * 8, [0.0] * 4 + [80.0] * 4])
    pts = np.concatenate([c + rng.normal(0, 1, (500, 8)) for c in centres]).astype(np.float32)
    sel = greedy_coreset(torch.from_numpy(pts), 4, proj_dim=8, seed=1)
    assert len(set(sel.tolist())) == 4
    assert sorted(int(i) // 500 for i in sel) == [0, 1, 2, 3]


def test_bank_search_matches_brute_force() -> None:
    from xrbridge.models.patchcore.anomaly_map import BankScorer

    gen = torch.Generator().manual_seed(0)
    bank, q = torch.randn(300, 16, generator=gen), torch.randn(1, 16, 8, 8, generator=gen)
    scorer = BankScorer(bank, torch.zeros(300, 3, dtype=torch.long), (32, 32), 1.0)
    _, dist, idx = scorer.patch_scores(q)
    ref = torch.cdist(q.reshape(16, -1).t(), bank).min(1)
    torch.testing.assert_close(dist, ref.values, atol=1e-4, rtol=0)
    assert torch.equal(idx, ref.indices)


def test_two_level_coreset_covers_every_cluster() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 40, (4, 8))
    pts = np.concatenate([c + rng.normal(0, 1, (500, 8)) for c in centres]).astype(np.float32)
    sel = greedy_coreset(torch.from_numpy(pts), 4, proj_dim=8, seed=0, groups=8)
    assert sorted(int(i) // 500 for i in sel) == [0, 1, 2, 3]


def test_eq4_score_with_position_norm_trains_exports_and_agrees(data: Path, tmp_path: Path) -> None:
    """--image-score eq4 --position-norm 1 (the non-default paths): ONNX Runtime = torch."""
    out = tmp_path / "eq4"
    code = cli.main(
        [
            "train",
            "--model",
            "patchcore",
            "--data",
            str(data),
            "--out",
            str(out),
            "--image-size",
            str(SIZE),
            "--coreset-ratio",
            "0.2",
            "--proj-dim",
            "32",
            "--image-score",
            "eq4",
            "--position-norm",
            "1",
            "--holdout",
            "0.25",
            "--quiet",
        ]
    )
    assert code == 0
    m = load_manifest(out)
    assert m["patchcore"]["image_score"] == "eq4" and m["patchcore"]["position_norm"] == "1"
    assert m["training"]["position_norm"] is True and m["training"]["position_norm_images"] == 3
    assert m["training"]["onnx_max_abs_diff"] < 1e-4
    model = OnnxModel(out, threads=1)
    import cv2

    good, bad = [], []
    for item in load_category(data).test:
        _, score = model.predict(cv2.imread(str(item.path)))
        (good if item.defect == "good" else bad).append(score)
    assert min(bad) > max(good)


def test_search_budget_trades_dims_for_bank_entries() -> None:
    """A bank the budget cannot hold at proj_dim gets fewer PCA dims (multiple of 8, >= 16)."""
    from xrbridge.models.patchcore.train import DEFAULTS, _budget_dim

    opts = dict(DEFAULTS)  # 3 %, cap 8192, 128 dims, 8192 x 64
    assert _budget_dim(54 * 1024, opts) == 128  # mpdd: 1,659 entries x 128 fit
    assert _budget_dim(700_000, opts) == 64  # magnetic_tile: 8,192 entries
    assert _budget_dim(126 * 1280, opts) == 104  # sim view: 4,838 entries, 108 -> 104
    assert _budget_dim(10_000_000, {**opts, "max_bank": 10**6}) == 16  # floor
    assert _budget_dim(700_000, {**opts, "search_budget": 0}) == 128  # no budget
    assert _budget_dim(700_000, {**opts, "proj_dim": 0}) == 0  # no PCA: untouched


def test_position_stats_shrink_towards_the_pooled_ones() -> None:
    """Few held-out images: per-position spread is pulled towards the pooled spread."""
    from xrbridge.models.patchcore.train import _position_stats

    g = torch.Generator().manual_seed(0)
    s = 5.0 + torch.randn(4, 16, generator=g)  # 4 images, 4x4 grid
    s[:, 0] = 5.0 + torch.tensor([0.0, 0.0, 0.0, 0.001])  # position 0: nearly constant
    m0, sc0 = _position_stats(s, (4, 4), prior=0.0)
    m30, sc30 = _position_stats(s, (4, 4), prior=30.0)
    pooled_sd = float(s.std())
    # without a prior the smoothed per-position scales vary; with it they sit near the pooled one
    assert float(sc0.std()) > float(sc30.std())
    assert abs(float(sc30.mean()) - 1.1 * pooled_sd) < 0.3 * pooled_sd
    w = 4 / 34
    assert torch.allclose(m30, w * m0 + (1 - w) * s.mean(), atol=1e-5)
    assert bool((sc30 > 0).all()) and bool((sc0 > 0).all())


def test_bank_scorer_topk_and_position_stats() -> None:
    """The image score is the mean of the k highest z-scored patches, inside the ROI only."""
    from xrbridge.models.patchcore.anomaly_map import BankScorer

    torch.manual_seed(0)
    bank = torch.zeros(4, 2)
    bank[1:, 0] = torch.tensor([10.0, 20.0, 30.0])
    support = torch.arange(4)[:, None]
    feats = torch.zeros(1, 2, 2, 2)
    feats[0, 1] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # distance to bank entry 0 = 1..4
    valid = torch.tensor([1.0, 1.0, 1.0, 0.0])  # the 4.0 patch is outside the ROI
    sc = BankScorer(bank, support, (16, 16), 1.0, valid, image_score="topk", topk=2)
    _, score = sc(feats)
    assert float(score[0]) == pytest.approx(2.5)  # mean(3, 2); 4 is masked out
    sc.set_position_stats(torch.tensor([0.0, 0.0, 3.0, 0.0]), torch.tensor([1.0, 1.0, 0.5, 1.0]))
    _, score = sc(feats)
    assert float(score[0]) == pytest.approx(1.5)  # z = (1, 2, 0): mean(2, 1)
    with pytest.raises(ValueError, match="image_score"):
        BankScorer(bank, support, (4, 4), 1.0, image_score="mean")
