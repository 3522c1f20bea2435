"""The overlay scorer (xrbridge.eval.score and `xrbridge score`) on hand-made truth and overlays.

One car crosses three frames; it carries two defects in lower_center. The
overlays confirm one of them (id 1, drawn where the truth polygon is), one
false region (id 2, far from both) and a duplicate id on the found defect
(id 3); the car's verdict is NOK. Every number of the JSON is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xrbridge.errors import InputError
from xrbridge.eval.score import ScoreConfig, score

U0, V0, W, H = 560, 20, 520, 400  # lower_center in underbody px


def _truth() -> list[dict]:
    frames = []
    poly_a = [[700.0, 100.0], [740.0, 100.0], [740.0, 112.0], [700.0, 112.0]]  # found
    poly_b = [[900.0, 300.0], [912.0, 300.0], [912.0, 312.0], [900.0, 312.0]]  # missed
    for i, ox in enumerate((-300.0, -315.0, -330.0)):
        defects = [
            {
                "id": k,
                "type": t,
                "size": s,
                "view": "lower_center",
                "polygon_ub": p,
                "polygon_px": [[x + ox, y + 30.0] for x, y in p],
            }
            for k, t, s, p in ((0, "missing", "medium", poly_a), (1, "hole", "small", poly_b))
        ]
        views = {
            "lower_center": {"bbox": [ox + U0, 30.0 + V0, W, H], "visible": 1.0, "peak": i == 1}
        }
        frames.append(
            {
                "index": i,
                "t": i / 30,
                "cars": [{"id": 0, "offset": [ox, 30.0], "views": views, "defects": defects}],
            }
        )
    return frames


def _defect(did: int, u: float, v: float, w: float = 40.0, h: float = 12.0) -> dict:
    uv = [
        ((u - U0) / W, (v - V0) / H),
        ((u + w - U0) / W, (v - V0) / H),
        ((u + w - U0) / W, (v + h - V0) / H),
        ((u - U0) / W, (v + h - V0) / H),
    ]
    cu = sum(p[0] for p in uv) / 4
    cv = sum(p[1] for p in uv) / 4
    return {
        "defect_id": did,
        "view": "lower_center",
        "confirmed": True,
        "contour_uv": [x for p in uv for x in p],
        "centroid_uv": [cu, cv],
    }


def _overlays() -> list[dict]:
    out = []
    for i, ox in enumerate((-300.0, -315.0, -330.0)):
        ds = [] if i == 0 else [_defect(1, 700, 100)]
        if i == 2:
            ds += [_defect(2, 600, 350, 10, 10), _defect(3, 702, 101, 36, 10)]
        verdicts = []
        if i == 2:
            verdicts = [
                {
                    "type": "car_verdict",
                    "stream_id": "s",
                    "car_id": 5,
                    "status": "NOK",
                    "defects": [
                        {
                            "centroid_ub": [720.0, 106.0],
                            "type_guess": "missing",
                            "size_class": "large",
                        }
                    ],
                }
            ]
        out.append(
            {
                "type": "overlay_frame",
                "seq": i,
                "track": {"car_id": 5, "x": ox, "y": 30.0},
                "defects": ds,
                "verdicts": verdicts,
            }
        )
    return out


def test_scores_recall_false_duplicates_iou_time_and_verdicts() -> None:
    r = score(_overlays(), _truth(), ScoreConfig(), details=True)
    assert (r["defects_expected"], r["defects_found"], r["recall"]) == (2, 1, 0.5)
    assert (r["confirmed_ids"], r["false_ids"], r["duplicate_ids"]) == (3, 1, 1)
    assert r["false_per_car"] == 1.0 and r["cars"] == 1
    assert r["iou_mean"] == pytest.approx(1.0, abs=0.02)  # id 1 lies exactly on the polygon
    assert r["ttfc_median_frames"] == pytest.approx(1.0)  # visible in frame 0, shown in frame 1
    assert r["ttfc_median_ms"] == pytest.approx(33.3, abs=0.1)
    assert r["by_type"]["missing"]["recall"] == 1.0 and r["by_type"]["hole"]["recall"] == 0.0
    assert r["by_size"]["small"]["found"] == 0 and r["by_size"]["medium"]["found"] == 1
    v = r["verdicts"]
    assert v["confusion"] == {"NOK->NOK": 1} and v["accuracy"] == 1.0
    assert (v["type_guess_accuracy"], v["size_class_accuracy"]) == (1.0, 0.0)
    assert [f["id"] for f in r["false_detail"]] == [[5, 2]]


def test_overlays_of_another_video_are_refused() -> None:
    ov = _overlays()
    ov[0]["seq"] = 99
    with pytest.raises(InputError, match="seq 99 is not a frame of the truth"):
        score(ov, _truth())
    with pytest.raises(InputError, match="overlay_frame or car_verdict"):
        score([{"type": "status"}], _truth())


def test_command_line_json_and_bad_input(tmp_path: Path) -> None:
    o, t = tmp_path / "o.jsonl", tmp_path / "truth.jsonl"
    o.write_text("".join(json.dumps(x) + "\n" for x in _overlays()))
    t.write_text("".join(json.dumps(x) + "\n" for x in _truth()))
    cmd = [sys.executable, "-m", "xrbridge.cli", "score"]
    r = subprocess.run(
        [*cmd, str(o), "--truth", str(t)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recall"] == 0.5
    o.write_text("not json\n")
    r = subprocess.run(
        [*cmd, str(o), "--truth", str(t)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "expected a JSON object per line" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
