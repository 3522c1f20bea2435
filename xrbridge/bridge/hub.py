"""Streams, their inference workers and the fan-out to subscribers.

One :class:`Stream` per stream id: a source feeds a newest-wins
:class:`~xrbridge.bridge.queues.FrameSlot`; one worker task takes the newest
frame and runs the synchronous pipeline in a thread pool (never on the event
loop). Frames arriving while the worker is busy get a *predicted* overlay at
once (:func:`~xrbridge.bridge.predict.predict_overlay`), so overlays keep
moving with the car between inferences; a frame replaced in the slot before
inference is counted as dropped.

The :class:`Hub` publishes every overlay to every subscriber whose filter
matches. Publishing never waits: each subscriber has its own bounded
newest-wins outbox (:class:`~xrbridge.bridge.queues.LatestQueue`) drained by
its own task, so a slow or stuck client delays no one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

import cv2
import numpy as np

from xrbridge.bridge.metrics import BridgeMetrics
from xrbridge.bridge.predict import predict_overlay
from xrbridge.bridge.queues import FrameSlot, LatestQueue
from xrbridge.core.types import Frame, OverlayFrame
from xrbridge.errors import InputError, UnknownNameError, WireError


class Processor(Protocol):
    """The synchronous per-stream pipeline (xrbridge.core.pipeline.StreamPipeline)."""

    def process(self, frame: Frame) -> OverlayFrame: ...


#: Builds a processor for (stream id, model name); blocking (loads the model).
ProcessorFactory = Callable[[str, str], Processor]


class Source(Protocol):
    stream_id: str
    kind: str

    async def run(self, emit: Callable[[Frame], Any]) -> None: ...


@dataclasses.dataclass(slots=True)
class Published:
    """One message to fan out, encoded lazily once for all subscribers of a transport."""

    stream_id: str
    kind: str  # "inferred", "predicted", "video", "status", "alert" (a robot_alert payload)
    t_arrival: float  # perf_counter() when the frame arrived
    overlay: OverlayFrame | None = None
    payload: dict[str, Any] | None = None  # video / status messages
    t_wait: float = 0.0  # seconds the frame waited for the worker
    t_pipeline: float = 0.0  # seconds in StreamPipeline.process (0: predicted)
    t_model: float = 0.0  # of which in the model (ONNX Runtime)
    _cache: dict[str, Any] = dataclasses.field(default_factory=dict)

    def encoded(self, fmt: str, encoder: Callable[[Published], Any]) -> Any:
        if fmt not in self._cache:
            self._cache[fmt] = encoder(self)
        return self._cache[fmt]


class Subscriber:
    """A client's view of the hub: a stream filter and a newest-wins outbox."""

    def __init__(
        self,
        transport: str,
        streams: set[str] | None = None,
        *,
        video: bool = False,
        max_keys: int = 16,
    ) -> None:
        self.transport = transport
        self.streams = streams  # None = all streams
        self.video = video
        self.queue: LatestQueue[Any] = LatestQueue(max_keys=max_keys)  # Published or control dicts

    def wants(self, msg: Published) -> bool:
        if msg.kind == "video" and not self.video:
            return False
        return self.streams is None or msg.stream_id in self.streams

    def offer(self, msg: Published) -> int:
        key: tuple[Any, ...] = (msg.stream_id, "video" if msg.kind == "video" else "overlay")
        if msg.kind == "alert":  # a robot's drift alert: its own key, never replaced by an overlay
            key = (msg.stream_id, "alert", (msg.payload or {}).get("robot"))
        return self.queue.put(msg, key=key)


@dataclasses.dataclass(slots=True)
class StreamStats:
    frames_in: int = 0
    inferred: int = 0
    predicted: int = 0
    dropped: int = 0
    errors: int = 0
    last_seq: int = -1
    last_pipeline_ms: float = 0.0
    last_error: str = ""
    state: str = "starting"  # starting, running, ended, error


class Stream:
    """A stream id with its source, model, processor and worker."""

    def __init__(self, hub: Hub, source: Source, model: str, *, lossless: bool = False) -> None:
        self.hub = hub
        self.id = source.stream_id
        self.source = source
        self.model = model
        self.lossless = lossless  # replay to a file: wait for the worker, never drop
        self.processor: Processor | None = None
        self.next_processor: Processor | None = None  # a model switch, taken before the next frame
        self.slot: FrameSlot[tuple[Frame, float]] = FrameSlot()
        self.stats = StreamStats()
        self.size: tuple[int, int] | None = None  # (w, h) locked by the first frame
        self._new_size: tuple[tuple[int, int], int] | None = None  # a push stream's candidate size
        self._reset = False  # the next processor replaces the pipeline (new size), no adoption
        self.last_overlay: OverlayFrame | None = None
        self.busy = False
        self.last_arrived: tuple[int, float] = (-1, 0.0)  # (seq, t_capture) of the newest frame
        self.last_published_seq = -1
        self.done = asyncio.Event()
        self._taken = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._video_busy = False
        self._latencies: deque[float] = deque(maxlen=512)  # pipeline ms, for GetStatus

    # -- ingest -----------------------------------------------------------------
    #: a push stream takes a new frame size after this many frames of it in a row
    RESIZE_AFTER = 3

    def check_size(self, w: int, h: int) -> bool:
        """Lock the frame size; True when a push stream has just moved to a new size.

        The first frame locks it; a frame of another size is refused, except
        that a push stream sent :attr:`RESIZE_AFTER` frames of one new size in
        a row moves to it (one stray 1x1 frame does not lock the stream forever).
        """
        if self.size is None or self.size == (w, h):
            self.size, self._new_size = (w, h), None
            return False
        if self.source.kind == "push":
            n = self._new_size[1] + 1 if self._new_size and self._new_size[0] == (w, h) else 1
            self._new_size = ((w, h), n)
            if n >= self.RESIZE_AFTER:
                self.size, self._new_size = (w, h), None
                return True
        raise InputError(
            f"frame size for stream {self.id!r} must be {self.size[0]}x{self.size[1]}, got {w}x{h}"
            + (
                f" (or {self.RESIZE_AFTER} frames in a row of a new size)"
                if self.source.kind == "push"
                else ""
            )
        )

    async def ingest(self, frame: Frame, t_arrival: float | None = None) -> None:
        """Hand a frame to the worker (newest wins); publish a prediction if the worker is busy."""
        t_arr = time.perf_counter() if t_arrival is None else t_arrival
        h, w = frame.pixels.shape[:2]
        if self.check_size(w, h):  # a new size: a fresh pipeline from this frame on
            loop = asyncio.get_running_loop()
            self.next_processor = await loop.run_in_executor(
                self.hub.executor, self.hub.factory, self.id, self.model
            )
            self._reset = True
            self.last_overlay = None
        m = self.hub.metrics
        self.stats.frames_in += 1
        self.stats.last_seq = frame.seq
        self.last_arrived = (frame.seq, frame.t_capture)
        m.frames_in.inc(self.id)
        if self.lossless:
            while self.slot.pending or self.busy:
                self._taken.clear()
                await self._taken.wait()
        elif self.busy and self.last_overlay is not None:
            pred = predict_overlay(
                self.last_overlay, seq=frame.seq, t=frame.t_capture, t_emit=frame.t_capture
            )
            self.stats.predicted += 1
            self.last_published_seq = frame.seq
            self.hub.publish(Published(self.id, "predicted", t_arr, overlay=pred))
        if self.slot.put((frame, t_arr)):
            self.stats.dropped += 1
            m.frames_dropped.inc(self.id)
        if self.hub.video_wanted(self.id):
            self._publish_video(frame, t_arr)

    def _publish_video(self, frame: Frame, t_arr: float) -> None:
        if self._video_busy:  # the encoder is behind: skip this preview frame
            return
        self._video_busy = True
        loop = asyncio.get_running_loop()
        q = self.hub.video_quality

        def encode() -> bytes:
            ok, buf = cv2.imencode(".jpg", frame.pixels, [cv2.IMWRITE_JPEG_QUALITY, q])
            return bytes(buf) if ok else b""

        fut = loop.run_in_executor(self.hub.executor, encode)

        def done(f: asyncio.Future[bytes]) -> None:
            self._video_busy = False
            if f.cancelled() or f.exception() is not None or not f.result():
                return
            payload = {
                "type": "video",
                "stream": self.id,
                "seq": frame.seq,
                "t_capture": frame.t_capture,
                "jpeg": f.result(),
            }
            self.hub.publish(Published(self.id, "video", t_arr, payload=payload))

        fut.add_done_callback(done)

    # -- worker -----------------------------------------------------------------
    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        m = self.hub.metrics
        while True:
            item = await self.slot.get()
            if item is None:
                break
            frame, t_arr = item
            self.busy = True
            self._taken.set()
            if self.next_processor is not None:
                await self._switch(self.next_processor)
            proc = self.processor
            t0 = time.perf_counter()
            m.stage.observe(t0 - t_arr, "queue")
            try:
                if proc is None:
                    raise RuntimeError(f"stream {self.id!r} has no pipeline")
                overlay = await loop.run_in_executor(self.hub.executor, proc.process, frame)
            except Exception as exc:  # a model failure is a status event, not a crash
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                m.error("pipeline", f"stream {self.id}: {self.stats.last_error}")
                self.hub.publish(
                    Published(self.id, "status", t_arr, payload=self.status_event("error"))
                )
                continue
            finally:
                self.busy = False
                self._taken.set()
            t1 = time.perf_counter()
            m.stage.observe(t1 - t0, "pipeline")
            self.stats.inferred += 1
            self.stats.last_pipeline_ms = (t1 - t0) * 1000.0
            self._latencies.append(self.stats.last_pipeline_ms)
            self.last_overlay = overlay
            if self.last_published_seq > overlay.seq:
                # newer frames got predictions meanwhile: never send an older frame after them,
                # move the fresh result to the newest frame instead
                seq, t = self.last_arrived
                overlay = predict_overlay(overlay, seq=seq, t=t, t_emit=overlay.t_emit)
            self.last_published_seq = overlay.seq
            self.hub.publish(
                Published(
                    self.id,
                    "inferred",
                    t_arr,
                    overlay=overlay,
                    t_wait=t0 - t_arr,
                    t_pipeline=t1 - t0,
                    t_model=float(getattr(proc, "model_seconds", 0.0)),
                )
            )

    async def _switch(self, new: Processor) -> None:
        """Take the new model; the tracked cars (ids, tracks, evidence) carry on when possible."""
        self.next_processor = None
        old = self.processor
        adopt = None if self._reset else getattr(old, "adopt_model", None)
        self._reset = False
        if adopt is not None and adopt(new):
            return
        finish = getattr(old, "finish", None)  # another view set: close the old cars' records
        if finish is not None:
            await asyncio.get_running_loop().run_in_executor(self.hub.executor, finish)
        self.processor = new

    async def _feed(self) -> None:
        self.stats.state = "running"
        try:
            await self.source.run(self.ingest)
            self.stats.state = "ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.state = "error"
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self.hub.metrics.error("source", f"stream {self.id}: {self.stats.last_error}")
        self.slot.close()

    async def _run(self) -> None:
        worker = asyncio.create_task(self._work())
        try:
            await self._feed()
            await worker
            finish = getattr(self.processor, "finish", None)
            if finish is not None:
                await asyncio.get_running_loop().run_in_executor(self.hub.executor, finish)
        finally:
            worker.cancel()
            self.done.set()
            self.hub.publish(
                Published(
                    self.id,
                    "status",
                    time.perf_counter(),
                    payload=self.status_event(self.stats.state),
                )
            )

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name=f"stream-{self.id}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def latency_percentiles(self) -> tuple[float, float]:
        """(p50, p99) of the recent pipeline latencies in ms (0, 0 before the first)."""
        if not self._latencies:
            return 0.0, 0.0
        a = np.asarray(self._latencies)
        return float(np.percentile(a, 50)), float(np.percentile(a, 99))

    @property
    def healthy(self) -> bool:
        """The source delivers (or ended normally); False after a failure or while it retries."""
        if self.stats.state == "error":
            return False
        return self.stats.state != "running" or bool(getattr(self.source, "healthy", True))

    @property
    def state(self) -> str:
        """``running``, ``retrying`` (source down, trying again), ``ended``, ``error``, ``starting``."""
        if self.stats.state == "running" and not getattr(self.source, "healthy", True):
            return "retrying"
        return self.stats.state

    def status_event(self, state: str) -> dict[str, Any]:
        return {
            "type": "status",
            "stream": self.id,
            "state": state,
            "model": self.model,
            "message": self.stats.last_error,
        }

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "stream": self.id,
            "kind": self.source.kind,
            "model": self.model,
            "state": self.state,
            "frames_in": s.frames_in,
            "inferred": s.inferred,
            "predicted": s.predicted,
            "dropped": s.dropped,
            "errors": s.errors,
            "last_seq": s.last_seq,
            "source_error": str(getattr(self.source, "last_error", "")),
            "last_pipeline_ms": round(s.last_pipeline_ms, 3),
            "last_error": s.last_error,
            "size": list(self.size) if self.size else None,
        }


class Hub:
    """All streams and subscribers of one bridge."""

    def __init__(
        self,
        factory: ProcessorFactory,
        models: Callable[[], list[str]],
        executor: Executor,
        metrics: BridgeMetrics | None = None,
        *,
        video_quality: int = 70,
    ) -> None:
        self.factory = factory
        self.list_models = models
        self.executor = executor
        self.metrics = metrics or BridgeMetrics()
        self.streams: dict[str, Stream] = {}
        self.subscribers: set[Subscriber] = set()
        self.video_quality = video_quality
        #: the raised drift alerts, (stream, robot) -> its last message: a late subscriber gets them
        self.raised_alerts: dict[tuple[str, Any], Published] = {}
        self._sinks: list[Callable[[Published], None]] = []

    def add_stream(self, source: Source, model: str, *, lossless: bool = False) -> Stream:
        if source.stream_id in self.streams:
            raise InputError(f"stream id {source.stream_id!r} used twice")
        s = Stream(self, source, model, lossless=lossless)
        self.streams[s.id] = s
        return s

    # -- what a control session reads (HubView) ----------------------------------
    def stream_names(self) -> list[str]:
        return list(self.streams)

    def stream_kind(self, stream_id: str) -> str:
        return self.stream(stream_id).source.kind

    def active_models(self) -> dict[str, str]:
        return {k: v.model for k, v in self.streams.items()}

    def health(self) -> dict[str, bool]:
        """Per stream: True while its source delivers (or has ended normally)."""
        return {k: s.healthy for k, s in self.streams.items()}

    def stream(self, stream_id: str) -> Stream:
        try:
            return self.streams[stream_id]
        except KeyError:
            raise UnknownNameError(
                f"unknown stream {stream_id!r}; valid: {', '.join(sorted(self.streams)) or '(none)'}"
            ) from None

    async def start(self) -> None:
        """Build every stream's pipeline (in the pool) and start sources and workers."""
        loop = asyncio.get_running_loop()
        for s in self.streams.values():
            s.processor = await loop.run_in_executor(self.executor, self.factory, s.id, s.model)
        for s in self.streams.values():
            s.start()

    async def stop(self) -> None:
        for s in self.streams.values():
            await s.stop()
        for sub in list(self.subscribers):
            sub.queue.close()

    async def wait_sources_done(self, kinds: tuple[str, ...] = ("video",)) -> None:
        await asyncio.gather(
            *(s.done.wait() for s in self.streams.values() if s.source.kind in kinds)
        )

    async def select_model(self, stream_id: str, model: str) -> None:
        """Switch a stream's model by name; subscribers stay connected."""
        s = self.stream(stream_id)
        if model not in self.list_models():
            raise UnknownNameError(
                f"unknown model {model!r}; valid: {', '.join(self.list_models())}"
            )
        loop = asyncio.get_running_loop()
        proc = await loop.run_in_executor(self.executor, self.factory, stream_id, model)
        if s.processor is None:
            s.processor = proc
        else:
            s.next_processor = proc  # the worker switches before its next frame
        s.model = model
        self.metrics.model_switches.inc(stream_id)

    async def push(self, stream_id: str, frame: Frame, t_arrival: float | None = None) -> None:
        """A frame pushed by a client; only streams configured as ``push`` accept them."""
        s = self.stream(stream_id)
        if s.source.kind != "push":
            raise WireError(f"stream {stream_id!r} is a {s.source.kind} stream, not a push stream")
        await s.ingest(frame, t_arrival)

    # -- fan-out ----------------------------------------------------------------
    def add_sink(self, sink: Callable[[Published], None]) -> None:
        """A synchronous consumer of every published message (e.g. a JSONL writer)."""
        self._sinks.append(sink)

    def subscribe(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)
        self.metrics.subscribers.inc(sub.transport)
        self.offer_raised_alerts(sub)

    def offer_raised_alerts(self, sub: Subscriber) -> None:
        """The robots in alert now, for a subscriber that joined (or widened its streams) late."""
        for msg in list(self.raised_alerts.values()):
            if sub.wants(msg):
                sub.offer(msg)

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            self.metrics.subscribers.dec(sub.transport)
        sub.queue.close()

    def video_wanted(self, stream_id: str) -> bool:
        return any(
            s.video and (s.streams is None or stream_id in s.streams) for s in self.subscribers
        )

    def publish(self, msg: Published) -> None:
        t0 = time.perf_counter()
        if msg.overlay is not None:
            self.metrics.frames_out.inc(msg.stream_id, msg.kind)
        for sink in self._sinks:
            sink(msg)
        if msg.kind == "alert" and msg.payload is not None:
            key = (msg.stream_id, msg.payload.get("robot"))
            if msg.payload.get("state") == "raised":
                self.raised_alerts[key] = msg
            else:
                self.raised_alerts.pop(key, None)
        for sub in self.subscribers:
            if sub.wants(msg) and sub.offer(msg):
                self.metrics.overlays_dropped.inc(sub.transport)
        self.metrics.stage.observe(time.perf_counter() - t0, "publish")

    def status(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "streams": [s.status() for s in self.streams.values()],
            "subscribers": {k[0]: int(v) for k, v in m.subscribers.items().items()},
            "models": self.list_models(),
            "errors": {k[0]: int(v) for k, v in m.errors.items().items()},
        }
