"""``xrbridge demo``: the whole thing on the embedded line video, in one command.

Replays the embedded sealant-line video (``xrbridge.sim.embedded_line_dir()``)
through the default models in ``models/``, serves WebSocket, gRPC and the
viewer page, and prints where to connect. It loops until Ctrl-C (a first-time
user needs time to open the page); ``--once`` ends after one pass and
``--seconds N`` after N seconds. A JSON summary goes to stdout at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

HELP = (
    "the main job on the embedded default: replay the line video with the default models, "
    "serve WebSocket + gRPC + a browser viewer (Ctrl-C to stop, --once for one pass)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="stop after one pass of the video")
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="stop after S seconds (0: no limit)"
    )
    parser.add_argument(
        "--video", type=Path, default=None, help="another video (default: the embedded one)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address (0.0.0.0 to reach it from a HoloLens on the LAN)",
    )
    parser.add_argument(
        "--ws-port", type=int, default=8765, help="WebSocket + viewer port (0: any free)"
    )
    parser.add_argument(
        "--grpc-port", type=int, default=50051, help="gRPC port (0: any free, -1: off)"
    )
    parser.add_argument(
        "--models-dir", default=None, help="models folder (default: ./models, else the checkout's)"
    )
    parser.add_argument("--model", default="", help="model name (default: the first one found)")
    parser.add_argument(
        "--fast", action="store_true", help="as fast as possible instead of real time"
    )
    parser.add_argument("--token", default="", help="require this bearer token")


def _lan_address() -> str | None:
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            addr = s.getsockname()[0]
            return None if addr.startswith("127.") else addr
    except OSError:
        return None


def run(args: argparse.Namespace) -> int:
    from xrbridge.bridge.app import Bridge
    from xrbridge.bridge.compose import default_scene_dir
    from xrbridge.bridge.runner import (
        DefectCounter,
        print_json,
        repo_models_dir,
        run_async,
        say,
        start_bridge,
        summary,
    )
    from xrbridge.bridge.settings import load_settings
    from xrbridge.errors import ArtifactError, VideoError

    scene = default_scene_dir()
    video = args.video or scene / "line.mp4"
    if not Path(video).is_file():
        raise VideoError(f"demo video not found: {video}")
    models_dir = Path(args.models_dir) if args.models_dir else Path("models")
    if args.models_dir is None and not models_dir.is_dir():
        models_dir = repo_models_dir()
    if not models_dir.is_dir():
        raise ArtifactError(f"models folder not found: {models_dir} (pass --models-dir)")
    settings = load_settings(
        env={},
        host=args.host,
        ws_port=args.ws_port,
        grpc_port=args.grpc_port,
        sources=(f"line={video}",),
        realtime=not args.fast,
        loop=not args.once,
        models_dir=str(models_dir),
        model=args.model,
        templates=str(scene),
        token=args.token,
    )
    # one fast pass: every frame inferred (newest-wins would skip most of them and find nothing)
    bridge = Bridge(settings, lossless=args.once and args.fast)
    counter = DefectCounter()
    bridge.hub.add_sink(counter)

    async def main(stop: asyncio.Event) -> int:
        t0 = time.perf_counter()
        await start_bridge(bridge)
        urls = dict(bridge.urls)
        if args.token:  # the viewer page passes its ?token= on to its WebSocket
            from urllib.parse import quote

            urls["viewer"] += "?token=" + quote(args.token, safe="")
        lan = _lan_address() if args.host == "0.0.0.0" else None
        if lan and bridge.ws is not None:
            urls["headset"] = f"ws://{lan}:{bridge.ws.port}/ws"
        print_json({"demo": urls, "video": str(video), "model": bridge.model})
        say(
            f"xrbridge demo: open {urls.get('viewer')} in a browser "
            f"(HoloLens app: {urls.get('headset', 'rerun with --host 0.0.0.0 for a LAN address')})"
        )
        say(
            "xrbridge demo: "
            + (
                "one pass of the video, then it stops"
                if args.once
                else "looping the video; press Ctrl-C to stop"
            )
        )
        waiters: set[asyncio.Task[object]] = {asyncio.create_task(stop.wait())}
        if args.once:
            waiters.add(asyncio.create_task(bridge.hub.wait_sources_done()))
        if args.seconds > 0:
            waiters.add(asyncio.create_task(asyncio.sleep(args.seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waiters:
                t.cancel()
            out = summary(bridge, t0, counter.summary())
            await bridge.stop()
        print_json(out)
        return 0

    return run_async(main)
