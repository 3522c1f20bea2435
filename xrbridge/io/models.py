"""Loading ONNX model artefacts for the pipeline (view -> predict callable).

The pipeline (:mod:`xrbridge.core.pipeline`) receives model callables; this
module is the one that opens the artefact folders, through
``xrbridge.models.runtime.OnnxModel``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xrbridge.core.pipeline import ModelFn
from xrbridge.core.regions import pixel_threshold


def onnx_models(
    model_dirs: Mapping[str, str | Path],
) -> tuple[dict[str, ModelFn], dict[str, float], str]:
    """Default models: view -> ``xrbridge.models.runtime.OnnxModel(dir).predict``.

    Returns (models, per-view pixel thresholds from the manifests, model name).
    Raises ArtifactError (from the runtime or a manifest without thresholds.pixel).
    """
    from xrbridge.models.runtime import load_model  # type: ignore[import-not-found, unused-ignore]

    models: dict[str, ModelFn] = {}
    thresholds: dict[str, float] = {}
    names = set()
    for view, d in model_dirs.items():
        m: Any = load_model(Path(d))  # ONNX Runtime, or OpenVINO where the manifest says so
        models[view] = m.predict
        thresholds[view] = pixel_threshold(m.manifest)
        names.add(str(m.manifest.get("model", "?")))
    return models, thresholds, "+".join(sorted(names))
