"""A small Prometheus registry: counters, gauges and histograms with labels.

Rendered in the Prometheus text exposition format (version 0.0.4) by
:meth:`Registry.render`. Kept here instead of depending on
``prometheus_client`` because the bridge needs only these three kinds, and the
registry must be per server (tests start several servers in one process).

Metric names (all prefixed ``xrbridge_``):

- ``frames_in_total{stream}``       frames that arrived from a source
- ``frames_out_total{stream}``      overlays published (inferred and predicted)
- ``frames_dropped_total{stream}``  frames replaced by a newer one before inference
- ``overlays_dropped_total``        overlays replaced in a slow subscriber's queue
- ``stage_seconds{stage}``          latency histogram per stage (decode, queue,
                                    pipeline, publish, end_to_end)
- ``subscribers{transport}``        connected subscribers
- ``errors_total{kind}``            bad messages and failures, by kind
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Any

#: Latency buckets in seconds: 1 ms .. 5 s.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    parts = []
    for n, v in zip(names, values, strict=True):
        esc = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{n}="{esc}"')
    return "{" + ",".join(parts) + "}"


class _Metric:
    kind = ""

    def render(self) -> list[str]:
        raise NotImplementedError

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.doc = doc
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: Sequence[str]) -> tuple[str, ...]:
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name} expects labels {self.label_names}, got {tuple(labels)}")
        return tuple(str(v) for v in labels)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, doc, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def total(self) -> float:
        return float(sum(self._values.values()))

    def items(self) -> dict[tuple[str, ...], float]:
        with self._lock:
            return dict(self._values)

    def render(self) -> list[str]:
        lines = self.header()
        for key, v in sorted(self.items().items()):
            lines.append(f"{self.name}{_labels(self.label_names, key)} {v:g}")
        return lines


class Gauge(Counter):
    """A value that goes up and down per label set."""

    kind = "gauge"

    def set(self, *labels: str, value: float) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        self.inc(*labels, amount=-amount)


class Histogram(_Metric):
    """Cumulative histogram per label set; ``observe`` takes seconds."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, doc, labels)
        self.buckets = tuple(sorted(buckets))
        # per key: counts per bucket (+Inf last), sum, count
        self._data: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        key = self._key(labels)
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts, acc = self._data.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0, 0.0]))
            counts[i] += 1
            acc[0] += value
            acc[1] += 1

    def count(self, *labels: str) -> int:
        d = self._data.get(self._key(labels))
        return int(d[1][1]) if d else 0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            data = {k: (list(c), list(a)) for k, (c, a) in self._data.items()}
        for key, (counts, (total, n)) in sorted(data.items()):
            cum = 0
            for b, c in zip((*self.buckets, float("inf")), counts, strict=True):
                cum += c
                le = "+Inf" if b == float("inf") else f"{b:g}"
                lab = _labels((*self.label_names, "le"), (*key, le))
                lines.append(f"{self.name}_bucket{lab} {cum}")
            lab = _labels(self.label_names, key)
            lines.append(f"{self.name}_sum{lab} {total:.6g}")
            lines.append(f"{self.name}_count{lab} {int(n)}")
        return lines


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
        p = "xrbridge_"
        self.frames_in = Counter(p + "frames_in_total", "Frames that arrived from a source.", ["stream"])
        self.frames_out = Counter(p + "frames_out_total", "Overlays published.", ["stream", "kind"])
        self.frames_dropped = Counter(
            p + "frames_dropped_total", "Frames replaced by a newer one before inference.", ["stream"]
        )
        self.overlays_dropped = Counter(
            p + "overlays_dropped_total", "Overlays replaced in a slow subscriber's queue.", ["transport"]
        )
        self.stage = Histogram(p + "stage_seconds", "Latency per stage in seconds.", ["stage"])
        self.subscribers = Gauge(p + "subscribers", "Connected subscribers.", ["transport"])
        self.errors = Counter(p + "errors_total", "Bad messages and failures by kind.", ["kind"])
        self.model_switches = Counter(p + "model_switches_total", "Model selections.", ["stream"])
        #: exact per-overlay timings for benchmarks (None: off), see :class:`SampleLog`
        self.samples: SampleLog | None = None

    def record_sent(self, transport: str, e2e: float, wait: float, pipeline: float, model: float,
                    lag: int = 0) -> None:
        """An overlay left for a client ``e2e`` seconds after its frame arrived, ``lag``
        frames behind the newest frame of its stream."""
        self.stage.observe(e2e, "end_to_end")
        self.stage.observe(max(0.0, e2e - model), "outside_model")
        if self.samples is not None:
            self.samples.append(e2e, wait, pipeline, model, float(lag))

    def all(self) -> list[_Metric]:
        return [
            self.frames_in, self.frames_out, self.frames_dropped, self.overlays_dropped,
            self.stage, self.subscribers, self.errors, self.model_switches,
        ]

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        lines: list[str] = []
        for m in self.all():
            lines.extend(m.render())
        return "\n".join(lines) + "\n"
