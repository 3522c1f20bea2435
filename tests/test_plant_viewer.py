"""The viewer's robot drift alerts panel in headless Chromium, fed the golden msgpack messages.

The page's own msgpack decoder reads ``tests/golden/robot_alert_v1.msgpack``
(``center_left`` raised) and ``robot_alert_v1_cleared.msgpack`` (the same
robot cleared), plus a second robot raised later (the decoded golden message
with another robot name); the panel must keep one line per robot (the newest
state), raised robots first. Skipped only when no Chromium binary is
installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.viewer_support import CHROMIUM, GOLDEN, render


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_alerts_panel_keeps_the_newest_state_per_robot_raised_first(tmp_path: Path) -> None:
    raised, cleared = (
        base64.b64encode((GOLDEN / f"{n}.msgpack").read_bytes()).decode()
        for n in ("robot_alert_v1", "robot_alert_v1_cleared")
    )
    out = render(
        tmp_path,
        "const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));\n"
        f"const up = mpDecode(bytes({raised!r})), down = mpDecode(bytes({cleared!r}));\n"
        "window.__xrbridge_alert(up);\n"
        "document.body.setAttribute('data-first', document.getElementById('robotalerts').innerHTML);\n"
        "window.__xrbridge_alert(down);\n"
        "window.__xrbridge_alert({...up, robot: 'back_right', car_id: 200, t: 600.0, rate: 0.4});\n"
        "document.body.setAttribute('data-alerts', String(window.__xrbridge.nalerts));\n",
    )
    assert 'data-alerts="3"' in out
    first = re.search(r'data-first="(.*?)"', out, re.S)
    assert first and "a-raised" in first.group(1) and "center_left" in first.group(1)
    panel = re.search(r'<ol id="robotalerts">(.*?)</ol>', out, re.S)
    assert panel, out[-2000:]
    items = re.findall(r'<li class="a-(\w+)" data-robot="(\w+)">(.*?)</li>', panel.group(1), re.S)
    assert [(s, r) for s, r, _ in items] == [("raised", "back_right"), ("cleared", "center_left")]
    assert "40% of 25 cars (8 with a defect)" in items[0][2] and "car 200" in items[0][2]
    assert "8% of 25 cars (2 with a defect)" in items[1][2] and "threshold 8%" in items[1][2]
