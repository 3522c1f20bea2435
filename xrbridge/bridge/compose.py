"""Builds a stream's :class:`~xrbridge.core.pipeline.StreamPipeline` from names.

Templates come from a folder with ``templates/<view>.png`` +
``templates/views.json`` (:mod:`xrbridge.io.scene`; default: the embedded
line scene); models come from the
:class:`~xrbridge.bridge.registry.ModelRegistry` by name. Only the views that
have both a template and a model are matched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xrbridge.bridge.registry import ModelRegistry
from xrbridge.core.regions import pixel_threshold
from xrbridge.errors import TemplateError
from xrbridge.io.scene import embedded_line_dir, load_view_templates


def default_scene_dir() -> Path:
    """The embedded line scene (video, templates, ROI masks)."""
    return embedded_line_dir()


class TimedPipeline:
    """A stream's StreamPipeline with its model set, its records' way out and the model's time.

    ``model_seconds``: the model's share of the last ``process`` call (the
    pipeline's own ``last_timing["model"]``; 0 when no view was inferred).
    ``on_records`` receives the records of the cars that left, in the thread
    that called ``process`` (None: counted and dropped). One stream's worker
    calls ``process`` serially, so plain attributes are enough.
    """

    def __init__(
        self,
        pipeline: Any,
        on_records: Callable[[list[Any]], None] | None = None,
        *,
        model_name: str = "",
        model_fns: dict[str, Any] | None = None,
        thresholds: dict[str, float] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.model_seconds = 0.0
        self.records_closed = 0
        self.on_records = on_records
        #: the model set running now: name, {view: predict}, {view: pixel threshold}
        self.model_name = model_name
        self.model_fns = dict(model_fns or {})
        self.thresholds = dict(thresholds or {})

    def adopt_model(self, other: TimedPipeline) -> bool:
        """Run ``other``'s model set from the next frame on, keeping cars, ids and tracks.

        False (nothing changed) when the two sets cover different views.
        """
        if set(other.model_fns) != set(self.model_fns) or not hasattr(self.pipeline, "set_model"):
            return False
        self.pipeline.set_model(
            dict(other.model_fns), model_name=other.model_name, thresholds=other.thresholds
        )
        self.model_name, self.model_fns, self.thresholds = (
            other.model_name,
            dict(other.model_fns),
            dict(other.thresholds),
        )
        return True

    def process(self, frame: Any) -> Any:
        try:
            return self.pipeline.process(frame)
        finally:
            self.model_seconds = float(getattr(self.pipeline, "last_timing", {}).get("model", 0.0))
            self._bound_memory()

    def finish(self) -> None:
        """End of the stream: the cars still tracked get their records too."""
        close = getattr(self.pipeline, "close", None)
        if close is not None:
            self._hand_over(close())

    def _hand_over(self, recs: list[Any]) -> None:
        self.records_closed += len(recs)
        if self.on_records is not None and recs:
            self.on_records(recs)

    def _bound_memory(self) -> None:
        """Keep a long-running stream's memory flat: the records of cars that left go out now."""
        p = self.pipeline
        if hasattr(p, "pop_records"):
            self._hand_over(p.pop_records())


def build_pipeline(
    scene_dir: Path | None,
    registry: ModelRegistry,
    model: str,
    *,
    stream_id: str,
    threads: int | None = 1,
    on_records: Callable[[list[Any]], None] | None = None,
    infer_every: int = 1,
) -> Any:
    """A fresh StreamPipeline for ``stream_id`` running the model set ``model``.

    ``on_records``: see :class:`TimedPipeline`. ``infer_every``: the model runs
    on every N-th frame (the ``infer_every`` setting of the stream).
    """
    from xrbridge.core.pipeline import PipelineConfig, StreamPipeline

    models = registry.load(model, threads=threads)
    templates = [t for t in load_view_templates(scene_dir) if t.view in models]
    if not templates:
        raise TemplateError(
            f"model {model!r} covers views {sorted(models)}, but no template of those views was found"
        )
    fns = {v: m.predict for v, m in models.items()}
    thresholds = {v: pixel_threshold(m.manifest) for v, m in models.items()}
    config = PipelineConfig(
        stream_id=stream_id, model_name=model, thresholds=thresholds, infer_every=infer_every
    )
    return TimedPipeline(
        StreamPipeline(templates, fns, config),
        on_records,
        model_name=model,
        model_fns=fns,
        thresholds=thresholds,
    )
