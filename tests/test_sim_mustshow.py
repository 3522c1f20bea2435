"""Issue 2's acceptance command: ``xrbridge simulate --out DIR --cars 6 --seed 7``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrbridge.names import DEFECTS, VIEWS


@pytest.mark.slow
def test_cars6_seed7_writes_everything(tmp_path: Path) -> None:
    out = tmp_path / "s"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "xrbridge",
            "simulate",
            "--out",
            str(out),
            "--cars",
            "6",
            "--seed",
            "7",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    truth = (out / "truth.jsonl").read_text().splitlines()
    cap = cv2.VideoCapture(str(out / "line.mp4"))
    n = 0
    while cap.grab():
        n += 1
    assert n == len(truth) == summary["frames"]
    scene = json.loads((out / "scene.json").read_text())
    assert len(scene["cars"]) == 6 and scene["seed"] == 7
    defective = [c for c in scene["cars"] if c["defects"]]
    assert defective
    for v in VIEWS:
        assert (out / "templates" / f"{v}.png").is_file() and (out / "roi" / f"{v}.png").is_file()
        base = out / "dataset" / v
        assert any((base / "train" / "good").iterdir())
        assert (base / "roi.png").is_file()
    # defective cars have non-empty masks in the view of each of their defects
    for c in defective:
        for d in c["defects"]:
            base = out / "dataset" / d["view"]
            imgs = [p for t in DEFECTS for p in (base / "test" / t).glob(f"car{c['id']:03d}_*.png")]
            assert len(imgs) == 1, (c["id"], d["view"])
            mask = cv2.imread(
                str(base / "ground_truth" / imgs[0].parent.name / f"{imgs[0].stem}_mask.png"),
                cv2.IMREAD_GRAYSCALE,
            )
            assert mask is not None and int(np.count_nonzero(mask)) > 20
