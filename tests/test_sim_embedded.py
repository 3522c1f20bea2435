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


def test_views_are_found_at_their_peaks_in_the_embedded_video() -> None:
    """Each view's template is found where the truth puts it, at every peak of the file."""
    d = embedded_line_dir()
    truth = [json.loads(s) for s in (d / "truth.jsonl").read_text().splitlines()]
    tpl = {
        v: _imread(str(d / "templates" / f"{v}.png"), cv2.IMREAD_GRAYSCALE)
        for v in ("lower_front", "lower_center", "lower_back")
    }
    cap = cv2.VideoCapture(str(d / "line.mp4"))
    found = 0
    for rec in truth:
        ok, frame = cap.read()
        assert ok
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for c in rec["cars"]:
            for v, info in c["views"].items():
                if not info["peak"]:
                    continue
                res = cv2.matchTemplate(gray, tpl[v], cv2.TM_CCOEFF_NORMED)
                _, score, _, loc = cv2.minMaxLoc(res)
                assert score > 0.6
                assert np.hypot(loc[0] - info["bbox"][0], loc[1] - info["bbox"][1]) <= 1.5
                found += 1
    assert found == 3 * len({c["id"] for r in truth for c in r["cars"]})
