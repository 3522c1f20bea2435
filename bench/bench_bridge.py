"""Benchmark of the bridge: latency, fan-out, lag, memory, a stuck subscriber. JSON on stdout.

    python bench/bench_bridge.py [--seconds 60] [--ws 20] [--grpc 5] [--models-dir models]

One bridge (real pipeline, default models, the embedded line video looping at
30 fps in real time) with ``--ws`` WebSocket and ``--grpc`` gRPC subscribers
and one stuck WebSocket subscriber (asks for video, never reads). Clients run
in the same process (one event loop), so the numbers include their cost.

Reports (seconds -> ms):
- end_to_end: frame arrival at the bridge -> overlay handed to the socket,
  p50/p99 over every overlay sent to every subscriber (end_to_end_inferred:
  only overlays the pipeline computed, not predictions between inferences);
- model: ONNX Runtime time, over frames where the model ran (a view fully in
  the frame; the other frames only run matching and tracking);
- outside_model: end_to_end minus the model's (ONNX Runtime) time for that
  frame; bridge_overhead: end_to_end minus slot wait and the whole pipeline
  (decode/publish/encode/send only);
- lag_at_send: newest frame seq of the stream minus the seq sent, when the
  server hands an overlay to a subscriber's socket (the fan-out's own lag);
  lag_at_receipt: the same when the (in-process) client has read it, so it
  includes the clients' own scheduling delay; max and share > 1;
- rss_mb: resident memory sampled every second (first vs last 10 s, slope);
- stuck: overlays dropped in the stuck subscriber's outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def pct(a: list[float] | np.ndarray, q: float) -> float:
    return round(float(np.percentile(np.asarray(a), q)), 3) if len(a) else float("nan")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import grpc
    from websockets.asyncio.client import connect

    from xrbridge.bridge.app import Bridge
    from xrbridge.bridge.compose import default_scene_dir
    from xrbridge.bridge.settings import load_settings
    from xrbridge.wire.gen import control_pb2, services_pb2_grpc

    scene = default_scene_dir()
    settings = load_settings(
        env={},
        host="127.0.0.1",
        ws_port=0,
        grpc_port=0,
        sources=(f"line={scene / 'line.mp4'}",),
        realtime=True,
        loop=True,
        models_dir=str(args.models_dir),
        templates=str(scene),
        threads=args.threads,
        workers=2,
    )
    bridge = Bridge(settings)
    from xrbridge.bridge.metrics import SampleLog

    bridge.metrics.samples = SampleLog()
    await bridge.start()
    stream = bridge.hub.streams["line"]
    from array import array

    lags: dict[str, array[int]] = {"websocket": array("i"), "grpc": array("i")}
    counts: dict[str, list[int]] = {"websocket": [0] * args.ws, "grpc": [0] * args.grpc}
    stop = asyncio.Event()

    async def ws_sub(k: int) -> None:
        async with connect(bridge.urls["websocket"], proxy=None) as ws:
            await ws.send(msgpack.packb({"type": "subscribe", "streams": ["line"]}))
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                m = msgpack.unpackb(raw, raw=False)
                if m.get("type") == "overlay_frame":
                    counts["websocket"][k] += 1
                    lags["websocket"].append(stream.stats.last_seq - m["seq"])

    async def grpc_sub(k: int) -> None:
        async with grpc.aio.insecure_channel(bridge.urls["grpc"]) as ch:
            call = services_pb2_grpc.SubscribeStub(ch).Overlays(
                control_pb2.SubscribeRequest(stream_id="line")
            )
            async for msg in call:
                counts["grpc"][k] += 1
                lags["grpc"].append(stream.stats.last_seq - msg.seq)
                if stop.is_set():
                    call.cancel()
                    return

    stuck = await connect(
        bridge.urls["websocket"], proxy=None, max_queue=1, max_size=None, close_timeout=0.5
    )
    await stuck.send(msgpack.packb({"type": "subscribe", "streams": ["line"], "video": True}))
    tasks = [asyncio.create_task(ws_sub(k)) for k in range(args.ws)]
    tasks += [asyncio.create_task(grpc_sub(k)) for k in range(args.grpc)]
    await asyncio.sleep(args.warmup)
    bridge.metrics.samples.clear()
    for k in lags:
        lags[k] = array("i")
    frames0 = stream.stats.frames_in
    mem: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        mem.append(rss_mb())
        await asyncio.sleep(1.0)
    elapsed = time.perf_counter() - t0
    stop.set()
    frames = stream.stats.frames_in - frames0
    st = dict(stream.status())
    stuck_dropped = bridge.metrics.overlays_dropped.value("websocket")
    await asyncio.wait(tasks, timeout=5)
    stuck.transport.abort()
    s = bridge.metrics.samples.rows()
    await bridge.stop()

    e2e, wait, pipe, model = (s[:, i] * 1000.0 for i in range(4))
    send_lag = s[:, 4]
    inferred = pipe > 0  # processed by the pipeline (else: a prediction between inferences)
    ran_model = model > 0  # the model ran (a view fully in the frame)
    mem_a = np.asarray(mem)
    n10 = min(10, len(mem_a) // 3) or 1
    slope = float(np.polyfit(np.arange(len(mem_a)), mem_a, 1)[0]) if len(mem_a) > 2 else 0.0
    return {
        "seconds": round(elapsed, 1),
        "fps_in": round(frames / elapsed, 2),
        "subscribers": {"websocket": args.ws, "grpc": args.grpc, "stuck": 1},
        "model": bridge.model,
        "overlays_sent": len(s),
        "pipeline_share": round(float(inferred.mean()), 3) if len(s) else 0.0,
        "model_share": round(float(ran_model.mean()), 3) if len(s) else 0.0,
        "end_to_end_ms": {"p50": pct(e2e, 50), "p99": pct(e2e, 99)},
        "end_to_end_inferred_ms": {"p50": pct(e2e[inferred], 50), "p99": pct(e2e[inferred], 99)},
        "model_ms": {"p50": pct(model[ran_model], 50), "p99": pct(model[ran_model], 99)},
        "pipeline_ms": {"p50": pct(pipe[inferred], 50), "p99": pct(pipe[inferred], 99)},
        "outside_model_ms": {"p50": pct(e2e - model, 50), "p99": pct(e2e - model, 99)},
        "bridge_overhead_ms": {
            "p50": pct(e2e - wait - pipe, 50),
            "p99": pct(e2e - wait - pipe, 99),
        },
        "lag_at_send_frames": {
            "max": int(send_lag.max()) if len(s) else None,
            "share_gt1": round(float(np.mean(send_lag > 1)), 4) if len(s) else None,
        },
        "lag_at_receipt_frames": {
            k: {
                "max": int(max(v)) if v else None,
                "share_gt1": round(float(np.mean(np.asarray(v) > 1)), 4) if v else None,
                "received": len(v),
            }
            for k, v in lags.items()
        },
        "per_subscriber_overlays": {
            k: {"min": min(v) if v else 0, "max": max(v) if v else 0} for k, v in counts.items()
        },
        "rss_mb": {
            "first10": round(float(mem_a[:n10].mean()), 1),
            "last10": round(float(mem_a[-n10:].mean()), 1),
            "slope_mb_per_min": round(slope * 60, 2),
        },
        "stuck_subscriber_dropped": int(stuck_dropped),
        "stream": {k: st[k] for k in ("frames_in", "inferred", "predicted", "dropped", "errors")},
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--ws", type=int, default=20)
    p.add_argument("--grpc", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per model")
    p.add_argument("--models-dir", type=Path, default=ROOT / "models")
    print(json.dumps(asyncio.run(main(p.parse_args())), indent=1))
