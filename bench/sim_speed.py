"""How fast does the simulator render? Prints one JSON line per setting.

    python bench/sim_speed.py [--cars 12] [--workers 1 2]

Renders a ~60-second line (12 cars at the default speed, no data set) once
per worker count and reports wall time, CPU time, frames per second and the
real-time factor (seconds of video per second of rendering; >= 1 is real
time or better). On a shared machine compare the ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile

from xrbridge.sim import SimConfig, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cars", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    for w in args.workers:
        with tempfile.TemporaryDirectory() as d:
            s = simulate(SimConfig(cars=args.cars, seed=args.seed, dataset=False), d, workers=w)
        cpu_fps = s["frames"] / max(s["video_cpu_seconds"], 1e-9)
        print(
            json.dumps(
                {
                    "workers": w,
                    "frames": s["frames"],
                    "video_s": s["duration_s"],
                    "wall_s": s["video_seconds"],
                    "cpu_s": s["video_cpu_seconds"],
                    "frames_per_s": s["frames_per_s"],
                    "frames_per_cpu_s": round(cpu_fps, 1),
                    "realtime_factor": s["realtime_factor"],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
