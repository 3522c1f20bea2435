"""The whole per-stream pipeline on a rendered conveyor video with injected defects.

Real template matching, Kalman tracking, OpenCV contours and a real (simple)
anomaly model: |crop - defect-free template|. Every injected defect must end
as exactly one confirmed overlay with a stable id whose contour overlaps the
truth polygon.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from overlay_synth import TemplateDiffModel, polygon_iou, render_defect_scene
from track_synth import VIEWS_LAYOUT

from xrbridge.core.fusion import FusionConfig
from xrbridge.core.pipeline import PipelineConfig, StreamPipeline
from xrbridge.core.types import Frame
from xrbridge.errors import ModelError
from xrbridge.io.records import SqliteRecordStore
from xrbridge.wire import codec


@pytest.fixture(scope="module")
def scene():
    return render_defect_scene(cars=2, defects_per_car=3, seed=1)


def _ub(view: str, uv) -> np.ndarray:
    u0, v0, w, h = VIEWS_LAYOUT[view]
    return np.asarray(uv, float) * (w, h) + (u0, v0)


def _run(scene, **cfg):
    # the template-difference maps are sharp (no PatchCore-style blur): outline the fused
    # region near its foot, not at the default level tuned for the blurred default models
    cfg.setdefault("fusion", FusionConfig(contour_level=0.2))
    model = TemplateDiffModel(scene.templates)
    p = StreamPipeline(scene.templates, model.models(), PipelineConfig(stream_id="synth", **cfg))
    return p, [p.process(f) for f in scene.frames]


def _assign(scene, outs):
    """truth defect index -> set of (car_id, defect_id) of the overlays drawn on it, + unmatched."""
    hits: dict[int, set] = defaultdict(set)
    false: set = set()
    shapes: dict[tuple, np.ndarray] = {}
    for o in outs:
        for d in o.defects:
            assert d.confirmed and d.defect_id > 0
            c = _ub(d.view, [d.centroid_uv])[0]
            near = [
                (np.hypot(*(t.polygon_ub.mean(0) - c)), i)
                for i, t in enumerate(scene.defects)
                if t.view == d.view
            ]
            dist, i = min(near)
            key = (o.track.car_id, d.defect_id)
            if dist < 20 and scene.defects[i].car == o.track.car_id:
                hits[i].add(key)
                shapes[key] = _ub(d.view, d.contour_uv)
            else:
                false.add(key)
    return hits, false, shapes


def test_every_defect_one_confirmed_overlay_with_stable_id(scene) -> None:
    p, outs = _run(scene)
    hits, false, shapes = _assign(scene, outs)
    assert false == set()
    assert sorted(hits) == list(range(len(scene.defects)))
    assert all(len(v) == 1 for v in hits.values()), hits  # one id per defect, never changed
    for i, keys in hits.items():
        (key,) = keys
        assert polygon_iou(shapes[key], scene.defects[i].polygon_ub) > 0.5
    # records: one per car, with its three confirmed defects
    recs = p.close()
    assert sorted((r.car_id, r.n_defects) for r in recs) == [(0, 3), (1, 3)]
    assert p.extractor.peaks() == []  # a finished car leaves no crop behind (long-running streams)


def test_overlays_follow_the_car_between_inferences(scene) -> None:
    p, outs = _run(scene, infer_every=4)
    assert p.inferences < 0.3 * len(scene.frames) + 2
    hits, false, _ = _assign(scene, outs)
    assert false == set() and len(hits) == len(scene.defects)
    errs = []
    for o, x in zip(outs, scene.truth_x, strict=True):
        if o.track is None or o.track.car_id not in x:
            continue
        for d in o.defects:
            want_x = x[o.track.car_id] + _ub(d.view, [d.centroid_uv])[0][0]
            errs.append(abs(d.centroid_px[0] - want_x))
    assert errs and float(np.percentile(errs, 95)) < 4.0


def test_stream_encodes_and_records_persist(scene, tmp_path: Path) -> None:
    p, outs = _run(scene)
    for o in outs:
        assert codec.overlay_to_dict(codec.overlay_from_msgpack(codec.overlay_to_msgpack(o))) == (
            codec.overlay_to_dict(o)
        )
        assert o.t_emit >= o.t_capture
    with SqliteRecordStore(tmp_path / "x.db") as store:
        store.write_many(p.close())
        got = store.query()
    assert [r.n_defects for r in got] == [3, 3]
    assert all(
        d.severity in ("low", "medium", "high") for r in got for v in r.views for d in v.defects
    )


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (lambda crop: (np.full(crop.shape[:2], np.nan, np.float32), 0.5), "NaN"),
        (lambda crop: (np.zeros((3, 4, 5), np.float32), 0.5), "must be \\(H, W\\)"),
        (lambda crop: (np.zeros(crop.shape[:2], np.float32), float("nan")), "image score nan"),
        (lambda crop: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_bad_model_output_is_a_clear_error(scene, bad, needle) -> None:
    p = StreamPipeline(scene.templates, bad, PipelineConfig())
    with pytest.raises(ModelError, match=needle):
        for f in scene.frames[:60]:
            p.process(f)


def test_frames_without_cars(scene) -> None:
    p = StreamPipeline(scene.templates, TemplateDiffModel(scene.templates).models())
    blank = Frame("s", 0, 0.0, np.full_like(scene.frames[0].pixels, 60))
    o = p.process(blank)
    assert (o.view, o.track, o.image_score, o.defects) == (None, None, None, ())


def test_bead_width_channel_is_built_per_view_and_can_be_turned_off(scene) -> None:
    model = TemplateDiffModel(scene.templates).models()
    on = StreamPipeline(scene.templates, model, PipelineConfig(stream_id="synth"))
    assert sorted(on._beads) == sorted(t.view for t in scene.templates)
    off = StreamPipeline(scene.templates, model, PipelineConfig(stream_id="synth", bead=None))
    assert off._beads == {}
    no_thin = PipelineConfig(stream_id="synth", fusion=FusionConfig(thin_ratio=0.0))
    assert StreamPipeline(scene.templates, model, no_thin)._beads == {}
    # with or without the channel, the synthetic line gives the same defects found
    found = []
    for cfg in ({}, {"bead": None}):
        _p, outs = _run(scene, **cfg)
        hits, false, _shapes = _assign(scene, outs)
        found.append((len(hits), len(false)))
    assert found[0] == found[1]
