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


def test_infer_every_per_stream_from_toml_env_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "plant.toml"
    cfg.write_text('[bridge]\nsources = ["a=push", "b=push"]\ninfer_every = 3\n')
    s = load_settings(env={}, config=cfg)
    assert (s.infer_every_for("a"), s.infer_every_for("b")) == (3, 3)
    s = load_settings(env={"XRBRIDGE_INFER_EVERY": "2,b=6"}, config=cfg)
    assert (s.infer_every_for("a"), s.infer_every_for("b")) == (2, 6)
    assert load_settings(env={}, sources=("a=push",)).infer_every_for("a") == 1
    for bad, msg in (
        (("0",), "infer_every must be N or ID=N with N >= 1"),
        (("a=x",), "infer_every must be N or ID=N with N >= 1 .*got 'a=x'"),
        (("=3",), "infer_every must be N or ID=N"),
        (("c=3",), "infer_every names unknown stream 'c'; streams: a, b"),
    ):
        with pytest.raises(UsageError, match=msg):
            load_settings(env={}, sources=("a=push", "b=push"), infer_every=bad)


def test_infer_every_reaches_each_streams_pipeline(tmp_path: Path) -> None:
    import cv2

    from tests.bridge_support import scene_dir
    from xrbridge.core.types import Frame

    b = Bridge(_settings(tmp_path, sources=("a=push", "b=push"), infer_every=("a=3",)))
    try:
        cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 70)  # a car in view
        imgs = [cap.read()[1] for _ in range(24)]
        cap.release()
        runs = {}
        for sid in ("a", "b"):
            proc = b.hub.factory(sid, b.model)
            assert proc.pipeline.config.infer_every == {"a": 3, "b": 1}[sid]
            runs[sid] = []
            for i, img in enumerate(imgs):
                proc.process(Frame(sid, i, i / 30, img))
                if proc.model_seconds > 0:
                    runs[sid].append(i)
        # the model runs only on frames with a matched car: b on each of them, a on every third
        assert len(runs["b"]) >= 8, runs
        assert runs["a"] and all(i % 3 == 0 for i in runs["a"]), runs
        assert [i for i in runs["b"] if i % 3 == 0] == runs["a"], runs
    finally:
        asyncio.run(b.stop())
