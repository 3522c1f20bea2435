"""`xrbridge compare` over real eval runs: 2 models x 3 seeds x ROI on/off."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import stats

from tests._eval_support import write_brightness_model, write_category
from xrbridge.cli import main

SIZES = {"alpha": (24, 20, 28), "beta": (8, 10, 12)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    cat = write_category(root / "cat", n_good=6, n_defect=9, size=(36, 48), seed=3)
    roi = np.zeros((36, 48), np.uint8)
    roi[:, :30] = 255
    cv2.imwrite(str(root / "roi.png"), roi)
    reports = root / "reports"
    for label, sizes in SIZES.items():
        for seed, s in enumerate(sizes):
            model = write_brightness_model(root / f"m_{label}_{seed}", s, s)
            for roi_args, tag in (([], "off"), (["--roi", str(root / "roi.png")], "on")):
                rc = main(["eval", "--model", str(model), "--data", str(cat), "--no-report",
                           "--no-progress", "--label", label, "--seed", str(seed),
                           "--out", str(reports / f"{label}_{tag}_{seed}"), *roi_args])  # fmt: skip
                assert rc == 0
    return reports


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _metric(reports: Path, name: str, key: str) -> float:
    return float(json.loads((reports / name / "metrics.json").read_text())[key])


def test_compare_tables_tests_and_roi_changes(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == 12
    for f in ("compare.md", "image.csv", "pixel.csv", "tests.csv", "roi_errors.csv"):
        assert (out / f).is_file()
    # mean ± std over seeds, in percent
    img = {r["variant"]: r for r in _rows(out / "image.csv")}
    assert set(img) == {"alpha", "alpha†", "beta", "beta†"}
    vals = [_metric(runs, f"alpha_off_{s}", "image_f1") * 100 for s in range(3)]
    assert float(img["alpha"]["image_f1_mean"]) == pytest.approx(np.mean(vals), rel=1e-5)
    assert float(img["alpha"]["image_f1_std"]) == pytest.approx(
        np.std(vals, ddof=1), rel=1e-4, abs=1e-4
    )
    # paired t-test by seed + BH over all tests
    tests = _rows(out / "tests.csv")
    row = next(
        t for t in tests if t["a"] == "alpha" and t["b"] == "beta" and t["metric"] == "pixel_aupro"
    )
    xa = [_metric(runs, f"alpha_off_{s}", "pixel_aupro") for s in range(3)]
    xb = [_metric(runs, f"beta_off_{s}", "pixel_aupro") for s in range(3)]
    assert float(row["p"]) == pytest.approx(stats.ttest_rel(xa, xb).pvalue, rel=1e-4)
    ps = np.array([float(t["p"]) for t in tests if t["p"] not in ("", "nan")])
    adj = np.array([float(t["p_bh"]) for t in tests if t["p"] not in ("", "nan")])
    np.testing.assert_allclose(adj, stats.false_discovery_control(ps), rtol=1e-4)
    assert np.all(adj >= ps - 1e-12)
    # ROI error changes: counts are the sums of the runs' image-level errors
    roi_rows = {r["label"]: r for r in _rows(out / "roi_errors.csv")}
    assert set(roi_rows) == {"alpha", "beta", "all"}
    fn_on = sum(
        json.loads((runs / f"alpha_on_{s}" / "details.json").read_text())["image_counts"]["fn"]
        for s in range(3)
    )
    assert float(roi_rows["alpha"]["fn_on"]) == fn_on
    sizes_on = sum(float(roi_rows["alpha"][f"{k}_on"]) for k in ("small", "medium", "large"))
    assert sizes_on == fn_on
    assert float(roi_rows["all"]["fp_off"]) == float(roi_rows["alpha"]["fp_off"]) + float(
        roi_rows["beta"]["fp_off"]
    )
    md = (out / "compare.md").read_text()
    assert "alpha†" in md and "Benjamini-Hochberg" in md and "±" in md


def test_compare_refuses_non_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2
    assert "no report folders" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text("{}")
    assert main(["compare", str(bad)]) == 2
    assert "details.json" in capsys.readouterr().err


def test_compare_refuses_duplicate_runs(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(runs / "alpha_off_0"), str(runs / "alpha_off_0")]) == 2
    assert "same (category, variant, seed)" in capsys.readouterr().err
