"""How many 30 fps camera streams one bridge process sustains, and CPU per stream.

Runs one in-process :class:`~xrbridge.bridge.app.Bridge` (``serve``'s
composition root) with N video streams of the embedded line (looped, played
at their real 30 fps), the default models, no network servers, for a fixed
time per point, and reads the bridge's own per-stream counters: frames in,
inferred, dropped (replaced before the worker took them), plus the process's
CPU time. The machine this ran on is shared: ``loadavg_1m`` says how
busy it was, and ``cpu_ms_per_frame`` (process CPU per processed frame, all
stages: decode, matching, tracking, model, fan-out) with the estimate
``streams_2_cores_estimate`` = 2 cores / (30 fps x CPU per frame) is the
number that carries to a quiet machine (an upper bound: it assumes the
threads spread perfectly over both cores). A point is *sustained* when at most ``--max-drop`` of the frames
are dropped and the sources delivered at least 95 % of the frames they should
have (a starved event loop slows the sources down too).

    python bench/plant_streams.py --streams 1,2,3,4 --infer-every 1,3 --seconds 20

``infer_every`` > 1 runs the model on every n-th frame and lets the tracker
carry the overlays in between: the stream's ``infer_every`` serve setting, so
the bridge is built exactly as ``serve`` builds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_point(
    n: int, infer_every: int, seconds: float, warmup: float, models_dir: Path, workers: int
) -> dict[str, Any]:
    from xrbridge.bridge.app import Bridge
    from xrbridge.bridge.settings import Settings
    from xrbridge.sim import embedded_line_dir

    video = embedded_line_dir() / "line.mp4"
    settings = Settings(
        sources=tuple(f"cam{i}={video}" for i in range(n)),
        realtime=True,
        loop=True,
        ws_port=-1,
        grpc_port=-1,
        records_db="",
        models_dir=str(models_dir),
        workers=workers,
        threads=1,
        infer_every=(str(infer_every),),
    )
    bridge = Bridge(settings)
    stage = {"on": False, "pipeline": 0.0, "model": 0.0, "n": 0}

    def timing(msg: Any) -> None:  # what limits it: the model's share of the pipeline time
        if stage["on"] and msg.kind == "inferred":
            stage["pipeline"] += msg.t_pipeline
            stage["model"] += msg.t_model
            stage["n"] += 1

    bridge.hub.add_sink(timing)
    await bridge.start()
    try:
        await asyncio.sleep(warmup)
        s0 = {k: dict(s.status()) for k, s in bridge.hub.streams.items()}
        c0, t0 = _cpu(), time.perf_counter()
        stage["on"] = True
        await asyncio.sleep(seconds)
        stage["on"] = False
        c1, t1 = _cpu(), time.perf_counter()
        s1 = {k: dict(s.status()) for k, s in bridge.hub.streams.items()}
    finally:
        await bridge.stop()
    wall = t1 - t0
    per = []
    for k in s1:
        d = {
            f: s1[k][f] - s0[k][f]
            for f in ("frames_in", "inferred", "predicted", "dropped", "errors")
        }
        d["fps_in"] = round(d["frames_in"] / wall, 2)
        d["drop_share"] = round(d["dropped"] / max(d["frames_in"], 1), 4)
        per.append(d)
    frames = sum(p["frames_in"] for p in per)
    dropped = sum(p["dropped"] for p in per)
    calls = sum(p["inferred"] for p in per)  # pipeline calls (frames fully processed)
    return {
        "streams": n,
        "infer_every": infer_every,
        "seconds": round(wall, 2),
        "fps_in_per_stream": round(frames / n / wall, 2),
        "drop_share": round(dropped / max(frames, 1), 4),
        # pipeline calls; the model runs on about 1 in infer_every of them
        "pipeline_calls_per_s": round(sum(p["inferred"] for p in per) / wall, 2),
        "cpu_cores_used": round((c1 - c0) / wall, 3),
        "cpu_cores_per_stream": round((c1 - c0) / wall / n, 3),
        # load-independent view: CPU per camera frame, and what 2 quiet cores would carry
        "cpu_ms_per_frame": round((c1 - c0) / max(calls, 1) * 1000, 2),
        "streams_2_cores_estimate": round(2.0 / ((c1 - c0) / calls * 30.0), 2)
        if calls and (c1 - c0) > 0
        else None,
        "pipeline_ms_mean": round(stage["pipeline"] / max(stage["n"], 1) * 1000, 2),
        "model_ms_mean": round(stage["model"] / max(stage["n"], 1) * 1000, 2),
        "loadavg_1m": os.getloadavg()[0],
        "per_stream": per,
    }


def profile(frames: int, infer_every: int, models_dir: Path) -> dict[str, Any]:
    """CPU time (process CPU, not wall time: robust on a busy machine) per frame, by stage.

    Decodes ``frames`` frames of the embedded video and runs one stream's
    pipeline on each in this thread (ONNX Runtime with one intra-op thread
    runs in the caller's thread), summing ``time.process_time`` (all threads of this
    process: FFmpeg and OpenCV use their own) of decode,
    the whole pipeline and the model calls.
    """
    import cv2

    from xrbridge.bridge.compose import load_view_templates
    from xrbridge.bridge.registry import ModelRegistry
    from xrbridge.core.pipeline import PipelineConfig, StreamPipeline
    from xrbridge.core.regions import pixel_threshold
    from xrbridge.core.types import Frame
    from xrbridge.sim import embedded_line_dir

    reg = ModelRegistry(models_dir)
    name = reg.default()
    models = reg.load(name, threads=1)
    acc = {"model": 0.0}

    def timed(fn: Any) -> Any:
        def call(crop: Any) -> Any:
            t0 = time.process_time()
            try:
                return fn(crop)
            finally:
                acc["model"] += time.process_time() - t0

        return call

    templates = [t for t in load_view_templates(None) if t.view in models]
    cfg = PipelineConfig(
        stream_id="p",
        model_name=name,
        infer_every=infer_every,
        thresholds={v: pixel_threshold(m.manifest) for v, m in models.items()},
    )
    pipe = StreamPipeline(templates, {v: timed(m.predict) for v, m in models.items()}, cfg)
    cap = cv2.VideoCapture(str(embedded_line_dir() / "line.mp4"))
    dec = proc = 0.0
    n = 0
    while n < frames:
        t0 = time.process_time()
        ok, img = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        t1 = time.process_time()
        pipe.process(Frame("p", n, n / 30.0, img))
        t2 = time.process_time()
        dec += t1 - t0
        proc += t2 - t1
        n += 1
        if hasattr(pipe, "pop_records"):
            pipe.pop_records()
    cap.release()
    total = dec + proc
    return {
        "mode": "profile",
        "infer_every": infer_every,
        "frames": n,
        "decode_cpu_ms": round(dec / n * 1000, 2),
        "pipeline_cpu_ms": round(proc / n * 1000, 2),
        "model_cpu_ms": round(acc["model"] / n * 1000, 2),
        "cpu_ms_per_frame": round(total / n * 1000, 2),
        "streams_2_cores_estimate": round(2.0 / (total / n * 30.0), 2),
    }


def main() -> int:
    from xrbridge.bridge.runner import repo_models_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", default="1,2,3,4")
    ap.add_argument("--infer-every", default="1,3")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2, help="inference threads (serve's default 2)")
    ap.add_argument("--max-drop", type=float, default=0.02)
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        help="instead: CPU time per frame by stage over this many frames, one thread",
    )
    a = ap.parse_args()
    models = a.models or repo_models_dir()
    if a.profile:
        rows = [profile(a.profile, int(ie), models) for ie in a.infer_every.split(",")]
        print(json.dumps(rows, indent=1))
        return 0
    out = []
    for ie in (int(x) for x in a.infer_every.split(",")):
        for n in (int(x) for x in a.streams.split(",")):
            r = asyncio.run(run_point(n, ie, a.seconds, a.warmup, models, a.workers))
            r["sustained"] = bool(
                r["drop_share"] <= a.max_drop and r["fps_in_per_stream"] >= 0.95 * 30.0
            )
            print(json.dumps({k: v for k, v in r.items() if k != "per_stream"}), file=sys.stderr)
            out.append(r)
    best = {}
    for ie in sorted({r["infer_every"] for r in out}):
        ok = [r["streams"] for r in out if r["infer_every"] == ie and r["sustained"]]
        best[str(ie)] = max(ok, default=0)
    print(
        json.dumps(
            {
                "cpus": os.cpu_count(),
                "max_drop": a.max_drop,
                "streams_sustained_by_infer_every": best,
                "points": out,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
