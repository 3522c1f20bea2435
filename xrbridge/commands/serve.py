"""``xrbridge serve``: the bridge as a service (WebSocket, gRPC, viewer, metrics)."""

from __future__ import annotations

import argparse
import asyncio
import time

HELP = (
    "serve overlays over WebSocket (msgpack) and gRPC from video files, cameras or pushed frames; "
    "settings from --config FILE (TOML), XRBRIDGE_* variables and flags"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xrbridge.bridge import settings

    settings.add_arguments(parser)
    parser.epilog = (
        "example: xrbridge serve --sources line=line.mp4 --sources cam=push --loop "
        "--host 0.0.0.0   (stop with Ctrl-C)"
    )


def run(args: argparse.Namespace) -> int:
    from xrbridge.bridge.app import Bridge
    from xrbridge.bridge.runner import print_json, run_async, say, start_bridge, summary
    from xrbridge.bridge.settings import load_settings

    settings = load_settings(args)
    bridge = Bridge(settings)

    async def main(stop: asyncio.Event) -> int:
        t0 = time.perf_counter()
        await start_bridge(bridge)
        print_json(
            {
                "serving": bridge.urls,
                "streams": sorted(bridge.hub.streams),
                "models": bridge.registry.names(),
            }
        )
        say(f"xrbridge serve: viewer {bridge.urls.get('viewer', '-')}; press Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            out = summary(bridge, t0)
            await bridge.stop()
        print_json(out)
        return 0

    return run_async(main)
