"""``xrbridge compare``: several eval runs into the paper's tables, t-tests and ROI error changes."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

HELP = (
    "compare report folders of `xrbridge eval` (models x seeds x ROI on/off): mean ± std tables, "
    "paired t-tests with Benjamini-Hochberg FDR, error changes with ROI; Markdown + CSV"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="REPORT_DIR",
        help="report folders (or folders above them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where compare.md and the CSVs go (default: the first REPORT_DIR's parent)",
    )


def _clean(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def run(args: argparse.Namespace) -> int:
    from xrbridge.eval import compare_report
    from xrbridge.eval.compare import load_runs

    runs = load_runs(list(args.reports))
    out = args.out if args.out is not None else args.reports[0].resolve().parent / "compare"
    summary = compare_report.write(out, runs)
    summary["out"] = str(out)
    print(json.dumps(_clean(summary)))
    return 0
