"""Sources that recover: a video file removed and restored mid-run; health tells the truth."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.bridge_support import FACTOR, clip, running
from xrbridge.bridge.sources import BackoffConfig, CameraSource, VideoSource
from xrbridge.core.types import Frame


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "short.mp4", 30, 20)


def _healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def _until(cond, timeout: float) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout * FACTOR):
        while not await cond():
            await asyncio.sleep(0.1)


def test_video_source_uses_container_times_and_recovers(short_clip: Path, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    shutil.copy(short_clip, video)
    src = VideoSource("v", video, realtime=False, loop=True, backoff=BackoffConfig(0.05, 0.2))
    times: list[float] = []

    async def emit(f: Frame) -> None:
        times.append(f.t_capture)
        if len(times) == 25:
            video.unlink()  # removed in the middle of the second pass
        await asyncio.sleep(0)

    async def go() -> None:
        task = asyncio.create_task(src.run(emit))
        async with asyncio.timeout(20 * FACTOR):
            while src.healthy:
                await asyncio.sleep(0.01)
            n = len(times)
            await asyncio.sleep(0.5)
            assert len(times) == n and src.retries >= 2 and "no readable frames" in src.last_error
            shutil.copy(short_clip, video)  # restored
            while len(times) < n + 30:
                await asyncio.sleep(0.01)
        assert src.healthy and src.last_error == ""
        task.cancel()

    asyncio.run(go())
    assert times[:3] == pytest.approx([0.0, 1 / 30, 2 / 30], abs=1e-3)
    assert all(b > a for a, b in itertools.pairwise(times)), "time never goes back"


def test_an_unreachable_camera_is_not_healthy() -> None:
    cam = CameraSource("c", "rtsp://127.0.0.1:9/none", backoff=BackoffConfig(0.05, 0.1))
    assert not cam.healthy


def test_healthz_and_grpc_health_follow_a_removed_and_restored_file(
    short_clip: Path, tmp_path: Path
) -> None:
    video = tmp_path / "line.mp4"
    shutil.copy(short_clip, video)

    async def go() -> None:
        async with running(sources=(f"line={video}",), loop=True, records_db="") as b:
            health_url = b.urls["viewer"] + "healthz"
            async with grpc.aio.insecure_channel(b.urls["grpc"]) as ch:
                stub = health_pb2_grpc.HealthStub(ch)

                async def grpc_status() -> int:
                    r = await stub.Check(health_pb2.HealthCheckRequest(service="stream/line"))
                    return int(r.status)

                assert await asyncio.to_thread(_healthz, health_url) == 200
                assert await grpc_status() == health_pb2.HealthCheckResponse.SERVING
                video.unlink()

                async def down() -> bool:
                    return await asyncio.to_thread(_healthz, health_url) == 503

                await _until(down, 15)
                await _until(
                    lambda: _is(grpc_status(), health_pb2.HealthCheckResponse.NOT_SERVING), 5
                )
                assert b.hub.streams["line"].status()["state"] == "retrying"
                n = b.hub.streams["line"].stats.frames_in
                shutil.copy(short_clip, video)

                async def up() -> bool:
                    return await asyncio.to_thread(_healthz, health_url) == 200

                await _until(up, 15)
                await _until(lambda: _is(grpc_status(), health_pb2.HealthCheckResponse.SERVING), 5)
                await _until(lambda: _true(b.hub.streams["line"].stats.frames_in > n + 5), 10)

    asyncio.run(go())


async def _is(coro, want: int) -> bool:  # type: ignore[no-untyped-def]
    return await coro == want


async def _true(v: bool) -> bool:
    return v
