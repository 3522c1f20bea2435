"""The model artifact: ``MODEL_DIR/model.onnx`` + ``manifest.json`` (+ ``roi.png``).

The manifest says what the graph expects and already contains, so nothing is
normalised twice (docs/contracts.md, "Model artifact"). The
exported graph carries a copy of the manifest's core fields in its ONNX
metadata (key ``xrbridge``); :func:`check_graph` compares both at load time
and refuses an artifact whose manifest and graph disagree.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from xrbridge.errors import ArtifactError

SCHEMA = 1
MANIFEST = "manifest.json"
ONNX_FILE = "model.onnx"
ROI_FILE = "roi.png"
META_KEY = "xrbridge"
INPUT_NAME = "image"
OUTPUT_NAMES = ("anomaly_map", "pred_score")

_REQUIRED = (
    "schema",
    "model",
    "backbone",
    "category",
    "input",
    "outputs",
    "graph_contains",
    "score_normalization",
    "thresholds",
    "roi",
    "training",
    "versions",
)


def core_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields the graph itself must agree with (stored in its metadata)."""
    sn = manifest["score_normalization"]
    return {
        "schema": manifest["schema"],
        "model": manifest["model"],
        "backbone": manifest["backbone"],
        "height": int(manifest["input"]["height"]),
        "width": int(manifest["input"]["width"]),
        "graph_contains": dict(manifest["graph_contains"]),
        "roi_applied": bool(manifest["roi"]["applied"]),
        "score_normalization": {
            k: {kk: round(float(vv), 6) for kk, vv in sn[k].items()} for k in ("image", "pixel")
        },
    }


def validate_manifest(manifest: dict[str, Any], where: str = "manifest") -> None:
    """Raise ArtifactError naming the first missing or malformed key."""
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{where}: expected a JSON object, got {type(manifest).__name__}")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise ArtifactError(f"{where}: missing keys {', '.join(missing)}")
    if manifest["schema"] != SCHEMA:
        raise ArtifactError(f"{where}: schema {manifest['schema']!r}, this xrbridge reads {SCHEMA}")
    inp = manifest["input"]
    for k in ("height", "width", "color", "mean", "std", "resize"):
        if k not in inp:
            raise ArtifactError(f"{where}: input lacks {k!r}")
    if not (int(inp["height"]) > 0 and int(inp["width"]) > 0):
        raise ArtifactError(
            f"{where}: input size must be positive, got {inp['height']}x{inp['width']}"
        )
    sn = manifest["score_normalization"]
    for part in ("image", "pixel"):
        for k in ("threshold", "min", "max"):
            if k not in sn.get(part, {}):
                raise ArtifactError(f"{where}: score_normalization.{part} lacks {k!r}")
    for k in ("gaussian_blur", "score_normalization", "roi_mask"):
        if k not in manifest["graph_contains"]:
            raise ArtifactError(f"{where}: graph_contains lacks {k!r}")
    if "applied" not in manifest["roi"]:
        raise ArtifactError(f"{where}: roi lacks 'applied'")


def write_manifest(model_dir: Path, manifest: dict[str, Any]) -> Path:
    """Validate and write ``manifest.json`` into ``model_dir``; returns its path."""
    clean = {k: v for k, v in manifest.items() if not k.startswith("_")}
    validate_manifest(clean)
    path = Path(model_dir) / MANIFEST
    path.write_text(json.dumps(clean, indent=2, sort_keys=False) + "\n")
    return path


def load_manifest(model_dir: str | Path) -> dict[str, Any]:
    """Read and validate ``MODEL_DIR/manifest.json``.

    The returned dict carries ``_model_dir`` (str) so that preprocessing can
    find ``roi.png``.

    Raises:
        ArtifactError: folder, manifest or ROI file missing, or manifest malformed.
    """
    d = Path(model_dir)
    path = d / MANIFEST
    if not d.is_dir():
        raise ArtifactError(f"model folder {d} does not exist")
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: not a model folder written by `xrbridge train`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from exc
    validate_manifest(manifest, str(path))
    roi_file = manifest["roi"].get("file")
    if manifest["roi"]["applied"] and (not roi_file or not (d / roi_file).is_file()):
        raise ArtifactError(f"{path}: roi.applied but ROI file {roi_file!r} is not in {d}")
    manifest["_model_dir"] = str(d)
    return manifest


def check_graph(
    manifest: dict[str, Any],
    metadata: dict[str, str],
    inputs: dict[str, list[Any]],
    outputs: dict[str, list[Any]],
) -> None:
    """Refuse a graph that disagrees with its manifest.

    Args:
        manifest: as from :func:`load_manifest`.
        metadata: the graph's custom metadata map (ONNX ``metadata_props``).
        inputs / outputs: name -> shape of the graph's inputs and outputs.

    Raises:
        ArtifactError: naming the first disagreement.
    """
    h, w = int(manifest["input"]["height"]), int(manifest["input"]["width"])
    want_in = {INPUT_NAME: [1, 3, h, w]}
    want_out = {OUTPUT_NAMES[0]: [1, 1, h, w], OUTPUT_NAMES[1]: [1]}
    for kind, got, want in (("input", inputs, want_in), ("output", outputs, want_out)):
        if sorted(got) != sorted(want):
            raise ArtifactError(
                f"graph {kind}s {sorted(got)} but the manifest expects {sorted(want)}"
            )
        for name, shape in want.items():
            if list(got[name]) != shape:
                raise ArtifactError(
                    f"graph {kind} {name!r} has shape {got[name]}, manifest says {shape}"
                )
    raw = metadata.get(META_KEY)
    if raw is None:
        raise ArtifactError(f"graph has no {META_KEY!r} metadata: not exported by xrbridge")
    graph_core = json.loads(raw)
    mine = core_fields(manifest)
    for key, value in mine.items():
        if graph_core.get(key) != value:
            raise ArtifactError(
                f"manifest and graph disagree on {key!r}: manifest {value!r}, graph {graph_core.get(key)!r}"
            )


def fingerprint(files: list[Path]) -> str:
    """sha256 over sorted (file name, size) pairs of the training images."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.name):
        h.update(f"{f.name}\t{f.stat().st_size}\n".encode())
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Library versions for the manifest (torch/onnx only if importable)."""
    import importlib

    import xrbridge

    out = {"xrbridge": xrbridge.__version__}
    for mod in ("torch", "onnx", "onnxruntime"):
        try:
            out[mod] = str(importlib.import_module(mod).__version__)
        except ImportError:
            out[mod] = "absent"
    return out
