"""Extraction + tracking accuracy on simulator runs: the numbers of docs/extract.md.

Usage:
    python bench/eval_track.py [--cars 6] [--seed 7] [--cases default,slow,fast,const_belt,harsh_light]
                               [--representations grad,gray]

For each case it renders a simulator run (--drop-frames 0.2), runs
``xrbridge extract`` with the truth's timestamps and scores tracks.jsonl and
peaks.json against truth.jsonl (xrbridge.trackeval). Prints one JSON object:
{case: {representation: metrics}} plus per-case match-score percentiles and
extraction frames/s (machine load permitting).

Cases: default (420 px/s mean, speed varies +-22 %, stops), slow (250 px/s),
fast (700 px/s), const_belt (the simulator's conveyor replaced by a constant
420 px/s belt without stops: the "constant speed" prediction case), and
harsh_light (drift 0.35, moving gradient 0.6, highlights 160).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def constant_belt(speed_px_s: float):
    """A make_conveyor replacement: constant speed, no stops."""
    from xrbridge.sim import motion

    def make(cfg, rng, distance):
        duration = distance / speed_px_s * 1.6 + 10.0
        t = np.arange(0.0, duration, 1.0 / (cfg.fps * 4.0))
        return motion.Conveyor(t, t * speed_px_s, np.full_like(t, speed_px_s))

    return make


def render(case: str, cars: int, seed: int, out: Path) -> None:
    from xrbridge.sim import CameraConfig, SimConfig, simulate

    speed = {"slow": 250.0, "fast": 700.0}.get(case, 420.0)
    camera = (
        CameraConfig(drift=0.35, gradient=0.6, highlight=160.0)
        if case == "harsh_light"
        else CameraConfig()
    )
    cfg = SimConfig(
        cars=cars, seed=seed, drop_frames=0.2, dataset=False, speed=speed, camera=camera
    )
    if case == "const_belt":
        from xrbridge.sim import motion

        orig = motion.make_conveyor
        motion.make_conveyor = constant_belt(420.0)
        try:
            simulate(cfg, out)
        finally:
            motion.make_conveyor = orig
    else:
        simulate(cfg, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cars", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cases", default="default,slow,fast,const_belt,harsh_light")
    ap.add_argument("--representations", default="grad,gray")
    args = ap.parse_args()

    from xrbridge.core.matching import MatchConfig
    from xrbridge.extract import extract
    from xrbridge.trackeval import evaluate

    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as td:
        for case in args.cases.split(","):
            line = Path(td) / case
            render(case, args.cars, args.seed, line)
            truth = [json.loads(s) for s in (line / "truth.jsonl").read_text().splitlines()]
            per: dict[str, object] = {}
            for rep in args.representations.split(","):
                out = Path(td) / f"{case}_{rep}"
                summary = extract(
                    line / "line.mp4",
                    line / "templates",
                    out,
                    match=MatchConfig(representation=rep),
                    timestamps=line / "truth.jsonl",
                    progress=False,
                )
                recs = [json.loads(s) for s in (out / "tracks.jsonl").read_text().splitlines()]
                peaks = json.loads((out / "peaks.json").read_text())
                ev = evaluate(recs, truth, peaks)
                scores = [m["score"] for r in recs for tr in r["tracks"] for m in tr["matches"]]
                ev["match_score"] = {
                    "p5": round(float(np.percentile(scores, 5)), 3) if scores else None,
                    "p50": round(float(np.percentile(scores, 50)), 3) if scores else None,
                }
                ev["peak_score_min"] = min((p["score"] for p in peaks), default=None)
                ev["frames_per_s"] = summary["frames_per_s"]
                per[rep] = ev
                print(
                    f"{case}/{rep}: rmse {ev['rmse_px']} switches {ev['id_switches']} "
                    f"missed {ev['cars_missed']}/{ev['views_missed']} peak_err {ev['peak_frame_error_max']} "
                    f"pred const {ev['pred_err_const']['rmse']} accel {ev['pred_err_accel']['rmse']}",
                    file=sys.stderr,
                )
            result[case] = per
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
