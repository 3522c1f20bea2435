"""Shared glue of the bridge commands: run a bridge in asyncio, Ctrl-C, summaries, JSONL output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from xrbridge.bridge.app import Bridge
from xrbridge.bridge.hub import Published
from xrbridge.errors import UsageError
from xrbridge.wire.codec import overlay_to_dict


def repo_models_dir() -> Path:
    """The default models: inside an installed wheel, else ``models/`` of the source checkout."""
    from xrbridge.api import default_models_dir

    return default_models_dir()


def run_async(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` so it can shut down and summarise."""

    async def wrapper() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(wrapper())


async def start_bridge(bridge: Bridge) -> None:
    try:
        await bridge.start()
    except OSError as exc:
        await bridge.stop()
        raise UsageError(
            f"cannot listen on {bridge.settings.host}: {exc} (pass --ws-port 0 --grpc-port 0 "
            "for free ports)"
        ) from exc


class JsonlSink:
    """Writes every published overlay as one JSON line (``kind``: inferred or predicted)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] = self.path.open("w", encoding="utf-8")
        self.lines = 0

    def __call__(self, msg: Published) -> None:
        if msg.overlay is None:
            return
        d = overlay_to_dict(msg.overlay)
        d["kind"] = msg.kind
        self._f.write(json.dumps(d, separators=(",", ":")) + "\n")
        self.lines += 1

    def close(self) -> None:
        self._f.close()


class DefectCounter:
    """Counts confirmed defects per (stream, car) over a run, for the summaries."""

    def __init__(self) -> None:
        self.cars: dict[tuple[str, int], set[int]] = {}
        self.max_severity: dict[tuple[str, int], str] = {}

    def __call__(self, msg: Published) -> None:
        ov = msg.overlay
        if ov is None or ov.track is None:
            return
        key = (ov.stream_id, ov.track.car_id)
        ids = self.cars.setdefault(key, set())
        order = ("low", "medium", "high")
        for d in ov.defects:
            if d.confirmed:
                ids.add(d.defect_id)
                cur = self.max_severity.get(key)
                if cur is None or order.index(d.severity) > order.index(cur):
                    self.max_severity[key] = d.severity

    def summary(self) -> dict[str, Any]:
        return {
            "cars": len(self.cars),
            "defects_confirmed": sum(len(v) for v in self.cars.values()),
            "cars_with_defects": sum(1 for v in self.cars.values() if v),
        }


def summary(bridge: Bridge, t0: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    streams = []
    for s in bridge.hub.streams.values():
        st = s.status()
        p50, p99 = s.latency_percentiles()
        st["pipeline_ms_p50"], st["pipeline_ms_p99"] = round(p50, 2), round(p99, 2)
        streams.append(st)
    out: dict[str, Any] = {
        "seconds": round(time.perf_counter() - t0, 2),
        "model": bridge.model,
        "streams": streams,
        "errors": {k[0]: int(v) for k, v in bridge.metrics.errors.items().items()},
    }
    out.update(extra or {})
    return out


def print_json(obj: Any) -> None:
    print(json.dumps(obj), flush=True)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
