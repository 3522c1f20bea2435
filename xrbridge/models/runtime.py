"""ONNX Runtime wrapper for xrbridge model artifacts (no torch needed).

``OnnxModel(model_dir)`` loads ``model.onnx`` + ``manifest.json``, checks that
both agree (:func:`xrbridge.models.artifact.check_graph`), picks the CUDA
provider when ONNX Runtime offers it (else the CPU), sets thread counts and
runs a warm-up inference so the first real frame is not slow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.errors import ArtifactError, ModelError
from xrbridge.models.artifact import INPUT_NAME, ONNX_FILE, OUTPUT_NAMES, check_graph, load_manifest
from xrbridge.models.preprocess import preprocess


def default_providers() -> list[str]:
    """CUDA (when this onnxruntime build has it) then CPU."""
    import onnxruntime as ort

    avail = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]


class ArtifactModel:
    """What OnnxModel and OpenVinoModel share: artifact opening, input check, warm-up, predict.

    A subclass calls :meth:`_open_artifact` first, :meth:`_warm_up` last, and
    provides :meth:`_infer` (inside the ModelError guard) and :meth:`_result`.
    """

    model_dir: Path
    manifest: dict[str, Any]
    height: int
    width: int

    def _open_artifact(self, model_dir: str | Path) -> Path:
        """Read the manifest; the path of ``model.onnx``. Raises ArtifactError if it is missing."""
        self.model_dir = Path(model_dir)
        self.manifest = load_manifest(self.model_dir)
        path = self.model_dir / ONNX_FILE
        if not path.is_file():
            raise ArtifactError(f"{path} is missing")
        return path

    def _warm_up(self, warmup: int) -> None:
        """Take the input size from the manifest and run ``warmup`` zero inputs."""
        self.height = int(self.manifest["input"]["height"])
        self.width = int(self.manifest["input"]["width"])
        zero = np.zeros((1, 3, self.height, self.width), np.float32)
        for _ in range(warmup):
            self.run(zero)

    def _infer(self, x: np.ndarray) -> Any:
        """The runtime's raw outputs for a checked input."""
        raise NotImplementedError

    def _result(self, out: Any) -> tuple[np.ndarray, float]:
        """Raw outputs -> ((H,W) map, score)."""
        raise NotImplementedError

    def run(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """(1,3,H,W) float32 preprocessed input -> ((H,W) float32 map in [0,1], score in [0,1]).

        Raises:
            ModelError: wrong input shape/dtype, or inference failed.
        """
        want = (1, 3, self.height, self.width)
        if not isinstance(x, np.ndarray) or x.shape != want or x.dtype != np.float32:
            got = (getattr(x, "shape", None), getattr(x, "dtype", type(x).__name__))
            raise ModelError(f"input must be {want} float32, got {got[0]} {got[1]}")
        try:
            out = self._infer(x)
        except Exception as exc:
            raise ModelError(f"inference failed: {exc}") from exc
        return self._result(out)

    def predict(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """BGR uint8 image of any size -> ((H,W) map at model resolution, score)."""
        return self.run(preprocess(image_bgr, self.manifest))

    __call__ = predict


class OnnxModel(ArtifactModel):
    """One model artifact in an ONNX Runtime session.

    Args:
        model_dir: folder written by ``xrbridge train``.
        providers: ONNX Runtime providers, default :func:`default_providers`.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        warmup: number of warm-up runs on a zero input.

    Raises:
        ArtifactError: missing files or manifest/graph mismatch.
    """

    def __init__(
        self,
        model_dir: str | Path,
        providers: list[str] | None = None,
        threads: int | None = None,
        warmup: int = 2,
    ) -> None:
        import onnxruntime as ort

        path = self._open_artifact(model_dir)
        opts = ort.SessionOptions()
        opts.add_session_config_entry(
            "session.intra_op.allow_spinning", "0"
        )  # no busy-wait after run
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.threads = threads
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=providers or default_providers()
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ArtifactError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        inputs = {i.name: list(i.shape) for i in self.session.get_inputs()}
        outputs = {o.name: list(o.shape) for o in self.session.get_outputs()}
        check_graph(self.manifest, meta, inputs, outputs)
        self._warm_up(warmup)

    @property
    def provider(self) -> str:
        """The provider that runs the graph (first of the session's providers)."""
        return str(self.session.get_providers()[0])

    def _infer(self, x: np.ndarray) -> Any:
        return self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})

    def _result(self, out: Any) -> tuple[np.ndarray, float]:
        amap, score = out
        return amap[0, 0], float(score[0])


def load_model(
    model_dir: str | Path,
    runtime: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
    warmup: int = 2,
    providers: list[str] | None = None,
) -> Any:
    """OnnxModel or OpenVinoModel, chosen as :func:`xrbridge.models.openvino_runtime.open_model`."""
    from xrbridge.models.openvino_runtime import open_model

    return open_model(model_dir, runtime, precision, threads, warmup, providers)
