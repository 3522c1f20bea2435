"""int8 copy of a model artifact (ONNX Runtime static quantisation), shared by the models.

``quantize_artifact`` writes a second artifact whose convolutions run in int8
(QDQ, per-channel weights, activation ranges calibrated on good images plus as
many procedural textures, so that the large activations of anomalies are not
clipped); the convolutions that produce a map directly (not followed by a ReLU)
and everything after them (maps, normalisation, blur) stay float32, and the
score normalisation of the float model is kept.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


class _Calibration:
    """onnxruntime.quantization CalibrationDataReader over (N, 3, H, W) images."""

    def __init__(self, images: np.ndarray, input_name: str) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = (
            {input_name: images[i : i + 1].astype(np.float32)} for i in range(len(images))
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_artifact(model_dir: Path, out_dir: Path, images: np.ndarray) -> dict[str, Any]:
    """Write an int8 copy of the artifact in ``model_dir`` to ``out_dir``.

    Args:
        model_dir: a float32 artifact (model.onnx + manifest.json [+ roi.png]).
        out_dir: where the quantised artifact goes (created; files overwritten).
        images: (N, 3, H, W) normalised good images to calibrate activation ranges.

    Returns:
        the new manifest (``quantization`` records the method).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from xrbridge.models.artifact import (
        INPUT_NAME,
        ONNX_FILE,
        ROI_FILE,
        load_manifest,
        write_manifest,
    )
    from xrbridge.models.textures import texture_images

    # Ranges from good images alone clip the large activations anomalies cause and
    # flatten their scores: calibrate on as many procedural textures as well.
    h, w = images.shape[-2:]
    tex = texture_images(np.random.default_rng(0), len(images), h, w)
    images = np.concatenate([images, tex]).astype(np.float32)
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model_dir / ONNX_FILE), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre), str(out_dir / ONNX_FILE), _Calibration(images, INPUT_NAME),
            nodes_to_exclude=_float_convs(pre),
            quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"], per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )  # fmt: skip
    _copy_metadata(model_dir / ONNX_FILE, out_dir / ONNX_FILE)
    if (model_dir / ROI_FILE).is_file():
        shutil.copyfile(model_dir / ROI_FILE, out_dir / ROI_FILE)
    manifest["quantization"] = {
        "method": "onnxruntime static QDQ, int8 per-channel weights, uint8 activations; "
        "the last conv of each network and the blur stay float32",
        "calibration_images": f"{len(images) // 2} good + {len(images) // 2} procedural textures",
        "source": str(model_dir),
    }
    write_manifest(out_dir, manifest)
    return manifest


def _float_convs(path: Path) -> list[str]:
    """Conv nodes kept in float32: the blur's (1 channel in and out) and the last convolution of
    each network (its output is not followed by a ReLU).

    The maps are mean squared differences of the networks' outputs: quantising those outputs
    adds the quantisation noise's variance to every pixel of the map, a bias that swamps the
    small differences on good images.
    """
    import onnx

    model = onnx.load(str(path))
    weights = {init.name: list(init.dims) for init in model.graph.initializer}
    consumers: dict[str, list[str]] = {}
    for n in model.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n.op_type)
    keep = []
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        blur = weights.get(n.input[1], [0, 0])[:2] == [1, 1]
        last = not {"Relu", "Clip"} & set(consumers.get(n.output[0], []))
        if blur or last:
            keep.append(n.name)
    return keep


def _copy_metadata(src: Path, dst: Path) -> None:
    """Carry the manifest-core metadata of ``src`` over to ``dst`` (load-time consistency check)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    model = onnx.load(str(dst))
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(dst))
