"""The flow every anomaly model shares: data -> fit -> calibrate -> export.

A model is a folder ``xrbridge/models/<name>/`` with the same files:

    model.py        the torch modules
    train.py        the trainer class implementing :class:`Trainer` (fit on good images)
    options.py      a frozen dataclass of its settings (``xrbridge.models.options``);
                    ``xrbridge train`` builds the model's flags from it
    anomaly_map.py  raw scores -> smoothed anomaly map and image score
    export.py       the raw inference module that goes into the ONNX graph
    README.md       what it does, its options, its numbers

and registers trainer and options in :data:`REGISTRY` by name (``xrbridge.names.MODELS``).
Shared pieces live beside the folders: ``features`` (locally aware backbone
features), ``blur``, ``calibrate``, ``quantize`` (int8), ``textures``.
:func:`train` does the rest the same way for all of them: loads train/good
(mixed channels/sizes handled, corrupt images skipped), splits off held-out
good images, applies the ROI to the input, fits, calibrates the score
normalisation (held-out good + optional validation set with defects), wraps
the raw module into the contract graph (normalisation + ROI mask), exports
ONNX, writes the manifest and checks that ONNX Runtime reproduces PyTorch.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from xrbridge.errors import DatasetError, UnknownNameError, UsageError
from xrbridge.names import BACKBONES, MODELS, check_name


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One registry line: the trainer class and the options dataclass, as "module:Name".

    The options module must import without torch (``xrbridge train --help`` reads it).
    """

    trainer: str
    options: str


#: Model name -> its trainer and options (imported lazily; torch only when training).
#: Adding a model: one folder ``xrbridge/models/<name>/`` and one line here.
REGISTRY: dict[str, ModelSpec] = {
    "patchcore": ModelSpec(
        "xrbridge.models.patchcore.train:PatchCoreTrainer",
        "xrbridge.models.patchcore.options:PatchCoreOptions",
    ),
    "efficientad-s": ModelSpec(
        "xrbridge.models.efficientad.train:EfficientADSTrainer",
        "xrbridge.models.efficientad.options:EfficientADOptions",
    ),
    "efficientad-m": ModelSpec(
        "xrbridge.models.efficientad.train:EfficientADMTrainer",
        "xrbridge.models.efficientad.options:EfficientADOptions",
    ),
    "simplenet": ModelSpec(
        "xrbridge.models.simplenet.train:SimpleNetTrainer",
        "xrbridge.models.simplenet.options:SimpleNetOptions",
    ),
    "memseg": ModelSpec(
        "xrbridge.models.memseg.train:MemSegTrainer", "xrbridge.models.memseg.options:MemSegOptions"
    ),
}


def _load(target: str) -> Any:
    mod_name, cls_name = target.split(":")
    return getattr(importlib.import_module(mod_name), cls_name)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything ``xrbridge train`` needs. ``options`` holds model-specific settings.

    ``image_size`` is (height, width); None = :func:`auto_size` of the training images. ``roi``: a mask file, or None to use the
    category's roi.png when present, or the string "none" to train without ROI.
    ``holdout``: fraction of train/good kept out of fitting for calibration, chosen by
    ``holdout_choice`` (``xrbridge.models.data.choose_holdout``: "strata", "kcentre", "random").
    """

    model: str
    data: Path
    out: Path
    roi: Path | str | None = None
    backbone: str = "efficientnet-lite0"
    image_size: tuple[int, int] | None = None
    steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    holdout: float = 0.1
    holdout_choice: str = "strata"
    val: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True


@dataclass(frozen=True, slots=True)
class FitContext:
    """What a trainer's ``fit`` gets: normalised, ROI-masked images (N,3,H,W) float32."""

    images: np.ndarray
    roi: np.ndarray | None
    config: TrainConfig


@runtime_checkable
class Trainer(Protocol):
    """What every model implements. ``raw_module`` maps (1,3,H,W) -> (raw map (1,1,H,W), raw score (1,))."""

    name: str

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        """Learn from good images; returns facts for ``manifest.training``."""
        ...

    def raw_module(self) -> Any:
        """The torch module (eval mode) exported into the graph; smoothed raw map + raw score."""
        ...

    def manifest_extra(self) -> dict[str, Any]:
        """Model-specific manifest keys (e.g. {"patchcore": {...}})."""
        ...

    # Optional: ``adapt(ctx) -> dict`` where ``ctx.images`` are the held-out images;
    # called before calibration, to fit statistics of good images the model did not
    # learn from (PatchCore: per-position score normalisation).
    # Optional: ``refit(ctx) -> dict`` where ``ctx.images`` are the held-out images;
    # called after calibration to learn from them too (see :func:`train`).
    # Optional: ``input_size(base, paths) -> ((h, w), rule)``: without --image-size, the
    # model may enlarge the auto size ``base`` for the training images ``paths``
    # (PatchCore: tiles for large images).


def available_models() -> tuple[str, ...]:
    return tuple(m for m in MODELS if m in REGISTRY)


def get_trainer(name: str, config: TrainConfig) -> Trainer:
    """Instantiate the trainer registered as ``name``.

    Raises:
        UnknownNameError: not a model name, or one not built yet (lists the available ones).
    """
    check_name("model", name, MODELS)
    if name not in REGISTRY:
        raise UnknownNameError(
            f"model {name!r} is not implemented yet; available: {', '.join(available_models())}"
        )
    trainer: Trainer = _load(REGISTRY[name].trainer)(config)
    return trainer


def options_class(name: str) -> type:
    """The options dataclass of model ``name`` (no torch import)."""
    check_name("model", name, MODELS)
    if name not in REGISTRY:
        raise UnknownNameError(
            f"model {name!r} is not implemented yet; available: {', '.join(available_models())}"
        )
    cls: type = _load(REGISTRY[name].options)
    return cls


def register(name: str, trainer: str, options: str) -> None:
    """Register a model (a name in xrbridge.names.MODELS): trainer and options as "module:Class"."""
    check_name("model", name, MODELS)
    REGISTRY[name] = ModelSpec(trainer, options)


def split_holdout(paths: list[Path], fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Seeded split of train/good into (fit, held-out): ``choose_holdout``'s "random" on paths."""
    from xrbridge.models.data import random_split

    fit, hold = random_split(len(paths), fraction, seed)
    return [paths[i] for i in fit], [paths[i] for i in hold]


#: auto_size: the short side of the model input.
AUTO_SHORT_SIDE = 256
#: auto_size: aspect ratios (long / short) below this stay square.
AUTO_MIN_ASPECT = 1.4
#: auto_size: the long side is at most this many times the short side.
AUTO_MAX_ASPECT = 4.0


def auto_size(paths: list[Path], sample: int = 24) -> tuple[tuple[int, int], str]:
    """Model input (height, width) for images like ``paths`` and the rule that chose it.

    256 x 256 unless the images share one elongated shape: when the middle half of
    the sampled aspect ratios (width / height) lies within 25 % and their median is
    at least 1.4 : 1 either way, the short side is 256 and the long side keeps the
    aspect ratio (a multiple of 32, at most 4 x 256): a 1:2.5 part becomes 640 x 256
    instead of being squashed into a square, so that thin defects keep their width.
    Mixed shapes (magnetic_tile: 0.4 to 2.6) stay square.
    """
    from xrbridge.models.data import sample_shapes

    ratios = [w / h for h, w in sample_shapes(paths, sample)]
    side = AUTO_SHORT_SIDE
    if not ratios:
        return (side, side), "square (no readable image)"
    q1, med, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    long_ = max(med, 1 / med)
    if q3 / q1 > 1.25 or long_ < AUTO_MIN_ASPECT:
        return (side, side), f"square (median aspect {med:.2f}, quartiles {q1:.2f}-{q3:.2f})"
    n = int(min(round(side * min(long_, AUTO_MAX_ASPECT) / 32), AUTO_MAX_ASPECT * side / 32)) * 32
    size = (side, n) if med > 1 else (n, side)
    return size, f"aspect kept (median aspect {med:.2f}): short side {side}"


def resolve_roi(config: TrainConfig, category_roi: Path | None) -> Path | None:
    """The ROI file to use: --roi, else the category's roi.png, never with --roi none."""
    if isinstance(config.roi, str) and config.roi.lower() == "none":
        return None
    if config.roi is not None:
        p = Path(config.roi)
        if not p.is_file():
            raise UsageError(f"--roi {p}: no such file")
        return p
    return category_roi


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`train` produced: the manifest written and the exported torch graph (eval mode)."""

    manifest: dict[str, Any]
    graph: Any


def train(config: TrainConfig) -> TrainResult:
    """Run the whole flow; returns the manifest written to ``config.out`` and the torch graph.

    Raises:
        DatasetError, UsageError, UnknownNameError: bad data or settings.
    """
    from xrbridge.models import artifact, calibrate
    from xrbridge.models.data import (
        HOLDOUT_CHOICES,
        choose_holdout,
        load_category,
        load_images,
        read_roi,
    )
    from xrbridge.models.preprocess import MEAN, RESIZE, STD, resize_mask

    check_name("backbone", config.backbone, BACKBONES)
    cat = load_category(config.data)
    size_rule = "given"
    if config.image_size is None:
        size, size_rule = auto_size(list(cat.train))
        config = replace(config, image_size=size)
    trainer = get_trainer(config.model, config)
    input_size = getattr(trainer, "input_size", None)
    if size_rule != "given" and callable(input_size):
        assert config.image_size is not None
        size, rule = input_size(config.image_size, list(cat.train))
        config = replace(config, image_size=(int(size[0]), int(size[1])))
        size_rule = f"{size_rule}; {rule}"
    assert config.image_size is not None
    h, w = config.image_size
    if h % 32 or w % 32 or h < 64 or w < 64:
        raise UsageError(f"--image-size must be multiples of 32 and >= 64, got {h}x{w}")
    import torch

    torch.manual_seed(config.seed)
    roi_path = resolve_roi(config, cat.roi)
    roi = resize_mask(read_roi(roi_path), h, w) if roi_path else None
    if config.holdout_choice not in HOLDOUT_CHOICES:
        raise UsageError(
            f"holdout choice must be one of {', '.join(HOLDOUT_CHOICES)}, got {config.holdout_choice!r}"
        )
    if len(cat.train) < 2:
        raise DatasetError(
            f"need at least 2 good training images (fit + calibration), got {len(cat.train)}"
        )
    t0 = time.perf_counter()
    all_x, all_kept = load_images(list(cat.train), h, w, roi)
    if len(all_kept) < 2:
        raise DatasetError(
            f"{cat.root}: too few readable train/good images ({len(all_kept)} of {len(cat.train)})"
        )
    fit_i, hold_i = choose_holdout(all_x, config.holdout, config.seed, config.holdout_choice)
    fit_x, hold_x = all_x[fit_i], all_x[hold_i]
    del all_x
    fit_kept, hold_kept = [all_kept[i] for i in fit_i], [all_kept[i] for i in hold_i]
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    info = trainer.fit(FitContext(fit_x, roi, config))
    adapt = getattr(trainer, "adapt", None)
    if callable(adapt):
        info = {**info, **adapt(FitContext(hold_x, roi, config))}
    t_fit = time.perf_counter() - t0
    raw = trainer.raw_module()

    good_maps, good_scores = run_raw(raw, hold_x, config.device)
    val_info: dict[str, Any] = {"images": 0}
    if config.val is not None:
        img_norm, pix_norm, val_info = _calibrate_with_val(
            raw, config, good_maps, good_scores, roi, h, w
        )
        method = "val-f1"
    else:
        img_norm = calibrate.from_good(good_scores)
        pix_norm = calibrate.from_good(calibrate.pixel_sample(good_maps, roi, seed=config.seed))
        method = "heldout-good"

    refit = getattr(trainer, "refit", None)
    if callable(refit):
        # Optional hook: after calibrating on images it did not see, a model may refit
        # on ALL good images (PatchCore: the bank then covers the held-out ones too).
        # The calibration stays; normal scores can only drop, so it errs on the safe side.
        t0 = time.perf_counter()
        info = {**info, **refit(FitContext(hold_x, roi, config))}
        t_fit += time.perf_counter() - t0
        raw = trainer.raw_module()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    roi_rec: dict[str, Any] = {"applied": roi is not None, "file": None}
    if roi_path is not None:
        shutil.copyfile(roi_path, out / artifact.ROI_FILE)
        roi_rec = {"applied": True, "file": artifact.ROI_FILE, "source": str(roi_path)}
    manifest: dict[str, Any] = {
        "schema": artifact.SCHEMA,
        "model": config.model,
        "backbone": config.backbone,
        "category": cat.root.name,
        "input": {
            "height": h,
            "width": w,
            "size_rule": size_rule,
            "color": "rgb",
            "mean": list(MEAN),
            "std": list(STD),
            "resize": RESIZE,
            "masked_value": -1.0,
        },
        "outputs": {"anomaly_map": [1, 1, h, w], "pred_score": [1]},
        "graph_contains": {
            "gaussian_blur": True,
            "score_normalization": True,
            "roi_mask": roi is not None,
        },
        "score_normalization": {
            "method": method,
            "image": img_norm.as_dict(),
            "pixel": pix_norm.as_dict(),
        },
        "thresholds": {"image": 0.5, "pixel": 0.5},
        "roi": roi_rec,
        "training": {
            "images": len(fit_kept),
            "heldout_images": len(hold_kept),
            "heldout_choice": config.holdout_choice,
            "fingerprint": artifact.fingerprint(list(fit_kept) + list(hold_kept)),
            "steps": config.steps,
            "seed": config.seed,
            "seconds": round(t_fit, 3),
            "load_seconds": round(t_load, 3),
            "device": config.device,
            "validation": val_info,
            **info,
        },
        "versions": artifact.versions(),
        **trainer.manifest_extra(),
    }
    from xrbridge.models.exporting import ContractGraph, export_onnx

    graph = ContractGraph(raw, img_norm, pix_norm, roi).eval()
    export_onnx(graph, out / artifact.ONNX_FILE, h, w, manifest)
    # A mirrored held-out image: not in any memory bank (an exact bank member sits at
    # distance ~0, where sqrt magnifies float rounding), yet a realistic input.
    diff = _onnx_agreement(graph, out, manifest, np.ascontiguousarray(hold_x[:1, :, :, ::-1]))
    manifest["training"]["onnx_max_abs_diff"] = diff
    artifact.write_manifest(out, manifest)
    return TrainResult(manifest, graph)


def run_raw(
    raw: Any, images: np.ndarray, device: str = "cpu", batch: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Raw module over (N,3,H,W) -> ((N,H,W) raw maps, (N,) raw scores)."""
    import torch

    maps, scores = [], []
    with torch.inference_mode():
        for i in range(len(images)):
            m, s = raw(torch.from_numpy(images[i : i + 1]).to(device))
            maps.append(m[0, 0].cpu().numpy())
            scores.append(float(s[0]))
    return np.stack(maps), np.asarray(scores)


def _calibrate_with_val(
    raw: Any,
    config: TrainConfig,
    good_maps: np.ndarray,
    good_scores: np.ndarray,
    roi: np.ndarray | None,
    h: int,
    w: int,
) -> tuple[Any, Any, dict[str, Any]]:
    from xrbridge.models import calibrate
    from xrbridge.models.data import load_category, load_images, load_mask

    assert config.val is not None
    vcat = load_category(config.val) if (Path(config.val) / "train").is_dir() else None
    items = list(vcat.test) if vcat else _val_items(Path(config.val))
    if not items:
        raise DatasetError(f"--val {config.val}: no test images found (expected test/<defect>/*)")
    x, kept = load_images([it.path for it in items], h, w, roi)
    by_path = {it.path: it for it in items}
    masks = np.stack([load_mask(by_path[p], h, w) for p in kept])
    labels = np.array([by_path[p].defect != "good" for p in kept])
    maps, scores = run_raw(raw, x, config.device)
    img = calibrate.from_labelled(good_scores, scores, labels)
    sel = roi if roi is not None else np.ones((h, w), bool)
    rng = np.random.default_rng(config.seed)
    vals, labs = maps[:, sel].ravel(), masks[:, sel].ravel()
    if vals.size > 2_000_000:
        idx = rng.choice(vals.size, 2_000_000, replace=False)
        vals, labs = vals[idx], labs[idx]
    pix = calibrate.from_labelled(
        calibrate.pixel_sample(good_maps, roi, seed=config.seed), vals, labs
    )
    return img, pix, {"images": len(kept), "defective": int(labels.sum()), "dir": str(config.val)}


def _val_items(root: Path) -> list[Any]:
    from xrbridge.models.data import TestItem, _images

    test = root / "test" if (root / "test").is_dir() else root
    items = []
    for d in sorted(p for p in test.iterdir() if p.is_dir()):
        for img in _images(d):
            m = root / "ground_truth" / d.name / f"{img.stem}_mask.png"
            items.append(TestItem(img, d.name, m if m.is_file() else None))
    return items


def _onnx_agreement(graph: Any, out: Path, manifest: dict[str, Any], x: np.ndarray) -> float:
    """Max |torch - onnxruntime| over map and score on one image (recorded in the manifest)."""
    import onnxruntime as ort
    import torch

    from xrbridge.models.artifact import INPUT_NAME, ONNX_FILE, OUTPUT_NAMES

    sess = ort.InferenceSession(str(out / ONNX_FILE), providers=["CPUExecutionProvider"])
    om, os_ = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
    with torch.inference_mode():
        tm, ts = graph(torch.from_numpy(x))
    return float(max(np.abs(om - tm.numpy()).max(), np.abs(os_ - ts.numpy()).max()))
