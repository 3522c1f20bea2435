# ruff: noqa
"""Research script: like feats_mt.py, but letterboxed (aspect kept, black padding); sweep_mt.py maps back."""

"""Letterbox variant: long side -> S, pad (black) to SxS, features; store the box for each image."""
import sys, numpy as np, torch, cv2, time
from pathlib import Path
from xrbridge.models.data import load_category, read_image
from xrbridge.models.preprocess import to_bgr_uint8
from xrbridge.models.backbones import build_backbone

torch.set_num_threads(2)
cat = sys.argv[1]
S = int(sys.argv[2])
out = Path(sys.argv[3] if len(sys.argv) > 3 else "/tmp/exp") / f"{Path(cat).name}_lb{S}"
out.mkdir(exist_ok=True)
c = load_category(cat)
bb = build_backbone("efficientnet-lite0", stages=("s4", "s8", "s16"), pretrained=True).eval()
pool = torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)


def lb(p):
    img = to_bgr_uint8(read_image(p))
    h, w = img.shape[:2]
    s = S / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    x = np.full((S, S, 3), 0, np.uint8)
    y0, x0 = (S - nh) // 2, (S - nw) // 2
    x[y0 : y0 + nh, x0 : x0 + nw] = r
    x = (x[:, :, ::-1].astype(np.float32) / 255 - 0.5) / 0.5
    return x.transpose(2, 0, 1), (y0, x0, nh, nw)


def ext(paths, name):
    res = {k: [] for k in ("s8", "s16")}
    boxes = []
    for i in range(0, len(paths), 16):
        xs = [lb(p) for p in paths[i : i + 16]]
        boxes += [b for _, b in xs]
        with torch.inference_mode():
            f = bb(torch.from_numpy(np.stack([x for x, _ in xs])))
        for k in res:
            res[k].append(pool(f[k]).half().numpy())
    for k in res:
        np.save(out / f"{name}_{k}.npy", np.concatenate(res[k]))
    np.save(out / f"{name}_boxes.npy", np.array(boxes))


ext(list(c.train), "train")
ext([t.path for t in c.test], "test")
import shutil

for f in ("labels", "defect", "masks"):
    shutil.copy(out.parent / f"{Path(cat).name}_256" / f"{f}.npy", out)
print("done")
