"""``xrbridge replay VIDEO``: a recorded video through the pipeline, to a file and/or served."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

HELP = "replay a video through the pipeline: overlays to JSONL (--out) and/or served (--serve)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xrbridge.bridge import settings

    parser.add_argument("video", type=Path, help="video file (any format OpenCV reads)")
    parser.add_argument("--out", type=Path, default=None, help="write every overlay as a JSON line")
    parser.add_argument(
        "--serve", action="store_true", help="also serve WebSocket, gRPC and the viewer"
    )
    parser.add_argument("--stream", default="replay", help="stream id (default: replay)")
    settings.add_arguments(parser, skip=("sources",))
    parser.epilog = (
        "without --realtime every frame is processed as fast as possible; with it, frames "
        "come at the video's rate and the newest frame wins when the model is slower"
    )


def run(args: argparse.Namespace) -> int:
    from xrbridge.bridge.app import Bridge
    from xrbridge.bridge.runner import (
        DefectCounter,
        JsonlSink,
        print_json,
        run_async,
        say,
        start_bridge,
        summary,
    )
    from xrbridge.bridge.settings import load_settings
    from xrbridge.errors import VideoError

    if not args.video.is_file():
        raise VideoError(f"video file not found: {args.video}")
    overrides: dict[str, Any] = {"sources": (f"{args.stream}={args.video}",)}
    if args.realtime is None:
        overrides["realtime"] = False
    if not args.serve:
        overrides["ws_port"] = -1
        overrides["grpc_port"] = -1
    settings = load_settings(args, **overrides)
    bridge = Bridge(settings, lossless=not settings.realtime)
    sink = JsonlSink(args.out) if args.out else None
    counter = DefectCounter()
    bridge.hub.add_sink(counter)
    if sink is not None:
        bridge.hub.add_sink(sink)

    async def main(stop: asyncio.Event) -> int:
        t0 = time.perf_counter()
        await start_bridge(bridge)
        if args.serve:
            print_json({"serving": bridge.urls})
            say(f"xrbridge replay: viewer {bridge.urls['viewer']}")
        done = asyncio.create_task(bridge.hub.wait_sources_done())
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (done, stopped):
                t.cancel()
            out = summary(bridge, t0, counter.summary())
            await bridge.stop()
            if sink is not None:
                sink.close()
                out["out"] = str(args.out)
                out["lines"] = sink.lines
        st = bridge.hub.streams[args.stream].stats
        if st.state == "error":
            raise VideoError(f"replay of {args.video} failed: {st.last_error}")
        print_json(out)
        return 0

    return run_async(main)
