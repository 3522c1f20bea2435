"""Benchmark of view extraction + tracking: frames per second vs real time.

Usage:
    python bench/bench_extract.py [--line DIR] [--frames N] [--threads N]

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
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensure_line(line: Path | None, tmp: Path) -> Path:
    if line is not None:
        return line
    from xrbridge.sim import SimConfig, simulate

    out = tmp / "line"
    simulate(SimConfig(cars=6, seed=7, drop_frames=0.2, dataset=False), out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--line", type=Path, default=None, help="simulator output folder")
    ap.add_argument("--frames", type=int, default=0, help="at most this many frames (0 = all)")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
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
        summary = extract(video, templates, Path(td) / "out", timestamps=line / "truth.jsonl"
                          if times is not None else None, progress=False)
        e2e_s = time.perf_counter() - t0
        e2e_cpu = time.process_time() - c0

    n = len(frames)
    per.sort()
    result = {
        "video": {"frames": n, "size": [info.width, info.height], "fps": info.fps},
        "decode_fps": round(n / decode_s, 1),
        "core_fps": round(n / core_s, 1),
        "core_ms": {"p50": round(1000 * per[n // 2], 2), "p90": round(1000 * per[int(n * 0.9)], 2),
                    "max": round(1000 * per[-1], 2)},
        "end_to_end_fps": round(int(summary["frames"]) / e2e_s, 1),  # type: ignore[call-overload]
        "realtime_factor": round(int(summary["frames"]) / e2e_s / info.fps, 2),  # type: ignore[call-overload]
        "core_cpu_fps": round(n / core_cpu, 1),
        "end_to_end_cpu_fps": round(int(summary["frames"]) / e2e_cpu, 1),  # type: ignore[call-overload]
        "realtime_factor_cpu": round(int(summary["frames"]) / e2e_cpu / info.fps, 2),  # type: ignore[call-overload]
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "cars": summary["cars"],
        "opencv_threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "opencv": cv2.__version__},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
