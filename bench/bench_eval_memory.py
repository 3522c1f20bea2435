"""Peak resident memory of `xrbridge eval` on a large synthetic test set.

Writes a synthetic category (default 2,000 test images at 512x512: half good,
half with defects and masks) and a small real ONNX model (brightness map,
input 256x256, see tests/_eval_support.py), then runs `xrbridge eval` (with
the report) in a child process and prints one JSON line with the child's peak
resident set size (ru_maxrss) and the wall time.

    python bench/bench_eval_memory.py [--images 2000] [--size 512] [--keep DIR]

Cross-check with GNU time: the same eval command under `/usr/bin/time -v`
reports "Maximum resident set size" (the command is printed in the JSON).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._eval_support import write_brightness_model, write_category  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--model-size", type=int, default=256)
    ap.add_argument("--keep", type=Path, default=None, help="write the data here and keep it")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="xrb_evalmem_"))
    cat = tmp / "cat"
    t0 = time.perf_counter()
    if not (cat / "test").is_dir():
        n_good = args.images // 2
        write_category(
            cat,
            n_good=n_good,
            n_defect=args.images - n_good,
            size=(args.size, args.size),
            defects=("hole", "missing"),
            seed=1,
            faint=50,
            ext=".jpg",
            train=False,
        )
    model = write_brightness_model(tmp / "model", args.model_size, args.model_size)
    t_data = time.perf_counter() - t0
    cmd = [
        sys.executable,
        "-m",
        "xrbridge",
        "eval",
        "--model",
        str(model),
        "--data",
        str(cat),
        "--out",
        str(tmp / "report"),
        "--threads",
        str(args.threads),
        "--no-progress",
    ]
    t1 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t1
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return 1
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    metrics = json.loads(r.stdout)
    print(json.dumps({
        "images": metrics["n_images"], "size": args.size, "model_input": args.model_size,
        "peak_rss_mib": round(peak_kib / 1024, 1), "limit_mib": 2048,
        "eval_seconds": round(wall, 1), "images_per_s": round(metrics["n_images"] / wall, 1),
        "data_seconds": round(t_data, 1), "pixel_auroc": metrics["pixel_auroc"],
        "command": " ".join(cmd),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
