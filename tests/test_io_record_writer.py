"""The record writer thread with a real SQLite store: locked database, spill file, replay."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
from xrbridge.io.record_writer import RateLimitedLog, RecordWriter
from xrbridge.io.records import SqliteRecordStore


def _rec(car: int) -> InspectionRecord:
    d = RecordDefect(
        1, "high", 0.9, 0.7, 5, (0.25, 0.5), 120.0, None, (0.2, 0.4, 0.3, 0.4, 0.3, 0.6)
    )
    return InspectionRecord(
        "line-1", car, 1.0, 2.0, "patchcore", (ViewResult("lower_front", 0.8, (d,)),)
    )


def _wait(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_locked_database_never_blocks_the_caller_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, spill = tmp_path / "r.db", tmp_path / "r.db.spill"
    store = SqliteRecordStore(db, busy_timeout_s=0.05)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    caplog.set_level(logging.WARNING, "xrbridge.records")
    with RecordWriter(store, spill, retry_initial_s=0.05, retry_max_s=0.2, log_every_s=60) as w:
        t0 = time.perf_counter()
        for car in range(5):
            w.submit(_rec(car))
        assert time.perf_counter() - t0 < 0.05  # the inference thread did not wait for the lock
        _wait(lambda: w.spilled >= 1)
        assert spill.is_file() and spill.stat().st_size > 0
        time.sleep(0.3)  # several failed retries...
        assert w.failures >= 2
        logged = [r for r in caplog.records if "not written" in r.getMessage()]
        assert len(logged) == 1  # ...logged once (rate-limited)
        locker.execute("ROLLBACK")
        _wait(lambda: w.written == 5)
        _wait(lambda: not spill.exists())
    assert sorted(r.car_id for r in store.query()) == [0, 1, 2, 3, 4]  # in order, once each
    assert [r.car_id for r in store.query()] == [0, 1, 2, 3, 4]
    store.close()
    locker.close()


def test_spilled_records_are_replayed_by_the_next_run(tmp_path: Path) -> None:
    db, spill = tmp_path / "r.db", tmp_path / "r.db.spill"
    store = SqliteRecordStore(db, busy_timeout_s=0.01)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    w = RecordWriter(store, spill, retry_initial_s=10, retry_max_s=10)
    w.submit_many([_rec(1), _rec(2)])
    w.close(timeout=2)  # stops with the records still in the spill file (fsync'ed)
    assert len(spill.read_text().splitlines()) == 2
    locker.execute("ROLLBACK")
    locker.close()
    store.close()
    with SqliteRecordStore(db) as store2, RecordWriter(store2, spill) as w2:
        _wait(lambda: w2.written == 2)
        assert [r.car_id for r in store2.query()] == [1, 2]
    assert not spill.exists()


def test_a_full_queue_spills_instead_of_blocking(tmp_path: Path) -> None:
    db, spill = tmp_path / "r.db", tmp_path / "r.db.spill"
    store = SqliteRecordStore(db, busy_timeout_s=0.01)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    with RecordWriter(store, spill, max_queue=2, retry_initial_s=0.05, retry_max_s=0.1) as w:
        # submit_many must return while the database is still locked: a writer that waited for
        # the database would block here until the lock goes (never, in this test)
        t = threading.Thread(target=w.submit_many, args=([_rec(i) for i in range(50)],))
        t.start()
        t.join(timeout=30)
        assert not t.is_alive(), "submit blocked on a locked database"
        assert w.written == 0 and spill.exists()  # nothing written yet, the overflow is on disk
        locker.execute("ROLLBACK")
        _wait(lambda: w.written == 50)
    assert sorted(r.car_id for r in store.query()) == list(range(50))
    store.close()
    locker.close()


def test_rate_limited_log_counts_what_it_skipped(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("t"), every_s=10, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "t")
    assert rl.warning("k", "first")
    assert not rl.warning("k", "second") and not rl.warning("k", "third")
    assert rl.warning("other", "another key")
    now[0] = 11.0
    assert rl.warning("k", "again")
    assert [r.getMessage() for r in caplog.records] == [
        "first",
        "another key",
        "again (2 more since the last message)",
    ]
