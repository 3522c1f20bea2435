"""Builds a stream's :class:`~xrbridge.core.pipeline.StreamPipeline` from names.

Templates come from a folder with ``templates/<view>.png`` +
``templates/views.json`` (default: the embedded line scene,
``xrbridge.sim.embedded_line_dir()``); models come from the
:class:`~xrbridge.bridge.registry.ModelRegistry` by name. Only the views that
have both a template and a model are matched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xrbridge.bridge.registry import ModelRegistry
from xrbridge.core.regions import pixel_threshold
from xrbridge.errors import TemplateError


def default_scene_dir() -> Path:
    """The embedded line scene (video, templates, ROI masks)."""
    from xrbridge.sim import embedded_line_dir

    return Path(embedded_line_dir())


def load_view_templates(scene_dir: Path | None) -> list[Any]:
    """ViewTemplate values from ``scene_dir/templates`` (or ``scene_dir`` itself)."""
    from xrbridge.core.matching import templates_from_arrays
    from xrbridge.extract import load_templates

    root = Path(scene_dir) if scene_dir is not None else default_scene_dir()
    folder = root / "templates" if (root / "templates").is_dir() else root
    if not (folder / "views.json").is_file():
        raise TemplateError(f"no templates in {folder} (expected <view>.png files and views.json)")
    images, views = load_templates(folder)
    return templates_from_arrays(images, views)


class TimedPipeline:
    """A StreamPipeline that also reports the model's share of the last ``process`` call.

    ``model_seconds``: time spent inside the model callables during the last
    call (0 when the frame had no view to infer). One stream's worker calls
    ``process`` serially, so plain attributes are enough. ``on_records``
    (given at construction) receives the records of the cars that left, in
    the thread that called ``process``; None: counted and dropped.
    """

    def __init__(self, pipeline: Any,
                 on_records: Callable[[list[Any]], None] | None = None) -> None:
        self.pipeline = pipeline
        self.model_seconds = 0.0
        self.records_closed = 0
        self.on_records = on_records
        self._acc = 0.0
        #: the model set this pipeline was built with: name, {view: predict}, {view: threshold}
        self.model_name = ""
        self.model_fns: dict[str, Any] = {}
        self.thresholds: dict[str, float] = {}

    def adopt_model(self, other: TimedPipeline) -> bool:
        """Run ``other``'s model set from the next frame on, keeping cars, ids and tracks.

        False (nothing changed) when the two sets cover different views.
        """
        if set(other.model_fns) != set(self.model_fns) or not hasattr(self.pipeline, "set_model"):
            return False
        self.pipeline.set_model({v: self.timed(f) for v, f in other.model_fns.items()},
                                model_name=other.model_name, thresholds=other.thresholds)
        self.model_name, self.model_fns, self.thresholds = (
            other.model_name, dict(other.model_fns), dict(other.thresholds))
        return True

    def timed(self, fn: Any) -> Any:
        def call(crop: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(crop)
            finally:
                self._acc += time.perf_counter() - t0

        return call

    def process(self, frame: Any) -> Any:
        self._acc = 0.0
        try:
            return self.pipeline.process(frame)
        finally:
            self.model_seconds = self._acc
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
        """Keep a long-running stream's memory flat.

        The pipeline drops the extractor's crops of cars that left by itself;
        its inspection records of those cars are handed to ``on_records``
        (default: counted and dropped).
        """
        p = self.pipeline
        if hasattr(p, "pop_records"):
            self._hand_over(p.pop_records())


def build_pipeline(scene_dir: Path | None, registry: ModelRegistry, model: str, *,
                   stream_id: str, threads: int | None = 1,
                   on_records: Callable[[list[Any]], None] | None = None) -> Any:
    """A fresh StreamPipeline for ``stream_id`` running the model set ``model``.

    ``on_records``: see :class:`TimedPipeline`.
    """
    from xrbridge.core.pipeline import PipelineConfig, StreamPipeline

    models = registry.load(model, threads=threads)
    templates = [t for t in load_view_templates(scene_dir) if t.view in models]
    if not templates:
        raise TemplateError(
            f"model {model!r} covers views {sorted(models)}, but no template of those views was found"
        )
    timed = TimedPipeline(None, on_records)
    timed.model_name, timed.model_fns = model, {v: m.predict for v, m in models.items()}
    fns = {v: timed.timed(m.predict) for v, m in models.items()}
    thresholds = timed.thresholds = {v: pixel_threshold(m.manifest) for v, m in models.items()}
    config = PipelineConfig(stream_id=stream_id, model_name=model, thresholds=thresholds)
    timed.pipeline = StreamPipeline(templates, fns, config)
    return timed
