# ruff: noqa
"""Research script (see README.md): compact on purpose, not part of the package."""

import json
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
torch.set_num_threads(1)
from bench.metrics import aupro, image_auroc, pixel_auroc
from xrbridge.models.patchcore.anomaly_map import BankScorer
from xrbridge.models.patchcore.coreset import greedy_coreset
from xrbridge.models.patchcore.train import _knn_table, _pca

name, size, layers = sys.argv[1], int(sys.argv[2]), sys.argv[3]
variants = json.loads(sys.argv[4])
tag = f"{name}_{size}_{layers}"
tr = torch.from_numpy(np.load(f"/tmp/patchcore_sweep/{tag}_train.npy").astype(np.float32))
te = torch.from_numpy(np.load(f"/tmp/patchcore_sweep/{tag}_test.npy").astype(np.float32))
masks = np.load(f"/tmp/patchcore_sweep/{name}_{size}_masks.npy")
labels = np.load(f"/tmp/patchcore_sweep/{name}_{size}_labels.npy")
N, C, h, w = tr.shape
yy, xx = torch.meshgrid(torch.arange(h) / h, torch.arange(w) / w, indexing="ij")
pos = torch.stack([yy, xx]).reshape(2, -1).t()  # (P,2)


def prep(x, mu, P, lam):
    B = x.shape[0]
    f = x.permute(0, 2, 3, 1).reshape(-1, C)
    if P is not None:
        f = (f - mu) @ P.t()
    if lam:
        f = torch.cat([f, lam * pos.repeat(B, 1)], 1)
    return f


for v in variants:
    ratio = v.get("ratio", 0.01)
    dim = v.get("dim", 128)
    hold = v.get("hold", 0.1)
    cpd = v.get("cpd", 64)
    alpha = v.get("pos", 0)
    n_fit = N - max(1, round(N * hold)) if hold > 0 else N
    order = np.sort(np.random.default_rng(0).permutation(N)[:n_fit])
    f = tr[torch.from_numpy(order)].permute(0, 2, 3, 1).reshape(-1, C)
    t0 = time.time()
    c0 = time.process_time()
    mu = P = None
    if 0 < dim < C:
        mean, comps = _pca(f, dim, 0)
        P = torch.from_numpy(comps)
        mu = torch.from_numpy(mean)
    lam = 0.0
    ff = prep(tr[torch.from_numpy(order)], mu, P, 0)
    if alpha:
        lam = alpha * float(((ff - ff.mean(0)) ** 2).sum(1).mean().sqrt())
        ff = prep(tr[torch.from_numpy(order)], mu, P, lam)
    n = max(1, round(len(ff) * ratio))
    sel = greedy_coreset(ff, n, cpd, 0, groups=v.get("groups", 1))
    bank = ff[torch.from_numpy(sel)]
    tb = time.time() - t0
    cb = time.process_time() - c0
    for k in v.get("ks", [3]):
        sup = _knn_table(bank, k)
        for sigma in v.get("sigmas", [4.0]):
            sc = BankScorer(bank, sup, (size, size), sigma * size / 256)
            maps = []
            scores = []
            with torch.inference_mode():
                for i in range(len(te)):
                    x = prep(te[i : i + 1], mu, P, lam).t().reshape(1, -1, h, w)
                    m, s = sc(x)
                    maps.append(m[0, 0].numpy())
                    scores.append(float(s[0]))
            M = np.stack(maps)
            S = np.array(scores)
            r = dict(
                v,
                k=k,
                sigma=sigma,
                bank=n,
                bank_s=round(tb, 1),
                bank_cpu=round(cb, 1),
                img=round(image_auroc(S, labels), 4),
                img_mapmax=round(image_auroc(M.reshape(len(M), -1).max(1), labels), 4),
                pix=round(pixel_auroc(M, masks), 4),
                aupro=round(aupro(M, masks), 4),
            )
            print(json.dumps(r), flush=True)
