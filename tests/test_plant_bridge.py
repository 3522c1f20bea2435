"""Two real bridges (``xrbridge replay``) write to one PostgreSQL and one Mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from tests.bridge_support import FACTOR, ROOT, clip, models_dir, scene_dir
from xrbridge.plant.events import decode
from xrbridge.plant.services import (
    LocalMosquitto,
    LocalPostgres,
    mosquitto_binary,
    postgres_bindir,
)

pytestmark = pytest.mark.skipif(
    mosquitto_binary() is None or postgres_bindir() is None,
    reason="mosquitto or PostgreSQL not installed",
)


def test_two_bridges_one_database_one_broker(tmp_path: Path) -> None:
    video = clip(tmp_path / "car.mp4", 30, 45)
    with LocalMosquitto(tmp_path / "broker") as broker, LocalPostgres() as pg:
        got: list[tuple[str, dict, bool]] = []
        lock = threading.Lock()
        ready = threading.Event()
        sub = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="plant-test",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        sub.on_connect = lambda c, *a: c.subscribe("xrbridge/#", qos=1)
        sub.on_subscribe = lambda *a: ready.set()

        def on_message(c, u, m) -> None:
            with lock:
                got.append((m.topic, decode(m.payload), bool(m.retain)))

        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        assert ready.wait(10 * FACTOR)
        procs = {}
        for b in ("b1", "b2"):
            procs[b] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xrbridge",
                    "replay",
                    str(video),
                    "--models-dir",
                    str(models_dir()),
                    "--templates",
                    str(scene_dir()),
                    "--records-db",
                    pg.url,
                    "--mqtt-url",
                    broker.url,
                    "--plant",
                    "p1",
                    "--line",
                    "l1",
                    "--bridge-id",
                    b,
                    "--mqtt-spool",
                    str(tmp_path / f"{b}.db"),
                    "--out",
                    str(tmp_path / f"{b}.jsonl"),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        summaries = {}
        for b, p in procs.items():
            out, err = p.communicate(timeout=300 * FACTOR)
            assert p.returncode == 0, err
            summaries[b] = json.loads(out.strip().splitlines()[-1])
        sub.disconnect()
        sub.loop_stop()
        with psycopg.connect(pg.url) as c:
            rows = c.execute("SELECT bridge, stream_id, car_id, n_defects FROM records").fetchall()
            stored = dict(
                ((b, s, car), v["status"])
                for b, s, car, v in c.execute(
                    "SELECT bridge, stream_id, car_id, verdict FROM records"
                )
            )
    for b in ("b1", "b2"):
        recs = [r for r in rows if r[0] == b]
        verdicts = [d for t, d, _ in got if d["type"] == "verdict" and d["bridge"] == b]
        assert len(recs) == summaries[b]["cars"] >= 1
        assert sorted((d["stream"], d["car_id"]) for d in verdicts) == sorted(
            (r[1], r[2]) for r in recs
        )
        for d in verdicts:
            n = next(r[3] for r in recs if (r[1], r[2]) == (d["stream"], d["car_id"]))
            # the car verdict: NOK with the record's defects; without any, OK or INCOMPLETE
            assert d["verdict"] in (("NOK",) if n else ("OK", "INCOMPLETE")), d
            assert d["verdict_source"] == "car_verdict" and d["n_defects"] == n
            assert 0.0 <= d["confidence"] <= 1.0
        # the central database keeps the same verdict as the event
        assert all(stored[(b, d["stream"], d["car_id"])] == d["verdict"] for d in verdicts)
        states = [d["state"] for t, d, _ in got if t == f"xrbridge/p1/l1/_bridge/{b}/status"]
        assert states[0] == "online" and states[-1] == "offline"
        stream = summaries[b]["streams"][0]["stream"]
        assert any(t == f"xrbridge/p1/l1/{stream}/health" and d["bridge"] == b for t, d, _ in got)
        defects = [d for t, d, _ in got if d["type"] == "defect" and d["bridge"] == b]
        assert len(defects) == summaries[b]["defects_confirmed"]
        print(f"\n{b}: records={len(recs)} verdicts={len(verdicts)} defect events={len(defects)}")
        assert len({(d["car_id"], d["defect_id"]) for d in defects}) == len(defects)
        seqs = [d["seq"] for t, d, _ in got if d["bridge"] == b and d["seq"] > 0]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
