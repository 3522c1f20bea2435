"""The bridge's Prometheus metrics, on ``prometheus_client`` with one registry per bridge.

Rendered in the Prometheus text exposition format by :meth:`BridgeMetrics.render`
(``/metrics``). Each bridge has its own ``CollectorRegistry`` (tests start
several bridges in one process). The small wrappers below keep the call sites
short (``m.errors.inc("bad_message")``, ``m.errors.value("bad_message")``).

Metric names (all prefixed ``xrbridge_``):

- ``frames_in_total{stream}``       frames that arrived from a source
- ``frames_out_total{stream}``      overlays published (inferred and predicted)
- ``frames_dropped_total{stream}``  frames replaced by a newer one before inference
- ``overlays_dropped_total``        overlays replaced in a slow subscriber's queue
- ``stage_seconds{stage}``          latency histogram per stage (decode, queue,
                                    pipeline, publish, end_to_end, outside_model)
- ``subscribers{transport}``        connected subscribers
- ``errors_total{kind}``            bad messages and failures, by kind
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import prometheus_client as prom

from xrbridge.io.ratelog import RateLimitedLog

#: Latency buckets in seconds: 1 ms .. 5 s.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
)


class _Metric:
    def __init__(self, metric: Any, sample: str, labels: Sequence[str] = ()) -> None:
        self._m = metric
        self._labels = tuple(labels)
        self._sample = sample  # the name of the value samples (counters: ..._total)

    def _child(self, labels: Sequence[str]) -> Any:
        return self._m.labels(*labels) if labels else self._m

    def items(self) -> dict[tuple[str, ...], float]:
        """label values -> value, for every label set seen."""
        out: dict[tuple[str, ...], float] = {}
        for fam in self._m.collect():
            for smp in fam.samples:
                if smp.name == self._sample:
                    out[tuple(smp.labels[n] for n in self._labels)] = float(smp.value)
        return out

    def value(self, *labels: str) -> float:
        return self.items().get(tuple(str(v) for v in labels), 0.0)

    def total(self) -> float:
        return float(sum(self.items().values()))


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    def __init__(
        self, registry: prom.CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()
    ) -> None:
        super().__init__(prom.Counter(name, doc, list(labels), registry=registry), name, labels)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._child(labels).inc(amount)


class Gauge(_Metric):
    """A value that goes up and down per label set."""

    def __init__(
        self, registry: prom.CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()
    ) -> None:
        super().__init__(prom.Gauge(name, doc, list(labels), registry=registry), name, labels)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._child(labels).inc(amount)

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        self._child(labels).dec(amount)

    def set(self, *labels: str, value: float) -> None:
        self._child(labels).set(value)


class Histogram(_Metric):
    """Cumulative histogram per label set; ``observe`` takes seconds."""

    def __init__(
        self,
        registry: prom.CollectorRegistry,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(
            prom.Histogram(name, doc, list(labels), registry=registry, buckets=buckets),
            name + "_count",
            labels,
        )

    def observe(self, value: float, *labels: str) -> None:
        self._child(labels).observe(value)

    def count(self, *labels: str) -> int:
        return int(self.value(*labels))


class SampleLog:
    """Per-overlay timings in a preallocated array (memory committed up front, so a
    benchmark measuring the bridge's memory does not measure its own log).

    Rows: (end_to_end, slot_wait, pipeline, model) seconds and the lag (newest frame
    seq minus the seq sent, at the moment of sending), float32; rows past
    ``capacity`` are counted in ``overflow`` and not kept.
    """

    def __init__(self, capacity: int = 400_000) -> None:
        import numpy as np

        self.data = np.ones((capacity, 5), np.float32)  # ones: touch every page now
        self.n = 0
        self.overflow = 0

    def append(self, *row: float) -> None:
        if self.n < len(self.data):
            self.data[self.n] = row
            self.n += 1
        else:
            self.overflow += 1

    def clear(self) -> None:
        self.n = 0
        self.overflow = 0

    def rows(self) -> Any:
        return self.data[: self.n].astype(float)


class BridgeMetrics:
    """The bridge's metrics, one instance per running bridge."""

    def __init__(self) -> None:
        p, r = "xrbridge_", prom.CollectorRegistry(auto_describe=True)
        self.registry = r
        self.frames_in = Counter(
            r, p + "frames_in_total", "Frames that arrived from a source.", ["stream"]
        )
        self.frames_out = Counter(
            r, p + "frames_out_total", "Overlays published.", ["stream", "kind"]
        )
        self.frames_dropped = Counter(
            r,
            p + "frames_dropped_total",
            "Frames replaced by a newer one before inference.",
            ["stream"],
        )
        self.overlays_dropped = Counter(
            r,
            p + "overlays_dropped_total",
            "Overlays replaced in a slow subscriber's queue.",
            ["transport"],
        )
        self.stage = Histogram(r, p + "stage_seconds", "Latency per stage in seconds.", ["stage"])
        self.subscribers = Gauge(r, p + "subscribers", "Connected subscribers.", ["transport"])
        self.errors = Counter(r, p + "errors_total", "Bad messages and failures by kind.", ["kind"])
        self.model_switches = Counter(
            r, p + "model_switches_total", "Model selections.", ["stream"]
        )
        self._log = RateLimitedLog(logging.getLogger("xrbridge.bridge"), every_s=10.0)
        #: exact per-overlay timings for benchmarks (None: off), see :class:`SampleLog`
        self.samples: SampleLog | None = None

    def error(self, kind: str, detail: str = "") -> None:
        """A handled error: counted in ``errors_total{kind}`` and logged (rate-limited per kind)."""
        self.errors.inc(kind)
        self._log.warning(kind, f"{kind}: {detail}" if detail else kind)

    def record_sent(
        self, transport: str, e2e: float, wait: float, pipeline: float, model: float, lag: int = 0
    ) -> None:
        """An overlay left for a client ``e2e`` seconds after its frame arrived, ``lag``
        frames behind the newest frame of its stream."""
        self.stage.observe(e2e, "end_to_end")
        self.stage.observe(max(0.0, e2e - model), "outside_model")
        if self.samples is not None:
            self.samples.append(e2e, wait, pipeline, model, float(lag))

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        return prom.generate_latest(self.registry).decode()
