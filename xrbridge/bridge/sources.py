"""Frame sources: recorded video, camera / RTSP through OpenCV, frames pushed by clients.

A source is an object with ``stream_id``, ``kind`` and ``async run(emit)``:
it calls ``await emit(frame)`` for every frame it produces and returns when
it is done (end of a non-looping video) or is cancelled. Blocking OpenCV
reads run in a worker thread, never on the event loop. Pushed frames do not
need a running source: servers decode them (:func:`decode_image`) and hand
them to the stream directly; :class:`PushSource` only marks the stream as
accepting pushes.

Time is data: video frames get the container's presentation time (the one
reader rule of :mod:`xrbridge.io.video`, continued across loops so that time
never goes back), cameras the wall clock at the read, pushed frames the
client's timestamp. File and camera sources retry with backoff and say
whether they deliver (``healthy``).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.core.types import Frame
from xrbridge.errors import ImageError, LimitError, VideoError
from xrbridge.io.ratelog import RateLimitedLog
from xrbridge.io.video import frame_time

Emit = Callable[[Frame], Awaitable[None]]


class _CaptureThread:
    """One thread per source for every OpenCV capture call (open, read, release).

    A cancelled read keeps running in its thread; because release is queued on
    the same thread, it can never run concurrently with that read (which
    OpenCV does not survive).
    """

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"capture-{name}")

    async def call(self, fn: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def release(self, cap: cv2.VideoCapture) -> None:
        self._pool.submit(cap.release)


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """Reconnect delays for cameras: ``initial`` doubling up to ``maximum`` seconds.

    A short initial delay recovers quickly from a dropped RTSP packet burst; a
    larger maximum keeps a dead camera from hammering the network.
    """

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0

    def delays(self) -> list[float]:
        """The first delays, for documentation and tests."""
        out, d = [], self.initial
        for _ in range(8):
            out.append(d)
            d = min(self.maximum, d * self.factor)
        return out


def parse_source_spec(spec: str) -> tuple[str, str, str]:
    """Parse ``ID=URI`` into (stream_id, kind, target).

    URI forms: ``push`` (frames pushed by clients), ``camera:N`` (device N),
    ``rtsp://...`` / ``http(s)://...`` (network camera), anything else a video
    file path. Raises ValueError naming the expected form.
    """
    if "=" not in spec:
        raise ValueError(
            f"source must be ID=URI (e.g. line=video.mp4, cam=camera:0, p=push), got {spec!r}"
        )
    sid, uri = (s.strip() for s in spec.split("=", 1))
    if not sid or not uri:
        raise ValueError(f"source must be ID=URI with both parts, got {spec!r}")
    if uri == "push":
        return sid, "push", ""
    if uri.startswith("camera:"):
        return sid, "camera", uri[len("camera:") :]
    if uri.split("://", 1)[0] in ("rtsp", "rtsps", "http", "https"):
        return sid, "camera", uri
    return sid, "video", uri


class VideoSource:
    """Replays a video file, at real-time pace or as fast as possible, optionally looping.

    Frame times are the container's (:func:`xrbridge.io.video.frame_time`),
    continued across loops. A pass that reads no frame (file removed,
    replaced, truncated, the process out of file descriptors) is retried
    with backoff (``healthy`` is False meanwhile); the stream recovers by
    itself when the file is back.
    """

    kind = "video"

    def __init__(
        self,
        stream_id: str,
        path: Path,
        *,
        realtime: bool = True,
        loop: bool = False,
        backoff: BackoffConfig | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.path = Path(path)
        self.realtime = realtime
        self.loop = loop
        self.backoff = backoff or BackoffConfig()
        self.fps = 30.0
        self.frames_read = 0
        self.passes = 0
        self.retries = 0
        self.healthy = True
        self.last_error = ""
        self._log = RateLimitedLog(logging.getLogger("xrbridge.sources"), every_s=30.0)
        self._io = _CaptureThread(stream_id)
        if not self.path.is_file():
            raise VideoError(f"video file not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise VideoError(f"cannot open video {self.path} (expected a file OpenCV can read)")
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and fps > 0 else 30.0
            self.size = (
                int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            )
        finally:
            cap.release()

    def _read(self, cap: cv2.VideoCapture, index: int) -> tuple[float, np.ndarray] | None:
        ok, img = cap.read()
        if not ok or img is None:
            return None
        return frame_time(cap, index, self.fps), img

    async def _pass(self, emit: Emit, seq: int, t_offset: float, start: float) -> tuple[int, float]:
        """One pass over the file: (frames read, time of the last one relative to the pass)."""
        cap: Any = await self._io.call(cv2.VideoCapture, str(self.path))
        index, t_last = 0, 0.0
        try:
            while True:
                got: Any = await self._io.call(self._read, cap, index)
                if got is None:
                    break
                t_rel, img = got
                t_rel = max(t_rel, t_last if index else 0.0)  # never back in time
                t = t_offset + t_rel
                if self.realtime:
                    delay = start + t - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if index == 0 and not self.healthy:
                    self.healthy, self.last_error = True, ""
                await emit(Frame(self.stream_id, seq + index, t, np.ascontiguousarray(img)))
                index, t_last = index + 1, t_rel
                self.frames_read += 1
        finally:
            self._io.release(cap)
        return index, t_last

    async def run(self, emit: Emit) -> None:
        seq, t_offset = 0, 0.0
        start = time.perf_counter()
        delay = self.backoff.initial
        while True:
            try:
                n, t_last = await self._pass(emit, seq, t_offset, start)
            except (OSError, cv2.error) as exc:  # e.g. out of file descriptors
                n, t_last, self.last_error = 0, 0.0, f"{type(exc).__name__}: {exc}"
            self.passes += 1
            if n == 0:
                self.healthy = False
                self.last_error = self.last_error or f"video {self.path} has no readable frames"
                self._log.warning(
                    "down", f"stream {self.stream_id}: {self.last_error}; retry in {delay:.1f} s"
                )
                self.retries += 1
                await asyncio.sleep(delay)
                delay = min(self.backoff.maximum, delay * self.backoff.factor)
                start = time.perf_counter() - t_offset  # pace from now on, do not race to catch up
                continue
            delay = self.backoff.initial
            seq += n
            t_offset += t_last + 1.0 / self.fps
            if not self.loop:
                return


class CameraSource:
    """A camera device or network stream through OpenCV, reconnecting with backoff."""

    kind = "camera"

    def __init__(self, stream_id: str, target: str, backoff: BackoffConfig | None = None) -> None:
        self.stream_id = stream_id
        self.target: int | str = int(target) if target.isdigit() else target
        self.backoff = backoff or BackoffConfig()
        self.reconnects = 0
        self.connected = False
        self.last_error = ""
        self._io = _CaptureThread(stream_id)

    @property
    def healthy(self) -> bool:
        """True while frames come (an unreachable camera is not "running")."""
        return self.connected

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    async def run(self, emit: Emit) -> None:
        seq = 0
        delay = self.backoff.initial
        while True:
            cap: Any = await self._io.call(self._open)
            if cap is None:
                self.connected = False
                self.last_error = f"cannot open {self.target!r}"
                self.reconnects += 1
                await asyncio.sleep(delay)
                delay = min(self.backoff.maximum, delay * self.backoff.factor)
                continue
            self.connected = True
            try:
                while True:
                    got: Any = await self._io.call(cap.read)
                    ok, img = got
                    if not ok or img is None:
                        self.last_error = f"read failed on {self.target!r}"
                        break
                    delay = self.backoff.initial  # a good read resets the backoff
                    await emit(Frame(self.stream_id, seq, time.time(), np.ascontiguousarray(img)))
                    seq += 1
            finally:
                self._io.release(cap)
                self.connected = False
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(self.backoff.maximum, delay * self.backoff.factor)


class PushSource:
    """Marks a stream that accepts frames pushed over gRPC or WebSocket."""

    kind = "push"

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id

    async def run(self, emit: Emit) -> None:
        await asyncio.Event().wait()  # pushes arrive through the servers


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from a JPEG or PNG header, without decoding.

    Raises ImageError for anything else, so that a huge declared size is
    refused before any pixel is allocated.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageError("PNG header truncated (expected an IHDR chunk)")
        w, h = struct.unpack(">II", data[16:24])
        return "png", int(w), int(h)
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        n = len(data)
        while i + 4 <= n:
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (
                0xC0,
                0xC1,
                0xC2,
                0xC3,
                0xC5,
                0xC6,
                0xC7,
                0xC9,
                0xCA,
                0xCB,
                0xCD,
                0xCE,
                0xCF,
            ):
                if i + 9 > n:
                    break
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return "jpeg", int(w), int(h)
            i += 2 + seg_len
        raise ImageError("JPEG without a frame header (SOF marker)")
    raise ImageError(
        f"image must be JPEG or PNG bytes, got {len(data)} bytes starting {data[:4].hex()}"
    )


def decode_image(data: bytes, *, max_pixels: int = 4096 * 4096) -> np.ndarray:
    """Decode JPEG/PNG bytes to (H, W, 3) uint8 BGR.

    Raises ImageError (not an image, corrupt) or LimitError (declared size
    above ``max_pixels``).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"image must be bytes, got {type(data).__name__}")
    fmt, w, h = image_size(bytes(data[:65536]))
    if w <= 0 or h <= 0:
        raise ImageError(f"{fmt} declares an empty size {w}x{h}")
    if w * h > max_pixels:
        raise LimitError(f"image too large: {w}x{h} > {max_pixels} pixels")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.ndim != 3:
        raise ImageError(f"corrupt {fmt} image ({len(data)} bytes)")
    return img
