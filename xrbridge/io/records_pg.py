"""Inspection records in PostgreSQL: one central database for several bridges.

:class:`PgRecordStore` implements the :class:`~xrbridge.core.records.RecordStore`
protocol (``write``, ``write_many``, ``query``, ``close``, context manager) over a PostgreSQL
server, with ``psycopg`` 3. Each record is one autocommitted ``INSERT``: a
bridge killed at any moment loses at most the record it was writing, and
several bridges write at once without coordinating (the ids come from one
sequence). Each row also keeps the ``bridge`` that wrote it, since two
bridges may both have a stream called ``cam1``.

The schema is versioned: ``schema_migrations`` lists the migrations applied;
opening a store applies the missing ones in order, in one transaction under
an advisory lock, so two bridges starting together migrate once. A database
migrated by a newer xrbridge (a version this code does not know) is refused.

Drift alerts (:class:`~xrbridge.core.drift.DriftAlert`) go to the ``alerts``
table (:meth:`PgRecordStore.add_alert`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from xrbridge.core.records import InspectionRecord
from xrbridge.errors import RecordError, UsageError
from xrbridge.io.rows import (
    ALERT_COLUMNS,
    alert_from_row,
    alert_to_row,
    record_from_row,
    record_to_row,
)

#: (version, description, SQL). Append only: never edit or reorder an applied migration.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "records: one row per car",
        """
        CREATE TABLE records (
            id BIGSERIAL PRIMARY KEY,
            recorded_at DOUBLE PRECISION NOT NULL,   -- unix seconds, UTC wall clock
            stream_id TEXT NOT NULL,
            car_id BIGINT NOT NULL,
            t_first DOUBLE PRECISION NOT NULL,       -- capture clock of the car's frames
            t_last DOUBLE PRECISION NOT NULL,
            model TEXT NOT NULL,
            n_defects INTEGER NOT NULL,
            views JSONB NOT NULL                     -- list of ViewResult
        );
        CREATE INDEX records_recorded_at ON records (recorded_at);
    """,
    ),
    (
        2,
        "bridge column; drift alerts",
        """
        ALTER TABLE records ADD COLUMN bridge TEXT NOT NULL DEFAULT '';
        CREATE INDEX records_bridge_stream ON records (bridge, stream_id, car_id);
        CREATE TABLE alerts (
            id BIGSERIAL PRIMARY KEY,
            recorded_at DOUBLE PRECISION NOT NULL,
            bridge TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            robot TEXT NOT NULL,
            state TEXT NOT NULL,                     -- raised | cleared
            rate DOUBLE PRECISION NOT NULL,
            defective INTEGER NOT NULL,
            cars INTEGER NOT NULL,
            car_id BIGINT NOT NULL,
            t DOUBLE PRECISION NOT NULL
        );
    """,
    ),
    (
        3,
        "records.verdict: the car verdict",
        """
        ALTER TABLE records ADD COLUMN verdict JSONB;  -- CarVerdict JSON, NULL: none
    """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_LOCK_KEY = 0x78726272  # advisory lock id for migrations ("xrbr")


def is_pg_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a SQLite file."""
    return target.startswith(("postgresql://", "postgres://"))


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    cred, host = rest.rsplit("@", 1)
    return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}" if ":" in cred else url


def migrate(conn: Any) -> int:
    """Apply the missing migrations (one transaction); returns the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        newest = max(done, default=0)
        if newest > SCHEMA_VERSION:
            raise RecordError(
                f"record database schema version {newest} is newer than this "
                f"xrbridge knows ({SCHEMA_VERSION}); upgrade xrbridge"
            )
        for version, description, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (version, description),
            )
    return SCHEMA_VERSION


class PgRecordStore:
    """The record store in PostgreSQL. ``url``: ``postgresql://user@host:port/db``.

    ``bridge``: name of the writing bridge, kept with each row. Raises
    RecordError (naming the server, never the password) when the server
    cannot be reached or refuses; a lost connection is re-opened once per call.

    A server that goes away while the bridge runs is the bridge's
    :class:`~xrbridge.io.record_writer.RecordWriter`'s business: it spills
    the records this store refuses and replays them when the server answers.
    The server must be reachable when the store is opened.
    """

    def __init__(self, url: str, bridge: str = "", connect_timeout: float = 5.0) -> None:
        if not is_pg_url(url):
            raise UsageError(f"PostgreSQL url must start with postgresql://, got {_redact(url)!r}")
        self.url = url
        self.bridge = bridge
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            conn = self._connect()
            try:
                self.version = migrate(conn)
            except RecordError:
                conn.close()
                raise
            except Exception as exc:
                conn.close()
                raise RecordError(f"cannot migrate record database {_redact(url)}: {exc}") from exc

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise UsageError(
                "a postgresql:// record database needs psycopg: pip install 'xrbridge[plant]'"
            ) from exc

        try:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
            )
        except psycopg.Error as exc:
            raise RecordError(
                f"cannot open record database {_redact(self.url)}: {str(exc).strip()}"
            ) from exc
        return self._conn

    def _call(self, what: str, fn: Any) -> Any:
        """Run ``fn(conn)``; on a broken connection reconnect once and retry."""
        import psycopg

        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._conn is None or self._conn.closed:
                        self._connect()
                    return fn(self._conn)
                except psycopg.Error as exc:
                    broken = self._conn is None or self._conn.broken or self._conn.closed
                    if not broken or attempt == 1:
                        raise RecordError(f"cannot {what} {_redact(self.url)}: {exc}") from exc
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
        raise AssertionError("unreachable")

    def __enter__(self) -> PgRecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def write(self, record: InspectionRecord) -> int:
        """Write one record (committed when this returns); returns its id."""
        return self._insert(record)

    def _insert(self, record: InspectionRecord) -> int:
        row = record_to_row(record)
        args = (row[0], self.bridge, *row[1:])

        def run(conn: Any) -> int:
            row = conn.execute(
                "INSERT INTO records (recorded_at, bridge, stream_id, car_id, t_first, t_last,"
                " model, n_defects, views, verdict)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb) RETURNING id",
                args,
            ).fetchone()
            return int(row[0])

        return int(self._call("write record to", run))

    def write_many(self, records: Sequence[InspectionRecord]) -> list[int]:
        return [self.write(r) for r in records]

    def query(self, since: float | None = None) -> list[InspectionRecord]:
        """Records with ``recorded_at >= since`` (unix seconds; None: all), oldest first."""
        sql = (
            "SELECT id, recorded_at, stream_id, car_id, t_first, t_last, model, views::text,"
            " verdict::text FROM records"
        )
        args: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE recorded_at >= %s"
            args = (float(since),)
        rows = self._call(
            "read records from",
            lambda c: c.execute(sql + " ORDER BY recorded_at, id", args).fetchall(),
        )
        return [record_from_row(r) for r in rows]

    def add_alert(self, alert: Any, at: float | None = None) -> int:
        """Write a :class:`~xrbridge.core.drift.DriftAlert`; returns its id."""
        args = alert_to_row(alert, at, self.bridge)
        return int(
            self._call(
                "write alert to",
                lambda c: c.execute(
                    "INSERT INTO alerts (recorded_at, bridge, stream_id, robot, state, rate, defective,"
                    " cars, car_id, t) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    args,
                ).fetchone()[0],
            )
        )

    def alerts(self) -> list[dict[str, Any]]:
        """All drift alerts, oldest first, as dicts."""
        rows = self._call(
            "read alerts from",
            lambda c: c.execute(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts ORDER BY id"
            ).fetchall(),
        )
        return [alert_from_row(r) for r in rows]
