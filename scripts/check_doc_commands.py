"""Runs the command blocks of README.md and docs/*.md that are marked runnable.

It also checks that every relative link of README.md points at a file of the checkout (the
site's own links are checked by ``mkdocs build --strict``).

A block is runnable when the line right before its opening fence is ``<!-- runnable -->``
(invisible on GitHub and in the site). ``bash``/``sh`` blocks run with ``bash -euo pipefail``,
``python`` blocks with this interpreter, each from the repository root with this
interpreter's ``bin/`` first on PATH (so ``xrbridge`` and ``python`` are the installed ones)
and a time limit. Prints one line per block and exits 1 if any failed:

    python scripts/check_doc_commands.py              # run them all
    python scripts/check_doc_commands.py --list       # only list them
    python scripts/check_doc_commands.py docs/deployment.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- runnable -->"
FENCE = re.compile(r"^(`{3,})\s*([A-Za-z0-9_+-]*)\s*$")
LANGS = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of one Markdown file; a mark without a fenced block is an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        m = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if m is None or LANGS.get(m.group(2)) is None:
            raise SystemExit(
                f"{path}:{i + 1}: {MARK} must be followed by a ```bash or ```python fence"
            )
        fence, body = m.group(1), []
        for j in range(i + 2, len(lines)):
            if lines[j].strip() == fence:
                break
            body.append(lines[j])
        else:
            raise SystemExit(f"{path}:{i + 2}: unclosed code block")
        out.append(Block(path, i + 2, LANGS[m.group(2)], "\n".join(body) + "\n"))
    return out


LINK = re.compile(r"\]\(([^)\s]+)\)")


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose target file does not exist."""
    bad = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http:, mailto:, in-page anchors
            if not (path.parent / target.split("#", 1)[0]).exists():
                bad.append(f"{path.relative_to(ROOT)}:{n}: broken link {target}")
    return bad


def run(block: Block, timeout: float) -> tuple[bool, float, str]:
    """Run one block in its own process group; whatever it leaves running is killed after it."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if block.lang == "bash":
        cmd = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        cmd = [sys.executable, "-c", block.code]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
            note = ""
        except subprocess.TimeoutExpired:
            code, note = -1, f"timed out after {timeout:.0f} s\n"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.seek(0)
        output = log.read()
    return code == 0, time.perf_counter() - t0, note + output[-4000:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "files", nargs="*", type=Path, help="Markdown files (default: README.md, docs/**/*.md)"
    )
    ap.add_argument("--list", action="store_true", help="list the runnable blocks, run nothing")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per block (default 300)")
    args = ap.parse_args(argv)
    files = [f.resolve() for f in args.files] or [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]
    found = [b for f in files for b in blocks(f)]
    links = broken_links(ROOT / "README.md")
    for line in links:
        print(line)
    if not found:
        print("no runnable blocks found", file=sys.stderr)
        return 1
    failed = 0
    for b in found:
        if args.list:
            print(f"{b.where} [{b.lang}]")
            continue
        ok, seconds, output = run(b, args.timeout)
        print(f"{'ok  ' if ok else 'FAIL'} {b.where} [{b.lang}] {seconds:.1f} s", flush=True)
        if not ok:
            failed += 1
            print("    " + output.rstrip().replace("\n", "\n    "), flush=True)
    if not args.list:
        print(f"runnable blocks: {len(found) - failed} ran, {failed} failed")
    return 1 if failed or links else 0


if __name__ == "__main__":
    sys.exit(main())
