"""Regression on real data: PatchCore at default settings on mpdd_metal_plate.

The metrics ``xrbridge eval`` measures are held against
tests/data/models_regression.json with a margin, so a change that loses
accuracy fails. The package only: no ``bench/`` import.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xrbridge import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TABLE = json.loads((ROOT / "tests" / "data" / "models_regression.json").read_text())


@pytest.mark.realdata
@pytest.mark.slow
def test_patchcore_mpdd_holds_the_committed_metrics(tmp_path: Path) -> None:
    data = DATA / "mpdd_metal_plate"
    if not data.is_dir():
        pytest.skip(f"{data} not present")
    out = tmp_path / "mpdd"
    assert (
        cli.main(
            ["train", "--model", "patchcore", "--data", str(data), "--out", str(out), "--quiet"]
        )
        == 0
    )
    report = tmp_path / "eval"
    assert (
        cli.main(
            [
                "eval",
                "--model",
                str(out),
                "--data",
                str(data),
                "--out",
                str(report),
                "--no-report",
                "--no-progress",
            ]
        )
        == 0
    )
    got = json.loads((report / "metrics.json").read_text())
    want = TABLE["patchcore"]["mpdd_metal_plate"]
    for key, margin in TABLE["margins"].items():
        assert got[key] >= want[key] - margin, f"{key}: {got[key]} < {want[key]} - {margin}"
