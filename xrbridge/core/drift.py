"""Per-robot drift alerts: which sealing robot is failing, over a sliding window of cars.

Pure and synchronous (no clock, no I/O): cars go in one at a time as
:class:`CarObservation` values, :class:`DriftAlert` values come out when a
robot's state changes. The plant side (``xrbridge.plant``) turns inspection
records into observations and alerts into MQTT events and database rows.

The rule, per robot, over the last ``window`` cars on which at least one of
the robot's regions was inspected:

- **raise** when at least ``min_cars`` cars are in the window and the share
  of them with a confirmed defect on one of the robot's regions is
  ``>= raise_rate``;
- **clear** (only when raised) when that share falls to ``<= clear_rate``.

``clear_rate < raise_rate`` is the hysteresis: a robot hovering around the
raise rate does not flap between raised and cleared on every car.

Mapping a defect to its robot needs the scene's region geometry:
:class:`RegionLocator` finds the sealant region nearest to a defect's
centroid (view-normalised ``(u, v)``) and :class:`RobotMap` says which robot
applies that region.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from xrbridge.errors import UsageError

RAISED = "raised"
CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """The alert rule's knobs.

    ``window``: cars remembered per robot. Larger: steadier rate, slower to
    raise and to clear. ``raise_rate``: share of windowed cars with a defect
    on the robot's regions that raises the alert; lower raises sooner on a
    drifting robot but also on random defects of a healthy one (false
    alarms). ``clear_rate``: share at or below which a raised alert clears;
    must be below ``raise_rate`` (the gap is the hysteresis).
    ``min_cars``: no alert before this many cars are in the window.

    ``baseline_cars`` (0: off): learn each robot's own normal share over its
    first ``baseline_cars`` cars (commissioning; no alert meanwhile) and raise
    only when the window's share also exceeds that baseline by
    ``baseline_margin``; the clear threshold moves up by as much (same
    hysteresis gap). This absorbs a detector's systematic false defects on
    one robot's regions, at the price of a robot that is already failing
    during commissioning never being alerted (its baseline is high).
    """

    window: int = 25
    raise_rate: float = 0.28
    clear_rate: float = 0.08
    min_cars: int = 10
    baseline_cars: int = 0
    baseline_margin: float = 0.2

    def __post_init__(self) -> None:
        if self.window < 1:
            raise UsageError(f"drift window must be >= 1 car, got {self.window}")
        if not 1 <= self.min_cars <= self.window:
            raise UsageError(
                f"drift min_cars must be in 1..window ({self.window}), got {self.min_cars}"
            )
        if not 0.0 < self.raise_rate <= 1.0:
            raise UsageError(f"drift raise_rate must be in (0, 1], got {self.raise_rate}")
        if not 0.0 <= self.clear_rate < self.raise_rate:
            raise UsageError(
                f"drift clear_rate must be in [0, raise_rate={self.raise_rate}), "
                f"got {self.clear_rate}"
            )
        if self.baseline_cars < 0:
            raise UsageError(f"drift baseline_cars must be >= 0, got {self.baseline_cars}")
        if not 0.0 < self.baseline_margin <= 1.0:
            raise UsageError(f"drift baseline_margin must be in (0, 1], got {self.baseline_margin}")

    def thresholds(self, baseline: float | None) -> tuple[float, float]:
        """(raise, clear) thresholds for a robot whose learnt baseline is ``baseline``."""
        if baseline is None:
            return self.raise_rate, self.clear_rate
        up = max(self.raise_rate, baseline + self.baseline_margin)
        return up, up - (self.raise_rate - self.clear_rate)


@dataclass(frozen=True, slots=True)
class RobotMap:
    """Which robot applies which sealant region: ``robots`` {robot: (region, ...)}."""

    robots: Mapping[str, tuple[str, ...]]
    _by_region: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by: dict[str, str] = {}
        for robot, regions in self.robots.items():
            if not robot or not regions:
                raise UsageError(f"robot {robot!r} must have a name and at least one region")
            for r in regions:
                if r in by:
                    raise UsageError(f"region {r!r} mapped to two robots: {by[r]!r} and {robot!r}")
                by[r] = robot
        object.__setattr__(self, "_by_region", by)

    @staticmethod
    def from_specs(specs: Iterable[str]) -> RobotMap:
        """Parse ``ROBOT=REGION+REGION+...`` strings (the ``robots`` setting)."""
        out: dict[str, tuple[str, ...]] = {}
        for spec in specs:
            robot, sep, rest = spec.partition("=")
            regions = tuple(r.strip() for r in rest.split("+") if r.strip())
            if not sep or not robot.strip() or not regions:
                raise UsageError(
                    f"robot must be ROBOT=REGION+REGION (e.g. r1=lower_front_01+lower_front_03), "
                    f"got {spec!r}"
                )
            if robot.strip() in out:
                raise UsageError(f"robot {robot.strip()!r} given twice")
            out[robot.strip()] = regions
        return RobotMap(out)

    def robot_of(self, region: str) -> str | None:
        return self._by_region.get(region)

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(self._by_region)

    def check_regions(self, known: Iterable[str]) -> None:
        """Raise UsageError if the map names a region the scene does not have."""
        unknown = sorted(self.regions - set(known))
        if unknown:
            raise UsageError(f"robot map names unknown regions {unknown}; valid: {sorted(known)}")


class RegionLocator:
    """Nearest sealant region to a point of a view.

    ``regions``: {view: {region: (N, 2) polyline in view-normalised (u, v)}}
    (``u`` along the view's width, ``v`` along its height, both in [0, 1]);
    ``aspect``: {view: width / height} so distances are measured in the view's
    own proportions. A point farther than ``max_dist`` (fraction of the view
    height) from every region belongs to none.
    """

    def __init__(
        self,
        regions: Mapping[str, Mapping[str, np.ndarray]],
        aspect: Mapping[str, float],
        max_dist: float = 0.08,
    ) -> None:
        self._segs: dict[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]] = {}
        self.max_dist = float(max_dist)
        for view, regs in regions.items():
            a = float(aspect.get(view, 1.0))
            names, p0s, p1s, owner = [], [], [], []
            for i, (name, poly) in enumerate(regs.items()):
                pts = np.asarray(poly, np.float64).reshape(-1, 2) * (a, 1.0)
                if len(pts) == 1:
                    pts = np.concatenate([pts, pts])
                names.append(name)
                p0s.append(pts[:-1])
                p1s.append(pts[1:])
                owner.append(np.full(len(pts) - 1, i))
            if names:
                self._segs[view] = (
                    names,
                    np.concatenate(p0s),
                    np.concatenate(p1s),
                    np.concatenate(owner),
                )
        self._aspect = {v: float(aspect.get(v, 1.0)) for v in regions}

    @property
    def region_names(self) -> list[str]:
        return [n for names, *_ in self._segs.values() for n in names]

    def regions_of(self, view: str) -> list[str]:
        """The regions of ``view`` (empty for an unknown view)."""
        return list(self._segs[view][0]) if view in self._segs else []

    def locate(self, view: str, centroid_uv: Sequence[float]) -> str | None:
        """The region nearest to ``centroid_uv`` on ``view`` (None: none close enough)."""
        if view not in self._segs:
            return None
        names, p0, p1, owner = self._segs[view]
        p = np.array([centroid_uv[0] * self._aspect[view], centroid_uv[1]], np.float64)
        d = p1 - p0
        L2 = np.maximum((d * d).sum(1), 1e-12)
        t = np.clip(((p - p0) * d).sum(1) / L2, 0.0, 1.0)
        dist = np.hypot(*(p0 + t[:, None] * d - p).T)
        k = int(np.argmin(dist))
        return names[int(owner[k])] if dist[k] <= self.max_dist else None


@dataclass(frozen=True, slots=True)
class CarObservation:
    """One car that left a stream, as drift sees it.

    ``inspected``: robots with at least one region inspected on this car (a
    view the bridge did not see says nothing about its robots);
    ``defective``: robots with a confirmed defect on one of their regions
    (a subset of ``inspected``). ``t``: the car's last capture time (s).
    """

    stream_id: str
    car_id: int
    t: float
    inspected: frozenset[str]
    defective: frozenset[str]


@dataclass(frozen=True, slots=True)
class DriftAlert:
    """A robot's alert state changed (``state``: ``raised`` or ``cleared``).

    ``rate``: share of the ``cars`` windowed cars with a defect on the robot's
    regions; ``defective``: how many of them; ``car_id``/``stream_id``/``t``:
    the car that tipped it; ``cars_seen``: cars of this robot since start.
    """

    robot: str
    state: str
    rate: float
    defective: int
    cars: int
    car_id: int
    stream_id: str
    t: float
    cars_seen: int
    threshold: float

    def to_dict(self) -> dict[str, object]:
        return {
            "robot": self.robot,
            "state": self.state,
            "rate": round(self.rate, 4),
            "defective": self.defective,
            "cars": self.cars,
            "car_id": self.car_id,
            "stream_id": self.stream_id,
            "t": self.t,
            "cars_seen": self.cars_seen,
            "threshold": self.threshold,
        }


class DriftMonitor:
    """Sliding windows per robot; :meth:`update` returns the alerts a car causes."""

    def __init__(self, config: DriftConfig | None = None) -> None:
        self.config = config or DriftConfig()
        self._win: dict[str, deque[bool]] = {}
        self._seen: dict[str, int] = {}
        self._base_hits: dict[str, int] = {}
        self.raised: set[str] = set()

    def baseline(self, robot: str) -> float | None:
        """The robot's learnt normal share (None: baseline off or still learning)."""
        nb = self.config.baseline_cars
        if nb == 0 or self._seen.get(robot, 0) < nb:
            return None
        return self._base_hits.get(robot, 0) / nb

    def rate(self, robot: str) -> float:
        w = self._win.get(robot)
        return (sum(w) / len(w)) if w else 0.0

    def update(self, car: CarObservation) -> list[DriftAlert]:
        """Add one car; returns the robots whose state changed (sorted by robot)."""
        c = self.config
        out: list[DriftAlert] = []
        for robot in sorted(car.inspected):
            w = self._win.setdefault(robot, deque(maxlen=c.window))
            bad = robot in car.defective
            w.append(bad)
            self._seen[robot] = self._seen.get(robot, 0) + 1
            if self._seen[robot] <= c.baseline_cars:
                self._base_hits[robot] = self._base_hits.get(robot, 0) + int(bad)
                continue  # commissioning: learning the robot's normal share
            up, down = c.thresholds(self.baseline(robot))
            n, k = len(w), sum(w)
            rate = k / n
            if robot not in self.raised and n >= c.min_cars and rate >= up:
                self.raised.add(robot)
                out.append(
                    DriftAlert(
                        robot,
                        RAISED,
                        rate,
                        k,
                        n,
                        car.car_id,
                        car.stream_id,
                        car.t,
                        self._seen[robot],
                        up,
                    )
                )
            elif robot in self.raised and rate <= down:
                self.raised.discard(robot)
                out.append(
                    DriftAlert(
                        robot,
                        CLEARED,
                        rate,
                        k,
                        n,
                        car.car_id,
                        car.stream_id,
                        car.t,
                        self._seen[robot],
                        down,
                    )
                )
        return out

    def status(self) -> dict[str, dict[str, object]]:
        """{robot: {rate, cars, raised, baseline}} for health reports."""
        return {
            r: {
                "rate": round(self.rate(r), 4),
                "cars": len(w),
                "raised": r in self.raised,
                "baseline": self.baseline(r),
            }
            for r, w in sorted(self._win.items())
        }
