"""The hub without sockets: streams, workers, predictions, fan-out, model switches, health."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from xrbridge.bridge.hub import Hub, Published, Subscriber
from xrbridge.core.types import Frame, OverlayFrame
from xrbridge.errors import InputError, UnknownNameError, WireError


class SlowProcessor:
    """Answers each frame after ``delay`` s (a model slower than the camera)."""

    def __init__(self, stream_id: str, model: str, delay: float = 0.0) -> None:
        self.stream_id, self.model, self.delay = stream_id, model, delay
        self.seen: list[int] = []
        self.release = threading.Event()

    def process(self, frame: Frame) -> OverlayFrame:
        if self.delay:
            self.release.wait(self.delay)
        self.seen.append(frame.seq)
        return OverlayFrame(
            self.stream_id,
            frame.seq,
            frame.t_capture,
            frame.t_capture,
            self.model,
            None,
            None,
            None,
            (),
        )


class ListSource:
    kind = "video"

    def __init__(self, stream_id: str, frames: int) -> None:
        self.stream_id, self.frames = stream_id, frames

    async def run(self, emit: Any) -> None:
        for i in range(self.frames):
            await emit(Frame(self.stream_id, i, i / 30, np.zeros((4, 6, 3), np.uint8)))
            await asyncio.sleep(0.001)


class PushOnly:
    kind = "push"

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id

    async def run(self, emit: Any) -> None:
        await asyncio.Event().wait()


class FailingSource:
    kind = "video"

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id

    async def run(self, emit: Any) -> None:
        raise OSError("disk gone")


def _hub(delay: float = 0.0) -> tuple[Hub, dict[str, SlowProcessor]]:
    made: dict[str, SlowProcessor] = {}

    def factory(sid: str, model: str) -> SlowProcessor:
        made[sid] = SlowProcessor(sid, model, delay)
        return made[sid]

    return Hub(factory, lambda: ["a", "b"], ThreadPoolExecutor(2)), made


async def _drain(sub: Subscriber, until: int, timeout: float = 5.0) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(timeout):
        while len(out) < until:
            out.append(await sub.queue.get())
    return out


def test_frames_flow_to_matching_subscribers_only() -> None:
    async def go() -> None:
        hub, _made = _hub()
        hub.add_stream(ListSource("one", 20), "a")
        hub.add_stream(ListSource("two", 20), "a")
        one, every = Subscriber("t", {"one"}, max_keys=64), Subscriber("t", None, max_keys=64)
        hub.subscribe(one)
        hub.subscribe(every)
        await hub.start()
        await hub.wait_sources_done()
        await asyncio.sleep(0.05)
        got_one = [m for m in await _drain(one, len(one.queue)) if isinstance(m, Published)]
        assert got_one and {m.stream_id for m in got_one} == {"one"}
        assert {
            m.stream_id for m in await _drain(every, len(every.queue)) if isinstance(m, Published)
        } == {"one", "two"}
        st = hub.streams["one"].stats
        assert st.frames_in == 20 and st.inferred + st.dropped + st.predicted >= 20
        assert hub.health() == {"one": True, "two": True} and st.state == "ended"
        await hub.stop()

    asyncio.run(go())


def test_busy_worker_predicts_and_never_sends_older_after_newer() -> None:
    async def go() -> None:
        hub, made = _hub(delay=0.05)
        hub.add_stream(PushOnly("p"), "a")
        sub = Subscriber("t", None, max_keys=256)
        hub.subscribe(sub)
        await hub.start()
        for i in range(10):
            await hub.push("p", Frame("p", i, i / 30, np.zeros((4, 6, 3), np.uint8)))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        msgs = [
            m for m in await _drain(sub, len(sub.queue)) if isinstance(m, Published) and m.overlay
        ]
        seqs = [m.overlay.seq for m in msgs]
        assert seqs == sorted(seqs), seqs  # never an older frame after a newer one
        assert all(m.overlay.t_emit >= m.overlay.t_capture for m in msgs)  # never sent before taken
        kinds = {m.kind for m in msgs}
        assert "inferred" in kinds
        st = hub.streams["p"].stats
        assert st.dropped >= 1  # the model is slower than the frames: newest wins
        # a frame of another size than the first is refused...
        with pytest.raises(InputError, match="must be 6x4"):
            await hub.push("p", Frame("p", 11, 1.0, np.zeros((8, 8, 3), np.uint8)))
        # ...but a push stream whose frames all come in a new size moves to it
        for k in range(2):
            with pytest.raises(InputError):
                await hub.push("p", Frame("p", 12 + k, 1.0, np.zeros((16, 8, 3), np.uint8)))
        await hub.push("p", Frame("p", 14, 1.1, np.zeros((16, 8, 3), np.uint8)))
        await hub.push("p", Frame("p", 15, 1.2, np.zeros((16, 8, 3), np.uint8)))
        assert hub.streams["p"].size == (8, 16)
        await asyncio.sleep(0.3)
        assert hub.streams["p"].stats.errors == 0 and 15 in made["p"].seen
        with pytest.raises(UnknownNameError):
            await hub.push("nope", Frame("nope", 0, 0.0, np.zeros((4, 6, 3), np.uint8)))
        await hub.stop()

    asyncio.run(go())


def test_select_model_by_name_and_push_only_on_push_streams() -> None:
    async def go() -> None:
        hub, made = _hub()
        hub.add_stream(ListSource("v", 1), "a")
        await hub.start()
        with pytest.raises(UnknownNameError, match="valid: a, b"):
            await hub.select_model("v", "../x")
        await hub.select_model("v", "b")
        assert hub.streams["v"].model == "b" and made["v"].model == "b"
        assert hub.active_models() == {"v": "b"} and hub.metrics.model_switches.value("v") == 1
        with pytest.raises(WireError, match="not a push stream"):
            await hub.push("v", Frame("v", 0, 0.0, np.zeros((4, 6, 3), np.uint8)))
        await hub.stop()

    asyncio.run(go())


def test_a_failed_source_shows_in_health() -> None:
    async def go() -> None:
        hub, _ = _hub()
        hub.add_stream(FailingSource("f"), "a")
        await hub.start()
        await asyncio.wait_for(hub.streams["f"].done.wait(), 5)
        assert hub.health() == {"f": False}
        assert "disk gone" in hub.streams["f"].stats.last_error
        await hub.stop()

    asyncio.run(go())


def test_model_switches_keep_car_ids_and_records() -> None:
    """Six switches while two cars pass: one record per car, ids 0 and 1 (not car 0 twice)."""
    from overlay_synth import TemplateDiffModel, render_defect_scene

    from xrbridge.bridge.compose import TimedPipeline
    from xrbridge.core.pipeline import PipelineConfig, StreamPipeline

    scene = render_defect_scene(cars=2, defects_per_car=1, seed=1)
    fns = TemplateDiffModel(scene.templates).models()
    records: list[Any] = []

    def factory(sid: str, model: str) -> TimedPipeline:
        p = StreamPipeline(
            scene.templates, dict(fns), PipelineConfig(stream_id=sid, model_name=model)
        )
        return TimedPipeline(p, records.extend, model_name=model, model_fns=fns, thresholds={})

    class SceneSource:
        kind, stream_id = "video", "s"

        async def run(self, emit: Any) -> None:
            for i, f in enumerate(scene.frames):
                await emit(f)
                await asyncio.sleep(0)
                if i % (len(scene.frames) // 7) == 5:
                    await hub.select_model("s", "b" if i % 2 else "a")

    hub = Hub(factory, lambda: ["a", "b"], ThreadPoolExecutor(2))
    hub.add_stream(SceneSource(), "a", lossless=True)

    async def go() -> None:
        await hub.start()
        await hub.wait_sources_done()
        await hub.stop()

    asyncio.run(go())
    assert hub.metrics.model_switches.value("s") >= 6
    assert sorted(r.car_id for r in records) == [0, 1], [(r.car_id, r.model) for r in records]
