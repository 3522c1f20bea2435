"""EfficientAD speed in ONNX Runtime against the machine's own convolution throughput.

    python bench/efficientad_speed.py --model MODEL_DIR [--model MODEL_DIR_INT8 ...] \
        [--threads 2] [--runs 10]

Measures, interleaved in one run so that a shared or throttled CPU affects all
alike: (1) a reference convolution (256 -> 256 channels, 3x3, 64x64, batch 1,
2.4 GFLOP) in ONNX Runtime, the machine's convolution throughput; (2) each
artifact at batch 1 (p50/p90 ms, GFLOPs of its graph by
``xrbridge.models.exporting.graph_flops`` - for int8 graphs the count of the same
convolutions - and the GFLOP/s it reaches, as a share of (1)).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrbridge.models.artifact import ONNX_FILE
from xrbridge.models.exporting import graph_flops
from xrbridge.models.runtime import OnnxModel

REF_CHANNELS, REF_SIZE = 256, 64


def reference_conv(path: Path) -> int:
    """Write the reference convolution to ``path``; returns its FLOPs."""
    import torch

    conv = torch.nn.Conv2d(REF_CHANNELS, REF_CHANNELS, 3, padding=1).eval()
    x = torch.zeros(1, REF_CHANNELS, REF_SIZE, REF_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(conv, (x,), str(path), input_names=["x"], dynamo=False)
    return 2 * REF_SIZE * REF_SIZE * REF_CHANNELS * REF_CHANNELS * 9


def main() -> int:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--ref-repeats", type=int, default=5, help="reference runs per model run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = Path(tmp) / "conv.onnx"
        ref_flops = reference_conv(ref_path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        ref = ort.InferenceSession(str(ref_path), opts, providers=["CPUExecutionProvider"])
        ref_x = {"x": np.random.default_rng(0).standard_normal(
            (1, REF_CHANNELS, REF_SIZE, REF_SIZE)).astype(np.float32)}  # fmt: skip
        ref.run(None, ref_x)
        models = [
            OnnxModel(d, providers=["CPUExecutionProvider"], threads=args.threads)
            for d in args.model
        ]
        flops = [graph_flops(d / ONNX_FILE) for d in args.model]
        xs = [np.random.default_rng(1).standard_normal((1, 3, m.height, m.width)).astype(np.float32)
              for m in models]  # fmt: skip
        ref_t: list[float] = []
        times: list[list[float]] = [[] for _ in models]
        for _ in range(args.runs):
            for _ in range(args.ref_repeats):
                t0 = time.perf_counter()
                ref.run(None, ref_x)
                ref_t.append(time.perf_counter() - t0)
            for i, (m, x) in enumerate(zip(models, xs, strict=True)):
                t0 = time.perf_counter()
                m.run(x)
                times[i].append(time.perf_counter() - t0)
    ref_gflops = ref_flops / 1e9 / float(np.median(ref_t))
    out: dict[str, object] = {
        "threads": args.threads, "runs": args.runs,
        "reference_conv": {"gflop": round(ref_flops / 1e9, 3), "p50_ms": round(1e3 * float(np.median(ref_t)), 2),
                           "gflop_per_s": round(ref_gflops, 1)},
        "models": [],
    }  # fmt: skip
    for d, m, f, t in zip(args.model, models, flops, times, strict=True):
        p50 = float(np.median(t))
        g = f / 1e9 / p50
        out["models"].append({  # type: ignore[attr-defined]
            "model_dir": str(d), "model": m.manifest["model"],
            "quantized": "quantization" in m.manifest,
            "p50_ms": round(1e3 * p50, 1), "p90_ms": round(1e3 * float(np.percentile(t, 90)), 1),
            "gflop": round(f / 1e9, 2), "gflop_per_s": round(g, 1),
            "share_of_conv_throughput": round(g / ref_gflops, 3),
        })  # fmt: skip
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
