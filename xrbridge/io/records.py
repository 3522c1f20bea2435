"""The SQLite record store: one inspection record per car, embedded (traceability).

:class:`SqliteRecordStore` implements the :class:`~xrbridge.core.records.RecordStore`
protocol (``write``, ``query``, ``close``; the values are in
:mod:`xrbridge.core.records`). Records are written one per transaction in
WAL mode, so a process killed at any moment (SIGKILL, power cut of the
process, not of the disk) loses no record that was committed before: SQLite's
write-ahead log is replayed by the next reader.

Drift alerts (:class:`~xrbridge.core.drift.DriftAlert`) go to the ``alerts``
table (:meth:`SqliteRecordStore.add_alert`), as in the PostgreSQL store.
The schema is versioned (``PRAGMA user_version``); opening an older file
migrates it in place, a file of a newer xrbridge is refused.

The default database file is ``xrbridge.db`` in the working directory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrbridge.core.records import InspectionRecord, RecordStore
from xrbridge.errors import RecordError
from xrbridge.io.rows import (
    ALERT_COLUMNS,
    ALERT_INSERT_COLUMNS,
    RECORD_INSERT_COLUMNS,
    alert_from_row,
    alert_to_row,
    record_from_row,
    record_to_row,
)

__all__ = ["DEFAULT_DB", "RecordStore", "SqliteRecordStore"]

DEFAULT_DB = "xrbridge.db"
#: ``PRAGMA user_version``; each step is applied in place to an older file:
#: 1 records; 2 + verdict (JSON of the CarVerdict, NULL without fusion);
#: 3 + the drift alerts table (the PostgreSQL store's ``alerts``, same columns)
_SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,      -- unix seconds, UTC wall clock
    stream_id TEXT NOT NULL,
    car_id INTEGER NOT NULL,
    t_first REAL NOT NULL,          -- capture clock of the car's first and last frames
    t_last REAL NOT NULL,
    model TEXT NOT NULL,
    n_defects INTEGER NOT NULL,
    views TEXT NOT NULL,            -- JSON list of ViewResult
    verdict TEXT                    -- JSON CarVerdict (xrbridge.core.verdict), NULL: none
);
CREATE INDEX IF NOT EXISTS records_recorded_at ON records (recorded_at);
"""
_ALERTS = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,      -- unix seconds, UTC wall clock of the write
    bridge TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    robot TEXT NOT NULL,
    state TEXT NOT NULL,            -- raised | cleared
    rate REAL NOT NULL,
    defective INTEGER NOT NULL,
    cars INTEGER NOT NULL,
    car_id INTEGER NOT NULL,        -- the car that tipped it
    t REAL NOT NULL                 -- that car's last capture time
);
"""
_RECORD_INSERT = (
    f"INSERT INTO records ({', '.join(RECORD_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(RECORD_INSERT_COLUMNS))})"
)
_ALERT_INSERT = (
    f"INSERT INTO alerts ({', '.join(ALERT_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ALERT_INSERT_COLUMNS))})"
)


class SqliteRecordStore:
    """The SQLite record database (a :class:`RecordStore`).

    Use as a context manager or call :meth:`close`.

    Raises RecordError when the file cannot be opened or written (e.g. not a
    database, read-only directory), naming the path. ``busy_timeout_s``: how
    long a write waits for a lock held by another connection before failing.
    """

    def __init__(
        self, path: str | Path = DEFAULT_DB, *, bridge: str = "", busy_timeout_s: float = 10.0
    ) -> None:
        self.path = Path(path)
        self.bridge = bridge  # the writing bridge's name, kept with each alert row
        self._lock = threading.Lock()
        try:
            # One connection shared by the bridge's inference threads, serialised by _lock.
            self._db = sqlite3.connect(
                str(self.path),
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a process
            # crash (the OS holds the log); only a power loss may lose the last ones.
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if not 0 <= version <= _SCHEMA_VERSION:
                raise RecordError(
                    f"{self.path}: record schema version {version} is newer than this "
                    f"xrbridge knows ({_SCHEMA_VERSION}); upgrade xrbridge"
                )
            if version < _SCHEMA_VERSION:
                self._migrate(version)
        except sqlite3.Error as exc:
            raise RecordError(f"cannot open record database {self.path}: {exc}") from exc

    def _migrate(self, version: int) -> None:
        """Bring a file of schema ``version`` (0: new) to the current one, in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # two bridges opening one new file migrate once
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # under the lock
            if version == 0:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
            elif version == 1:  # add the verdict column, keep every record
                db.execute("ALTER TABLE records ADD COLUMN verdict TEXT")
            if version < 3:
                db.execute(_ALERTS)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def __enter__(self) -> SqliteRecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()  # idempotent in sqlite3

    def write(self, record: InspectionRecord) -> int:
        """Write one record in its own transaction; returns its id once committed.

        Safe to call from several threads (calls are serialised).
        """
        with self._lock:
            return self._write(record)

    def _write(self, record: InspectionRecord) -> int:
        row = record_to_row(record)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(_RECORD_INSERT, row)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise RecordError(f"cannot write record to {self.path}: {exc}") from exc
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def write_many(self, records: Sequence[InspectionRecord]) -> list[int]:
        """:meth:`write` each record in turn (one transaction each); their ids."""
        return [self.write(r) for r in records]

    def query(self, since: float | None = None) -> list[InspectionRecord]:
        """Records with ``recorded_at >= since`` (unix seconds; None: all), oldest first."""
        sql = (
            "SELECT id, recorded_at, stream_id, car_id, t_first, t_last, model, views, verdict"
            " FROM records"
        )
        args: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE recorded_at >= ?"
            args = (float(since),)
        try:
            rows = self._db.execute(sql + " ORDER BY recorded_at, id", args).fetchall()
        except sqlite3.Error as exc:
            raise RecordError(f"cannot read records from {self.path}: {exc}") from exc
        return [record_from_row(r) for r in rows]

    def add_alert(self, alert: Any, at: float | None = None) -> int:
        """Write a :class:`~xrbridge.core.drift.DriftAlert` (one transaction); returns its id.

        The row keeps this store's ``bridge`` name.
        """
        args = alert_to_row(alert, at, self.bridge)
        with self._lock:
            try:
                cur = self._db.execute(_ALERT_INSERT, args)
            except sqlite3.Error as exc:
                raise RecordError(f"cannot write alert to {self.path}: {exc}") from exc
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def alerts(self) -> list[dict[str, Any]]:
        """All drift alerts, oldest first, as dicts (the PostgreSQL store's keys)."""
        try:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts ORDER BY id"
                ).fetchall()
        except sqlite3.Error as exc:
            raise RecordError(f"cannot read alerts from {self.path}: {exc}") from exc
        return [alert_from_row(r) for r in rows]
