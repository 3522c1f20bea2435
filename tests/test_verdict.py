"""CarVerdict values, their JSON, and the inspection records that keep them (SQLite schema 2)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from xrbridge.core.records import InspectionRecord, ViewResult
from xrbridge.core.verdict import CarVerdict, verdict_from_json, verdict_to_json
from xrbridge.errors import InputError
from xrbridge.io.records import SqliteRecordStore
from xrbridge.wire.samples import sample_verdict, sample_verdict_incomplete


def test_verdict_invariants() -> None:
    v = sample_verdict()
    with pytest.raises(InputError, match="status must be one of"):
        dataclasses.replace(v, status="MAYBE")
    with pytest.raises(InputError, match="NOK verdict needs at least one defect"):
        dataclasses.replace(v, defects=())
    with pytest.raises(InputError, match="OK verdict has no defects and no missing views"):
        dataclasses.replace(sample_verdict_incomplete(), status="OK")
    with pytest.raises(InputError, match="confidence must be in"):
        dataclasses.replace(v, confidence=1.5)
    with pytest.raises(InputError, match="size_class must be one of"):
        dataclasses.replace(v.defects[0], size_class="huge")


def test_json_round_trip_and_bad_json() -> None:
    for v in (sample_verdict(), sample_verdict_incomplete()):
        assert verdict_to_json(verdict_from_json(verdict_to_json(v))) == verdict_to_json(v)
    with pytest.raises(InputError, match="not a verdict"):
        verdict_from_json({"status": "OK"})


def _record(car: int, verdict: CarVerdict | None) -> InspectionRecord:
    return InspectionRecord(
        "line-1", car, 1.0, 2.0, "patchcore", (ViewResult("lower_front", 0.4),), verdict=verdict
    )


def test_records_keep_the_verdict_and_old_files_are_migrated(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    # a version-1 file written by an earlier release (no verdict column)
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, recorded_at REAL NOT NULL,"
        " stream_id TEXT NOT NULL, car_id INTEGER NOT NULL, t_first REAL NOT NULL,"
        " t_last REAL NOT NULL, model TEXT NOT NULL, n_defects INTEGER NOT NULL, views TEXT NOT NULL);"
        "INSERT INTO records VALUES (1, 5.0, 'line-1', 3, 0.0, 1.0, 'patchcore', 0, '[]');"
        "PRAGMA user_version=1;"
    )
    con.commit()
    con.close()
    with SqliteRecordStore(db) as store:
        store.write(_record(7, sample_verdict()))
        store.write(_record(8, None))
        got = store.query()
    assert [r.car_id for r in got] == [3, 7, 8]
    assert got[0].verdict is None and got[2].verdict is None
    assert got[1].verdict is not None
    assert verdict_to_json(got[1].verdict) == verdict_to_json(sample_verdict())
    assert got[1].to_json()["verdict"]["status"] == "NOK"
    back = InspectionRecord.from_json(got[1].to_json())
    assert back.verdict is not None
    assert verdict_to_json(back.verdict) == verdict_to_json(sample_verdict())
