"""Where a frame's time goes outside the model: per-stage percentiles and a cProfile. JSON on stdout.

    OMP_NUM_THREADS=1 python bench/profile_pipeline.py [--frames 300] [--models-dir models] [--top 15]
                                                       [--baseline REF]

Runs the real pipeline (default models, ONNX Runtime, one intra-op thread)
over the embedded line video, one frame after the other as the bridge's
worker does, and reports ``last_timing`` per stage in ms (p50 / p99 / max):
``match`` (view matching + Kalman tracking), ``model`` (ONNX Runtime, on
frames where a view was inferred), ``overlay`` (regions, stabiliser,
severity, hints), ``outside_model`` (match + overlay), plus the encodings a
subscriber costs (msgpack and protobuf of the overlay, JPEG preview) and
the cProfile functions with the most own time outside ONNX Runtime.

``--baseline REF`` (a git ref, e.g. ``main``): a second pipeline whose view
matching and tracking are REF's (xrbridge/core/{matching,tracker,extraction}.py
loaded beside this tree's) processes every frame too, alternating which
goes first, so both see the same machine load; adds ``baseline``: REF's
``match`` and ``outside_model`` ms and the ratios REF / this tree.

Wall time against CPU time, to tell slow code from a starved machine:
``cpu_ms`` gives the thread CPU time of the match stage and of whole frames
the model did not run on (everything outside the model); ``sched_probe``
the wall time of a fixed ``--probe-ms`` of CPU work run after every frame.
When the probe's p99 is far above its CPU time, the cores are shared with
other runnable processes and no code change in the pipeline brings its wall
p99 below that wait.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(a: list[float]) -> dict[str, float]:
    x = np.asarray(a) * 1000.0
    if x.size == 0:
        return {}
    return {
        "p50": round(float(np.percentile(x, 50)), 2),
        "p99": round(float(np.percentile(x, 99)), 2),
        "max": round(float(x.max()), 2),
        "n": int(x.size),
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    from xrbridge.bridge.compose import build_pipeline
    from xrbridge.bridge.registry import ModelRegistry
    from xrbridge.core.types import Frame
    from xrbridge.io.scene import embedded_line_dir
    from xrbridge.io.video import iter_frames, open_video
    from xrbridge.wire.codec import overlay_to_msgpack, overlay_to_proto

    reg = ModelRegistry(Path(args.models_dir))
    timed = build_pipeline(embedded_line_dir(), reg, reg.default(), stream_id="line", threads=1)
    p = timed.pipeline
    cap, info = open_video(embedded_line_dir() / "line.mp4")
    frames = [(t, f) for i, t, f in iter_frames(cap, info, None) if i < args.frames]
    cap.release()
    base_p = None
    base_st: dict[str, list[float]] = {"match": [], "outside_model": []}
    if args.baseline:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_extract import load_ref

        ref = load_ref(args.baseline)
        base_t = build_pipeline(
            embedded_line_dir(), reg, reg.default(), stream_id="line", threads=1
        )
        base_p = base_t.pipeline
        # REF's own default settings (the pipeline passes None unless configured).
        base_p.matcher = ref["xrbridge.core.matching"].TemplateMatcher(
            list(p.matcher.templates.values())
        )
        base_p.extractor = ref["xrbridge.core.extraction"].Extractor(base_p.matcher)
    cpu: dict[str, list[float]] = {"match": [], "outside_model_no_inference": []}
    extract = p.extractor.process

    def cpu_timed_extract(*a: Any, **k: Any) -> Any:
        c0 = time.thread_time()
        r = extract(*a, **k)
        cpu["match"].append(time.thread_time() - c0)
        return r

    p.extractor.process = cpu_timed_extract  # type: ignore[method-assign]
    probe: list[float] = []
    stages: dict[str, list[float]] = {
        k: []
        for k in (
            "match",
            "model",
            "overlay",
            "outside_model",
            "msgpack",
            "protobuf",
            "jpeg_preview",
            "total",
        )
    }
    prof = cProfile.Profile()
    for i, (t, img) in enumerate(frames):
        frame = Frame("line", i, t, img)
        if base_p is not None and i % 2 == 0:
            base_t.process(Frame("line", i, t, img))
        t0 = time.perf_counter()
        c0 = time.thread_time()
        prof.enable()
        ov = timed.process(frame)
        prof.disable()
        c1 = time.thread_time()
        stages["total"].append(time.perf_counter() - t0)
        lt = p.last_timing
        if lt["model"] == 0:
            cpu["outside_model_no_inference"].append(c1 - c0)
        stages["match"].append(lt["match"])
        stages["overlay"].append(lt["overlay"])
        stages["outside_model"].append(lt["match"] + lt["overlay"])
        if lt["model"] > 0:
            stages["model"].append(lt["model"])
        t1 = time.perf_counter()
        overlay_to_msgpack(ov)
        t2 = time.perf_counter()
        overlay_to_proto(ov).SerializeToString()
        t3 = time.perf_counter()
        cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])
        t4 = time.perf_counter()
        stages["msgpack"].append(t2 - t1)
        stages["protobuf"].append(t3 - t2)
        stages["jpeg_preview"].append(t4 - t3)
        t5, c5 = time.perf_counter(), time.thread_time()
        while time.thread_time() - c5 < args.probe_ms / 1000.0:
            pass
        probe.append(time.perf_counter() - t5)
        if base_p is not None:
            if i % 2 == 1:
                base_t.process(Frame("line", i, t, img))
            bt = base_p.last_timing
            base_st["match"].append(bt["match"])
            base_st["outside_model"].append(bt["match"] + bt["overlay"])
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, nc, f"{Path(file).name}:{line}:{fn}"))
    rows.sort(reverse=True)
    top = [
        {
            "fn": r[3],
            "own_ms_per_frame": round(r[0] * 1000 / len(frames), 3),
            "cum_ms_per_frame": round(r[1] * 1000 / len(frames), 3),
            "calls": r[2],
        }
        for r in rows[: args.top]
    ]
    out: dict[str, Any] = {
        "frames": len(frames),
        "model": reg.default(),
        "frame_size": [info.width, info.height],
        "ms": {k: pct(v) for k, v in stages.items()},
        "cpu_ms": {k: pct(v) for k, v in cpu.items()},
        "sched_probe": {
            "cpu_ms": args.probe_ms,
            "wall_ms": pct(probe),
            "load_avg_1min": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(),
        },
        "profile_top_own_time": top,
    }
    if base_p is not None:
        bms = {k: pct(v) for k, v in base_st.items()}
        out["baseline"] = {
            "ref": args.baseline,
            "ms": bms,
            "ratio_baseline_over_this": {
                k: {q: round(bms[k][q] / max(out["ms"][k][q], 1e-9), 2) for q in ("p50", "p99")}
                for k in bms
            },
        }
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument(
        "--probe-ms", type=float, default=3.0, help="CPU ms of the scheduling probe (default 3)"
    )
    ap.add_argument(
        "--baseline",
        default=None,
        metavar="REF",
        help="also time REF's matching/tracking on the same frames (a git ref, e.g. main)",
    )
    print(json.dumps(main(ap.parse_args()), indent=1))
