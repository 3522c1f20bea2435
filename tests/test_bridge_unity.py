"""The Unity package (unity_client_stub/com.xrbridge.client) compiled with mono (mcs) and run in
its console harness: golden messages, the sample scene script, a live stream."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.bridge_support import FACTOR, ROOT, clip, running

pytestmark = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None,
    reason="needs Debian's mono-mcs + mono-runtime (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cs")
    r = subprocess.run(
        [str(ROOT / "unity_client_stub" / "harness" / "build.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return out / "harness.exe"


def _close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) >= set(b) - {"hits", "area_mm2"}, path
        for k in b:
            _close(a.get(k), b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(b, float) or isinstance(a, float):
        assert math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_harness_decodes_and_draws_the_golden_messages(harness: Path) -> None:
    r = subprocess.run(
        ["mono", str(harness), "--golden", str(ROOT / "tests" / "golden")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    golden = [x for x in lines if "golden" in x]
    fuzz = [x for x in lines if "fuzz" in x]
    sample = [x["sample"] for x in lines if "sample" in x]
    assert sample == [
        {"url": "ws://192.168.1.20:8765/ws", "anchor": "Underbody anchor", "ok": True}
    ]
    assert len(golden) == len(list((ROOT / "tests" / "golden").glob("*.msgpack"))) >= 2
    for g in golden:
        want = json.loads(
            (ROOT / "tests" / "golden" / g["golden"].replace(".msgpack", ".json")).read_text()
        )
        if want.get("type") == "car_verdict":  # a verdict on its own
            _close(g["verdict"], want)
            continue
        if want.get("type") == "robot_alert":  # a robot's drift alert
            _close(g["alert"], want)
            continue
        _close(g["frame"], want)
        confirmed = [d for d in want["defects"] if d["confirmed"]]
        assert g["contours_drawn"] == len(confirmed)
        assert g["arrows_drawn"] == sum(d["hint"] is not None for d in confirmed)
    assert all(f["unexpected"] == 0 and f["cases"] > 500 for f in fuzz)


def test_harness_decodes_a_live_stream_and_reconnects(harness: Path, tmp_path: Path) -> None:
    video = clip(tmp_path / "car.mp4", 30, 100)

    async def go() -> dict[str, Any]:
        async with running(sources=(f"line={video}",), loop=True) as b:
            proc = await asyncio.create_subprocess_exec(
                "mono",
                str(harness),
                "--url",
                b.urls["websocket"],
                "--frames",
                "15",
                "--reconnect",
                "--timeout",
                str(40 * FACTOR),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60 * FACTOR)
            assert proc.returncode == 0, out.decode() + err.decode()
            return json.loads(out.decode().strip().splitlines()[-1])["live"]

    live = asyncio.run(go())
    assert live["ok"] and live["overlays"] >= 30 and live["reconnects"] >= 1
    assert live["streams"] == ["line"] and live["decode_errors"] == 0
    assert live["main_thread_violations"] == 0
