"""Benchmark of view extraction + tracking: frames per second vs real time.

Usage:
    python bench/bench_extract.py [--line DIR] [--frames N] [--threads N] [--baseline REF]

DIR is a simulator output (line.mp4, truth.jsonl, templates/); without it the
simulator renders one into a temporary folder (848x480, 30 fps, 6 cars,
--drop-frames 0.2). Prints one JSON object on stdout:
    decode_fps     frames/s of reading the video alone
    core_fps       frames/s of Extractor.process on decoded frames (matching + tracking)
    end_to_end_fps frames/s of the whole `extract` (decode + core + writing)
    realtime_factor end_to_end_fps / video fps (> 1: faster than real time)
    *_cpu_fps      the same per CPU-second of this process (time.process_time):
                   what one free core does; the wall-clock numbers drop when
                   other processes share the cores (OpenCV runs 1 thread here)
    core_ms        Extractor.process per frame, ms: p50 / p90 / p99 / max

With ``--baseline REF`` (a git ref, e.g. ``main``) the matching/tracking
modules of REF (xrbridge/core/{matching,tracker,extraction}.py) are loaded
beside this tree's and both extractors process every frame, alternating
which goes first, so a shared, noisy machine slows both alike. Adds
``baseline``: REF's core_ms and cpu ms per frame, this tree's, their ratios
(REF / this tree) and, with a truth.jsonl, both trees' tracking RMSE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensure_line(line: Path | None, tmp: Path) -> Path:
    if line is not None:
        return line
    from xrbridge.sim import SimConfig, simulate

    out = tmp / "line"
    simulate(SimConfig(cars=6, seed=7, drop_frames=0.2, dataset=False), out)
    return out


CORE = ("xrbridge.core.matching", "xrbridge.core.tracker", "xrbridge.core.extraction")


def load_ref(ref: str) -> dict[str, types.ModuleType]:
    """REF's core matching/tracking modules, loaded beside this tree's (not replacing them)."""
    saved = {n: sys.modules.get(n) for n in CORE}
    mods: dict[str, types.ModuleType] = {}
    try:
        for name in CORE:
            path = name.replace(".", "/") + ".py"
            src = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{ref}:{path}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            mod = types.ModuleType(name)
            mod.__file__ = f"{ref}:{path}"
            sys.modules[name] = mod  # so REF's own imports of each other resolve to REF's
            exec(compile(src, mod.__file__, "exec"), mod.__dict__)
            mods[name] = mod
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    return mods


def ms(per: list[float]) -> dict[str, float]:
    x = np.asarray(per) * 1000.0
    return {
        k: round(float(np.percentile(x, q)), 2) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))
    } | {"max": round(float(x.max()), 2)}


def compare(ref: str, frames: list, templates: Path, truth: Path | None) -> dict[str, Any]:
    """Both trees' extractors on every frame, alternating order; per-frame wall and CPU ms."""
    from xrbridge.core.extraction import Extractor
    from xrbridge.extract import load_matcher, record_to_json

    base = load_ref(ref)
    new_matcher = load_matcher(templates)
    ex = {
        "this_tree": Extractor(new_matcher),
        "baseline": base["xrbridge.core.extraction"].Extractor(
            base["xrbridge.core.matching"].TemplateMatcher(new_matcher.templates.values())
        ),
    }
    wall: dict[str, list[float]] = {k: [] for k in ex}
    cpu: dict[str, list[float]] = {k: [] for k in ex}
    recs: dict[str, list[dict[str, object]]] = {k: [] for k in ex}
    order = list(ex)
    for i, (t, f) in enumerate(frames):
        for k in order if i % 2 else order[::-1]:
            c0, t0 = time.process_time(), time.perf_counter()
            r = ex[k].process(f, t, i)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            recs[k].append(record_to_json(r))  # type: ignore[arg-type]
    out: dict[str, Any] = {"ref": ref}
    for k in ex:
        out[k] = {"core_ms": ms(wall[k]), "cpu_ms_mean": round(1000 * float(np.mean(cpu[k])), 2)}
    out["ratio_baseline_over_this"] = {
        q: round(out["baseline"]["core_ms"][q] / max(out["this_tree"]["core_ms"][q], 1e-9), 2)
        for q in ("p50", "p99")
    } | {
        "cpu_mean": round(
            out["baseline"]["cpu_ms_mean"] / max(out["this_tree"]["cpu_ms_mean"], 1e-9), 2
        )
    }
    if truth is not None:
        from xrbridge.trackeval import evaluate

        rows = [json.loads(s) for s in truth.read_text().splitlines() if s.strip()][: len(frames)]
        for k, e in ex.items():
            peaks = [{"car": p.car_id, "view": p.view, "index": p.index} for p in e.peaks()]
            ev = evaluate(recs[k], rows, peaks)
            out[k]["rmse_px"] = ev["rmse_px"]
            out[k]["id_switches"] = ev["id_switches"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--line", type=Path, default=None, help="simulator output folder")
    ap.add_argument("--frames", type=int, default=0, help="at most this many frames (0 = all)")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    ap.add_argument(
        "--baseline",
        default=None,
        metavar="REF",
        help="also run REF's matching/tracking on the same frames (a git ref, e.g. main)",
    )
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(args.threads)
    from xrbridge.core.extraction import Extractor
    from xrbridge.extract import extract, iter_frames, load_matcher, load_timestamps, open_video

    with tempfile.TemporaryDirectory() as td:
        line = ensure_line(args.line, Path(td))
        video, templates = line / "line.mp4", line / "templates"
        times = load_timestamps(line / "truth.jsonl") if (line / "truth.jsonl").is_file() else None

        cap, info = open_video(video)
        frames = []
        t0 = time.perf_counter()
        for _i, t, f in iter_frames(cap, info, times):
            frames.append((t, f))
            if args.frames and len(frames) >= args.frames:
                break
        decode_s = time.perf_counter() - t0
        cap.release()

        ex = Extractor(load_matcher(templates))
        c0 = time.process_time()
        t0 = time.perf_counter()
        per = []
        for i, (t, f) in enumerate(frames):
            t1 = time.perf_counter()
            ex.process(f, t, i)
            per.append(time.perf_counter() - t1)
        core_s = time.perf_counter() - t0
        core_cpu = time.process_time() - c0

        c0 = time.process_time()
        t0 = time.perf_counter()
        summary = extract(
            video,
            templates,
            Path(td) / "out",
            timestamps=line / "truth.jsonl" if times is not None else None,
            progress=False,
        )
        e2e_s = time.perf_counter() - t0
        e2e_cpu = time.process_time() - c0
        truth = line / "truth.jsonl" if times is not None else None
        baseline = compare(args.baseline, frames, templates, truth) if args.baseline else None

    n = len(frames)
    result = {
        "video": {"frames": n, "size": [info.width, info.height], "fps": info.fps},
        "decode_fps": round(n / decode_s, 1),
        "core_fps": round(n / core_s, 1),
        "core_ms": ms(per),
        "end_to_end_fps": round(int(summary["frames"]) / e2e_s, 1),  # type: ignore[call-overload]
        "realtime_factor": round(int(summary["frames"]) / e2e_s / info.fps, 2),  # type: ignore[call-overload]
        "core_cpu_fps": round(n / core_cpu, 1),
        "end_to_end_cpu_fps": round(int(summary["frames"]) / e2e_cpu, 1),  # type: ignore[call-overload]
        "realtime_factor_cpu": round(int(summary["frames"]) / e2e_cpu / info.fps, 2),  # type: ignore[call-overload]
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "cars": summary["cars"],
        "opencv_threads": args.threads,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        },
    }
    if baseline is not None:
        result["baseline"] = baseline
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
