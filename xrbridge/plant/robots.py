"""Which robot sealed what: the scene's regions, the robot map, records -> drift observations.

The scene (``scene.json`` of a simulator run, or the embedded line's) gives
every sealant region's polyline and the view rectangles; the robot map comes
from the ``robots`` setting (``ROBOT=REGION+REGION``) or, when that is empty,
from the scene (``robots`` key; the simulator's default layout for older
scenes). A confirmed defect belongs to the region nearest to its centroid and
so to that region's robot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.core.drift import CarObservation, RegionLocator, RobotMap
from xrbridge.errors import TemplateError

_log = logging.getLogger("xrbridge.plant")


@dataclass(frozen=True, slots=True)
class RobotScene:
    """The region locator and the robot map of one line."""

    locator: RegionLocator
    robots: RobotMap

    def region_robot(
        self, view: str, centroid_uv: Sequence[float]
    ) -> tuple[str | None, str | None]:
        """(region, robot) of a defect at ``centroid_uv`` of ``view`` (None where unknown)."""
        region = self.locator.locate(view, centroid_uv)
        return region, (self.robots.robot_of(region) if region else None)

    def robots_of_views(self, views: Sequence[str]) -> frozenset[str]:
        """Robots with at least one region in ``views``."""
        out = set()
        for v in views:
            for region in self.locator.regions_of(v):
                r = self.robots.robot_of(region)
                if r is not None:
                    out.add(r)
        return frozenset(out)

    def observe(self, record: Any) -> CarObservation:
        """A drift observation from an inspection record (``xrbridge.core.records.InspectionRecord``).

        With the record's car verdict, only the views it saw well enough (or
        found a defect on) count as inspected: an INCOMPLETE car's missing
        view neither raises nor dilutes its robots' rates.
        """
        defective = set()
        for v in record.views:
            for d in v.defects:
                _region, robot = self.region_robot(v.view, d.centroid_uv)
                if robot is not None:
                    defective.add(robot)
        seen = [v.view for v in record.views]
        verdict = getattr(record, "verdict", None)
        if verdict is not None:  # a view the car verdict calls missing says nothing of its robots
            seen = [
                v for v in seen if v in verdict.views_seen or v in {d.view for d in verdict.defects}
            ]
        inspected = self.robots_of_views(seen)
        return CarObservation(
            record.stream_id,
            int(record.car_id),
            float(record.t_last),
            inspected,
            frozenset(defective) & inspected,
        )


def scene_robots(scene: dict[str, Any], specs: Sequence[str] = ()) -> RobotScene:
    """The line's :class:`RobotScene` from a parsed ``scene.json`` and the ``robots`` setting."""
    try:
        rects = scene["views"]
        regions: dict[str, dict[str, np.ndarray]] = {}
        for view, regs in scene["regions"].items():
            r = rects[view]
            regions[view] = {
                g["name"]: (np.asarray(g["polyline_ub"], np.float64) - (r["u0"], r["v0"]))
                / (r["width"], r["height"])
                for g in regs
            }
        aspect = {v: rects[v]["width"] / rects[v]["height"] for v in regions}
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateError(f"scene has no usable views/regions ({exc!r})") from exc
    locator = RegionLocator(regions, aspect)
    if specs:
        robots = RobotMap.from_specs(specs)
    elif "robots" in scene:
        robots = RobotMap({k: tuple(v) for k, v in scene["robots"].items()})
    else:
        from xrbridge.sim.layout import build_layout, robot_map

        robots = RobotMap(robot_map(build_layout(1.0)))
    robots.check_regions(locator.region_names)
    return RobotScene(locator, robots)


#: A line whose sealant regions are unknown: no defect is placed on a robot, no drift alert.
NO_ROBOTS = RobotScene(RegionLocator({}, {}), RobotMap({}))


def load_robot_scene(scene_dir: Path | None, specs: Sequence[str] = ()) -> RobotScene:
    """:func:`scene_robots` of ``scene_dir/scene.json`` (``None``: the embedded line).

    A templates folder without a ``scene.json`` gives :data:`NO_ROBOTS`: the
    regions of another line (the simulator's) would put defects on the wrong
    robots and raise alerts on a real line, so drift stays off (logged once).
    """
    if scene_dir is None:
        from xrbridge.sim import embedded_line_dir

        scene_dir = embedded_line_dir()
    elif not (Path(scene_dir) / "scene.json").is_file():
        _log.warning(
            "no scene.json in %s: sealant regions unknown, robot drift alerts are off", scene_dir
        )
        return NO_ROBOTS
    path = Path(scene_dir) / "scene.json"
    try:
        scene = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TemplateError(f"cannot read scene {path}: {exc}") from exc
    return scene_robots(scene, specs)
