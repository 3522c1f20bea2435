"""Per-robot drift: the pure monitor, the robot map, records -> robots, simulated lines."""

from __future__ import annotations

import numpy as np
import pytest

from xrbridge.core.drift import (
    CLEARED,
    RAISED,
    CarObservation,
    DriftConfig,
    DriftMonitor,
    RegionLocator,
    RobotMap,
)
from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
from xrbridge.errors import UsageError
from xrbridge.plant.robots import load_robot_scene
from xrbridge.sim.config import SimConfig
from xrbridge.sim.engine import plan_defects
from xrbridge.sim.layout import build_layout, robot_map

ALL = frozenset({"r1", "r2"})


def _car(i: int, bad: set[str] = frozenset()) -> CarObservation:
    return CarObservation("cam1", i, float(i), ALL, frozenset(bad))


@pytest.mark.parametrize(
    ("pattern", "expect"),
    [
        # (defective?) per car for r1 -> the cars (index) where r1 changes state
        ("0000000000", []),
        ("11111", []),  # min_cars=6: nothing before 6 cars in the window
        ("1100000000", []),
        ("1111110000", [(5, RAISED)]),
        ("11111100000000000000", [(5, RAISED), (14, CLEARED)]),
        ("101010101010", [(5, RAISED)]),  # rate hovers at 0.5: raised once, no flapping
    ],
)
def test_raise_and_clear_with_hysteresis(pattern: str, expect: list[tuple[int, str]]) -> None:
    mon = DriftMonitor(DriftConfig(window=10, raise_rate=0.5, clear_rate=0.1, min_cars=6))
    got = []
    for i, c in enumerate(pattern):
        for a in mon.update(_car(i, {"r1"} if c == "1" else set())):
            assert a.robot == "r1"
            got.append((i, a.state))
    assert got == expect


def test_alert_values_and_uninspected_robots() -> None:
    mon = DriftMonitor(DriftConfig(window=4, raise_rate=0.5, clear_rate=0.0, min_cars=2))
    assert mon.update(CarObservation("s", 1, 1.0, frozenset({"r1"}), frozenset({"r1"}))) == []
    [a] = mon.update(CarObservation("s", 2, 2.0, frozenset({"r1"}), frozenset()))
    assert (a.robot, a.state, a.defective, a.cars, a.car_id, a.rate) == ("r1", RAISED, 1, 2, 2, 0.5)
    assert "r2" not in mon.status()  # never inspected: no window, no alert
    assert mon.status()["r1"]["raised"] is True


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"window": 0}, "window"),
        ({"raise_rate": 0.0}, "raise_rate"),
        ({"raise_rate": 0.2, "clear_rate": 0.2}, "clear_rate"),
        ({"min_cars": 99}, "min_cars"),
    ],
)
def test_config_errors_name_the_knob(kw: dict, msg: str) -> None:
    with pytest.raises(UsageError, match=msg):
        DriftConfig(**kw)


def test_robot_map_specs() -> None:
    m = RobotMap.from_specs(["r1=a+b", "r2=c"])
    assert (m.robot_of("b"), m.robot_of("c"), m.robot_of("x")) == ("r1", "r2", None)
    for bad in (["r1"], ["=a"], ["r1="], ["r1=a", "r1=b"], ["r1=a", "r2=a"]):
        with pytest.raises(UsageError):
            RobotMap.from_specs(bad)
    with pytest.raises(UsageError, match="unknown regions"):
        m.check_regions(["a", "b"])


def test_locator_nearest_region() -> None:
    loc = RegionLocator(
        {
            "v": {
                "top": np.array([[0.0, 0.1], [1.0, 0.1]]),
                "bottom": np.array([[0.0, 0.9], [1.0, 0.9]]),
            }
        },
        {"v": 1.3},
    )
    assert loc.locate("v", (0.5, 0.12)) == "top"
    assert loc.locate("v", (0.5, 0.88)) == "bottom"
    assert loc.locate("v", (0.5, 0.5)) is None  # too far from both
    assert loc.locate("other", (0.5, 0.1)) is None


def test_records_map_to_robots_on_the_embedded_scene() -> None:
    rs = load_robot_scene(None)
    assert set(rs.robots.robots) == set(robot_map(build_layout(1.0)))
    # lower_center_01 runs along v = 0.39 of the centre view, lower_back_04 at v ~ 0.8
    d1 = RecordDefect(1, "high", 0.9, 0.8, 3, (0.5, 0.39), 50.0, None, ())
    d2 = RecordDefect(2, "low", 0.6, 0.5, 2, (0.58, 0.805), 20.0, None, ())
    rec = InspectionRecord(
        "cam1",
        4,
        0.0,
        1.0,
        "patchcore",
        (ViewResult("lower_center", 0.9, (d1,)), ViewResult("lower_back", 0.7, (d2,))),
    )
    obs = rs.observe(rec)
    assert obs.defective == {"center_left", "back_right"}
    assert obs.inspected == {
        "center_left",
        "center_right",
        "back_left",
        "back_right",
        "back_middle",
    }  # the front view was not seen
    with pytest.raises(UsageError, match="unknown regions"):
        load_robot_scene(None, ["r1=no_such_region"])


def test_simulated_drift_adds_defects_only_on_the_robots_regions_after_the_start() -> None:
    base = plan_defects(SimConfig(cars=80, seed=3, defect_rate=0.1))
    drift = plan_defects(
        SimConfig(
            cars=80,
            seed=3,
            defect_rate=0.1,
            drift_robot="center_left",
            drift_rate=0.5,
            drift_from=40,
        )
    )
    regions = set(robot_map(build_layout(1.0))["center_left"])
    extra = {c: [d for d in drift[c] if d not in base[c]] for c in drift}
    assert all(drift[c][: len(base[c])] == base[c] for c in base)  # the baseline is untouched
    assert not any(extra[c] for c in range(40))
    n_extra = sum(len(v) for v in extra.values())
    assert 10 <= n_extra <= 30 and all(d.region in regions for v in extra.values() for d in v)
    ids = [d.id for v in drift.values() for d in v]
    assert len(ids) == len(set(ids))
    with pytest.raises(UsageError, match="drift-robot must be one of"):
        plan_defects(SimConfig(cars=5, drift_robot="nobody", drift_rate=0.5))
    with pytest.raises(UsageError, match="needs --drift-robot"):
        SimConfig(drift_rate=0.2)


def _truth_run(cfg: SimConfig) -> list[tuple[int, str, str]]:
    """Alerts of the default rule over the simulator's truth (every defect detected)."""
    layout = build_layout(cfg.scale)
    robots = RobotMap(robot_map(layout))
    mon = DriftMonitor()
    out = []
    for car, ds in sorted(plan_defects(cfg, layout).items()):
        bad = frozenset(r for d in ds if (r := robots.robot_of(d.region)))
        for a in mon.update(CarObservation("cam1", car, float(car), frozenset(robots.robots), bad)):
            out.append((car, a.robot, a.state))
    return out


def test_default_rule_on_simulated_lines() -> None:
    # clean lines of 200 cars at a 10 % defective-car rate: no alert (5 seeds)
    for seed in range(5):
        assert _truth_run(SimConfig(cars=200, seed=seed, defect_rate=0.1)) == []
    # one robot drifts from car 50 on (half its cars get a defect): alerted, and only it
    alerts = _truth_run(
        SimConfig(
            cars=200,
            seed=1,
            defect_rate=0.1,
            drift_robot="back_left",
            drift_rate=0.5,
            drift_from=50,
        )
    )
    assert alerts and alerts[0][1:] == ("back_left", RAISED)
    assert 50 <= alerts[0][0] <= 50 + 25
    assert {r for _c, r, _s in alerts} == {"back_left"}


def test_simulate_cli_names_the_valid_robots(tmp_path, capsys) -> None:
    from xrbridge import cli

    rc = cli.main(
        [
            "simulate",
            "--out",
            str(tmp_path / "o"),
            "--cars",
            "2",
            "--no-progress",
            "--drift-robot",
            "r9",
            "--drift-rate",
            "0.5",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "--drift-robot must be one of back_left, back_middle" in err[0]


def test_baseline_absorbs_a_robot_that_always_shows_defects() -> None:
    """r1 is flagged on every car from the start (a detector's systematic false defect),
    r2 is clean for 10 cars and then fails on every car."""
    cfg = DriftConfig(
        window=6, raise_rate=0.5, clear_rate=0.1, min_cars=3, baseline_cars=10, baseline_margin=0.3
    )
    plain = DriftMonitor(DriftConfig(window=6, raise_rate=0.5, clear_rate=0.1, min_cars=3))
    mon = DriftMonitor(cfg)
    got, got_plain = [], []
    for i in range(20):
        car = _car(i, {"r1"} | ({"r2"} if i >= 10 else set()))
        got += [(i, a.robot, a.state, a.threshold) for a in mon.update(car)]
        got_plain += [(i, a.robot, a.state) for a in plain.update(car)]
    assert got_plain[0] == (2, "r1", RAISED)  # without a baseline r1 alarms at once
    assert [(i, r, s) for i, r, s, _t in got] == [(12, "r2", RAISED)]  # r1 never, r2 at once
    assert got[0][3] == 0.5  # r2's baseline 0 + 0.3 is below raise_rate: raise_rate holds
    assert mon.baseline("r1") == 1.0 and mon.baseline("r2") == 0.0
    assert mon.status()["r1"]["baseline"] == 1.0
    assert cfg.thresholds(0.4) == pytest.approx((0.7, 0.3))
    with pytest.raises(UsageError, match="baseline_margin"):
        DriftConfig(baseline_cars=5, baseline_margin=0.0)
