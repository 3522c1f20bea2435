"""OpenVINO runtime for xrbridge model artifacts, beside ONNX Runtime (docs/runtimes.md).

``OpenVinoModel(model_dir, precision="fp32"|"bf16")`` reads the same
``model.onnx`` + ``manifest.json`` as :class:`xrbridge.models.runtime.OnnxModel`,
checks the same manifest/graph agreement, and offers the same ``run`` /
``predict`` interface, so every caller (eval, bench, the API, the bridge)
takes either. OpenVINO's CPU plugin uses AMX and bf16 where the CPU has them;
ONNX Runtime's CPU provider uses neither. ONNX Runtime's CUDA provider stays
the GPU path.

:func:`open_model` picks the runtime: an explicit argument, else the
manifest's optional ``runtime`` block (``{"name": ..., "precision": ...}``),
else ONNX Runtime. Where ``openvino`` is not installed, or the CPU has no bf16,
it falls back (ONNX Runtime, resp. fp32) and says so once on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.errors import ArtifactError, UsageError
from xrbridge.models.artifact import INPUT_NAME, META_KEY, OUTPUT_NAMES, check_graph
from xrbridge.models.runtime import ArtifactModel

RUNTIMES = ("onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16")
_OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}


def check_choice(runtime: str | None, precision: str | None) -> None:
    """Refuse an unknown runtime or precision name with a clear UsageError."""
    if runtime is not None and runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    if precision is not None and precision not in PRECISIONS:
        raise UsageError(
            f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}"
        )
    if runtime == "onnxruntime" and precision not in (None, "fp32"):
        raise UsageError(
            f"precision {precision!r} needs runtime openvino: ONNX Runtime's CPU provider runs fp32"
        )


def openvino_available() -> bool:
    """True when the ``openvino`` package imports."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_has_bf16() -> bool:
    """True when OpenVINO's CPU plugin reports native bf16 (AVX-512 BF16 or AMX)."""
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in [str(c) for c in caps]


def _say(msg: str) -> None:
    print(f"xrbridge: {msg}", file=sys.stderr)


class OpenVinoModel(ArtifactModel):
    """One model artifact compiled by OpenVINO for the CPU.

    Args:
        model_dir: folder written by ``xrbridge train``.
        precision: ``fp32`` or ``bf16`` (inference precision hint). bf16 on a
            CPU without native bf16 runs fp32 and says so (``self.precision``
            is the precision that actually runs).
        threads: inference threads (None: OpenVINO's default, one per core).
        warmup: number of warm-up runs on a zero input.

    Raises:
        ArtifactError: missing files, graph unreadable, or manifest/graph mismatch.
        UsageError: unknown precision.
    """

    def __init__(
        self,
        model_dir: str | Path,
        precision: str = "fp32",
        threads: int | None = None,
        warmup: int = 2,
    ) -> None:
        import openvino as ov

        check_choice("openvino", precision)
        path = self._open_artifact(model_dir)
        core = ov.Core()
        try:
            graph = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises its own untyped errors
            raise ArtifactError(f"{path}: OpenVINO cannot read it ({exc})") from exc
        try:
            meta = {META_KEY: str(graph.get_rt_info(["framework", META_KEY]).astype(str))}
        except Exception:  # key absent: check_graph names it
            meta = {}
        inputs = {p.get_any_name(): _shape(p) for p in graph.inputs}
        outputs = {p.get_any_name(): _shape(p) for p in graph.outputs}
        check_graph(self.manifest, meta, inputs, outputs)
        self.requested_precision = precision
        if precision == "bf16" and not cpu_has_bf16():
            _say("bf16 asked but this CPU has no native bf16 (AVX-512 BF16 / AMX): running fp32")
            precision = "fp32"
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": _OV_PRECISION[precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self.compiled = core.compile_model(graph, "CPU", config)
        except Exception as exc:
            raise ArtifactError(f"{path}: OpenVINO cannot compile it ({exc})") from exc
        got = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.precision = "bf16" if "bf16" in got else "fp32"
        self.threads = threads
        self.request = self.compiled.create_infer_request()
        self._outputs = [self.compiled.output(n) for n in OUTPUT_NAMES]
        self._warm_up(warmup)

    @property
    def provider(self) -> str:
        """What runs the graph, e.g. ``OpenVINO CPU bf16`` (bench and eval print it)."""
        return f"OpenVINO CPU {self.precision}"

    def _infer(self, x: np.ndarray) -> Any:
        return self.request.infer({INPUT_NAME: x})

    def _result(self, out: Any) -> tuple[np.ndarray, float]:
        amap = np.asarray(out[self._outputs[0]], dtype=np.float32)
        score = np.asarray(out[self._outputs[1]], dtype=np.float32)
        return amap[0, 0].copy(), float(score[0])


def _shape(port: Any) -> list[Any]:
    ps = port.get_partial_shape()
    return [int(d.get_length()) if d.is_static else None for d in ps]


def manifest_choice(model_dir: str | Path) -> tuple[str | None, str | None]:
    """The manifest's optional ``runtime`` block -> (name, precision); (None, None) if absent."""
    path = Path(model_dir) / "manifest.json"
    try:
        block = json.loads(path.read_text()).get("runtime") or {}
    except (OSError, ValueError):
        return None, None  # load_manifest reports it properly
    if not isinstance(block, dict):
        raise ArtifactError(f"{path}: 'runtime' must be an object, got {type(block).__name__}")
    return block.get("name"), block.get("precision")


def _has_cuda() -> bool:
    from xrbridge.models.runtime import default_providers

    return "CUDAExecutionProvider" in default_providers()


def open_model(
    model_dir: str | Path,
    runtime: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
    warmup: int = 2,
    providers: list[str] | None = None,
) -> Any:
    """Load an artifact in the chosen runtime (explicit > manifest ``runtime`` > onnxruntime).

    ``providers`` (ONNX Runtime only) keeps the CUDA choice with ONNX Runtime.
    Falls back to ONNX Runtime, with a message on stderr, where ``openvino`` is
    not installed.

    Raises:
        UsageError: unknown runtime or precision (explicit or in the manifest).
        ArtifactError: as the runtime's model class.
    """
    from xrbridge.models.runtime import OnnxModel

    check_choice(runtime, precision)
    m_runtime, m_precision = manifest_choice(model_dir)
    try:
        check_choice(m_runtime, m_precision)
    except UsageError as exc:
        raise ArtifactError(f"{Path(model_dir) / 'manifest.json'}: {exc}") from exc
    if runtime is None and providers is None and _has_cuda():
        runtime = "onnxruntime"  # the GPU path, whatever the manifest prefers for CPUs
    if runtime is None:
        runtime = m_runtime or "onnxruntime"
        if precision is None and runtime == m_runtime:
            precision = m_precision
    if runtime == "openvino" and providers and "CUDAExecutionProvider" in providers:
        raise UsageError("runtime openvino runs on the CPU; the GPU path is ONNX Runtime's CUDA")
    if runtime == "openvino" and not openvino_available():
        _say(
            "runtime openvino asked but the 'openvino' package is not installed "
            "(pip install 'xrbridge[openvino]'): using ONNX Runtime fp32"
        )
        runtime, precision = "onnxruntime", None
    if runtime == "openvino":
        return OpenVinoModel(
            model_dir, precision=precision or "fp32", threads=threads, warmup=warmup
        )
    check_choice("onnxruntime", precision)
    return OnnxModel(model_dir, providers=providers, threads=threads, warmup=warmup)
