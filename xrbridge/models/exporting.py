"""Wrap a model's raw inference module into the contract graph and export ONNX.

Every model provides a torch module ``raw(x) -> (raw_map (1,1,H,W), raw_score (1,))``
(already Gaussian-smoothed; raw units). :class:`ContractGraph` appends what the
manifest promises: score normalisation of map and score (linear around the
threshold, :func:`xrbridge.models.calibrate.squash` into (0, 1) without ties),
and the ROI mask on the map (0 outside). The graph gets the manifest's core
fields as ONNX metadata so a mismatching manifest is refused at load.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xrbridge.models.artifact import INPUT_NAME, META_KEY, OUTPUT_NAMES, core_fields
from xrbridge.models.calibrate import CURVE, Norm, squash_torch


class ContractGraph(nn.Module):
    """raw module + normalisation + ROI mask -> (anomaly_map (1,1,H,W), pred_score (1,)).

    Both outputs are ``squash((raw - thr) / span + 0.5)``: in (0, 1), 0.5 at the
    threshold, strictly increasing in the raw value (no ties from clipping). The
    map is 0 outside the ROI.
    """

    roi: torch.Tensor
    curve = CURVE

    def __init__(self, raw: nn.Module, image: Norm, pixel: Norm, roi: np.ndarray | None) -> None:
        super().__init__()
        self.raw = raw
        self.img_thr, self.img_span = float(image.threshold), image.span
        self.pix_thr, self.pix_span = float(pixel.threshold), pixel.span
        self.has_roi = roi is not None
        if roi is not None:
            self.register_buffer("roi", torch.from_numpy(roi.astype(np.float32))[None, None])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        amap, score = self.raw(x)
        amap = squash_torch((amap - self.pix_thr) / self.pix_span + 0.5)
        if self.has_roi:
            amap = amap * self.roi
        score = squash_torch((score - self.img_thr) / self.img_span + 0.5)
        return amap, score


def export_onnx(
    graph: nn.Module, path: Path, height: int, width: int, manifest: dict[str, Any], opset: int = 17
) -> None:
    """Export ``graph`` to ``path`` (fixed batch 1, HxW) and stamp the manifest core as metadata.

    A :class:`ContractGraph` also records its curve in ``manifest`` (mutated in
    place: ``score_normalization.curve``) before the manifest is written.
    """
    import onnx

    curve = getattr(graph, "curve", None)
    if curve is not None:
        manifest["score_normalization"]["curve"] = curve

    graph = graph.eval()
    dummy = torch.zeros(1, 3, height, width)
    with warnings.catch_warnings():
        # The TorchScript-based exporter warns about its own deprecation and about
        # shape-derived constants; both are expected for a fixed-size graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            opset_version=opset,
            dynamo=False,
            do_constant_folding=True,
        )
    model = onnx.load(str(path))
    del model.metadata_props[:]
    prop = model.metadata_props.add()
    prop.key = META_KEY
    core = core_fields(manifest)
    if curve is not None:  # informative: check_graph compares the manifest's core fields only
        core["curve"] = curve
    prop.value = json.dumps(core, sort_keys=True)
    onnx.save(model, str(path))


def graph_flops(path: Path) -> int:
    """Multiply-accumulate-based FLOP count (2 x MACs) of Conv/MatMul/Gemm nodes of an ONNX file."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnx import shape_inference

    # Let ONNX Runtime fold the constant padding arithmetic first, so that
    # shape inference can see every Conv's output shape.
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(Path(tmp) / "folded.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        model = shape_inference.infer_shapes(onnx.load(opts.optimized_model_filepath))
    shapes: dict[str, list[int]] = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = shapes.get(node.input[1])
            out = shapes.get(node.output[0])
            if w and out:
                total += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
            out = shapes.get(node.output[0])
            if a and b and out:
                k = (
                    a[-1]
                    if node.op_type == "MatMul"
                    else (a[-1] if not _attr(node, "transA") else a[0])
                )
                total += 2 * int(np.prod(out)) * int(k)
    return total


def _attr(node: Any, name: str) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return 0
