"""Helpers of the bridge tests: the embedded scene, the default models, short clips, running bridges."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import msgpack

from xrbridge.bridge.app import Bridge
from xrbridge.bridge.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
#: Timeouts scale on slow machines (XRBRIDGE_TEST_TIMEOUT_FACTOR=3 on a busy box).
FACTOR = float(os.environ.get("XRBRIDGE_TEST_TIMEOUT_FACTOR", "1"))


def scene_dir() -> Path:
    from xrbridge.sim import embedded_line_dir

    return Path(embedded_line_dir())


def models_dir() -> Path:
    return ROOT / "models"


def clip(path: Path, start: int, count: int) -> Path:
    """Frames [start, start + count) of the embedded line video as an mp4 (same size, 30 fps)."""
    if path.is_file():
        return path
    cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = None
    for _ in range(count):
        ok, img = cap.read()
        if not ok:
            break
        if out is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            out = cv2.VideoWriter(str(path), fourcc, 30.0, (img.shape[1], img.shape[0]))
        out.write(img)
    cap.release()
    assert out is not None, "embedded video unreadable"
    out.release()
    return path


def two_model_sets(tmp: Path) -> Path:
    """A models folder with the default set twice: as ``<view>/`` and as ``again/<view>/``."""
    dst = tmp / "models"
    if not dst.is_dir():
        src = models_dir()
        for d in sorted(p for p in src.iterdir() if (p / "manifest.json").is_file()):
            shutil.copytree(d, dst / d.name)
            shutil.copytree(d, dst / "again" / d.name)
    return dst


@contextlib.asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[Bridge]:
    """A started bridge on 127.0.0.1 with free ports (settings overridable)."""
    kw: dict[str, Any] = {"host": "127.0.0.1", "ws_port": 0, "grpc_port": 0,
                          "models_dir": str(models_dir()), "templates": str(scene_dir()),
                          "heartbeat_s": 1.0}
    kw.update(overrides)
    bridge = Bridge(load_settings(env={}, **kw))
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.stop()


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


async def recv_until(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others skipped)."""
    async with asyncio.timeout(timeout * FACTOR):
        while True:
            m = msgpack.unpackb(await ws.recv(), raw=False)
            if m.get("type") == kind:
                return m
