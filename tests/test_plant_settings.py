"""Plant settings reach the bridge: robots from the environment, bad values refused early."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.bridge_support import models_dir
from xrbridge.bridge.app import Bridge
from xrbridge.bridge.settings import load_settings
from xrbridge.errors import UsageError


def _settings(tmp_path: Path, **kw):
    base = dict(
        ws_port=-1,
        grpc_port=-1,
        records_db="",
        models_dir=str(models_dir()),
        mqtt_spool=str(tmp_path / "spool.db"),
        sources=("cam1=push",),
    )
    return load_settings(env={}, **{**base, **kw})


def test_robots_and_drift_rule_from_the_environment() -> None:
    s = load_settings(
        env={
            "XRBRIDGE_ROBOTS": "r1=lower_front_01+lower_front_03,r2=lower_back_04",
            "XRBRIDGE_DRIFT_WINDOW": "30",
            "XRBRIDGE_PLANT": "p9",
        }
    )
    assert s.robots == ("r1=lower_front_01+lower_front_03", "r2=lower_back_04")
    assert (s.drift_window, s.plant, s.mqtt_url) == (30, "p9", "")


def test_bad_drift_rule_and_unknown_region_are_refused_at_construction(tmp_path: Path) -> None:
    url = "mqtt://127.0.0.1:1"
    with pytest.raises(UsageError, match="clear_rate"):
        Bridge(_settings(tmp_path, mqtt_url=url, drift_raise_rate=0.1, drift_clear_rate=0.2))
    with pytest.raises(UsageError, match="unknown regions"):
        Bridge(_settings(tmp_path, mqtt_url=url, robots=("r1=nowhere",)))


def test_a_stream_id_that_is_no_topic_level_is_refused_at_start(tmp_path: Path) -> None:
    bridge = Bridge(_settings(tmp_path, mqtt_url="mqtt://127.0.0.1:1", sources=("_x=push",)))

    async def go() -> None:
        try:
            await bridge.start()
        finally:
            await bridge.stop()

    with pytest.raises(UsageError, match="must not start with '_'"):
        asyncio.run(go())
