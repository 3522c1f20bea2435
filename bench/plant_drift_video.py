"""Drift on a rendered line: the bridge's records of a simulated run vs the simulator's truth.

Run ``xrbridge simulate --drift-robot R ...`` and ``xrbridge replay`` of its
video with ``--records-db``, then

    python bench/plant_drift_video.py SIM_DIR RECORDS_DB [--window 8 ...]

maps every recorded defect to its robot (``xrbridge.plant.robots``), compares
per car with the robots the truth says have a defect, and runs the drift rule
over the records (cars in the order they left). Cars are paired by order
(records by ``t_first``, truth cars by ``t_enter``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xrbridge.core.drift import DriftConfig, DriftMonitor
from xrbridge.io.records import SqliteRecordStore
from xrbridge.plant.robots import load_robot_scene


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sim_dir", type=Path)
    ap.add_argument("records_db", type=Path)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--raise-rate", type=float, default=0.4)
    ap.add_argument("--clear-rate", type=float, default=0.1)
    ap.add_argument("--min-cars", type=int, default=4)
    ap.add_argument("--baseline-cars", type=int, default=0)
    ap.add_argument("--baseline-margin", type=float, default=0.2)
    a = ap.parse_args()
    scene = json.loads((a.sim_dir / "scene.json").read_text())
    rs = load_robot_scene(a.sim_dir)
    with SqliteRecordStore(a.records_db) as store:
        records = sorted(store.query(), key=lambda r: r.t_first)
    cars = sorted(scene["cars"], key=lambda c: c["t_enter"])
    truth = [{rs.robots.robot_of(d["region"]) for d in c["defects"]} for c in cars]
    obs = [rs.observe(r) for r in records]
    paired = len(obs) == len(cars)
    tp = fp = fn = 0
    if paired:
        for o, t in zip(obs, truth, strict=True):
            tp += len(o.defective & t)
            fp += len(o.defective - t)
            fn += len(t - o.defective)
    mon = DriftMonitor(
        DriftConfig(
            a.window, a.raise_rate, a.clear_rate, a.min_cars, a.baseline_cars, a.baseline_margin
        )
    )
    alerts = []
    for i, o in enumerate(obs):
        alerts += [{"car_index": i, **al.to_dict()} for al in mon.update(o)]
    cfg = scene["config"]
    print(
        json.dumps(
            {
                "drift_robot": cfg.get("drift_robot"),
                "drift_rate": cfg.get("drift_rate"),
                "drift_from": cfg.get("drift_from"),
                "cars_truth": len(cars),
                "records": len(records),
                "paired_by_order": paired,
                "robot_level": {"tp": tp, "fp": fp, "fn": fn} if paired else None,
                "truth_cars_with_drift_robot_defect": sum(
                    cfg.get("drift_robot") in t for t in truth
                ),
                "observed_cars_with_drift_robot_defect": sum(
                    cfg.get("drift_robot") in o.defective for o in obs
                ),
                "rule": {
                    "window": a.window,
                    "raise_rate": a.raise_rate,
                    "clear_rate": a.clear_rate,
                    "min_cars": a.min_cars,
                    "baseline_cars": a.baseline_cars,
                },
                "alerts": alerts,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
