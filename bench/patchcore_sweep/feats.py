# ruff: noqa
"""Research script (see README.md): compact on purpose, not part of the package."""

import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
torch.set_num_threads(1)
from xrbridge.models.data import load_category, load_images, load_mask
from xrbridge.models.patchcore.model import PatchFeatures

name, size = sys.argv[1], int(sys.argv[2])
layers = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else ("s8", "s16")
cat = load_category(
    str(__import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data" / name)
)
pf = PatchFeatures("efficientnet-lite0", layers)


def ext(paths):
    out = []
    for i in range(0, len(paths), 8):
        x, _ = load_images(paths[i : i + 8], size, size)
        with torch.inference_mode():
            out.append(pf.raw_features(torch.from_numpy(x)).numpy().astype(np.float16))
    return np.concatenate(out)


t = time.time()
tag = f"{name}_{size}_{'-'.join(layers)}"
tr = ext(list(cat.train))
print("train", tr.shape, time.time() - t, flush=True)
te = ext([it.path for it in cat.test])
print("test", te.shape, time.time() - t, flush=True)
masks = np.stack([load_mask(it, size, size) for it in cat.test])
labels = np.array([it.defect != "good" for it in cat.test])
np.save(f"/tmp/patchcore_sweep/{tag}_train.npy", tr)
np.save(f"/tmp/patchcore_sweep/{tag}_test.npy", te)
np.save(f"/tmp/patchcore_sweep/{name}_{size}_masks.npy", masks)
np.save(f"/tmp/patchcore_sweep/{name}_{size}_labels.npy", labels)
print("done", time.time() - t)
