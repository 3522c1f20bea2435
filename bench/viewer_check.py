"""Checks the browser viewer in headless Chromium and saves a screenshot. JSON on stdout.

    python bench/viewer_check.py [--out docs/img/bridge_viewer.png] [--seconds 60]

Starts ``xrbridge demo`` on free ports and opens the viewer page in Debian's
``chromium --headless`` (flags below), then drives it over the DevTools
protocol (a WebSocket): every half second it reads the page's own counters
(``window.__xrbridge``: video frames shown, overlay messages decoded, contours
drawn so far and in the current picture) and, once the picture shows video
and at least one contour, captures the screenshot. Exit code 0 when it did.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=900,640",
]
STATE = (
    "JSON.stringify({frames: window.__xrbridge.frames, overlays: window.__xrbridge.overlays, "
    "contours: window.__xrbridge.contours, now: window.__xrbridge.now})"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(debug_port: int, out: Path, seconds: float) -> dict[str, object]:
    from websockets.asyncio.client import connect

    deadline = time.monotonic() + 30
    target = None
    while target is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json/list", timeout=2) as r:
                pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
            target = pages[0]["webSocketDebuggerUrl"] if pages else None
        except OSError:
            pass
        if target is None:
            if time.monotonic() > deadline:
                raise RuntimeError("chromium's DevTools endpoint did not come up")
            await asyncio.sleep(0.5)
    state: dict[str, int] = {}
    best: dict[str, int] = {}
    async with connect(target, proxy=None, max_size=None) as cdp:
        n = 0

        async def call(method: str, params: dict[str, object]) -> dict[str, object]:
            nonlocal n
            n += 1
            await cdp.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                m = json.loads(await cdp.recv())
                if m.get("id") == n:
                    return m.get("result", {})  # type: ignore[no-any-return]

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = await call("Runtime.evaluate", {"expression": STATE, "returnByValue": True})
            value = r.get("result", {}).get("value")  # type: ignore[union-attr]
            if value:
                state = json.loads(value)
                best = max(best, state, key=lambda s: s.get("contours", 0)) if best else state
                if state["frames"] > 0 and state["now"] > 0:
                    shot = await call("Page.captureScreenshot", {"format": "png"})
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(base64.b64decode(str(shot["data"])))
                    return {"ok": True, "state": state, "screenshot": str(out)}
            await asyncio.sleep(0.5)
    return {"ok": False, "state": state, "best": best, "screenshot": None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "bridge_viewer.png")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to wait for a contour")
    p.add_argument("--models-dir", default=None, help="passed to xrbridge demo")
    args = p.parse_args()
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if chrome is None:
        print(
            json.dumps({"ok": False, "error": "chromium not installed (apt-get install chromium)"})
        )
        return 2
    extra = ["--models-dir", args.models_dir] if args.models_dir else []
    demo = subprocess.Popen(
        [sys.executable, "-m", "xrbridge", "demo", "--ws-port", "0", "--grpc-port", "-1", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    browser = None
    try:
        assert demo.stdout is not None
        url = json.loads(demo.stdout.readline())["demo"]["viewer"]
        port = free_port()
        with tempfile.TemporaryDirectory() as profile:
            browser = subprocess.Popen(
                [
                    chrome,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--remote-debugging-port={port}",
                    url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = asyncio.run(drive(port, args.out, args.seconds))
            browser.terminate()
            browser.wait(timeout=20)
    finally:
        if browser is not None and browser.poll() is None:
            browser.kill()
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
