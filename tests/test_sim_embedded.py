"""The embedded default line is reproduced by the renderer from its seed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from xrbridge.sim import SimConfig, embedded_line_dir, simulate


def _imread(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    img = cv2.imread(path, flags)
    assert img is not None, path
    return img


def test_embedded_line_is_complete() -> None:
    d = embedded_line_dir()
    for name in ("line.mp4", "truth.jsonl", "scene.json", "templates/views.json", "roi"):
        assert (d / name).exists(), name
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    assert size < 8_000_000


def test_renderer_reproduces_embedded_line(tmp_path: Path) -> None:
    d = embedded_line_dir()
    scene = json.loads((d / "scene.json").read_text())
    cfg = SimConfig.from_dict(scene["config"])
    simulate(cfg, tmp_path)
    assert (tmp_path / "truth.jsonl").read_text() == (d / "truth.jsonl").read_text()
    for name in ("lower_front", "lower_center", "lower_back"):
        a = _imread(str(tmp_path / "templates" / f"{name}.png")).astype(np.int16)
        b = _imread(str(d / "templates" / f"{name}.png")).astype(np.int16)
        assert np.abs(a - b).mean() < 1.0
    ca, cb = cv2.VideoCapture(str(tmp_path / "line.mp4")), cv2.VideoCapture(str(d / "line.mp4"))
    n = 0
    while True:
        oka, fa = ca.read()
        okb, fb = cb.read()
        assert oka == okb
        if not oka:
            break
        if n % 10 == 0:
            assert np.abs(fa.astype(np.int16) - fb.astype(np.int16)).mean() < 2.0, n
        n += 1
    assert n == scene["frames"]
