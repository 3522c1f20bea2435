"""Tiny real artifacts for the eval tests and the memory bench.

- :func:`write_category`: a synthetic category in the MVTec layout: dark
  noisy surfaces (good) and the same with bright blobs or strokes (defects),
  with their masks.
- :func:`write_brightness_model`: a real ONNX graph + manifest per the model
  contract whose anomaly map is the (3x3-smoothed) brightness of the input
  and whose score is the map's maximum: a detector that works on the
  synthetic category, so the metrics have known behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def write_category(
    root: Path,
    n_good: int = 6,
    n_defect: int = 6,
    size: tuple[int, int] = (48, 64),
    defects: tuple[str, ...] = ("hole", "missing"),
    seed: int = 0,
    faint: int = 1,
    ext: str = ".png",
    train: bool = True,
) -> Path:
    """Write ``root`` as a category; returns it. ``faint`` defects per type are barely visible."""
    rng = np.random.default_rng(seed)
    h, w = size

    def surface() -> np.ndarray:
        base = rng.normal(50, 6, (h, w)).clip(0, 255)
        return cv2.GaussianBlur(base, (3, 3), 0).astype(np.uint8)

    for split, n in (("train", n_good if train else 0), ("test", n_good)):
        d = root / split / "good"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(d / f"{i:04d}{ext}"), cv2.cvtColor(surface(), cv2.COLOR_GRAY2BGR))
    for k, defect in enumerate(defects):
        d = root / "test" / defect
        g = root / "ground_truth" / defect
        d.mkdir(parents=True, exist_ok=True)
        g.mkdir(parents=True, exist_ok=True)
        per = n_defect // len(defects) + (k < n_defect % len(defects))
        for i in range(per):
            img = surface()
            mask = np.zeros((h, w), np.uint8)
            r = int(rng.integers(2, max(3, min(h, w) // 5)))
            cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
            if defect == "missing":
                cv2.line(mask, (cx - r, cy), (cx + r, cy), 255, max(1, r // 2))
            else:
                cv2.circle(mask, (cx, cy), r, 255, -1)
            level = 95 if i < faint else 230
            img[mask > 0] = level
            cv2.imwrite(str(d / f"{i:04d}{ext}"), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
            cv2.imwrite(str(g / f"{i:04d}_mask.png"), mask)
    return root


def write_brightness_model(
    model_dir: Path, height: int = 32, width: int = 32, roi: bool = False
) -> Path:
    """Write model.onnx + manifest.json (+ roi.png when ``roi``) into ``model_dir``."""
    import onnx
    from onnx import TensorProto, helper

    from xrbridge.models.artifact import core_fields, write_manifest

    model_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "schema": 1,
        "model": "patchcore",
        "backbone": "brightness-test",
        "category": "synthetic",
        "input": {
            "height": height, "width": width, "color": "rgb",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize": "area",
        },
        "outputs": ["anomaly_map", "pred_score"],
        "graph_contains": {"gaussian_blur": True, "score_normalization": True, "roi_mask": roi},
        "score_normalization": {
            "method": "minmax",
            "image": {"threshold": 0.5, "min": 0.0, "max": 1.0},
            "pixel": {"threshold": 0.5, "min": 0.0, "max": 1.0},
        },
        "thresholds": {"image": 0.5, "pixel": 0.5},
        "roi": {"applied": roi, "file": "roi.png" if roi else None},
        "training": {"images": 0, "fingerprint": "", "steps": 0, "seed": 0, "seconds": 0.0},
        "versions": {"xrbridge": "test", "torch": "absent", "onnx": onnx.__version__, "onnxruntime": ""},
    }  # fmt: skip
    if roi:
        m = np.zeros((height, width), np.uint8)
        m[:, : width // 2] = 255
        cv2.imwrite(str(model_dir / "roi.png"), m)
    # brightness01 = (mean_c(x) + 1) / 2; map = avgpool3(brightness01); score = max(map)
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["mean"], keepdims=1),
        helper.make_node("Add", ["mean", "one"], ["shift"]),
        helper.make_node("Mul", ["shift", "half"], ["bright"]),
        helper.make_node(
            "AveragePool",
            ["bright"],
            ["smooth"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            count_include_pad=0,
        ),
        helper.make_node("Clip", ["smooth", "zero", "one"], ["anomaly_map"]),
        helper.make_node("ReduceMax", ["anomaly_map", "all_axes"], ["pred_score"], keepdims=0),
    ]
    f32 = TensorProto.FLOAT
    inits = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("all_axes", TensorProto.INT64, [3], [1, 2, 3]),
        helper.make_tensor("one", f32, [], [1.0]),
        helper.make_tensor("half", f32, [], [0.5]),
        helper.make_tensor("zero", f32, [], [0.0]),
    ]
    graph = helper.make_graph(
        nodes, "brightness",
        [helper.make_tensor_value_info("image", f32, [1, 3, height, width])],
        [helper.make_tensor_value_info("anomaly_map", f32, [1, 1, height, width]),
         helper.make_tensor_value_info("pred_score", f32, [1])],
        initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    helper.set_model_props(model, {"xrbridge": json.dumps(core_fields(manifest))})
    onnx.checker.check_model(model)
    onnx.save(model, str(model_dir / "model.onnx"))
    write_manifest(model_dir, manifest)
    return model_dir
