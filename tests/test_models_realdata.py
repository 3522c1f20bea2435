"""Regression on real data: PatchCore at default settings on mpdd_metal_plate.

The measured metrics are held against tests/data/models_regression.json with a
margin, so a change that loses accuracy fails (see docs/readme/30-models.md for
how the table was measured).
"""

from __future__ import annotations

import json
import sys
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
    assert cli.main(["train", "--model", "patchcore", "--data", str(data), "--out", str(out),
                     "--quiet"]) == 0
    sys.path.insert(0, str(ROOT))
    from bench.eval_model import evaluate

    got = evaluate(out, data, threads=None)
    want = TABLE["patchcore"]["mpdd_metal_plate"]
    for key, margin in TABLE["margins"].items():
        assert got[key] >= want[key] - margin, f"{key}: {got[key]} < {want[key]} - {margin}"
