"""Helper of the viewer tests: the viewer page with a script appended, rendered by headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(tmp_path: Path, script: str) -> str:
    """The DOM Chromium dumps for the viewer page with ``script`` run at the end of its body."""
    html = (ROOT / "xrbridge" / "bridge" / "static" / "index.html").read_text(encoding="utf-8")
    page = tmp_path / "viewer.html"
    page.write_text(html.replace("</body>", f"<script>\n{script}\n</script>\n</body>"), "utf-8")
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
