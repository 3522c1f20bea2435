"""The PostgreSQL record store against a real server: migrations, two writers, SIGKILL, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from xrbridge import cli
from xrbridge.core.drift import DriftAlert
from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
from xrbridge.errors import RecordError
from xrbridge.io.records_pg import MIGRATIONS, SCHEMA_VERSION, PgRecordStore, migrate
from xrbridge.plant.services import LocalPostgres, postgres_bindir

pytestmark = pytest.mark.skipif(
    postgres_bindir() is None,
    reason="PostgreSQL binaries not installed (apt-get install postgresql)",
)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with LocalPostgres() as pg:
        yield pg


@pytest.fixture
def db(server):
    """A fresh database on the module's server."""
    name = f"t{time.monotonic_ns()}"
    with psycopg.connect(server.url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield server.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server.url, autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _record(car: int, stream: str = "cam1", n_def: int = 1) -> InspectionRecord:
    d = RecordDefect(7, "high", 0.9, 0.7, 4, (0.25, 0.5), 120.0, None, (0.1, 0.2, 0.3, 0.4))
    return InspectionRecord(
        stream,
        car,
        1.0 + car,
        2.0 + car,
        "patchcore",
        (ViewResult("lower_front", 0.8, (d,) * n_def), ViewResult("lower_back", None)),
    )


def test_round_trip_and_versioned_migrations(db: str) -> None:
    with PgRecordStore(db, bridge="b1") as s:
        assert s.version == SCHEMA_VERSION == MIGRATIONS[-1][0]
        ids = s.write_many([_record(1), _record(2, n_def=0)])
        got = s.query()
        assert [r.id for r in got] == ids
        assert got[0].views == _record(1).views and got[0].n_defects == 1
        assert s.query(since=time.time() + 60) == []
        assert got[0].verdict is None  # a record without a car verdict
        # the car verdict round-trips (migration 3)
        from xrbridge.wire.samples import sample_verdict_incomplete

        v = sample_verdict_incomplete()
        rid = s.write(dataclasses.replace(_record(3, n_def=0), verdict=v))
        [back] = [r for r in s.query() if r.id == rid]
        assert back.verdict == v
    with psycopg.connect(db) as c:
        versions = [r[0] for r in c.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m[0] for m in MIGRATIONS]
        assert c.execute("SELECT bridge FROM records LIMIT 1").fetchone()[0] == "b1"
    PgRecordStore(db).close()  # reopening migrates nothing twice
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("INSERT INTO schema_migrations (version, description) VALUES (99, 'future')")
    with pytest.raises(RecordError, match="schema version 99 is newer"):
        PgRecordStore(db)


def test_an_old_database_is_migrated_in_place(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as c:
        c.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT "
            "NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        c.execute(MIGRATIONS[0][2])
        c.execute("INSERT INTO schema_migrations (version, description) VALUES (1, 'v1')")
        c.execute(
            "INSERT INTO records (recorded_at, stream_id, car_id, t_first, t_last, model,"
            " n_defects, views) VALUES (1, 'old', 1, 0, 1, 'm', 0, '[]')"
        )
        assert migrate(c) == SCHEMA_VERSION
    with PgRecordStore(db, bridge="b2") as s:
        s.write(_record(5))
        assert [(r.stream_id, r.car_id) for r in s.query()] == [("old", 1), ("cam1", 5)]
        alert = DriftAlert("center_left", "raised", 0.4, 10, 25, 5, "cam1", 12.5, 40, 0.28)
        s.add_alert(alert)
        [row] = s.alerts()
        assert (row["robot"], row["state"], row["bridge"], row["cars"]) == (
            "center_left",
            "raised",
            "b2",
            25,
        )


def test_unreachable_server_is_a_record_error_without_the_password() -> None:
    from xrbridge.plant.services import free_port

    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/x"
    with pytest.raises(RecordError, match="cannot open record database") as info:
        PgRecordStore(url, connect_timeout=1)
    assert "secret" not in str(info.value)


_WRITER = """
import sys
from xrbridge.io.records_pg import PgRecordStore
from xrbridge.core.records import InspectionRecord, ViewResult
url, bridge, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with PgRecordStore(url, bridge=bridge) as s:
    for car in range(n):
        rec = InspectionRecord("cam1", car, car, car + 1.0, "patchcore",
                               (ViewResult("lower_front", 0.5),))
        rid = s.write(rec)
        print(car, rid, flush=True)
"""


def test_two_bridges_write_at_once_one_is_killed_nothing_is_lost(db: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    n = 400
    procs = {
        b: subprocess.Popen(
            [sys.executable, "-c", _WRITER, db, b, str(n)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for b in ("b1", "b2")
    }
    acked: dict[str, list[int]] = {"b1": [], "b2": []}
    try:
        out = procs["b2"].stdout
        assert out is not None
        while len(acked["b2"]) < 60:  # b2 is killed mid-run, after 60 committed records
            line = out.readline()
            assert line, "writer b2 ended early"
            acked["b2"].append(int(line.split()[0]))
        procs["b2"].send_signal(signal.SIGKILL)
        procs["b2"].wait(10)
        acked["b2"] += [int(x.split()[0]) for x in out.read().splitlines()]
        b1_out, _ = procs["b1"].communicate(timeout=120)
        assert procs["b1"].returncode == 0
        acked["b1"] = [int(x.split()[0]) for x in b1_out.splitlines()]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)
            if p.stdout is not None:
                p.stdout.close()
    with psycopg.connect(db) as c:
        rows = c.execute("SELECT bridge, car_id FROM records").fetchall()
    stored = {b: sorted(car for bb, car in rows if bb == b) for b in ("b1", "b2")}
    written = len(acked["b1"]) + len(acked["b2"])
    print(
        f"\ntwo bridges, one PostgreSQL: written (acknowledged) b1={len(acked['b1'])} "
        f"b2={len(acked['b2'])} (SIGKILLed), read back b1={len(stored['b1'])} "
        f"b2={len(stored['b2'])}; total written={written} read={len(rows)}"
    )
    assert stored["b1"] == list(range(n)) == acked["b1"]
    assert len(set(stored["b2"])) == len(stored["b2"])  # no duplicates
    # every acknowledged record is there; at most the one in flight at the kill is extra
    assert set(acked["b2"]) <= set(stored["b2"])
    assert len(stored["b2"]) - len(acked["b2"]) in (0, 1)
    assert len(acked["b2"]) < n


def test_records_command_reads_postgresql(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with PgRecordStore(db, bridge="b1") as s:
        s.write_many([_record(1), _record(2)])
    assert cli.main(["records", "--db", db, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["car_id"], r["n_defects"]) for r in out] == [(1, 1), (2, 1)]
    assert cli.main(["records", "--db", db, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 4 and lines[0].startswith("id,recorded_at")


def test_bridge_writer_spills_while_the_server_is_down_and_replays_in_order(
    server: LocalPostgres, db: str, tmp_path: Path
) -> None:
    """The bridge's RecordWriter in front of PostgreSQL: the module's server is stopped
    and started again (same port, same data) while records keep coming."""
    from xrbridge.io.record_writer import RecordWriter

    store = PgRecordStore(db, bridge="b1", connect_timeout=1)
    writer = RecordWriter(
        store, tmp_path / "records.spill", retry_initial_s=0.1, retry_max_s=0.5, log_every_s=60
    )
    try:
        writer.submit(_record(1))
        _wait(lambda: writer.written == 1)
        server.stop()
        writer.submit_many([_record(car) for car in range(2, 12)])
        _wait(lambda: writer.spilled >= 1)
        server.start()
        writer.submit(_record(12))
        _wait(lambda: writer.written == 12, 60)
    finally:
        writer.close()
    with store:
        cars = [r.car_id for r in store.query()]
    assert cars == list(range(1, 13))  # nothing lost, in order


def _wait(pred, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
