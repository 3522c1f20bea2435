"""Shared fixtures. ``sim_small``: a short rendered sealant line (see docs/contracts.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Settings of the ``sim_small`` run: 3 cars, defects on two of them, 20% dropped frames.
SIM_SMALL = {"cars": 3, "seed": 11, "defect_rate": 0.67, "drop_frames": 0.2, "train_frames": 3}


@pytest.fixture(scope="session")
def sim_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a short simulator run: line.mp4, truth.jsonl, scene.json, templates/,
    roi/ and dataset/ (848x480, 30 fps, ~15 s of conveyor, frames dropped at 0.2)."""
    from xrbridge.sim import SimConfig, simulate

    out = tmp_path_factory.mktemp("sim_small")
    simulate(SimConfig(**SIM_SMALL), out)  # type: ignore[arg-type]
    return out
