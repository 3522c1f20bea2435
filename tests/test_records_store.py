"""Inspection records: store round trip, --since, CLI export, SIGKILL durability."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from xrbridge import cli
from xrbridge.core.records import InspectionRecord, RecordDefect, RecordStore, ViewResult
from xrbridge.errors import RecordError, UsageError
from xrbridge.io.records import SqliteRecordStore

ROOT = Path(__file__).resolve().parents[1]


def _record(car: int, at: float = 0.0, n_def: int = 1) -> InspectionRecord:
    defects = tuple(
        RecordDefect(
            defect_id=i + 1,
            severity="high" if i == 0 else "low",
            peak_score=0.9,
            mean_score=0.7,
            hits=5,
            centroid_uv=(0.25, 0.5),
            area_px=120.0,
            area_mm2=None,
            contour_uv=(0.2, 0.4, 0.3, 0.4, 0.3, 0.6),
        )
        for i in range(n_def)
    )
    views = (ViewResult("lower_front", 0.81, defects), ViewResult("lower_center", 0.2))
    return InspectionRecord("line-1", car, 1.0 + car, 3.0 + car, "patchcore", views, recorded_at=at)


def test_round_trip_and_since(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with SqliteRecordStore(db) as s:
        assert isinstance(s, RecordStore)  # the protocol a PostgreSQL store follows too
        ids = s.write_many([_record(1, 1000.0), _record(2, 2000.0, 2), _record(3, 3000.0, 0)])
        assert ids == [1, 2, 3]
        got = s.query()
        assert [r.car_id for r in got] == [1, 2, 3]
        assert got[1].views == _record(2, 2000.0, 2).views
        assert got[1].n_defects == 2
        assert [r.car_id for r in s.query(since=2000.0)] == [2, 3]
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_cli_export(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    with SqliteRecordStore(db) as s:
        s.write_many([_record(1, 1_700_000_000.0), _record(2, 1_800_000_000.0, 2)])
    assert cli.main(["records", "--db", str(db), "--format", fmt, "--since", "2025-01-01"]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        data = json.loads(out)
        assert [d["car_id"] for d in data] == [2]
        assert data[0]["n_defects"] == 2 and data[0]["views"][0]["defects"][1]["severity"] == "low"
    else:
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [(r["car_id"], r["view"], r["n_defects"]) for r in rows] == [
            ("2", "lower_front", "2"),
            ("2", "lower_center", "0"),
        ]
        assert rows[0]["severities"] == "high;low"


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["records", "--db", str(tmp_path / "missing.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with SqliteRecordStore(tmp_path / "r.db"):
        pass
    assert cli.main(["records", "--db", str(tmp_path / "r.db"), "--since", "yesterday"]) == 2
    assert "--since must be ISO 8601" in capsys.readouterr().err
    with pytest.raises(UsageError):
        from xrbridge.commands.records import parse_since

        parse_since("soon")


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RecordError, match=r"junk\.db"):
        SqliteRecordStore(bad)


_WRITER = textwrap.dedent(
    """
    import sys
    import sys
    sys.path.insert(0, {root!r})
    from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
    from xrbridge.io.records import SqliteRecordStore
    d = RecordDefect(1, "high", 0.9, 0.7, 5, (0.25, 0.5), 120.0, None, (0.2, 0.4, 0.3, 0.4, 0.3, 0.6))
    s = SqliteRecordStore({db!r})
    i = 0
    while True:
        i += 1
        views = (ViewResult("lower_front", 0.8, (d,) * (i % 3)),)
        rid = s.write(InspectionRecord("line-1", i, 0.0, 1.0, "patchcore", views))
        print(rid, flush=True)
    """
)


def test_sigkill_loses_no_committed_record(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    code = _WRITER.format(root=str(ROOT), db=str(db))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    committed: list[int] = []
    deadline = time.monotonic() + 60
    while len(committed) < 200 and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        committed.append(int(line))
    os.kill(p.pid, signal.SIGKILL)  # in the middle of writing the next records
    p.wait(timeout=30)
    p.stdout.close()
    assert p.returncode == -signal.SIGKILL
    assert len(committed) >= 200
    with SqliteRecordStore(db) as s:
        ids = {r.id for r in s.query()}
    assert set(committed) <= ids
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
