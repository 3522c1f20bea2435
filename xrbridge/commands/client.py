"""``xrbridge client URL``: the reference client; prints or records what the bridge streams.

A thin shell around :class:`xrbridge.client.BridgeClient`; a refused token, a wrong URL or an
unreachable bridge end with one line on stderr (exit 2 or 1), not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "connect to a bridge (ws://, wss:// or grpc://HOST:PORT) and print or --record its overlays"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="ws://HOST:PORT/ws, wss://..., or grpc://HOST:PORT")
    parser.add_argument(
        "--record", type=Path, default=None, help="write every overlay as a JSON line"
    )
    parser.add_argument(
        "--stream", action="append", default=None, help="stream id (repeatable; default all)"
    )
    parser.add_argument(
        "--count", type=int, default=0, help="stop after N overlays (0: until Ctrl-C)"
    )
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="stop after S seconds (0: no limit)"
    )
    parser.add_argument("--token", default=None, help="bearer token (default: $XRBRIDGE_TOKEN)")
    parser.add_argument("--model", default=None, help="select this model on the stream first")
    parser.add_argument(
        "--cafile", type=Path, default=None, help="CA certificate for wss:// / TLS gRPC"
    )


def _summary_line(d: dict[str, Any]) -> dict[str, Any]:
    tr = d.get("track")
    return {
        "stream": d["stream_id"],
        "seq": d["seq"],
        "t": round(d["t_capture"], 3),
        "view": d["view"],
        "car": tr["car_id"] if tr else None,
        "score": d["image_score"],
        "defects": [(x["defect_id"], x["severity"]) for x in d["defects"] if x["confirmed"]],
    }


def _print_error(code: str, message: str) -> None:
    print(json.dumps({"error": {"code": code, "message": message}}), file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import os

    from xrbridge.bridge.runner import run_async
    from xrbridge.client import BridgeClient

    token = args.token if args.token is not None else os.environ.get("XRBRIDGE_TOKEN", "")
    client = BridgeClient(
        args.url,
        token=token,
        streams=args.stream or (),
        model=args.model,
        cafile=args.cafile,
        on_error=_print_error,
    )
    rec = args.record.open("w", encoding="utf-8") if args.record else None
    n = 0

    async def receive(stop: asyncio.Event) -> None:
        nonlocal n
        async with contextlib.aclosing(client.overlays()) as overlays:
            async for d in overlays:
                n += 1
                if rec is not None:
                    rec.write(json.dumps(d, separators=(",", ":")) + "\n")
                else:
                    print(json.dumps(_summary_line(d)), flush=True)
                if (args.count and n >= args.count) or stop.is_set():
                    return

    async def main(stop: asyncio.Event) -> int:
        t0 = time.perf_counter()
        task = asyncio.create_task(receive(stop))
        waiters = {task, asyncio.create_task(stop.wait())}
        if args.seconds > 0:
            waiters.add(asyncio.create_task(asyncio.sleep(args.seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waiters:
                if t is not task:
                    t.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if rec is not None:
                rec.close()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        summary: dict[str, object] = {"overlays": n, "seconds": round(time.perf_counter() - t0, 2)}
        if args.record:
            summary["record"] = str(args.record)
        print(json.dumps(summary), file=sys.stderr if rec is None else sys.stdout, flush=True)
        return 0

    return run_async(main)
