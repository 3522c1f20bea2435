"""The ``xrbridge`` command line: a thin shell that dispatches verbs.

Each verb lives in ``xrbridge/commands/<verb>.py`` and exposes
``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``. Command
modules import heavy libraries (torch, OpenCV, ONNX Runtime) inside ``run``
so that ``xrbridge --help`` stays fast.

Exit codes: 0 success, 2 bad usage or bad input (one-line reason on stderr),
1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from xrbridge import __version__
from xrbridge.errors import XrbridgeError

#: Verbs in the order ``--help`` lists them (docs/contracts.md).
VERBS = (
    "simulate",
    "extract",
    "synth",
    "train",
    "eval",
    "compare",
    "bench",
    "quantize",
    "records",
    "score",
    "replay",
    "serve",
    "client",
    "demo",
)


def _module_name(verb: str) -> str:
    return f"xrbridge.commands.{verb}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrbridge",
        description="Sealant inspection on car underbodies, streamed to mixed reality.",
    )
    parser.add_argument("--version", action="version", version=f"xrbridge {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        name = _module_name(verb)
        if importlib.util.find_spec(name) is None:  # verb not built yet in this checkout
            continue
        module = importlib.import_module(name)
        p = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except XrbridgeError as exc:
        print(f"xrbridge {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"xrbridge {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
