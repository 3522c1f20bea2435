"""Records on their own writer thread: a slow or locked store never stalls inference.

:class:`RecordWriter` takes records from the inference threads
(:meth:`RecordWriter.submit` never blocks) and writes them to any
:class:`~xrbridge.core.records.RecordStore` from one thread. A record that
cannot be written (database locked, disk full) or that finds the queue full
is appended to a *spill file* (JSON lines, flushed and ``fsync``'ed before
``submit`` / the failed write returns), and the spill file is replayed, in
order, with a growing delay between tries (``retry_initial_s`` doubling up to
``retry_max_s``) until the store takes it. A spill file left by a previous
run is replayed at start. Failures are logged, at most once per
``log_every_s`` seconds (with the count of the ones not logged).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Iterable
from pathlib import Path

from xrbridge.core.records import InspectionRecord, RecordStore
from xrbridge.errors import RecordError
from xrbridge.io.ratelog import RateLimitedLog

log = logging.getLogger("xrbridge.records")


class RecordWriter:
    """One writer thread in front of a record store. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        store: RecordStore,
        spill: str | Path,
        *,
        max_queue: int = 1024,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        log_every_s: float = 10.0,
    ) -> None:
        self.store = store
        self.spill_path = Path(spill)
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.written = 0
        self.spilled = 0
        self.failures = 0
        self._q: queue.Queue[InspectionRecord | None] = queue.Queue(max_queue)
        self._spill_lock = threading.Lock()
        self._log = RateLimitedLog(log, log_every_s)
        self._delay = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xrbridge-records", daemon=True)
        self._thread.start()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers (inference threads) ------------------------------------------
    def submit(self, record: InspectionRecord) -> None:
        """Hand over one record; never blocks (a full queue spills to the file)."""
        try:
            self._q.put_nowait(record)
        except queue.Full:
            self._spill([record])
            self._log.warning(
                "queue", f"record queue full ({self._q.maxsize}): spilled to {self.spill_path}"
            )

    def submit_many(self, records: Iterable[InspectionRecord]) -> None:
        for r in records:
            self.submit(r)

    # -- the writer thread ------------------------------------------------------
    def _run(self) -> None:
        while True:
            pending = self._spill_pending()
            try:
                rec = self._q.get(timeout=self._delay if pending else None)
            except queue.Empty:
                rec = None
                if self._stop.is_set() and self._q.empty():
                    return
            else:
                if rec is None:  # close(): drain what is left, then stop
                    self._stop.set()
                    self._replay()
                    return
            if self._spill_pending() and not self._replay():
                if rec is not None:
                    self._spill([rec])  # keep the order: behind the records already spilled
                continue
            if rec is not None and not self._write(rec):
                self._spill([rec])

    def _write(self, rec: InspectionRecord) -> bool:
        try:
            self.store.write(rec)
        except RecordError as exc:
            self.failures += 1
            self._delay = min(self.retry_max_s, max(self.retry_initial_s, self._delay * 2))
            self._log.warning(
                "write",
                f"record of car {rec.car_id} not written, kept in "
                f"{self.spill_path} (retry in {self._delay:.1f} s): {exc}",
            )
            return False
        except Exception as exc:  # a bug in a store must not kill the writer
            self.failures += 1
            self._delay = min(self.retry_max_s, max(self.retry_initial_s, self._delay * 2))
            self._log.warning("write", f"record store failed: {type(exc).__name__}: {exc}")
            return False
        self.written += 1
        self._delay = 0.0
        return True

    # -- the spill file ---------------------------------------------------------
    def _spill_pending(self) -> bool:
        try:
            return self.spill_path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def _spill(self, records: list[InspectionRecord]) -> None:
        lines = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records)
        with self._spill_lock:
            try:
                with open(self.spill_path, "a", encoding="utf-8") as f:
                    f.write(lines)
                    f.flush()
                    os.fsync(f.fileno())
                self.spilled += len(records)
            except OSError as exc:
                self._log.warning(
                    "spill", f"{len(records)} record(s) LOST: cannot write {self.spill_path}: {exc}"
                )

    def _replay(self) -> bool:
        """Write the spilled records in order; True when the file is empty afterwards."""
        with self._spill_lock:
            try:
                lines = self.spill_path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return True
            except OSError as exc:
                self._delay = min(self.retry_max_s, max(self.retry_initial_s, self._delay * 2))
                self._log.warning("spill", f"cannot read {self.spill_path}: {exc}")
                return False
            done = 0
            for line in lines:
                if not line.strip():
                    done += 1
                    continue
                try:
                    rec = InspectionRecord.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    self._log.warning(
                        "spill-bad", f"unreadable line in {self.spill_path} dropped: {exc}"
                    )
                    done += 1
                    continue
                if not self._write(rec):
                    break
                done += 1
            rest = lines[done:]
            try:
                if not rest:
                    self.spill_path.unlink(missing_ok=True)
                    return True
                tmp = self.spill_path.with_name(self.spill_path.name + ".tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write("".join(x + "\n" for x in rest))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.spill_path)
            except OSError as exc:  # written records may be replayed twice; none is lost
                self._delay = min(self.retry_max_s, max(self.retry_initial_s, self._delay * 2))
                self._log.warning("spill", f"cannot rewrite {self.spill_path}: {exc}")
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (what cannot be written stays in the spill file), stop the thread."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout)
