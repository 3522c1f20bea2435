"""`xrbridge eval` end to end on a synthetic category with a real ONNX model, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tests._eval_support import write_brightness_model, write_category
from xrbridge.cli import main
from xrbridge.eval.summary import METRIC_KEYS

CONTRACT_KEYS = {
    "image_auroc", "image_aupr", "image_precision", "image_recall", "image_f1",
    "pixel_auroc", "pixel_aupr", "pixel_aupro", "pixel_iou", "pixel_precision",
    "pixel_recall", "pixel_f1", "fp_share_image", "fp_share_pixel", "fn_by_size",
    "threshold_image", "threshold_pixel", "n_images", "latency_ms",
}  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("evalcmd")
    cat = write_category(root / "cat", n_good=8, n_defect=10, size=(40, 56), ext=".jpg")
    model = write_brightness_model(root / "model", 24, 24)
    return cat, model


def _eval(tmp: Path, cat: Path, model: Path, *extra: str) -> tuple[int, dict, dict]:
    out = tmp / "report"
    rc = main(
        [
            "eval",
            "--model",
            str(model),
            "--data",
            str(cat),
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )
    if rc != 0:
        return rc, {}, {}
    return (
        rc,
        json.loads((out / "metrics.json").read_text()),
        json.loads((out / "details.json").read_text()),
    )


def test_metrics_json_has_exactly_the_contract_keys_and_agrees_with_sklearn(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    from xrbridge.eval.dataset import list_test_set, load
    from xrbridge.models.runtime import OnnxModel

    cat, model_dir = setup
    rc, m, d = _eval(tmp_path, cat, model_dir)
    assert rc == 0
    assert set(m) == CONTRACT_KEYS and set(METRIC_KEYS) == CONTRACT_KEYS
    assert set(m["fn_by_size"]) == {"small", "medium", "large"}
    assert set(m["latency_ms"]) == {"p50", "p90", "p99"}
    assert m["n_images"] == 18
    for f in ("report.md", "roc_pr.png", "hist.png", "grid.png", "records.csv"):
        assert (tmp_path / "report" / f).is_file()
    # Recompute everything exactly, image by image, with the runtime and scikit-learn.
    model = OnnxModel(model_dir)
    ys, ss, py, ps = [], [], [], []
    for item in load(list_test_set(cat)):
        amap, score = model.predict(item.image)
        h, w = item.mask.shape
        ys.append(item.sample.is_defective)
        ss.append(score)
        py.append(item.mask.ravel())
        ps.append(cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR).ravel())
    ys_a, ss_a = np.array(ys), np.array(ss)
    assert m["image_auroc"] == pytest.approx(roc_auc_score(ys_a, ss_a))
    assert m["image_aupr"] == pytest.approx(average_precision_score(ys_a, ss_a))
    pred = ss_a >= 0.5
    tp, fp, fn = np.sum(pred & ys_a), np.sum(pred & ~ys_a), np.sum(~pred & ys_a)
    assert m["image_recall"] == pytest.approx(tp / (tp + fn))
    assert m["fp_share_image"] == pytest.approx(fp / (fp + fn) if fp + fn else 0.0)
    assert sum(m["fn_by_size"].values()) == fn
    y_pix, s_pix = np.concatenate(py), np.concatenate(ps)
    b = d["pixel_bounds"]
    assert abs(m["pixel_auroc"] - roc_auc_score(y_pix, s_pix)) <= b["auroc_pm"] + 1e-9
    lo, hi = b["aupr_interval"]
    assert lo - 1e-9 <= average_precision_score(y_pix, s_pix) <= hi + 1e-9
    pred_pix = s_pix >= m["threshold_pixel"]
    iou = np.sum(pred_pix & y_pix) / np.sum(pred_pix | y_pix)
    assert m["pixel_iou"] == pytest.approx(iou)
    assert 0.0 < m["pixel_aupro"] <= 1.0
    assert m["image_auroc"] > 0.9  # the brightness model does see the bright defects


def test_roi_default_and_no_roi(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cat, model_dir = setup
    roi_cat = tmp_path / "roicat"
    subprocess.run(["cp", "-r", str(cat), str(roi_cat)], check=True)
    roi = np.zeros((40, 56), np.uint8)
    roi[:, :28] = 255
    cv2.imwrite(str(roi_cat / "roi.png"), roi)
    rc, m_roi, d_roi = _eval(tmp_path / "a", roi_cat, model_dir, "--no-report")
    assert rc == 0 and d_roi["run"]["roi"] and d_roi["run"]["roi_eval"].endswith("roi.png")
    rc, m_off, d_off = _eval(tmp_path / "b", roi_cat, model_dir, "--no-roi", "--no-report")
    assert rc == 0 and not d_off["run"]["roi"]
    # Defects right of the ROI can no longer be found: fewer detections with the ROI.
    assert m_roi["image_recall"] <= m_off["image_recall"]
    assert m_roi != m_off
    rc, _, d_arg = _eval(
        tmp_path / "c", cat, model_dir, "--roi", str(roi_cat / "roi.png"), "--no-report"
    )
    assert rc == 0 and d_arg["run"]["roi"]


def test_model_without_manifest_is_refused(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat, model_dir = setup
    bad = tmp_path / "nomanifest"
    bad.mkdir()
    (bad / "model.onnx").write_bytes((model_dir / "model.onnx").read_bytes())
    rc = main(["eval", "--model", str(bad), "--data", str(cat), "--out", str(tmp_path / "r")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and len(err.strip().splitlines()) == 1


def test_defect_folder_without_ground_truth_is_refused(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat, model_dir = setup
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(cat), str(broken)], check=True)
    subprocess.run(["rm", "-r", str(broken / "ground_truth" / "hole")], check=True)
    rc = main(
        ["eval", "--model", str(model_dir), "--data", str(broken), "--out", str(tmp_path / "r")]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "ground_truth/hole" in err and "test/hole" in err


def test_odd_masks_are_repaired_and_said(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat, model_dir = setup
    odd = tmp_path / "odd"
    subprocess.run(["cp", "-r", str(cat), str(odd)], check=True)
    gt = odd / "ground_truth" / "hole"
    masks = sorted(gt.glob("*_mask.png"))
    m0 = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
    assert m0 is not None
    cv2.imwrite(
        str(masks[0]), cv2.resize(m0, (112, 80), interpolation=cv2.INTER_NEAREST)
    )  # 2x size
    m1 = cv2.imread(str(masks[1]), cv2.IMREAD_GRAYSCALE)
    assert m1 is not None
    cv2.imwrite(str(masks[1]), np.where(m1 > 0, 200, 0).astype(np.uint8))  # 0/200 mask
    rc, m, d = _eval(tmp_path, odd, model_dir)
    assert rc == 0
    err = capsys.readouterr().err
    assert "resized with nearest neighbour" in err and "binarised" in err
    notes = " ".join(d["notes"])
    assert masks[0].name in notes and masks[1].name in notes
    # Repaired masks give the same metrics as the clean ones.
    rc, m_clean, _ = _eval(tmp_path / "clean", cat, model_dir, "--no-report")
    for k in ("pixel_auroc", "pixel_aupro", "pixel_iou", "fn_by_size"):
        assert m[k] == pytest.approx(m_clean[k])
    assert "Notes on the data" in (tmp_path / "report" / "report.md").read_text()


def test_missing_mask_and_not_a_category(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat, model_dir = setup
    nomask = tmp_path / "nomask"
    subprocess.run(["cp", "-r", str(cat), str(nomask)], check=True)
    next((nomask / "ground_truth" / "missing").glob("*_mask.png")).unlink()
    assert (
        main(
            ["eval", "--model", str(model_dir), "--data", str(nomask), "--out", str(tmp_path / "r")]
        )
        == 2
    )
    assert "no mask for" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--model",
                str(model_dir),
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "test/" in capsys.readouterr().err


def test_cli_subprocess_prints_json(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cat, model_dir = setup
    r = subprocess.run(
        [sys.executable, "-m", "xrbridge", "eval", "--model", str(model_dir), "--data", str(cat),
         "--out", str(tmp_path / "r"), "--no-report", "--no-progress"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)) == CONTRACT_KEYS


def test_every_k_subsamples_each_folder(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cat, model_dir = setup  # 8 good, 5 hole, 5 missing
    rc, m, d = _eval(tmp_path, cat, model_dir, "--every", "2", "--no-report")
    assert rc == 0
    assert m["n_images"] == 4 + 3 + 3 and d["run"]["every"] == 2
    assert main(["eval", "--model", str(model_dir), "--data", str(cat), "--out", str(tmp_path / "x"),
                 "--every", "0"]) == 2  # fmt: skip
