"""Score normalisation: the squash into (0, 1) (monotone, no ties, torch == numpy) and the norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xrbridge.models import calibrate
from xrbridge.models.calibrate import (
    F32_ABOVE_0,
    F32_BELOW_1,
    LINEAR_HI,
    LINEAR_LO,
    Norm,
    squash,
    squash_torch,
)
from xrbridge.models.exporting import ContractGraph

Z = np.r_[
    -1e6,
    -1e3,
    np.linspace(-50.0, 50.0, 200_001),
    1e3,
    1e4,
]


def test_squash_is_identity_on_the_linear_part() -> None:
    z = np.linspace(LINEAR_LO, LINEAR_HI, 1001)
    np.testing.assert_allclose(squash(z), z, atol=1e-15, rtol=0)


def test_squash_is_strictly_increasing_inside_open_unit_interval() -> None:
    s = squash(Z)
    assert np.all(np.diff(s) > 0)
    assert s.min() > 0.0 and s.max() < 1.0
    # float32 (what the graph returns) resolves 6e-8 below 1, i.e. steps of 6e-6 (z - 0.8)^2
    # in the upper tail: 1e-3 steps stay apart up to 20 spans above the threshold.
    z32 = np.linspace(-20.0, 10.0, 30_001).astype(np.float32)
    s32 = squash_torch(torch.from_numpy(z32)).numpy()
    assert s32.dtype == np.float32
    assert np.all(np.diff(s32) > 0)
    assert s32.min() > 0.0 and s32.max() < 1.0


def test_squash_extremes_stay_inside_the_interval() -> None:
    z = np.array([-np.inf, -3e38, 3e38, np.inf], np.float32)
    s = squash_torch(torch.from_numpy(z)).numpy()
    assert np.all(s >= np.float32(F32_ABOVE_0)) and np.all(s <= np.float32(F32_BELOW_1))
    assert np.all(s > 0.0) and np.all(s < 1.0)
    assert np.all(squash(z.astype(np.float64)) < 1.0)


def test_squash_is_continuous_with_unit_slope_at_the_joins() -> None:
    for x in (LINEAR_LO, LINEAR_HI):
        eps = 1e-7
        lo, mid, hi = squash(np.array([x - eps, x, x + eps]))
        assert mid == pytest.approx(x, abs=1e-12)
        assert (hi - lo) / (2 * eps) == pytest.approx(1.0, abs=1e-5)


def test_squash_torch_matches_numpy() -> None:
    z32 = Z.astype(np.float32)
    t = squash_torch(torch.from_numpy(z32)).numpy()
    n = squash(z32.astype(np.float64))
    np.testing.assert_allclose(t, n, atol=1e-6, rtol=0)


def test_norm_maps_threshold_to_half_and_keeps_order() -> None:
    norm = calibrate.from_good(np.array([0.2, 0.3, 0.45, 0.5]))
    assert norm.apply(np.array([norm.threshold]))[0] == pytest.approx(0.5, abs=1e-12)
    # The good images' minimum was 0.0 under the clip; in the lower tail now (0.01 / 0.2).
    assert norm.apply(np.array([norm.min]))[0] == pytest.approx(0.05, abs=1e-12)
    # Far above the span: the old clip gave 1.0 for all of these (ties); now they keep their order.
    raw = np.array([1.0, 2.0, 5.0, 50.0, 500.0])
    out = norm.apply(raw)
    assert np.all(np.diff(out) > 0) and out.max() < 1.0 and out.min() > 0.9


class _Const(nn.Module):
    """A raw module returning a fixed map and score (raw units)."""

    def __init__(self, amap: torch.Tensor, score: float) -> None:
        super().__init__()
        self.amap, self.score = amap, score

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zero = x[:, :1] * 0.0  # keeps the input in the exported graph
        return self.amap + zero, torch.tensor([self.score]) + zero.reshape(-1)[:1]


@pytest.mark.parametrize("score", [-10.0, 0.0, 0.4, 0.7, 1.0, 3.0, 1e3])
def test_contract_graph_applies_the_numpy_twin(score: float) -> None:
    img, pix = Norm(0.7, 0.1, 1.3), Norm(0.5, 0.0, 0.8)
    amap = torch.linspace(-5.0, 20.0, 64).reshape(1, 1, 8, 8)
    roi = np.ones((8, 8), bool)
    roi[:2] = False
    graph = ContractGraph(_Const(amap, score), img, pix, roi).eval()
    m, s = graph(torch.zeros(1, 3, 8, 8))
    assert float(s[0]) == pytest.approx(float(img.apply(np.array([score]))[0]), abs=1e-6)
    want = pix.apply(amap.numpy()[0, 0]) * roi
    np.testing.assert_allclose(m[0, 0].numpy(), want, atol=1e-6, rtol=0)
    assert float(s[0]) > 0.0 and float(s[0]) < 1.0
    if score == img.threshold:
        assert float(s[0]) == pytest.approx(0.5, abs=1e-6)


def test_contract_graph_onnx_matches_numpy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    from xrbridge.models.exporting import export_onnx

    img, pix = Norm(0.7, 0.1, 1.3), Norm(0.5, 0.0, 0.8)
    amap = torch.linspace(-5.0, 2e3, 64).reshape(1, 1, 8, 8)
    graph = ContractGraph(_Const(amap, 42.0), img, pix, None).eval()
    manifest = {
        "schema": 1,
        "model": "const",
        "backbone": "none",
        "input": {"height": 8, "width": 8},
        "graph_contains": {"gaussian_blur": False, "score_normalization": True, "roi_mask": False},
        "roi": {"applied": False},
        "score_normalization": {"method": "test", "image": img.as_dict(), "pixel": pix.as_dict()},
    }
    path = tmp_path / "g.onnx"
    export_onnx(graph, path, 8, 8, manifest)
    assert manifest["score_normalization"]["curve"] == "squash"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    m, s = sess.run(None, {"image": np.zeros((1, 3, 8, 8), np.float32)})
    np.testing.assert_allclose(m[0, 0], pix.apply(amap.numpy()[0, 0]), atol=1e-6, rtol=0)
    assert float(s[0]) == pytest.approx(float(img.apply(np.array([42.0]))[0]), abs=1e-6)
    assert len(np.unique(m)) == m.size  # no ties, even 2000 spans above the threshold


def test_degenerate_spans_are_floored() -> None:
    """Nearly equal held-out scores: the span is at least 1 % of the threshold each side."""
    norm = calibrate.from_good(np.array([0.4674806, 0.4674854]))
    assert norm.threshold == pytest.approx(0.4674854)
    assert norm.max - norm.threshold == pytest.approx(0.01 * 0.4674854)
    assert norm.threshold - norm.min == pytest.approx(0.01 * 0.4674854)
    wide = calibrate.from_good(np.array([0.1, 0.5]))
    assert (wide.min, wide.max) == pytest.approx((0.1, 0.9))  # unchanged when wide enough
    lab = calibrate.from_labelled(np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([0, 1]))
    assert lab.max - lab.min >= 2 * 0.01 * abs(lab.threshold) - 1e-12
