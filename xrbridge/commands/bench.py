"""``xrbridge bench``: latency and throughput of one model artifact in ONNX Runtime (JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: fp32 GFLOP/s of a large matrix product in PyTorch on the project's 2-core Xeon (issue 13).
PEAK_GFLOPS = 300.0

HELP = "time a model (batch 1) in ONNX Runtime; prints JSON (p50/p90/p99 ms, frames/s, GFLOP/s)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", required=True, type=Path, help="MODEL_DIR written by `xrbridge train`"
    )
    p.add_argument("--runs", type=int, default=100, help="timed runs (default 100)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: ORT's)")
    p.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--peak-gflops",
        type=float,
        default=PEAK_GFLOPS,
        help=f"the machine's measured fp32 peak, for the share reached (default {PEAK_GFLOPS:g}: "
        "a torch fp32 matrix product on the 2-core AVX-512/AMX Xeon of the project)",
    )
    p.add_argument("--runtime", default=None, help="onnxruntime | openvino (default: manifest's)")
    p.add_argument("--precision", default=None, help="fp32 | bf16 (bf16: openvino only)")


def run(args: argparse.Namespace) -> int:
    import os
    import time

    import numpy as np

    from xrbridge.errors import UsageError
    from xrbridge.models.artifact import ONNX_FILE
    from xrbridge.models.runtime import default_providers, load_model

    if args.runs < 1:
        raise UsageError(f"--runs must be >= 1, got {args.runs}")
    providers = {
        "auto": None,
        "cpu": ["CPUExecutionProvider"],
        "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    }[args.provider]
    if args.provider == "cuda" and "CUDAExecutionProvider" not in default_providers():
        raise UsageError("--provider cuda: this onnxruntime has no CUDAExecutionProvider")
    model = load_model(
        args.model, args.runtime, args.precision, args.threads, args.warmup, providers
    )
    x = (
        np.random.default_rng(0)
        .standard_normal((1, 3, model.height, model.width))
        .astype(np.float32)
    )
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        model.run(x)
        times.append((time.perf_counter() - t0) * 1000.0)
    t = np.asarray(times)
    flops = _flops(args.model / ONNX_FILE)
    p50 = float(np.percentile(t, 50))
    out = {
        "model": model.manifest["model"],
        "model_dir": str(args.model),
        "input": [1, 3, model.height, model.width],
        "p50_ms": round(p50, 3),
        "p90_ms": round(float(np.percentile(t, 90)), 3),
        "p99_ms": round(float(np.percentile(t, 99)), 3),
        "mean_ms": round(float(t.mean()), 3),
        "fps": round(1000.0 / float(t.mean()), 2),
        "gflops": round(flops / 1e9, 4) if flops else None,
        "gflops_per_s": round(flops / 1e9 / (p50 / 1000.0), 2) if flops else None,
        "peak_gflops_per_s": args.peak_gflops,
        "share_of_peak": round(flops / 1e9 / (p50 / 1000.0) / args.peak_gflops, 4)
        if flops
        else None,
        "provider": model.provider,
        "runtime": type(model).__name__,
        "threads": args.threads if args.threads is not None else (os.cpu_count() or 1),
        "runs": args.runs,
    }
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


def _flops(path: Path) -> int | None:
    try:
        from xrbridge.models.exporting import graph_flops
    except ImportError:  # onnx (the [train] extra) absent on a serving box
        return None
    return graph_flops(path)
