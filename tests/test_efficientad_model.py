"""EfficientAD networks, losses and map normalisation (no training, no data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrbridge.errors import UsageError
from xrbridge.models import textures
from xrbridge.models.backbones import build_backbone
from xrbridge.models.efficientad import anomaly_map as amap
from xrbridge.models.efficientad.model import (
    TARGET_OFFSET,
    AutoEncoder,
    BackboneTeacher,
    DistillTarget,
    EfficientADConfig,
    EfficientADModel,
    build_pdn,
    pdn_output_size,
)
from xrbridge.models.efficientad.train import colour_jitter, hard_feature_loss


@pytest.mark.parametrize(
    ("size", "convs", "hw", "out"),
    [("s", 4, (256, 256), (56, 56)), ("m", 6, (256, 256), (56, 56)), ("s", 4, (96, 128), (16, 24))],
)
def test_pdn_output_grid_and_depth(
    size: str, convs: int, hw: tuple[int, int], out: tuple[int, int]
) -> None:
    net = build_pdn(size, 8, width=0.0625)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net) == convs
    with torch.no_grad():
        y = net(torch.zeros(1, 3, *hw))
    assert tuple(y.shape) == (1, 8, *out) == (1, 8, *pdn_output_size(*hw))


def test_pdn_paper_widths() -> None:
    s, m = build_pdn("s", 384), build_pdn("m", 384)
    assert [c.out_channels for c in s if isinstance(c, torch.nn.Conv2d)] == [128, 256, 256, 384]
    assert [c.out_channels for c in m if isinstance(c, torch.nn.Conv2d)] == [
        256,
        512,
        512,
        512,
        384,
        384,
    ]


def test_pdn_crop_equivariance() -> None:
    """A crop at a multiple of 4 gives exactly the matching window of the full output (training crops)."""
    torch.manual_seed(0)
    net = build_pdn("s", 6, width=0.0625).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        full = net(x)
        part = net(x[:, :, 16 : 16 + 48, 8 : 8 + 48])
    assert part.shape[-2:] == (4, 4)
    torch.testing.assert_close(part, full[:, :, 4:8, 2:6], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("hw", [(256, 256), (64, 96)])
def test_autoencoder_matches_teacher_grid(hw: tuple[int, int]) -> None:
    ae = AutoEncoder(5, *hw, latent=8)
    with torch.no_grad():
        y = ae(torch.zeros(2, 3, *hw))
    assert tuple(y.shape) == (2, 5, *pdn_output_size(*hw))


def test_model_forward_shape_and_student_channels() -> None:
    cfg = EfficientADConfig(size="s", channels=8, width=0.0625, height=64, width_px=96)
    model = EfficientADModel(cfg).eval()
    assert model.student[-1].out_channels == 16
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 96))
        st, ae = model.raw_maps(torch.zeros(1, 3, 64, 96))
    assert tuple(out.shape) == (1, 1, 64, 96)
    assert tuple(st.shape) == tuple(ae.shape) == (1, 1, *cfg.map_size)


@pytest.mark.parametrize("bad", [dict(size="l"), dict(height=100), dict(width_px=32)])
def test_config_rejects_bad_shapes(bad: dict) -> None:
    with pytest.raises(UsageError):
        EfficientADConfig(**bad)


def test_quantile_normalisation_maps_quantiles_to_0_and_0p1() -> None:
    rng = np.random.default_rng(0)
    maps = torch.from_numpy(rng.gamma(2.0, 1.0, (5, 1, 20, 20)).astype(np.float32))
    q = amap.map_quantiles(maps)
    ref = np.quantile(maps.numpy(), [amap.Q_START, amap.Q_END])
    np.testing.assert_allclose(q.numpy(), ref, rtol=1e-5)
    norm = amap.quantile_normalise(maps, q)
    got = np.quantile(norm.numpy(), [amap.Q_START, amap.Q_END])
    np.testing.assert_allclose(got, [0.0, amap.Q_SCALE], atol=1e-5)


def test_fusion_and_input_grid() -> None:
    a, b = torch.full((1, 1, 8, 8), 0.2), torch.full((1, 1, 8, 8), 0.0)
    fused = amap.fuse(a, b)
    assert torch.allclose(fused, torch.full_like(fused, 0.1))
    big = amap.to_input_grid(fused, (64, 64))
    assert tuple(big.shape) == (1, 1, 64, 64)
    assert float(big[0, 0, 32, 32]) == pytest.approx(0.1)  # inside the described region
    assert float(big[0, 0, 0, 0]) == pytest.approx(0.1)  # the border repeats the edge


def test_hard_feature_loss_keeps_only_the_top_permille() -> None:
    d = torch.zeros(10_000)
    d[:10] = 5.0  # 0.1 % of the values
    assert float(hard_feature_loss(d)) == pytest.approx(5.0)
    d[:20] = torch.linspace(10, 1, 20)
    assert float(hard_feature_loss(d)) == pytest.approx(
        float(torch.linspace(10, 1, 20)[:10].mean())
    )


def test_colour_jitter_keeps_range_and_shape() -> None:
    rng = np.random.default_rng(1)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for _ in range(5):
        y = colour_jitter(x, rng)
        assert y.shape == x.shape
        assert float(y.min()) >= -1.0 and float(y.max()) <= 1.0


@pytest.mark.parametrize("kind", [*textures.KINDS, None])
def test_textures_are_seeded_images(kind: str | None) -> None:
    a = textures.random_texture(np.random.default_rng(3), 40, 56, kind)
    b = textures.random_texture(np.random.default_rng(3), 40, 56, kind)
    assert a.shape == (40, 56, 3) and a.dtype == np.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    np.testing.assert_array_equal(a, b)
    assert float(a.std()) > 0.01  # not a flat image


def test_texture_unknown_kind() -> None:
    with pytest.raises(ValueError, match="texture kind must be one of"):
        textures.random_texture(np.random.default_rng(0), 8, 8, "marble")


def test_backbone_teacher_is_the_target_on_the_pdn_grid() -> None:
    """The PCA of 3x3 neighbourhoods as a 3x3 convolution: same features, PDN grid."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 96, 128) * 0.5
    target = DistillTarget(build_backbone("efficientnet-lite0", ("s8", "s16")), 64)
    target.fit(x, np.random.default_rng(0), samples=1000)
    teacher = BackboneTeacher(target)
    hm, wm = pdn_output_size(96, 128)
    want = target(x, (TARGET_OFFSET, TARGET_OFFSET, hm, wm))
    got = teacher(x)
    assert got.shape == (2, 64, hm, wm) == want.shape
    assert float((got - want).abs().max()) < 1e-4 * float(want.abs().max())
    assert not any(p.requires_grad for p in teacher.parameters())


def test_backbone_teacher_needs_a_fitted_target() -> None:
    target = DistillTarget(build_backbone("efficientnet-lite0", ("s8", "s16")), 64)
    with pytest.raises(RuntimeError, match="fit"):
        BackboneTeacher(target)
