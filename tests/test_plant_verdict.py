"""Plant verdicts from the real car verdict, and drift alerts to every sink.

- verdict events on a real Mosquitto: OK / NOK / INCOMPLETE with confidence,
  defects (type guess, size class, position, region, robot), views missing;
- a real bridge (push stream, SQLite records, gRPC and WebSocket on
  loopback): a robot's alert raised and cleared reaches a gRPC
  ``Subscribe.Alerts`` call, a WebSocket subscriber (``robot_alert``) and the
  SQLite ``alerts`` table; an INCOMPLETE car's missing view does not count
  for its robots.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from websockets.asyncio.client import connect

from tests.bridge_support import FACTOR, pack, recv_until, running
from xrbridge.bridge.hub import Hub
from xrbridge.bridge.settings import load_settings
from xrbridge.core.records import InspectionRecord, RecordDefect, ViewResult
from xrbridge.core.verdict import CarVerdict, VerdictDefect, ViewCoverage
from xrbridge.io.records import SqliteRecordStore
from xrbridge.plant.events import decode
from xrbridge.plant.hookup import PlantSinks
from xrbridge.plant.services import LocalMosquitto, mosquitto_binary
from xrbridge.wire.alert import alert_from_proto
from xrbridge.wire.gen import control_pb2, services_pb2_grpc

VIEWS = ("lower_front", "lower_center", "lower_back")


def _cov(missing: tuple[str, ...] = ()) -> tuple[ViewCoverage, ...]:
    return tuple(
        ViewCoverage(v, 0 if v in missing else 10, 0.0 if v in missing else 150.0, v not in missing)
        for v in VIEWS
    )


def car(i: int, kind: str, stream: str = "cam") -> InspectionRecord:
    """A car as the fused pipeline leaves it: OK, NOK (a defect on center_left's region) or INCOMPLETE."""
    views = [ViewResult(v, 0.3, ()) for v in VIEWS]
    defects: tuple[VerdictDefect, ...] = ()
    missing: tuple[str, ...] = ()
    if kind == "NOK":
        # lower_center_01 (robot center_left) runs along v = 0.39 of the centre view
        rd = RecordDefect(1, "high", 0.93, 0.8, 6, (0.5, 0.39), 60.0, None, ())
        views[1] = ViewResult("lower_center", 0.93, (rd,))
        defects = (
            VerdictDefect(
                1,
                "lower_center",
                "missing",
                "medium",
                "high",
                0.87,
                (412.0, 96.5),
                np.zeros((0, 2), np.float32),
                41.0,
                60.0,
                "left",
                6,
                140.0,
                0.93,
            ),
        )
    elif kind == "INCOMPLETE":
        missing = ("lower_back",)
        views[2] = ViewResult("lower_back", 0.2, ())  # one stray inference: not enough to judge
    conf = {"OK": 0.9, "NOK": 0.87, "INCOMPLETE": 2 / 3}[kind]
    v = CarVerdict(
        stream,
        i,
        kind,
        conf,
        float(i),
        i + 2.0,
        tuple(x for x in VIEWS if x not in missing),
        missing,
        defects,
        _cov(missing),
        {"OK": "", "NOK": "1 defect", "INCOMPLETE": "not seen: lower_back"}[kind],
    )
    return InspectionRecord(stream, i, float(i), i + 2.0, "patchcore", tuple(views), verdict=v)


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto binary not installed")
def test_verdict_events_carry_the_car_verdict(tmp_path: Path) -> None:
    with LocalMosquitto(tmp_path / "broker") as broker:
        got: list[dict] = []
        ready = threading.Event()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="v", protocol=mqtt.MQTTv311)
        sub.on_connect = lambda c, *a: c.subscribe("xrbridge/p/l/cam/verdict", qos=1)
        sub.on_subscribe = lambda *a: ready.set()
        sub.on_message = lambda c, u, m: got.append(decode(m.payload))
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        assert ready.wait(10 * FACTOR)
        settings = load_settings(
            env={},
            mqtt_url=broker.url,
            plant="p",
            line="l",
            bridge_id="b",
            mqtt_spool=str(tmp_path / "spool.db"),
            health_s=0,
        )

        async def go() -> PlantSinks:
            with ThreadPoolExecutor(1) as ex:
                hub = Hub(lambda s, m: None, lambda: [], ex)  # type: ignore[arg-type,return-value]
                plant = PlantSinks.from_settings(settings, hub)
                await plant.start()
                await asyncio.to_thread(
                    plant.on_records, [car(1, "NOK"), car(2, "INCOMPLETE"), car(3, "OK")]
                )
                end = time.monotonic() + 10 * FACTOR
                while len(got) < 3 and time.monotonic() < end:
                    await asyncio.sleep(0.05)
                await plant.stop()
                return plant

        plant = asyncio.run(go())
        sub.loop_stop()
        sub.disconnect()
    assert [(d["car_id"], d["verdict"]) for d in got] == [(1, "NOK"), (2, "INCOMPLETE"), (3, "OK")]
    nok, inc, ok = got
    assert nok["verdict_source"] == "car_verdict" and nok["confidence"] == 0.87
    assert nok["n_defects"] == 1 and nok["reason"] == "1 defect" and nok["views_missing"] == []
    (d,) = nok["defects"]
    assert (d["type_guess"], d["size_class"], d["severity"], d["location"]) == (
        "missing",
        "medium",
        "high",
        "left",
    )
    assert d["centroid_ub"] == [412.0, 96.5] and d["confidence"] == 0.87
    assert (d["region"], d["robot"]) == ("lower_center_01", "center_left")
    assert nok["robots_defective"] == ["center_left"]
    assert inc["views_missing"] == ["lower_back"] and inc["views_seen"] == [
        "lower_front",
        "lower_center",
    ]
    assert (
        inc["confidence"] == pytest.approx(0.6667)
        and inc["defects"] == []
        and inc["reason"] == "not seen: lower_back"
    )
    assert ok["confidence"] == 0.9 and ok["n_defects"] == 0
    # the INCOMPLETE car's missing view did not count for the back robots' windows
    status = plant.monitors["cam"].status()
    assert status["center_left"]["cars"] == 3 and status["back_left"]["cars"] == 2


def test_verdict_without_a_car_verdict_keeps_the_record_rule() -> None:
    from xrbridge.plant.events import verdict_body

    rec = car(1, "NOK")
    body = verdict_body(InspectionRecord(rec.stream_id, 1, 0.0, 1.0, "patchcore", rec.views))
    assert (body["verdict"], body["verdict_source"], body["confidence"], body["n_defects"]) == (
        "NOK",
        "record",
        None,
        1,
    )


def test_alerts_reach_grpc_websocket_and_the_sqlite_store(tmp_path: Path) -> None:
    db = tmp_path / "records.db"

    async def go() -> tuple[list, list, list]:
        async with running(
            sources=("cam=push",),
            records_db=str(db),
            drift_window=4,
            drift_min_cars=2,
            drift_raise_rate=0.5,
            drift_clear_rate=0.2,
            bridge_id="cell7",
        ) as b:
            assert b.plant is not None
            n0 = len(b.hub.subscribers)
            async with (
                grpc.aio.insecure_channel(b.urls["grpc"]) as ch,
                connect(b.urls["websocket"], proxy=None) as ws,
            ):
                await recv_until(ws, "hello")
                await ws.send(pack({"type": "subscribe", "streams": ["cam"]}))
                await recv_until(ws, "subscribed")
                call = services_pb2_grpc.SubscribeStub(ch).Alerts(
                    control_pb2.SubscribeRequest(stream_id="cam")
                )
                end = time.monotonic() + 10 * FACTOR
                while len(b.hub.subscribers) < n0 + 2 and time.monotonic() < end:
                    await asyncio.sleep(0.02)
                grpc_got, ws_got = [], []
                # two NOK cars on center_left's region: 2 of 2 >= 0.5 raises it
                await asyncio.to_thread(b.plant.on_records, [car(1, "NOK"), car(2, "NOK")])
                grpc_got.append(alert_from_proto(await asyncio.wait_for(call.read(), 10 * FACTOR)))
                ws_got.append(await recv_until(ws, "robot_alert"))
                # subscribers that join while the robot is in alert get its state at once
                async with connect(b.urls["websocket"], proxy=None) as late:
                    await recv_until(late, "hello")
                    await late.send(pack({"type": "subscribe", "streams": ["cam"]}))
                    late_ws = await recv_until(late, "robot_alert")
                late_call = services_pb2_grpc.SubscribeStub(ch).Alerts(
                    control_pb2.SubscribeRequest(stream_id="")
                )
                late_grpc = alert_from_proto(await asyncio.wait_for(late_call.read(), 10 * FACTOR))
                late_call.cancel()
                assert (late_ws["robot"], late_ws["state"], late_ws["car_id"]) == (
                    "center_left",
                    "raised",
                    2,
                )
                assert (late_grpc.robot, late_grpc.state, late_grpc.car_id) == (
                    "center_left",
                    "raised",
                    2,
                )
                # four clean cars: 0 of 4 <= 0.2 clears it
                await asyncio.to_thread(b.plant.on_records, [car(i, "OK") for i in range(3, 7)])
                grpc_got.append(alert_from_proto(await asyncio.wait_for(call.read(), 10 * FACTOR)))
                ws_got.append(await recv_until(ws, "robot_alert"))
                call.cancel()
                assert b.hub.raised_alerts == {}  # a cleared robot is no news for a late subscriber
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    bad = services_pb2_grpc.SubscribeStub(ch).Alerts(
                        control_pb2.SubscribeRequest(stream_id="nope")
                    )
                    await asyncio.wait_for(bad.read(), 10 * FACTOR)
                assert exc.value.code() == grpc.StatusCode.NOT_FOUND
            rows = b.records.alerts()
        return grpc_got, ws_got, rows

    grpc_got, ws_got, rows = asyncio.run(go())
    assert [(a.robot, a.state, a.car_id) for a in grpc_got] == [
        ("center_left", "raised", 2),
        ("center_left", "cleared", 6),
    ]
    assert grpc_got[0].rate == 1.0 and grpc_got[0].cars == 2 and grpc_got[1].rate == 0.0
    assert [(m["robot"], m["state"], m["schema_version"]) for m in ws_got] == [
        ("center_left", "raised", 1),
        ("center_left", "cleared", 1),
    ]
    assert [(r["robot"], r["state"], r["car_id"], r["stream_id"], r["bridge"]) for r in rows] == [
        ("center_left", "raised", 2, "cam", "cell7"),
        ("center_left", "cleared", 6, "cam", "cell7"),
    ]
    # the alerts are in the file (a second reader sees them)
    with SqliteRecordStore(db) as store:
        assert len(store.alerts()) == 2


def test_sqlite_schema_2_file_gets_the_alerts_table_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with SqliteRecordStore(db) as s:
        s.write(car(1, "OK"))
    with sqlite3.connect(db) as c:  # back to a schema-2 file: records with verdicts, no alerts
        c.execute("DROP TABLE alerts")
        c.execute("PRAGMA user_version=2")
    with SqliteRecordStore(db) as s:
        assert [r.car_id for r in s.query()] == [1] and s.alerts() == []
        assert s.query()[0].verdict is not None
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 3
        c.execute("PRAGMA user_version=9")
    from xrbridge.errors import RecordError

    with pytest.raises(RecordError, match="schema version 9 is newer than this xrbridge knows"):
        SqliteRecordStore(db)
