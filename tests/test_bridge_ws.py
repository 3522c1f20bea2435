"""The WebSocket server with the real pipeline on a real video: session, pushes, metrics, limits."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.bridge_support import FACTOR, clip, pack, recv_until, running, scene_dir, two_model_sets
from xrbridge.wire.codec import overlay_from_msgpack


@pytest.fixture(scope="module")
def car_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3.3 s of the line: the first car (two defects) passes."""
    return clip(tmp_path_factory.mktemp("clips") / "car.mp4", 30, 100)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


def test_session_overlays_ping_models_status_metrics(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}", "cam=push"), loop=True) as b:
            async with connect(b.urls["websocket"], proxy=None) as ws:
                hello = await recv_until(ws, "hello")
                assert hello["schema_version"] == 1
                assert hello["streams"] == ["cam", "line"]
                assert b.model in hello["models"]
                await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                assert (await recv_until(ws, "subscribed"))["streams"] == ["line"]
                await ws.send(pack({"type": "ping", "id": 42}))
                assert (await recv_until(ws, "pong"))["id"] == 42
                await ws.send(pack({"type": "list_models"}))
                models = await recv_until(ws, "models")
                assert models["active"] == {"cam": b.model, "line": b.model}
                seqs: list[int] = []
                tracked = 0
                while len(seqs) < 20 or tracked < 3:  # the car enters after about 10 frames
                    raw = await asyncio.wait_for(ws.recv(), 20 * FACTOR)
                    m = msgpack.unpackb(raw, raw=False)
                    if m["type"] != "overlay_frame":
                        continue
                    ov = overlay_from_msgpack(bytes(raw))  # type: ignore[arg-type]  # the codec reads what the server sent
                    assert ov.stream_id == "line" and ov.model == b.model
                    seqs.append(ov.seq)
                    tracked += ov.track is not None
                assert seqs == sorted(seqs)
                await ws.send(pack({"type": "status"}))
                rep = await recv_until(ws, "status_report")
                line = next(s for s in rep["streams"] if s["stream"] == "line")
                assert (
                    line["frames_in"] >= 10 and line["inferred"] >= 1 and line["size"] == [848, 480]
                )
                beat = await recv_until(ws, "heartbeat", 5)  # heartbeat_s = 1 in the tests
                # a count of this client's dropped overlays, stamped with the wall clock (unix s)
                assert type(beat["dropped"]) is int and beat["dropped"] >= 0
                assert isinstance(beat["t"], float) and abs(beat["t"] - time.time()) < 5 * FACTOR
            code, text = await asyncio.to_thread(_get, b.urls["metrics"])
            assert code == 200
            assert 'xrbridge_frames_in_total{stream="line"}' in text
            assert 'xrbridge_stage_seconds_count{stage="end_to_end"}' in text
            assert 'xrbridge_stage_seconds_count{stage="pipeline"}' in text
            code, text = await asyncio.to_thread(_get, b.urls["status"])
            assert code == 200 and json.loads(text)["streams"][0]["stream"] == "line"
            code, page = await asyncio.to_thread(_get, b.urls["viewer"])
            assert code == 200 and "<canvas" in page

    asyncio.run(go())


def test_pushed_frames_are_processed_and_bad_ones_answered() -> None:
    cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 70)
    frames = [cap.read()[1] for _ in range(8)]
    cap.release()

    async def go() -> None:
        async with running(sources=("cam=push",)) as b:
            async with connect(b.urls["websocket"], proxy=None) as ws:
                await ws.send(pack({"type": "subscribe", "streams": []}))
                for i, img in enumerate(frames):
                    await ws.send(
                        pack(
                            {
                                "type": "frame",
                                "stream_id": "cam",
                                "seq": i,
                                "t_capture": i / 30,
                                "data": _jpeg(img),
                            }
                        )
                    )
                    await asyncio.sleep(0.02)
                got = await recv_until(ws, "overlay_frame", 30)
                assert got["stream_id"] == "cam"
                cases = [
                    (
                        {"stream_id": "nope", "t_capture": 1.0, "data": _jpeg(frames[0])},
                        "unknown_stream",
                    ),
                    (
                        {
                            "stream_id": "cam",
                            "t_capture": 1.0,
                            "data": _jpeg(frames[0][:100, :100]),
                        },
                        "wrong_size",
                    ),
                    (
                        {"stream_id": "cam", "t_capture": 1.0, "data": b"\xff\xd8\xff\xe0garbage"},
                        "bad_image",
                    ),
                    ({"stream_id": "cam", "t_capture": 1.0, "data": b"not an image"}, "bad_image"),
                ]
                for body, code in cases:
                    await ws.send(pack({"type": "frame", **body}))
                    err = await recv_until(ws, "error")
                    assert err["code"] == code, err
            st = b.hub.streams["cam"].stats
            assert st.frames_in == len(frames) and st.inferred >= 1
            errs = {k[0]: v for k, v in b.metrics.errors.items().items()}
            assert (
                errs["unknown_stream"] == 1 and errs["wrong_size"] == 1 and errs["bad_image"] == 2
            )

    asyncio.run(go())


def _malformed(rng: random.Random, i: int, limit: int) -> bytes | str:
    """Message i of a thousand bad ones, cycling through many kinds."""
    kind = i % 12
    good = pack({"type": "subscribe", "streams": ["line"]})
    if kind == 0:
        return rng.randbytes(rng.randint(1, 200))
    if kind == 1:
        return good[: rng.randint(1, len(good) - 1)]  # truncated msgpack
    if kind == 2:
        return pack({"type": rng.choice([1, None, 2.5, [], "launch", "FRAME", ""])})  # bad 'type'
    if kind == 3:
        return pack({"type": "subscribe", "streams": rng.choice(["x", 5, [1, 2], {"a": 1}])})
    if kind == 4:
        return b"\xdb\xff\xff\xff\xff" + b"x" * 10  # str declaring 4 GiB
    if kind == 5:
        return b"\xdd\x7f\xff\xff\xff"  # array declaring 2**31 items
    if kind == 6:
        return pack(
            {
                "type": "frame",
                "stream_id": "line",
                "t_capture": 0.0,
                "data": b"\xff\xd8\xff" + rng.randbytes(50),
            }
        )
    if kind == 7:
        return pack(
            {"type": "frame", "stream_id": "cam", "t_capture": 0.0, "data": rng.randbytes(80)}
        )
    if kind == 8:
        return pack({"type": "select_model", "stream_id": "line", "name": "../../etc/passwd"})
    if kind == 9:
        return "a text message"
    if kind == 10:
        return pack({"type": "hello", "schema_version": 99})
    return b"\x00" * (limit + 10)  # above the message limit


def test_a_thousand_malformed_messages_leave_the_server_serving(car_clip: Path) -> None:
    limit = 64 * 1024

    async def go() -> None:
        async with running(
            sources=(f"line={car_clip}", "cam=push"), loop=True, max_message_bytes=limit
        ) as b:
            good_seqs: list[int] = []

            async def good_client(stop: asyncio.Event) -> None:
                async with connect(b.urls["websocket"], proxy=None) as ws:
                    await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                    while not stop.is_set():
                        m = msgpack.unpackb(
                            await asyncio.wait_for(ws.recv(), 20 * FACTOR), raw=False
                        )
                        if m["type"] == "overlay_frame":
                            good_seqs.append(m["seq"])

            stop = asyncio.Event()
            good = asyncio.create_task(good_client(stop))
            await asyncio.sleep(1.0)
            before = len(good_seqs)
            rng = random.Random(3)
            errors_seen = 0
            async with connect(b.urls["websocket"], proxy=None, max_size=None) as bad:
                for i in range(1000):
                    await bad.send(_malformed(rng, i, limit))
                    if i % 50 == 49:  # read what came back so far (errors, bounded by the outbox)
                        await bad.send(pack({"type": "ping", "id": i}))
                        while True:
                            m = msgpack.unpackb(
                                await asyncio.wait_for(bad.recv(), 10 * FACTOR), raw=False
                            )
                            errors_seen += m["type"] == "error"
                            if m["type"] == "pong" and m["id"] == i:
                                break
            # a message above the hard limit (2x) closes that connection with 1009, only that one
            async with connect(b.urls["websocket"], proxy=None) as big:
                await big.send(b"\x00" * (3 * limit))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(big.recv(), 5 * FACTOR)
                    await asyncio.wait_for(big.recv(), 5 * FACTOR)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.wait_for(good, 30 * FACTOR)
            assert errors_seen >= 100
            assert len(good_seqs) - before >= 10, "the good subscriber kept receiving overlays"
            errs = b.metrics.errors.total()
            assert errs >= 1000, b.metrics.errors.items()
            kinds = {k[0] for k in b.metrics.errors.items()}
            assert {
                "bad_message",
                "unknown_type",
                "bad_image",
                "unknown_model",
                "too_large",
                "not_push_stream",
                "schema_version",
            } <= kinds
            async with connect(
                b.urls["websocket"], proxy=None
            ) as again:  # still serving new clients
                await again.send(pack({"type": "subscribe", "streams": ["line"]}))
                await recv_until(again, "overlay_frame", 20)

    asyncio.run(go())


def test_a_stuck_subscriber_delays_no_one(car_clip: Path) -> None:
    from xrbridge.bridge.metrics import SampleLog

    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, queue_keys=4) as b:
            b.metrics.samples = SampleLog(50_000)
            stream = b.hub.streams["line"]
            # stuck: asks for the video too (30 KB per frame), then never reads; max_queue=1 makes
            # its library stop reading the socket, so TCP back-pressure reaches the server
            stuck = await connect(b.urls["websocket"], proxy=None, max_queue=1, max_size=None)
            try:
                await stuck.send(pack({"type": "subscribe", "streams": ["line"], "video": True}))
                lags: list[int] = []
                counts = [0, 0, 0]

                async def reader(k: int) -> None:
                    async with connect(b.urls["websocket"], proxy=None) as ws:
                        await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                        end = asyncio.get_running_loop().time() + 4.0
                        while asyncio.get_running_loop().time() < end:
                            m = msgpack.unpackb(
                                await asyncio.wait_for(ws.recv(), 10 * FACTOR), raw=False
                            )
                            if m["type"] == "overlay_frame":
                                counts[k] += 1
                                lags.append(stream.stats.last_seq - m["seq"])

                await asyncio.gather(*(reader(k) for k in range(3)))
                assert min(counts) >= 20, counts
                # newest wins: when the server hands an overlay to a reader's socket it is at most
                # one frame behind the newest frame (the stuck client's sends never complete)
                sent_lag = np.sort(b.metrics.samples.rows()[:, 4])
                assert len(sent_lag) >= 60 and sent_lag[int(0.99 * (len(sent_lag) - 1))] <= 1, (
                    sent_lag[-20:]
                )
                # and the readers themselves are current (their own scheduling adds some on a busy box)
                assert sorted(lags)[len(lags) // 2] <= 1, sorted(lags)[-20:]
                assert b.metrics.overlays_dropped.value("websocket") > 0, (
                    "the stuck outbox must drop"
                )
            finally:
                stuck.transport.abort()  # it never reads: no closing handshake
                await stuck.wait_closed()

    asyncio.run(go())


def test_model_switch_by_name_keeps_subscribers(car_clip: Path, tmp_path: Path) -> None:
    mdir = two_model_sets(tmp_path)

    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, models_dir=str(mdir)) as b:
            names = b.registry.names()
            assert "again" in names and len(names) == 2
            other = next(n for n in names if n != b.model)
            async with (
                connect(b.urls["websocket"], proxy=None) as ws,
                connect(b.urls["websocket"], proxy=None) as watcher,
            ):
                for c in (ws, watcher):
                    await c.send(pack({"type": "subscribe", "streams": ["line"]}))
                    await recv_until(c, "overlay_frame", 20)
                await ws.send(
                    pack({"type": "select_model", "stream_id": "line", "name": "/abs/path"})
                )
                assert (await recv_until(ws, "error"))["code"] == "unknown_model"
                await ws.send(pack({"type": "select_model", "stream_id": "line", "name": other}))
                assert (await recv_until(ws, "model_selected", 30))["name"] == other
                for c in (ws, watcher):  # same connections, now overlays of the other model
                    async with asyncio.timeout(20 * FACTOR):
                        while (await recv_until(c, "overlay_frame"))["model"] != other:
                            pass
            assert b.hub.streams["line"].model == other
            assert b.metrics.model_switches.value("line") == 1

    asyncio.run(go())


def test_token_origin_and_close_codes(car_clip: Path) -> None:
    async def go() -> None:
        async with running(
            sources=(f"line={car_clip}",),
            loop=True,
            token="s3cret",
            allowed_origins=("http://good.example",),
        ) as b:
            url = b.urls["websocket"]
            with pytest.raises(InvalidStatus) as exc:
                await connect(url, proxy=None, additional_headers={"Authorization": "Bearer wrong"})
            assert exc.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as exc:
                await connect(url, proxy=None, origin="http://evil.example")  # type: ignore[arg-type]
            assert exc.value.response.status_code == 403
            # no token at the handshake: only a hello with the token is accepted
            async with connect(url, proxy=None) as ws:
                hello = await recv_until(ws, "hello")
                assert hello["auth_required"] and hello["streams"] == [] and hello["models"] == []
                await ws.send(pack({"type": "subscribe", "streams": []}))
                assert (await recv_until(ws, "error"))["code"] == "unauthenticated"
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5 * FACTOR)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            async with connect(url, proxy=None) as ws:
                await ws.send(pack({"type": "hello", "schema_version": 1, "token": "s3cret"}))
                await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                await recv_until(ws, "overlay_frame", 20)
            async with connect(
                url,
                proxy=None,
                origin="http://good.example",  # type: ignore[arg-type]
                additional_headers={"Authorization": "Bearer s3cret"},
            ) as ws:
                await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                await recv_until(ws, "overlay_frame", 20)
            code, _ = await asyncio.to_thread(_get, b.urls["metrics"])
            assert code == 401
            code, _ = await asyncio.to_thread(
                _get, b.urls["metrics"], {"Authorization": "Bearer s3cret"}
            )
            assert code == 200
            assert b.metrics.errors.value("unauthenticated") >= 2
            assert b.metrics.errors.value("origin") == 1

    asyncio.run(go())
