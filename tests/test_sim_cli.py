"""``xrbridge simulate`` on the command line (``demo`` is tested in test_bridge_commands.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xrbridge", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cars", "0"], "--cars"),
        (["--cars", "-3"], "--cars"),
        (["--size", "848by480"], "--size"),
        (["--size", "848x"], "--size"),
        (["--defect-rate", "1.5"], "--defect-rate"),
        (["--seed", "-1"], "--seed"),
        (["--fps", "0"], "--fps"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    r = _run("simulate", "--out", str(tmp_path / "o"), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert r.stdout == ""


def test_unwritable_out_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = _run("simulate", "--out", str(blocker / "sub"), "--cars", "1")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0], r.stderr


def test_simulate_prints_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _run(
        "simulate",
        "--out",
        str(out),
        "--cars",
        "1",
        "--seed",
        "4",
        "--size",
        "424x240",
        "--fps",
        "15",
        "--no-progress",
        "--dataset-cars",
        "2",
        "--train-frames",
        "2",
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["frames"] == len(
        (out / "line.mp4").parent.joinpath("truth.jsonl").read_text().splitlines()
    )
    assert s["frames_per_s"] > 0
    scene = json.loads((out / "scene.json").read_text())
    assert scene["frame_size"] == [424, 240] and scene["fps"] == 15
    assert len(scene["dataset_cars"]) == 2


def test_same_seed_same_run_whatever_the_threads(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from xrbridge.sim import SimConfig, simulate

    cfg = SimConfig(cars=1, seed=9, size=(424, 240), fps=12.0, dataset_cars=1, train_frames=2)
    simulate(cfg, tmp_path / "a", workers=1)
    simulate(cfg, tmp_path / "b", workers=3)
    for name in ("truth.jsonl", "scene.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    ca = cv2.VideoCapture(str(tmp_path / "a" / "line.mp4"))
    cb = cv2.VideoCapture(str(tmp_path / "b" / "line.mp4"))
    n = 0
    while True:
        oka, fa = ca.read()
        okb, fb = cb.read()
        assert oka == okb
        if not oka:
            break
        assert np.array_equal(fa, fb)
        n += 1
    assert n > 10
    pa = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "dataset").rglob("*.png"))
    pb = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b" / "dataset").rglob("*.png"))
    assert pa == pb and len(pa) > 3
