"""Drift alerts on simulated lines: how many cars until a drifting robot is flagged,
and how many false alarms on clean lines.

The per-car input is drawn from the simulator's truth (``plan_defects``: the
same defects a rendered run would contain), not from video runs through the
models: a 200-car video per point of the grid would take hours on this
machine. Detection is modelled by ``--recall`` (chance a true defect is
confirmed by the bridge) and ``--fp`` (chance per car and robot of a false
confirmed defect), so the numbers show how the rule copes with an imperfect
detector too.

    python bench/plant_drift.py --seeds 20 > reports/plant/drift.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from xrbridge.core.drift import RAISED, CarObservation, DriftConfig, DriftMonitor, RobotMap
from xrbridge.sim.config import SimConfig
from xrbridge.sim.engine import plan_defects
from xrbridge.sim.layout import build_layout, robot_map

_D = DriftConfig()


def run_line(
    cfg: SimConfig, dc: DriftConfig, recall: float, fp: float, rng: np.random.Generator
) -> list[tuple[int, str, str]]:
    layout = build_layout(cfg.scale)
    robots = RobotMap(robot_map(layout))
    names = sorted(robots.robots)
    mon = DriftMonitor(dc)
    out = []
    for car, ds in sorted(plan_defects(cfg, layout).items()):
        bad = {robots.robot_of(d.region) for d in ds if rng.random() < recall}
        bad |= {r for r in names if rng.random() < fp}
        bad.discard(None)
        obs = CarObservation("cam", car, float(car), frozenset(names), frozenset(bad))  # type: ignore[arg-type]
        out += [(car, a.robot, a.state) for a in mon.update(obs)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--cars", type=int, default=200)
    ap.add_argument("--drift-from", type=int, default=50)
    ap.add_argument("--base-rates", default="0.05,0.1,0.2,0.4")
    ap.add_argument("--drift-rates", default="0.2,0.3,0.5")
    ap.add_argument("--recall", type=float, default=1.0)
    ap.add_argument("--fp", type=float, default=0.0)
    ap.add_argument("--window", type=int, default=_D.window)
    ap.add_argument("--raise-rate", type=float, default=_D.raise_rate)
    ap.add_argument("--clear-rate", type=float, default=_D.clear_rate)
    ap.add_argument("--min-cars", type=int, default=_D.min_cars)
    ap.add_argument("--baseline-cars", type=int, default=0)
    ap.add_argument("--baseline-margin", type=float, default=_D.baseline_margin)
    a = ap.parse_args()
    dc = DriftConfig(
        a.window, a.raise_rate, a.clear_rate, a.min_cars, a.baseline_cars, a.baseline_margin
    )
    robots = sorted(robot_map(build_layout(1.0)))
    rows = []
    for base in (float(x) for x in a.base_rates.split(",")):
        clean_alarms = 0
        for seed in range(a.seeds):
            rng = np.random.default_rng([seed, 99])
            alerts = run_line(
                SimConfig(cars=a.cars, seed=seed, defect_rate=base), dc, a.recall, a.fp, rng
            )
            clean_alarms += int(any(s == RAISED for _c, _r, s in alerts))
        row = {
            "base_defect_rate": base,
            "clean_lines": a.seeds,
            "clean_lines_with_alarm": clean_alarms,
            "drift": [],
        }
        for drate in (float(x) for x in a.drift_rates.split(",")):
            delays, missed, wrong = [], 0, 0
            for seed in range(a.seeds):
                robot = robots[seed % len(robots)]
                rng = np.random.default_rng([seed, 98])
                cfg = SimConfig(
                    cars=a.cars,
                    seed=seed,
                    defect_rate=base,
                    drift_robot=robot,
                    drift_rate=drate,
                    drift_from=a.drift_from,
                )
                alerts = run_line(cfg, dc, a.recall, a.fp, rng)
                hit = [c for c, r, s in alerts if r == robot and s == RAISED and c >= a.drift_from]
                wrong += int(any(r != robot and s == RAISED for _c, r, s in alerts))
                if hit:
                    delays.append(hit[0] - a.drift_from + 1)
                else:
                    missed += 1
            d = np.asarray(delays) if delays else np.asarray([np.nan])
            row["drift"].append(
                {
                    "drift_rate": drate,
                    "lines": a.seeds,
                    "detected": len(delays),
                    "missed": missed,
                    "lines_with_other_robot_alarm": wrong,
                    "cars_to_alert_median": float(np.nanmedian(d)),
                    "cars_to_alert_p90": float(np.nanpercentile(d, 90)),
                    "cars_to_alert_max": float(np.nanmax(d)),
                }
            )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print(
        json.dumps(
            {
                "config": {
                    "window": dc.window,
                    "raise_rate": dc.raise_rate,
                    "clear_rate": dc.clear_rate,
                    "min_cars": dc.min_cars,
                    "baseline_cars": dc.baseline_cars,
                    "baseline_margin": dc.baseline_margin,
                    "cars": a.cars,
                    "drift_from": a.drift_from,
                    "recall": a.recall,
                    "fp_per_car_robot": a.fp,
                    "robots": len(robots),
                    "input": "simulator truth (plan_defects)",
                },
                "results": rows,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
