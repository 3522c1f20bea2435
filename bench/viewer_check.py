"""Checks the browser viewer in headless Chromium and saves a screenshot. JSON on stdout.

    python bench/viewer_check.py [--out docs/img/bridge_viewer.png] [--tries 20]

Starts ``xrbridge demo`` on free ports, loads the viewer page in Debian's
``chromium --headless`` several times and reads the page title, where the page
reports what it did: ``frames`` (video frames shown), ``overlays`` (overlay
messages decoded), ``contours`` (contours drawn so far) and ``now`` (contours
in the screenshot). Passes when a load shows video and an overlay; keeps the
first screenshot with a contour on it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=880,540"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "bridge_viewer.png")
    p.add_argument("--tries", type=int, default=20)
    p.add_argument("--models-dir", default=None, help="passed to xrbridge demo")
    p.add_argument("--budget-ms", type=int, default=2500, help="Chromium virtual time per load")
    args = p.parse_args()
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if chrome is None:
        print(json.dumps({"ok": False, "error": "chromium not installed (apt-get install chromium)"}))
        return 2
    extra = ["--models-dir", args.models_dir] if args.models_dir else []
    demo = subprocess.Popen([sys.executable, "-m", "xrbridge", "demo", "--ws-port", "0", "--grpc-port", "-1",
                             *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    results = []
    try:
        assert demo.stdout is not None
        url = json.loads(demo.stdout.readline())["demo"]["viewer"]
        time.sleep(2.0)
        saved = False
        for i in range(args.tries):
            with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as shots:
                shot = Path(shots) / "s.png"
                r = subprocess.run([chrome, *FLAGS, f"--user-data-dir={profile}",
                                    f"--virtual-time-budget={args.budget_ms}", f"--screenshot={shot}",
                                    "--dump-dom", url], capture_output=True, text=True, timeout=90)
                m = re.search(r"frames=(\d+) overlays=(\d+) contours=(\d+) now=(\d+)", r.stdout)
                row = dict(zip(("frames", "overlays", "contours", "now"), map(int, m.groups()), strict=True)) \
                    if m else {"frames": 0, "overlays": 0, "contours": 0, "now": 0}
                results.append(row)
                if row["now"] > 0 and row["frames"] > 0 and shot.is_file() and not saved:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shot, args.out)
                    saved = True
                    break
            del i
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
    ok = any(r["frames"] > 0 and r["overlays"] > 0 for r in results) and saved
    print(json.dumps({"ok": ok, "loads": len(results), "screenshot": str(args.out) if saved else None,
                      "results": results}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
