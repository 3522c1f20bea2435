"""``xrbridge records``: list and export the inspection records (one per car)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime, timezone

from xrbridge.errors import RecordError, UsageError

HELP = "list/export inspection records (one per car) from the SQLite store as JSON or CSV"

_CSV_COLUMNS = (
    "id",
    "recorded_at",
    "stream_id",
    "car_id",
    "model",
    "view",
    "image_score",
    "n_defects",
    "severities",
    "defects",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default="xrbridge.db",
        help="record database: a SQLite file or postgresql://user@host:port/db (default: xrbridge.db)",
    )
    parser.add_argument(
        "--since",
        default=None,
        help="only records written at or after this time: ISO 8601 (UTC when no zone, "
        "e.g. 2026-11-28 or 2026-11-28T17:00) or unix seconds",
    )
    parser.add_argument("--format", choices=("json", "csv"), default="json", help="output format")


def parse_since(text: str) -> float:
    """ISO 8601 (naive = UTC) or unix seconds -> unix seconds. Raises UsageError."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"--since must be ISO 8601 (e.g. 2026-11-28T17:00) or unix seconds, got {text!r}"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")


def run(args: argparse.Namespace) -> int:
    """Export; a reader that stops early (``records | head``) ends it quietly."""
    try:
        return _export(args)
    except BrokenPipeError:
        import os

        # the reader is gone: point stdout at /dev/null so the interpreter's final flush is quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xrbridge.io.records import SqliteRecordStore
    from xrbridge.io.records_pg import PgRecordStore, is_pg_url

    since = None if args.since is None else parse_since(args.since)
    if not is_pg_url(args.db) and not Path(args.db).is_file():
        raise UsageError(f"record database {args.db} does not exist")
    try:
        store = PgRecordStore(args.db) if is_pg_url(args.db) else SqliteRecordStore(args.db)
    except RecordError as exc:
        raise UsageError(str(exc)) from exc
    with store:
        records = store.query(since)
    if args.format == "json":
        out = []
        for r in records:
            d = r.to_json()
            d["recorded_at_iso"] = _iso(r.recorded_at)
            out.append(d)
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(_CSV_COLUMNS)
    for r in records:
        for v in r.views:
            w.writerow(
                (
                    r.id,
                    _iso(r.recorded_at),
                    r.stream_id,
                    r.car_id,
                    r.model,
                    v.view,
                    "" if v.image_score is None else f"{v.image_score:.4f}",
                    len(v.defects),
                    ";".join(d.severity for d in v.defects),
                    json.dumps(
                        [
                            {
                                "defect_id": d.defect_id,
                                "severity": d.severity,
                                "peak_score": round(d.peak_score, 4),
                                "centroid_uv": [round(c, 4) for c in d.centroid_uv],
                            }
                            for d in v.defects
                        ]
                    ),
                )
            )
    return 0
