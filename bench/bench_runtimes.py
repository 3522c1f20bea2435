"""Every model on every CPU runtime and precision, batch 1, in ONE interleaved run.

    PYTHONPATH=. python bench/bench_runtimes.py MODEL_DIR [MODEL_DIR ...] \\
        [--threads 2] [--runs 200] [--out reports/runtimes.json]

The machine is shared and loaded, so absolute milliseconds drift: every
(model, runtime, precision) session is built first, then the timed runs go
round-robin over all of them (one frame each per round), so that every
configuration sees the same load and the ratios between them are comparable.
The machine's matrix-product peak (fp32 and, where the CPU has it, bf16; torch
on the same threads) is measured in the same run, between rounds, and each
model's achieved GFLOP/s (graph FLOPs / p50) is given against it.

Prints one JSON object; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))


def matmul_peak(threads: int, dtype: str, n: int = 1024, reps: int = 6) -> float:
    """Best GFLOP/s of an n x n matrix product in torch on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a = torch.randn(n, n, dtype=dt)
    b = torch.randn(n, n, dtype=dt)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def main(argv: list[str] | None = None) -> int:
    from xrbridge.models.artifact import ONNX_FILE
    from xrbridge.models.exporting import graph_flops
    from xrbridge.models.openvino_runtime import cpu_has_bf16
    from xrbridge.models.runtime import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help="MODEL_DIRs written by `xrbridge train`")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=200, help="timed rounds")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    bf16 = cpu_has_bf16()
    sessions: list[dict[str, Any]] = []
    for d in args.models:
        flops = graph_flops(d / ONNX_FILE)
        for runtime, precision in CONFIGS:
            m = load_model(
                d,
                runtime,
                precision,
                threads=args.threads,
                warmup=args.warmup,
                providers=["CPUExecutionProvider"] if runtime == "onnxruntime" else None,
            )
            x = np.random.default_rng(0).standard_normal((1, 3, m.height, m.width))
            sessions.append(
                {
                    "model_dir": str(d),
                    "model": m.manifest["model"],
                    "input": [1, 3, m.height, m.width],
                    "runtime": runtime,
                    "precision_asked": precision,
                    "precision": getattr(m, "precision", "fp32"),
                    "provider": m.provider,
                    "flops": flops,
                    "m": m,
                    "x": x.astype(np.float32),
                    "t": [],
                }
            )
    peaks = {"fp32": [], "bf16": []}
    for r in range(args.runs):
        for s in sessions:
            t0 = time.perf_counter()
            s["m"].run(s["x"])
            s["t"].append((time.perf_counter() - t0) * 1000.0)
        if r % max(1, args.runs // 5) == 0:
            peaks["fp32"].append(matmul_peak(args.threads, "fp32"))
            if bf16:
                peaks["bf16"].append(matmul_peak(args.threads, "bf16"))
    peak = {k: round(max(v), 1) for k, v in peaks.items() if v}
    rows = []
    base: dict[str, float] = {}
    for s in sessions:
        t = np.asarray(s["t"])
        p50 = float(np.percentile(t, 50))
        gfs = s["flops"] / 1e9 / (p50 / 1000.0) if s["flops"] else None
        if s["runtime"] == "onnxruntime":
            base[s["model_dir"]] = p50
        pk = peak.get(s["precision"])
        rows.append(
            {
                **{
                    k: s[k]
                    for k in (
                        "model",
                        "model_dir",
                        "input",
                        "runtime",
                        "precision_asked",
                        "precision",
                        "provider",
                    )
                },
                "p50_ms": round(p50, 3),
                "p99_ms": round(float(np.percentile(t, 99)), 3),
                "gflops": round(s["flops"] / 1e9, 3) if s["flops"] else None,
                "gflops_per_s": round(gfs, 1) if gfs else None,
                "of_peak": round(gfs / pk, 3) if gfs and pk else None,
                "speedup_vs_onnxruntime": round(base[s["model_dir"]] / p50, 2),
            }
        )
    out = {
        "threads": args.threads,
        "runs": args.runs,
        "cpu_bf16": bf16,
        "cpu": _cpu_name(),
        "load_avg": os.getloadavg(),
        "matmul_peak_gflops_per_s": peak,
        "results": rows,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
