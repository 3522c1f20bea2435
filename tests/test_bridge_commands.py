"""The bridge's commands as a user runs them: replay, serve (TOML + client), demo --once, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.bridge_support import FACTOR, ROOT, clip, models_dir, scene_dir
from xrbridge.wire.codec import overlay_from_dict


def _xr(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xrbridge", *args],
        capture_output=True,
        text=True,
        timeout=timeout * FACTOR,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xrbridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _first_json(proc: subprocess.Popen[str]) -> dict:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return json.loads(line)


@pytest.fixture(scope="module")
def car_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "car.mp4", 30, 45)


def test_replay_writes_every_frame_as_an_overlay(car_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "overlays.jsonl"
    db = tmp_path / "records.db"
    r = _xr(
        "replay",
        str(car_clip),
        "--out",
        str(out),
        "--models-dir",
        str(models_dir()),
        "--templates",
        str(scene_dir()),
        "--records-db",
        str(db),
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    st = summary["streams"][0]
    assert st["frames_in"] == 45 and st["inferred"] == 45 and st["dropped"] == 0  # lossless offline
    lines = out.read_text().splitlines()
    assert summary["lines"] == len(lines) == 45
    overlays = [overlay_from_dict(json.loads(x)) for x in lines]
    assert [o.seq for o in overlays] == list(range(45))
    assert sum(o.track is not None for o in overlays) >= 10
    assert summary["cars"] >= 1
    # every car the stream saw leaves one inspection record in SQLite (cars still
    # in view when the video ends included)
    from xrbridge.io.records import SqliteRecordStore

    with SqliteRecordStore(db) as store:
        recs = store.query()
    assert len(recs) == summary["cars"]
    assert {r.stream_id for r in recs} == {st["stream"]} and all(r.views for r in recs)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("replay", "missing.mp4"), "video file not found"),
        (("replay", "{clip}", "--model", "resnet"), "unknown model 'resnet'; valid:"),
        (("replay", "{clip}", "--ws-port", "x"), "ws_port must be int"),
        (("serve", "--config", "nope.toml"), "config file not found"),
        (("client", "http://127.0.0.1:1/"), "URL must start with ws://"),
        (("replay", "{clip}", "--records-db", "/proc/no/such/dir/x.db"), "--records-db"),
    ],
)
def test_bad_input_exits_2_with_one_line(car_clip: Path, args: tuple[str, ...], match: str) -> None:
    args = tuple(a.replace("{clip}", str(car_clip)) for a in args)
    r = _xr(*args, "--models-dir", str(models_dir())) if args[0] == "replay" else _xr(*args)
    assert r.returncode == 2, r.stderr
    assert match in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_serve_from_toml_and_client_records(car_clip: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bridge.toml"
    cfg.write_text(
        f'ws_port = 0\ngrpc_port = 0\nsources = ["line={car_clip}", "cam=push"]\n'
        f'loop = true\nmodels_dir = "{models_dir()}"\ntemplates = "{scene_dir()}"\n'
    )
    proc = _spawn("serve", "--config", str(cfg), "--heartbeat-s", "1")
    try:
        info = _first_json(proc)
        assert sorted(info["streams"]) == ["cam", "line"]
        rec = tmp_path / "rec.jsonl"
        r = _xr(
            "client",
            info["serving"]["websocket"],
            "--stream",
            "line",
            "--count",
            "10",
            "--record",
            str(rec),
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert len([overlay_from_dict(json.loads(x)) for x in rec.read_text().splitlines()]) == 10
        r = _xr(
            "client",
            "grpc://" + info["serving"]["grpc"],
            "--stream",
            "line",
            "--count",
            "3",
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.strip().splitlines()) == 3
        assert json.loads(r.stdout.splitlines()[0])["stream"] == "line"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert {s["stream"] for s in summary["streams"]} == {"cam", "line"}


def test_demo_once_serves_and_ends(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    proc = _spawn(
        "demo", "--once", "--ws-port", "0", "--grpc-port", "0", "--models-dir", str(models_dir())
    )
    try:
        info = _first_json(proc)
        assert {"websocket", "viewer", "grpc", "metrics"} <= set(info["demo"])
        r = _xr("client", info["demo"]["websocket"], "--count", "3", timeout=60)
        assert r.returncode == 0, r.stderr
        out, err = proc.communicate(timeout=180 * FACTOR)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "press Ctrl-C" not in err and "one pass" in err
    summary = json.loads(out.strip().splitlines()[-1])
    st = summary["streams"][0]
    cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
    n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert st["state"] == "ended" and st["frames_in"] == n_frames > 100
    assert st["frames_in"] == st["inferred"] + st["dropped"]
    assert summary["cars"] >= 2
    assert time.perf_counter() - t0 < 180 * FACTOR


def test_demo_once_fast_infers_every_frame_and_the_viewer_url_carries_the_token() -> None:
    proc = _spawn(
        "demo",
        "--once",
        "--fast",
        "--ws-port",
        "0",
        "--grpc-port",
        "0",
        "--token",
        "a b",
        "--models-dir",
        str(models_dir()),
    )
    try:
        info = _first_json(proc)
        assert info["demo"]["viewer"].endswith("/?token=a%20b")
        out, err = proc.communicate(timeout=240 * FACTOR)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    st = json.loads(out.strip().splitlines()[-1])["streams"][0]
    assert st["frames_in"] > 100 and st["inferred"] == st["frames_in"] and st["dropped"] == 0


def test_busy_grpc_port_exits_2_with_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _xr(
            "serve",
            "--ws-port",
            "0",
            "--grpc-port",
            str(port),
            "--sources",
            "p=push",
            "--models-dir",
            str(models_dir()),
            "--records-db",
            "",
            timeout=60,
        )
    assert r.returncode == 2, r.stderr
    assert "cannot listen" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_records_into_a_pipe_that_closes_early(tmp_path: Path) -> None:
    from xrbridge.core.records import InspectionRecord, ViewResult
    from xrbridge.io.records import SqliteRecordStore

    db = tmp_path / "r.db"
    with SqliteRecordStore(db) as s:
        s.write_many(
            [InspectionRecord("l", i, 0.0, 1.0, "m", (ViewResult("v", 0.5),)) for i in range(3000)]
        )
    cmd = f"{sys.executable} -m xrbridge records --db {db} --format csv | head -2"
    r = subprocess.run(
        ["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, timeout=120 * FACTOR
    )
    assert len(r.stdout.splitlines()) == 2
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
