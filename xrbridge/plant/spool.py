"""The on-disk event spool: what the broker has not acknowledged yet survives anything.

Every event is written here first (one SQLite transaction, WAL mode) and
deleted only when the broker has acknowledged it (MQTT PUBACK). While the
broker is down the spool grows on disk, not in memory; when it returns the
publisher sends the spool oldest first. A process killed at any moment
resends, at its next start, whatever was not acknowledged: at least once, in
order, as MQTT QoS 1 promises (a consumer drops the rare duplicate by
``event_id``).

``seq`` numbers events of one spool without gaps or reuse, also across
restarts (a counter in the same file), so consumers can tell lost events from
late ones.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xrbridge.errors import EventError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('dropped', 0);
"""


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Spool:
    """A FIFO of events in a SQLite file. Thread-safe.

    ``max_events``: when the spool holds that many events (the broker has been
    down for long), the oldest are dropped to make room and counted in
    :attr:`dropped`, so a dead broker cannot fill the disk. Raises EventError
    naming the path when the file cannot be opened or written.
    """

    def __init__(self, path: str | Path, max_events: int = 1_000_000) -> None:
        if max_events < 1:
            raise EventError(f"spool max_events must be >= 1, got {max_events}")
        self.path = Path(path)
        self.max_events = int(max_events)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._count = int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            raise EventError(f"cannot open event spool {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(
        self, topic: str, make_payload: Callable[[int], bytes], qos: int = 1, retain: bool = False
    ) -> int:
        """Append an event; ``make_payload(seq)`` builds its bytes. Returns its seq once on disk."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seq = int(
                    self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]
                )
                self._db.execute(
                    "INSERT INTO events (seq, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?)",
                    (seq, topic, make_payload(seq), int(qos), int(retain)),
                )
                self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq + 1,))
                over = self._count + 1 - self.max_events
                if over > 0:
                    self._db.execute(
                        "DELETE FROM events WHERE seq IN "
                        "(SELECT seq FROM events ORDER BY seq LIMIT ?)",
                        (over,),
                    )
                    self._db.execute("UPDATE meta SET value=value+? WHERE key='dropped'", (over,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise EventError(f"cannot write event to spool {self.path}: {exc}") from exc
            self._count = min(self._count + 1, self.max_events)
            return seq

    def after(self, seq: int, limit: int) -> list[SpooledEvent]:
        """Up to ``limit`` events with a seq greater than ``seq``, oldest first."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, topic, payload, qos, retain FROM events WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (int(seq), int(limit)),
                ).fetchall()
            except sqlite3.Error as exc:
                raise EventError(f"cannot read event spool {self.path}: {exc}") from exc
        return [SpooledEvent(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]

    def ack(self, seqs: list[int]) -> None:
        """Delete acknowledged events."""
        if not seqs:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.executemany("DELETE FROM events WHERE seq=?", [(s,) for s in seqs])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise EventError(f"cannot update event spool {self.path}: {exc}") from exc
            self._count = max(0, self._count - max(cur.rowcount, 0))

    def __len__(self) -> int:
        return self._count

    @property
    def dropped(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])
