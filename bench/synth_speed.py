"""Speed of `synth` at 848x480: images per second, end to end and per defect type.

Builds a category of 848x480 images (the simulator's view crops resized,
their paths file scaled with them, then JPEG-compressed at quality 75 as an
848x480 camera would deliver them) and runs ``synthesize`` over it: reading,
finding the sealant (paths file), drawing one defect per image, writing
image + mask. Then times ``render_defect`` alone per type.

    python bench/synth_speed.py --data SIM/dataset/lower_center --scene SIM/scene.json \
        --view lower_center --count 50
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from xrbridge.names import DEFECTS
from xrbridge.synth import SynthConfig, Track, synthesize, tracks_from_scene
from xrbridge.synth.blend import light_direction
from xrbridge.synth.camera import estimate_jpeg
from xrbridge.synth.defects import render_defect
from xrbridge.synth.plan import draw_params
from xrbridge.synth.tracks import paths_doc, sample

W, H = 848, 480


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="a simulator view category")
    ap.add_argument("--scene", required=True, type=Path)
    ap.add_argument("--view", required=True)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="synth-speed-"))
    try:
        src = sorted((args.data / "test" / "good").glob("*.png"))[:20]
        h0, w0 = cv2.imread(str(src[0])).shape[:2]
        sx, sy = W / w0, H / h0
        (tmp / "cat" / "test" / "good").mkdir(parents=True)
        for p in src:
            img = cv2.resize(cv2.imread(str(p)), (W, H), interpolation=cv2.INTER_LINEAR)
            # as an 848x480 camera that compresses would deliver it (so the JPEG step
            # is estimated and re-applied, as on the simulator's own images)
            _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            cv2.imwrite(str(tmp / "cat" / "test" / "good" / p.name), img)
        scene = json.loads(args.scene.read_text())
        tracks = [
            Track(
                t.name,
                np.clip(t.points * (sx, sy), 0, (W - 1, H - 1)),
                t.width * float(np.sqrt(sx * sy)),
                t.closed,
            )
            for t in tracks_from_scene(scene, args.view)
        ]
        (tmp / "cat" / "paths.json").write_text(json.dumps(paths_doc(tracks, (W, H))))
        t0 = time.perf_counter()
        summary = synthesize(SynthConfig(data=tmp / "cat", out=tmp / "out", count=args.count))
        wall = time.perf_counter() - t0
        img = cv2.imread(str(tmp / "cat" / "test" / "good" / src[0].name))
        a = time.perf_counter()
        fit = estimate_jpeg(img)
        jpeg_ms = round(1000 * (time.perf_counter() - a), 1)
        sampled = [sample(t) for t in tracks]
        light = light_direction(
            img, [(s.p, s.n, t.width / 2) for s, t in zip(sampled, tracks, strict=True)]
        )
        per_type = {}
        rng = np.random.default_rng(0)
        for typ in DEFECTS:
            ts = []
            for i in range(10):
                k = i % len(tracks)
                p = draw_params(typ, "medium", tracks[k], sampled[k], rng, [])
                if p is None:
                    continue
                a = time.perf_counter()
                render_defect(img, sampled[k], tracks[k].width, p, rng, light, fit)
                ts.append(time.perf_counter() - a)
            per_type[typ] = round(1000 * float(np.median(ts)), 1)
        result = {
            "image_size": [W, H],
            "images": summary["defective_images"],
            "images_per_s_end_to_end": round(summary["defective_images"] / wall, 2),
            "render_ms_median_per_type": per_type,
            "jpeg_estimate_ms_per_image": jpeg_ms,
            "jpeg_fit": None if fit is None else [fit.quality, *fit.phase],
            "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "load_avg_1min": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
