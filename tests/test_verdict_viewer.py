"""The viewer's verdict panel in headless Chromium, fed the golden msgpack messages.

The page's own msgpack decoder reads ``tests/golden/overlay_v1_verdicts.msgpack``
(two cars that left: NOK and INCOMPLETE, sent twice as the pipeline repeats
them) and ``overlay_v1.msgpack`` (a car in view with one confirmed defect);
the DOM Chromium renders must list the verdicts once each and the defect of
the car in view with its position, type guess and size class. Skipped only
when no Chromium binary is installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.viewer_support import CHROMIUM, GOLDEN, render


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_panel_lists_verdicts_once_and_the_defects_of_the_car_in_view(tmp_path: Path) -> None:
    msgs = [
        base64.b64encode((GOLDEN / f"{n}.msgpack").read_bytes()).decode()
        for n in ("overlay_v1_verdicts", "overlay_v1_verdicts", "overlay_v1")
    ]
    out = render(
        tmp_path,
        "const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));\n"
        f"for (const s of {msgs!r}) window.__xrbridge_panel(mpDecode(bytes(s)));\n"
        "document.body.setAttribute('data-verdicts', String(window.__xrbridge.nverdicts));\n",
    )
    assert 'data-verdicts="2"' in out
    last = re.search(r'<ol id="lastcars">(.*?)</ol>', out, re.S)
    incar = re.search(r'<ol id="incar">(.*?)</ol>', out, re.S)
    assert last and incar, out[-2000:]
    items = re.findall(r'<li class="v-(\w+)" data-car="(\d+)">(.*?)</li>', last.group(1), re.S)
    assert [(s, c) for s, c, _ in items] == [("INCOMPLETE", "8"), ("NOK", "7")]
    assert "not seen: lower_back" in items[0][2] and "67%" in items[0][2]
    assert "#1 left · missing · medium" in items[1][2] and "88%" in items[1][2]
    assert "car 7: 1 defect" in incar.group(1)
    assert "#1 lower_center front-left · missing · medium" in incar.group(1)
