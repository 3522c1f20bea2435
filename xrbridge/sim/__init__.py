"""Sealant-line simulator: recorded video of car underbodies with exact ground truth.

``simulate(SimConfig(...), out_dir)`` renders a run; ``embedded_line_dir()``
is the short run shipped with the package (the demo's and the tests' default).
"""

from __future__ import annotations

from pathlib import Path

from xrbridge.sim.config import CameraConfig, SimConfig, parse_size
from xrbridge.sim.engine import simulate


def embedded_line_dir() -> Path:
    """Folder of the embedded default run (line.mp4, truth.jsonl, scene.json, templates/, roi/)."""
    return Path(__file__).resolve().parents[1] / "data" / "line"


__all__ = ["CameraConfig", "SimConfig", "embedded_line_dir", "parse_size", "simulate"]
