"""Greedy coreset subsampling (paper section 5.1, "approximately greedy" k-center).

Selects n of N patch features so that every feature lies close to a selected
one (minimax facility location), after a Johnson-Lindenstrauss random
projection to ``proj_dim`` dimensions. Each iteration is one pass over the
N x proj_dim matrix (a matrix-vector product plus an elementwise minimum), all
in place on preallocated buffers and single-threaded: nothing is allocated per
iteration, which is what makes naive implementations slow.

For large N (``groups`` > 1) the selection is two-level: greedy k-center inside
each of ``groups`` contiguous chunks (whole images, as features are stored image
by image) keeps ``oversample * n / groups`` candidates each, then one greedy pass
over the union picks the n. The union of local k-centers is a composable
coreset (the final covering radius stays within a small constant factor of
the single-level greedy) at about ``oversample / groups`` of the cost.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm


def greedy_coreset(
    features: torch.Tensor,
    n: int,
    proj_dim: int = 64,
    seed: int = 0,
    progress: bool = False,
    groups: int = 1,
    oversample: float = 4.0,
) -> np.ndarray:
    """Indices (n,) int64 of a greedy k-center coreset of ``features`` (N,D) float32.

    ``proj_dim``: dimension of the random projection used for the distances
    (smaller: faster selection, slightly less faithful distances).
    ``groups``: 1 = exact greedy; > 1 = two-level selection (see module docstring).
    """
    n_all, dim = features.shape
    n = int(min(max(n, 1), n_all))
    gen = torch.Generator().manual_seed(seed)
    if dim > proj_dim:
        proj = torch.randn(dim, proj_dim, generator=gen) / math.sqrt(proj_dim)
        z = features @ proj
    else:
        z = features.clone()
    z = z.contiguous()
    # A memory-bound loop: more threads only contend (on a shared 2-core box,
    # 2 threads measured 20x slower than 1), so run it single-threaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        per_group = math.ceil(oversample * n / max(groups, 1))
        # Two-level pays only when each chunk keeps a small share of its points.
        if groups < 2 * oversample or per_group * groups >= n_all // 2:
            return _greedy(z, n, gen, progress)
        bounds = np.linspace(0, n_all, groups + 1).astype(np.int64)
        cand = []
        for g in tqdm(range(groups), desc="coreset groups", disable=not progress, leave=False):
            lo, hi = int(bounds[g]), int(bounds[g + 1])
            k = min(per_group, hi - lo)
            cand.append(lo + _greedy(z[lo:hi].contiguous(), k, gen, False))
        union = np.concatenate(cand)
        pick = _greedy(z[torch.from_numpy(union)].contiguous(), n, gen, progress)
        return union[pick]
    finally:
        torch.set_num_threads(threads)


def _greedy(z: torch.Tensor, n: int, gen: torch.Generator, progress: bool) -> np.ndarray:
    N = z.shape[0]
    n = min(n, N)
    sq = (z * z).sum(1)
    mind = torch.full((N,), float("inf"))
    d = torch.empty(N)
    sel = np.empty(n, np.int64)
    idx = int(torch.randint(N, (1,), generator=gen))
    for i in tqdm(range(n), desc="coreset", disable=not progress, leave=False, mininterval=1.0):
        sel[i] = idx
        # d = |z|^2 - 2 z.c + |c|^2, computed in place
        torch.mv(z, z[idx], out=d)
        d.mul_(-2.0).add_(sq).add_(sq[idx])
        torch.minimum(mind, d, out=mind)
        idx = int(torch.argmax(mind))
    return sel
