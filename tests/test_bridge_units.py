"""Bridge parts without servers: queues, settings, session protocol, image checks, metrics, prediction."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
from pathlib import Path

import cv2
import msgpack
import numpy as np
import pytest

from xrbridge.bridge import protocol as P
from xrbridge.bridge import settings as S
from xrbridge.bridge.metrics import BridgeMetrics
from xrbridge.bridge.predict import predict_overlay
from xrbridge.bridge.queues import FrameSlot, LatestQueue
from xrbridge.bridge.registry import ModelRegistry
from xrbridge.bridge.sources import BackoffConfig, decode_image, image_size, parse_source_spec
from xrbridge.errors import ImageError, LimitError, UnknownNameError, UsageError
from xrbridge.wire.samples import sample_overlay

# ------------------------------------------------------------------ queues


def test_frame_slot_newest_wins_and_counts_drops() -> None:
    async def go() -> tuple[list[int | None], int]:
        slot: FrameSlot[int] = FrameSlot()
        assert not slot.put(1)
        assert slot.put(2)  # replaced 1
        assert slot.put(3)
        first = await slot.get()
        slot.put(4)
        slot.close()
        return [first, await slot.get(), await slot.get()], slot.dropped

    got, dropped = asyncio.run(go())
    assert got == [3, 4, None]
    assert dropped == 2


def test_latest_queue_keeps_one_per_key_and_bounds_keys() -> None:
    async def go() -> tuple[list[str], int]:
        q: LatestQueue[str] = LatestQueue(max_keys=3)
        q.put("a1", key="a")
        q.put("b1", key="b")
        assert q.put("a2", key="a") == 1  # newest of a wins, moves to the back
        q.put("c1", key="c")
        assert q.put("d1", key="d") == 1  # key limit: the oldest (b1) goes
        out = [await q.get() for _ in range(3)]
        return [x for x in out if x], q.dropped

    out, dropped = asyncio.run(go())
    assert out == ["a2", "c1", "d1"]
    assert dropped == 2


def test_latest_queue_get_waits_and_close_releases() -> None:
    async def go() -> list[str | None]:
        q: LatestQueue[str] = LatestQueue()
        got: list[str | None] = []

        async def reader() -> None:
            got.append(await q.get())
            got.append(await q.get())

        t = asyncio.create_task(reader())
        await asyncio.sleep(0.01)
        q.put("x")
        await asyncio.sleep(0.01)
        q.close()
        await asyncio.wait_for(t, 1)
        return got

    assert asyncio.run(go()) == ["x", None]


# ---------------------------------------------------------------- settings


def test_settings_precedence_toml_env_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "bridge.toml"
    cfg.write_text(
        "ws_port = 9000\ngrpc_port = 9001\nheartbeat_s = 2.5\n"
        'sources = ["a=push", "b=camera:0"]\nallowed_origins = ["http://x"]\n'
    )
    parser = argparse.ArgumentParser()
    S.add_arguments(parser)
    args = parser.parse_args(["--config", str(cfg), "--grpc-port", "7000", "--no-realtime"])
    env = {"XRBRIDGE_WS_PORT": "8000", "XRBRIDGE_GRPC_PORT": "1", "XRBRIDGE_TOKEN": "t0k"}
    s = S.load_settings(args, env=env)
    assert s.ws_port == 8000  # env over TOML
    assert s.grpc_port == 7000  # flag over env
    assert s.heartbeat_s == 2.5  # TOML over default
    assert s.sources == ("a=push", "b=camera:0")
    assert s.token == "t0k" and s.realtime is False
    assert s.allowed_origins == ("http://x",)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"XRBRIDGE_WS_PORT": "eighty"}, "ws_port must be int"),
        ({"XRBRIDGE_LOOP": "maybe"}, "loop must be bool"),
        ({"XRBRIDGE_WS_PORT": "70000"}, "ws_port must be in"),
        ({"XRBRIDGE_TLS_CERT": "c.pem"}, "tls_cert and tls_key"),
        ({"XRBRIDGE_SOURCES": "nonsense"}, "ID=URI"),
    ],
)
def test_settings_bad_values_name_what_was_expected(env: dict[str, str], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        S.load_settings(env=env)


def test_settings_toml_unknown_key_and_bad_syntax(tmp_path: Path) -> None:
    bad = tmp_path / "a.toml"
    bad.write_text("wsport = 1\n")
    with pytest.raises(UsageError, match="unknown keys \\['wsport'\\]"):
        S.load_settings(env={}, config=bad)
    bad.write_text("ws_port = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        S.load_settings(env={}, config=bad)


def test_source_specs() -> None:
    assert parse_source_spec("cam=camera:0") == ("cam", "camera", "0")
    assert parse_source_spec("r=rtsp://10.0.0.2/s") == ("r", "camera", "rtsp://10.0.0.2/s")
    assert parse_source_spec("p=push") == ("p", "push", "")
    assert parse_source_spec("v=/x/line.mp4") == ("v", "video", "/x/line.mp4")
    with pytest.raises(ValueError, match="ID=URI"):
        parse_source_spec("line.mp4")
    assert BackoffConfig(0.5, 4.0).delays()[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]


# ---------------------------------------------------------------- protocol


def test_protocol_accepts_the_documented_messages() -> None:
    for msg in (
        {"type": "hello", "schema_version": 1, "token": "x"},
        {"type": "subscribe", "streams": ["a"], "video": True},
        {"type": "select_model", "stream_id": "a", "name": "patchcore"},
        {"type": "ping", "id": 3},
        {"type": "frame", "stream_id": "a", "seq": 1, "t_capture": 0.5, "data": b"\xff\xd8"},
    ):
        assert P.parse_client(msgpack.packb(msg), 1 << 20).type == msg["type"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x01garbage", "bad_message"),
        (msgpack.packb({"type": "hello"})[:-2], "bad_message"),
        (msgpack.packb([1, 2, 3]), "bad_message"),
        (msgpack.packb({"type": 5}), "bad_message"),
        (msgpack.packb({"type": "launch"}), "unknown_type"),
        (msgpack.packb({"type": "hello", "schema_version": 2}), "schema_version"),
        (msgpack.packb({"type": "subscribe", "streams": "a"}), "bad_message"),
        (msgpack.packb({"type": "subscribe", "streams": [1]}), "bad_message"),
        (
            msgpack.packb({"type": "frame", "stream_id": "a", "t_capture": "x", "data": b""}),
            "bad_message",
        ),
        (
            msgpack.packb({"type": "frame", "stream_id": "a", "t_capture": True, "data": b""}),
            "bad_message",
        ),
        (b"\x00" * 2048, "too_large"),
        ("text", "bad_message"),
    ],
)
def test_protocol_rejects_with_a_code(data: bytes | str, code: str) -> None:
    with pytest.raises(P.ProtocolError) as exc:
        P.parse_client(data, 1024)
    assert exc.value.code == code
    assert code in P.ERROR_CODES


# ------------------------------------------------------------------ images


def test_image_size_and_decode_png_jpeg() -> None:
    img = np.zeros((30, 40, 3), np.uint8)
    img[5:10, 5:20] = (0, 0, 255)
    for ext in (".png", ".jpg"):
        ok, buf = cv2.imencode(ext, img)
        assert ok
        fmt, w, h = image_size(buf.tobytes())
        assert (w, h) == (40, 30) and fmt in ("png", "jpeg")
        assert decode_image(buf.tobytes()).shape == (30, 40, 3)


def test_decode_refuses_bombs_and_garbage() -> None:
    _ok, buf = cv2.imencode(".png", np.zeros((300, 300, 3), np.uint8))
    with pytest.raises(LimitError, match="300x300"):
        decode_image(buf.tobytes(), max_pixels=100 * 100)
    data = bytearray(buf.tobytes())
    data[16:24] = (100000).to_bytes(4, "big") * 2  # a PNG header declaring 100000x100000
    with pytest.raises(LimitError):
        decode_image(bytes(data))
    with pytest.raises(ImageError, match="JPEG or PNG"):
        decode_image(b"GIF89a....")
    with pytest.raises(ImageError):
        decode_image(buf.tobytes()[:40])  # truncated PNG


# ----------------------------------------------------- metrics, prediction


def test_metrics_render_prometheus_text() -> None:
    m = BridgeMetrics()
    m.frames_in.inc("line")
    m.errors.inc("bad_message", amount=3)
    m.stage.observe(0.004, "pipeline")
    m.stage.observe(0.3, "pipeline")
    m.subscribers.inc("websocket")
    m.subscribers.dec("websocket")
    text = m.render()
    assert 'xrbridge_frames_in_total{stream="line"} 1.0' in text
    assert 'xrbridge_errors_total{kind="bad_message"} 3.0' in text
    assert 'xrbridge_stage_seconds_bucket{le="0.005",stage="pipeline"} 1.0' in text
    assert 'xrbridge_stage_seconds_bucket{le="+Inf",stage="pipeline"} 2.0' in text
    assert 'xrbridge_stage_seconds_count{stage="pipeline"} 2.0' in text
    assert 'xrbridge_subscribers{transport="websocket"} 0.0' in text
    assert "# TYPE xrbridge_stage_seconds histogram" in text
    # the values the bridge reads back (status, tests) come from the same registry
    assert m.errors.value("bad_message") == 3 and m.stage.count("pipeline") == 2
    assert m.errors.items() == {("bad_message",): 3.0} and BridgeMetrics().errors.total() == 0


def test_predict_overlay_moves_contours_with_the_car() -> None:
    ov = sample_overlay()
    assert ov.track is not None
    dt = 0.1
    p = predict_overlay(ov, seq=ov.seq + 3, t=ov.track.t + dt, t_emit=0.0)
    assert p.seq == ov.seq + 3
    assert p.track is not None
    dx, dy = ov.track.vx * dt, ov.track.vy * dt
    assert p.track.x == pytest.approx(ov.track.x + dx)
    for a, b in zip(ov.defects, p.defects, strict=True):
        np.testing.assert_allclose(
            b.contour_px, a.contour_px + np.array([dx, dy], np.float32), atol=1e-4
        )
        np.testing.assert_array_equal(b.contour_uv, a.contour_uv)  # on the car: unchanged
        assert b.centroid_px[0] == pytest.approx(a.centroid_px[0] + dx)
        if a.hint is not None and a.hint.time_to_station_s is not None:
            assert b.hint is not None and b.hint.time_to_station_s == pytest.approx(
                a.hint.time_to_station_s - dt
            )
    empty = dataclasses.replace(ov, track=None, defects=())
    assert predict_overlay(empty, seq=1, t=5.0, t_emit=5.0).t_capture == 5.0


# ---------------------------------------------------------------- registry


def test_registry_finds_sets_by_name_never_paths(tmp_path: Path) -> None:
    def model(d: Path, name: str, view: str) -> None:
        d.mkdir(parents=True)
        (d / "model.onnx").write_bytes(b"")
        (d / "manifest.json").write_text(
            json.dumps({"model": name, "category": view, "input": {"height": 64, "width": 96}})
        )

    model(tmp_path / "lower_front", "patchcore", "lower_front")
    model(tmp_path / "lower_back", "patchcore", "lower_back")
    model(tmp_path / "small" / "lower_center", "efficientad-s", "lower_center")
    model(tmp_path / "single", "patchcore", "lower_back")
    (tmp_path / "junk").mkdir()
    r = ModelRegistry(tmp_path)
    assert r.names() == ["patchcore", "single", "small"]
    assert sorted(r.sets["patchcore"]) == ["lower_back", "lower_front"]
    assert {i["name"] for i in r.infos()} >= {"patchcore-lower_front", "small-lower_center"}
    with pytest.raises(UnknownNameError, match="valid: patchcore, single, small"):
        r.check("../etc/passwd")


# ----------------------------------------------------------------- sources


def _tiny_video(path: Path, n: int = 12) -> Path:
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    w = cv2.VideoWriter(str(path), fourcc, 30.0, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 10 * i, np.uint8))
    w.release()
    return path


def test_video_source_paces_real_time_or_runs_fast_and_loops(tmp_path: Path) -> None:
    import time

    from xrbridge.bridge.sources import VideoSource

    video = _tiny_video(tmp_path / "v.mp4")

    async def collect(src: VideoSource) -> tuple[list[tuple[int, float]], float]:
        got: list[tuple[int, float]] = []

        async def emit(f: object) -> None:
            got.append((f.seq, f.t_capture))  # type: ignore[attr-defined]

        t0 = time.perf_counter()
        await src.run(emit)
        return got, time.perf_counter() - t0

    fast, dt_fast = asyncio.run(collect(VideoSource("v", video, realtime=False)))
    assert [s for s, _ in fast] == list(range(12))
    assert fast[-1][1] == pytest.approx(11 / 30)
    _, dt_slow = asyncio.run(collect(VideoSource("v", video, realtime=True)))
    assert dt_slow >= 11 / 30 - 0.02 and dt_slow > dt_fast

    async def looped() -> list[tuple[int, float]]:
        got: list[tuple[int, float]] = []

        async def emit(f: object) -> None:
            got.append((f.seq, f.t_capture))  # type: ignore[attr-defined]
            if len(got) == 30:
                raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await VideoSource("v", video, realtime=False, loop=True).run(emit)
        return got

    got = asyncio.run(looped())
    assert [s for s, _ in got] == list(range(30))
    ts = [t for _, t in got]
    assert ts == sorted(ts) and ts[12] == pytest.approx(12 / 30)  # time continues across loops


def test_camera_source_reconnects_with_backoff(tmp_path: Path) -> None:
    from xrbridge.bridge.sources import CameraSource

    async def run_for(src: CameraSource, seconds: float) -> int:
        n = 0

        async def emit(f: object) -> None:
            nonlocal n
            n += 1

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(src.run(emit), seconds)
        return n

    # a stream that ends (OpenCV opens files like RTSP URLs): frames, end, reconnect, frames again
    video = _tiny_video(tmp_path / "cam.mp4", 5)
    cam = CameraSource("c", str(video), BackoffConfig(0.02, 0.05))
    n = asyncio.run(run_for(cam, 1.0))
    assert cam.reconnects >= 2 and n >= 10
    # nothing there: only reconnect attempts, with growing delays up to the maximum
    dead = CameraSource("d", str(tmp_path / "missing.mp4"), BackoffConfig(0.02, 0.08))
    assert asyncio.run(run_for(dead, 0.5)) == 0
    assert 3 <= dead.reconnects <= 25 and "cannot open" in dead.last_error


def test_handled_errors_are_counted_and_logged_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m = BridgeMetrics()
    caplog.set_level(logging.WARNING, "xrbridge.bridge")
    for _ in range(1000):  # wrong tokens at line rate
        m.error("unauthenticated", "hello: wrong or missing token")
    m.error("bad_image", "corrupt jpeg")
    assert m.errors.value("unauthenticated") == 1000
    assert [r.getMessage() for r in caplog.records] == [
        "unauthenticated: hello: wrong or missing token",
        "bad_image: corrupt jpeg",
    ]
