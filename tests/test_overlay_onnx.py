"""The default model path: ONNX artifacts through xrbridge.models.runtime.OnnxModel.

The artifacts are built here by hand with the ONNX helper API (no training):
a real ONNX graph that computes |input - defect-free template| in the
normalised input space, with the manifest and graph metadata that
``xrbridge.models`` checks. ONNX Runtime runs them for real.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from overlay_synth import render_defect_scene

from xrbridge.core.pipeline import PipelineConfig, StreamPipeline
from xrbridge.errors import ArtifactError
from xrbridge.io.models import onnx_models
from xrbridge.models.artifact import META_KEY, core_fields
from xrbridge.models.preprocess import normalise

THR, SPAN = 30 * 2 / 255, 120 * 2 / 255  # grey levels in normalised input units ((x/255-0.5)/0.5)


def _manifest(view: str, h: int, w: int) -> dict:
    return {
        "schema": 1,
        "model": "patchcore",
        "backbone": "efficientnet-lite0",
        "category": view,
        "input": {
            "height": h,
            "width": w,
            "color": "rgb",
            "mean": [0.5] * 3,
            "std": [0.5] * 3,
            "resize": "cv2.INTER_AREA",
        },
        "outputs": {"anomaly_map": [1, 1, h, w], "pred_score": [1]},
        "graph_contains": {"gaussian_blur": False, "score_normalization": True, "roi_mask": False},
        "score_normalization": {
            "method": "fixed",
            "image": {"threshold": THR, "min": 0.0, "max": SPAN},
            "pixel": {"threshold": THR, "min": 0.0, "max": SPAN},
        },
        "thresholds": {"image": 0.5, "pixel": 0.5},
        "roi": {"applied": False, "file": None},
        "training": {"images": 1, "fingerprint": "test", "steps": 0, "seed": 0, "seconds": 0.0},
        "versions": {},
    }


def _artifact(out: Path, view: str, template_bgr: np.ndarray, manifest: dict | None = None) -> Path:
    h, w = template_bgr.shape[:2]
    ref = normalise(template_bgr, h, w, None)[None].astype(np.float32)  # (1, 3, h, w)
    nodes = [
        helper.make_node("Sub", ["image", "ref"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("ReduceMean", ["ad"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["m", "thr"], ["m1"]),
        helper.make_node("Div", ["m1", "span"], ["m2"]),
        helper.make_node("Add", ["m2", "half"], ["m3"]),
        helper.make_node("Clip", ["m3", "zero", "one"], ["anomaly_map"]),
        helper.make_node("ReduceMax", ["anomaly_map"], ["pred_score"], axes=[1, 2, 3], keepdims=0),
    ]
    consts = [
        numpy_helper.from_array(ref, "ref"),
        numpy_helper.from_array(np.array(THR, np.float32), "thr"),
        numpy_helper.from_array(np.array(SPAN, np.float32), "span"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
    ]
    graph = helper.make_graph(
        nodes,
        "template_diff",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
        [
            helper.make_tensor_value_info("anomaly_map", TensorProto.FLOAT, [1, 1, h, w]),
            helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, [1]),
        ],
        consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    man = manifest or _manifest(view, h, w)
    prop = model.metadata_props.add()
    prop.key, prop.value = META_KEY, json.dumps(core_fields(_manifest(view, h, w)))
    onnx.checker.check_model(model)
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out / "model.onnx"))
    (out / "manifest.json").write_text(json.dumps(man))
    return out


@pytest.fixture(scope="module")
def scene():
    return render_defect_scene(cars=2, defects_per_car=3, seed=1)


def test_onnx_models_drive_the_pipeline(scene, tmp_path: Path) -> None:
    dirs = {t.view: _artifact(tmp_path / t.view, t.view, t.image) for t in scene.templates}
    models, thresholds, name = onnx_models(dirs)
    assert thresholds == {v: 0.5 for v in dirs} and name == "patchcore"
    p = StreamPipeline(
        scene.templates, models, PipelineConfig(model_name=name, thresholds=thresholds)
    )
    outs = [p.process(f) for f in scene.frames]
    assert p.inferences > 50
    assert all(o.image_score is not None and 0.0 <= o.image_score <= 1.0 for o in outs if o.view)
    ids = defaultdict(set)
    for o in outs:
        for d in o.defects:
            ids[o.track.car_id].add(d.defect_id)  # type: ignore[union-attr]
    assert {k: len(v) for k, v in ids.items()} == {0: 3, 1: 3}
    assert sorted(r.n_defects for r in p.close()) == [3, 3]


@pytest.mark.parametrize("thresholds", [{"image": 0.5}, {}])
def test_manifest_without_pixel_threshold_is_an_error(
    scene, tmp_path: Path, thresholds: dict
) -> None:
    t = scene.templates[0]
    man = _manifest(t.view, t.height, t.width)
    man["thresholds"] = thresholds
    d = _artifact(tmp_path / "m", t.view, t.image, man)
    with pytest.raises(ArtifactError, match=r"thresholds\.pixel"):
        onnx_models({t.view: d})
