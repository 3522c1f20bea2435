"""Extraction + tracking end to end: synthetic scenes, mp4 files, the CLI, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from track_synth import make_underbody, render_scene, templates_for, truth_rows, write_scene

from xrbridge import cli
from xrbridge.core.extraction import Extractor
from xrbridge.core.matching import TemplateMatcher, templates_from_arrays
from xrbridge.extract import record_to_json
from xrbridge.trackeval import evaluate

SPEEDS = {
    "constant": lambda t: 300.0,
    "accelerating": lambda t: 150.0 + 80.0 * t,
    "varying": lambda t: 260.0 + 90.0 * np.sin(1.3 * t),
}


@pytest.mark.parametrize("profile", list(SPEEDS))
def test_synthetic_line_meets_the_tracking_targets(profile: str) -> None:
    seed = 11
    sc = render_scene(
        cars=3,
        seconds=7.0,
        drop=0.2,
        lighting=0.3,
        seed=seed,
        speed=SPEEDS[profile],
        spacing_s=2.6,
        size=(640, 360),
        y0=100.0,
    )
    images, meta = templates_for(make_underbody(seed))
    ex = Extractor(TemplateMatcher(templates_from_arrays(images, meta)))
    recs = [
        record_to_json(ex.process(f, t, i))
        for i, (f, t) in enumerate(zip(sc.frames, sc.times, strict=True))
    ]
    peaks = [{"car": p.car_id, "view": p.view, "index": p.index} for p in ex.peaks()]
    ev = evaluate(recs, truth_rows(sc), peaks)
    assert ev["truth_cars"] >= 2
    assert ev["rmse_px"] < 1.0  # target 2 px
    assert ev["id_switches"] == 0
    assert ev["cars_missed"] == [] and ev["views_missed"] == []
    assert ev["peak_frame_error_max"] <= 1  # target 2 frames
    assert ev["unassociated_tracks"] == []
    if profile == "constant":
        assert ev["pred_err_const"]["p95"] < 2.0  # target 3 px
    else:
        assert ev["pred_err_accel"]["rmse"] < 4.0
    for p in ex.peaks():  # crops are aligned to the template: same size, high match
        assert p.crop.shape == images[p.view].shape


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("synline")
    sc = render_scene(
        cars=2,
        seconds=4.5,
        drop=0.2,
        seed=4,
        spacing_s=2.0,
        size=(640, 360),
        y0=100.0,
        speed=lambda t: 330.0,
    )
    write_scene(d, sc, 4)
    return d


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_writes_crops_peaks_and_tracks(video_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ex"
    rc, stdout, _ = run_cli(
        [
            "extract",
            str(video_dir / "line.mp4"),
            "--templates",
            str(video_dir / "templates"),
            "--out",
            str(out),
            "--timestamps",
            str(video_dir / "truth.jsonl"),
            "--threshold",
            "0.5",
        ],
        capsys,
    )
    assert rc == 0
    summary = json.loads(stdout)
    assert summary["cars"] == 2 and summary["crops"] == 6 and summary["timestamps"] == "file"
    rows = [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]
    truth = [json.loads(line) for line in (video_dir / "truth.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(len(truth)))
    assert [r["t"] for r in rows] == pytest.approx([r["t"] for r in truth], abs=1e-5)
    tr = next(t for r in rows for t in r["tracks"] if t["measured"] is not None)
    assert set(tr) == {"id", "view", "score", "measured", "filtered", "velocity", "matches"}
    peaks = json.loads((out / "peaks.json").read_text())
    ev = evaluate(rows, truth, peaks)
    # mp4v compression on top of the synthetic scene: still well inside the targets.
    assert ev["rmse_px"] < 1.5 and ev["id_switches"] == 0 and ev["views_missed"] == []
    assert ev["peak_frame_error_max"] <= 2
    for p in peaks:
        crop = cv2.imread(str(out / p["file"]))
        tpl = cv2.imread(str(video_dir / "templates" / f"{p['view']}.png"))
        assert crop is not None and tpl is not None
        assert crop.shape == tpl.shape
        assert cv2.matchTemplate(crop, tpl, cv2.TM_CCOEFF_NORMED).max() > 0.8
    # Without a timestamps file: times from the container (dropped frames unseen). It runs and
    # finds the cars, but the belt looks jerky, so ids can break (documented; use --timestamps).
    rc, stdout, _ = run_cli(
        [
            "extract",
            str(video_dir / "line.mp4"),
            "--templates",
            str(video_dir / "templates"),
            "--out",
            str(tmp_path / "ex2"),
            "--no-progress",
        ],
        capsys,
    )
    assert rc == 0 and json.loads(stdout)["cars"] >= 2
    rows2 = [
        json.loads(line) for line in (tmp_path / "ex2" / "tracks.jsonl").read_text().splitlines()
    ]
    assert rows2[3]["t"] == pytest.approx(3 / 30, abs=1e-4)


def test_bad_input_exits_2_with_one_line(video_dir: Path, tmp_path: Path, capsys) -> None:
    tpl = str(video_dir / "templates")
    video = str(video_dir / "line.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    empty = tmp_path / "empty_templates"
    empty.mkdir()
    big = tmp_path / "big"
    big.mkdir()
    cv2.imwrite(str(big / "lower_front.png"), np.zeros((400, 700, 3), np.uint8))
    (big / "views.json").write_text(
        json.dumps({"lower_front": {"u0": 0, "v0": 0, "width": 700, "height": 400}})
    )
    cases = [
        ([str(tmp_path / "missing.mp4"), "--templates", tpl], "does not exist"),
        ([str(bad), "--templates", tpl], "cannot be opened"),
        ([video, "--templates", str(empty)], "holds no view template"),
        ([video, "--templates", str(tmp_path / "nowhere")], "does not exist"),
        ([video, "--templates", str(big)], "larger than the 640x360 frame"),
        ([video, "--templates", tpl, "--timestamps", str(tmp_path / "no.jsonl")], "does not exist"),
    ]
    for argv, reason in cases:
        rc, _, err = run_cli(["extract", *argv, "--out", str(tmp_path / "o")], capsys)
        assert rc == 2, argv
        lines = err.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0], (argv, err)


def test_timestamps_file_formats(tmp_path: Path) -> None:
    from xrbridge.errors import InputError
    from xrbridge.extract import load_timestamps

    (tmp_path / "a.jsonl").write_text('{"index": 0, "t": 0.0}\n{"index": 1, "t": 0.0667}\n')
    (tmp_path / "b.csv").write_text("index,t\n0,0.0\n1,0.0667\n\n")
    (tmp_path / "c.txt").write_text("0.0\n0.0667\nnot a time\n")
    assert load_timestamps(tmp_path / "a.jsonl") == [0.0, 0.0667]
    assert load_timestamps(tmp_path / "b.csv") == [0.0, 0.0667]
    with pytest.raises(InputError, match=r"c\.txt:3"):
        load_timestamps(tmp_path / "c.txt")


def _first_confirmed(recs: list, n: int) -> list[int]:
    """Frame index at which each of the first ``n`` car ids is first reported."""
    first: dict[int, int] = {}
    for r in recs:
        for tr in r.tracks:
            first.setdefault(tr.car_id, r.index)
    return sorted(first.values())[:n]


def test_staggered_birth_search_finds_new_cars_within_birth_every_frames() -> None:
    """One view's whole-frame search per frame while a car is tracked: a second car is
    still found at most ``birth_every - 1`` frames later than with every view on every
    frame, and the positions are the same."""
    from xrbridge.core.extraction import ExtractConfig

    sc = render_scene(
        cars=3,
        seconds=6.0,
        drop=0.0,
        seed=3,
        spacing_s=1.6,
        size=(640, 360),
        y0=100.0,
        speed=lambda t: 320.0,
    )
    images, meta = templates_for(make_underbody(3))
    runs = {}
    for every in (1, 3):
        ex = Extractor(
            TemplateMatcher(templates_from_arrays(images, meta)),
            config=ExtractConfig(birth_every=every),
        )
        recs = [
            ex.process(f, t, i) for i, (f, t) in enumerate(zip(sc.frames, sc.times, strict=True))
        ]
        runs[every] = recs
        ev = evaluate(
            [record_to_json(r) for r in recs],
            truth_rows(sc),
            [{"car": p.car_id, "view": p.view, "index": p.index} for p in ex.peaks()],
        )
        assert ev["truth_cars"] == 3 and ev["cars_missed"] == [] and ev["id_switches"] == 0, ev
        assert ev["rmse_px"] < 1.0, ev
    # Cars 2 and 3 enter while car 1 (then 2) is tracked: staggered search.
    a, b = _first_confirmed(runs[1], 3), _first_confirmed(runs[3], 3)
    assert len(a) == len(b) == 3
    assert all(0 <= y - x <= 2 for x, y in zip(a, b, strict=True)), (a, b)


def test_bad_search_settings_are_refused() -> None:
    from xrbridge.core.extraction import ExtractConfig
    from xrbridge.core.matching import MatchConfig
    from xrbridge.errors import InputError, TemplateError

    with pytest.raises(InputError, match="birth_every must be >= 1, got 0"):
        ExtractConfig(birth_every=0)
    with pytest.raises(InputError, match="min_window <= max_window"):
        ExtractConfig(min_window=50.0, max_window=20.0)
    with pytest.raises(
        TemplateError, match=r"fine_scale must be in \[coarse_scale=0.25, 1\], got 0.2"
    ):
        MatchConfig(fine_scale=0.2)
