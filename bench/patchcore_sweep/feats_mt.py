# ruff: noqa
"""Research script (see README.md): per-stage feature cache for sweep_mt.py.

BB=efficientnet-lite2 python bench/patchcore_sweep/feats_mt.py ../shared/data/magnetic_tile 256 [OUTROOT]
"""

import sys, numpy as np, torch, cv2, time
from pathlib import Path
from xrbridge.models.data import load_category, load_images, load_mask
from xrbridge.models.backbones import build_backbone

torch.set_num_threads(2)
import os

BBN = os.environ.get("BB", "")
cat = sys.argv[1]
S = int(sys.argv[2])
root = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("/tmp/exp")
out = root / f"{Path(cat).name}_{S}{BBN[-5:]}"
STAGES = tuple(os.environ.get("STAGES", "s8,s16").split(","))
out.mkdir(exist_ok=True)
c = load_category(cat)
bb = build_backbone(
    __import__("os").environ.get("BB", "efficientnet-lite0"), stages=STAGES, pretrained=True
).eval()
pool = torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)


def ext(paths, name):
    res = {k: [] for k in STAGES}
    for i in range(0, len(paths), 16):
        x, _ = load_images(paths[i : i + 16], S, S)
        with torch.inference_mode():
            f = bb(torch.from_numpy(x))
        for k in res:
            res[k].append(pool(f[k]).half().numpy())
    for k in res:
        np.save(out / f"{name}_{k}.npy", np.concatenate(res[k]))


t = time.time()
ext(list(c.train), "train") if not (out / "train_s16.npy").exists() else None
ext([t.path for t in c.test], "test")
labels = np.array([t.defect != "good" for t in c.test])
np.save(out / "labels.npy", labels)
np.save(out / "defect.npy", np.array([t.defect for t in c.test]))
masks = np.stack([load_mask(t, 256, 256) for t in c.test])
np.save(out / "masks.npy", masks)
print("done", time.time() - t)
