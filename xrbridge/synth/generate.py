"""``synth`` over a category: good images in, defective images + masks out.

    OUT/train/good/*            copied from CAT/train/good
    OUT/test/good/*             copied from CAT/test/good
    OUT/test/<type>/<stem>.png  defective images
    OUT/ground_truth/<type>/<stem>_mask.png   255 = defect
    OUT/roi.png                 copied from CAT/roi.png when present
    OUT/paths.json              the tracks used (the paths-file format)
    OUT/labels.json             per image: split, category, source, defects

Defects are drawn on CAT/test/good (the images the model does not train on);
a category without test/good lends a quarter of train/good, which then moves
to OUT/test/good.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.errors import DatasetError, ImageError, InputError, UsageError
from xrbridge.names import DEFECTS, check_name
from xrbridge.synth.blend import light_direction
from xrbridge.synth.camera import JpegFit, estimate_jpeg
from xrbridge.synth.defects import render_defect
from xrbridge.synth.detect import DetectConfig, detect_tracks, tracks_from_roi
from xrbridge.synth.plan import SIZES, plan_image
from xrbridge.synth.tracks import (
    Sampled,
    Track,
    check_inside,
    load_paths,
    paths_doc,
    refine,
    sample,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """One ``synth`` run. ``count``: defective images to write (default: one per
    base image and type). ``per_image``: defects per image (same type).
    ``size``: one size class or None for all three in turn. ``sealant``:
    'auto' (paths file, else ROI, else detection), 'paths', 'roi' or 'detect'."""

    data: Path
    out: Path
    types: tuple[str, ...] = DEFECTS
    per_image: int = 1
    size: str | None = None
    count: int | None = None
    seed: int = 0
    paths: Path | None = None
    sealant: str = "auto"
    preview: Path | None = None
    progress: bool = False
    detect: DetectConfig = field(default_factory=DetectConfig)

    def __post_init__(self) -> None:
        for t in self.types:
            check_name("defect type", t, DEFECTS)
        if not self.types:
            raise UsageError("--types needs at least one defect type")
        if self.size is not None:
            check_name("size class", self.size, SIZES)
        if self.per_image < 1:
            raise UsageError(f"--per-image must be >= 1, got {self.per_image}")
        if self.count is not None and self.count < 1:
            raise UsageError(f"--count must be >= 1, got {self.count}")
        if self.seed < 0:
            raise UsageError(f"--seed must be >= 0, got {self.seed}")
        check_name("sealant source", self.sealant, ("auto", "paths", "roi", "detect"))


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"cannot read image {path}: expected a PNG/JPG file")
    return img


def _split(data: Path, seed: int) -> tuple[list[Path], list[Path]]:
    """(train/good images, base images for defects = the test/good images)."""
    train = _images(data / "train" / "good")
    test = _images(data / "test" / "good")
    if not train and not test:
        raise DatasetError(
            f"{data} has no good images: provide PNG/JPG files under "
            f"{data}/train/good (and/or {data}/test/good)"
        )
    if test:
        return train, test
    if len(train) < 2:
        return [], train
    rng = np.random.default_rng([seed, 99])
    order = rng.permutation(len(train))
    n_test = max(1, len(train) // 4)
    held = {int(i) for i in order[:n_test]}
    return (
        [p for i, p in enumerate(train) if i not in held],
        [p for i, p in enumerate(train) if i in held],
    )


class TrackSource:
    """Where the sealant is, per image: paths file, ROI mask or detection."""

    def __init__(self, cfg: SynthConfig, first: np.ndarray) -> None:
        H, W = first.shape[:2]
        self.kind = ""
        self.fixed: list[Track] | None = None
        paths = cfg.paths or (
            cfg.data / "paths.json" if (cfg.data / "paths.json").is_file() else None
        )
        roi_path = cfg.data / "roi.png"
        self.detect = cfg.detect
        if cfg.sealant in ("auto", "paths") and paths is not None:
            tracks = load_paths(paths)
            check_inside(tracks, W, H, f"paths file {paths}")
            self.kind, self.fixed = "paths", tracks
        elif cfg.sealant == "paths":
            raise InputError(
                f"no paths file: provide --paths FILE or {cfg.data}/paths.json "
                "(format: docs/synth.md)"
            )
        elif cfg.sealant in ("auto", "roi") and roi_path.is_file():
            roi = cv2.imread(str(roi_path), cv2.IMREAD_GRAYSCALE)
            if roi is None or roi.shape != (H, W):
                got = "unreadable" if roi is None else f"{roi.shape[1]}x{roi.shape[0]}"
                raise InputError(f"{roi_path}: expected a {W}x{H} mask like the images, got {got}")
            tracks = tracks_from_roi(first, roi, cfg.detect)
            if not tracks:
                raise InputError(
                    f"{roi_path} holds no bead-shaped area: provide --paths FILE "
                    "(format: docs/synth.md)"
                )
            self.kind, self.fixed = "roi", tracks
        elif cfg.sealant == "roi":
            raise InputError(f"no ROI mask: provide {roi_path} (255 = sealant) or --paths FILE")
        else:
            self.kind = "detect"

    def tracks(self, image: np.ndarray, where: str) -> list[Track]:
        if self.fixed is not None:
            return self.fixed
        tracks, _ = detect_tracks(image, None, self.detect)
        if not tracks:
            raise InputError(
                f"no sealant bead found in {where}: provide --paths FILE (polylines "
                "with bead widths, docs/synth.md) or a CAT/roi.png mask"
            )
        return tracks


def _copy(paths: list[Path], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for p in paths:
        shutil.copyfile(p, dst / p.name)


def synthesize(cfg: SynthConfig) -> dict[str, Any]:
    """Write the defective data set (layout in the module docstring); returns a
    JSON-able summary. Raises DatasetError (no good images), InputError (no
    sealant found, paths outside the images), UsageError (bad options)."""
    from tqdm import tqdm

    t_start = time.perf_counter()
    data, out = Path(cfg.data), Path(cfg.out)
    if not data.is_dir():
        raise DatasetError(
            f"--data {data} is not a folder: expected a category in the MVTec "
            "layout (CAT/train/good/*.png)"
        )
    if out.resolve() == data.resolve() or data.resolve() in out.resolve().parents:
        raise UsageError(f"--out {out} must lie outside --data {data}")
    train, bases = _split(data, cfg.seed)
    first = read_image(bases[0])
    H, W = first.shape[:2]
    source = TrackSource(cfg, first)

    if out.exists():
        for sub in ("train", "test", "ground_truth"):
            shutil.rmtree(out / sub, ignore_errors=True)
    _copy(train, out / "train" / "good")
    _copy(bases, out / "test" / "good")
    for t in cfg.types:
        (out / "test" / t).mkdir(parents=True, exist_ok=True)
        (out / "ground_truth" / t).mkdir(parents=True, exist_ok=True)
    if (data / "roi.png").is_file():
        shutil.copyfile(data / "roi.png", out / "roi.png")

    count = cfg.count if cfg.count is not None else len(bases) * len(cfg.types)
    order = np.random.default_rng([cfg.seed, 0]).permutation(len(bases))
    labels: dict[str, dict[str, Any]] = {}
    for p in train:
        labels[p.stem] = {"split": "train", "category": "good"}
    for p in bases:
        labels[p.stem] = {"split": "test", "category": "good"}
    cache: dict[int, tuple[np.ndarray, list[Track], list[Sampled], np.ndarray, JpegFit | None]] = {}
    previews: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
    skipped = 0
    bar = tqdm(
        range(count),
        desc="synth",
        unit="img",
        disable=not cfg.progress,
        file=sys.stderr,
        leave=False,
    )
    for i in bar:
        typ = cfg.types[i % len(cfg.types)]
        # this type's j-th image: each type visits the sizes and the regions in turn
        # on its own (counting images of all types would alias whenever the number
        # of regions shares a factor with the number of types: with 5 and 5, every
        # hole landed in one region); all sizes in one region before the next
        j = i // len(cfg.types)
        size = cfg.size or SIZES[j % len(SIZES)]
        turn = j if cfg.size else j // len(SIZES)
        bi = int(order[i % len(bases)])
        if bi not in cache:
            if len(cache) > 8:
                cache.clear()
            img = first if bi == 0 else read_image(bases[bi])
            if img.shape[:2] != (H, W):
                raise ImageError(
                    f"{bases[bi]}: expected {W}x{H} like {bases[0].name}, "
                    f"got {img.shape[1]}x{img.shape[0]}"
                )
            tracks = source.tracks(img, str(bases[bi]))
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
            sampled = [refine(sample(t), t.width, gray) for t in tracks]
            light = light_direction(
                img, [(s.p, s.n, t.width / 2) for s, t in zip(sampled, tracks, strict=True)]
            )
            cache[bi] = (img, tracks, sampled, light, estimate_jpeg(img))
        img, tracks, sampled, light, jpeg = cache[bi]
        rng = np.random.default_rng([cfg.seed, 1, i])
        slots = plan_image(turn, typ, size, cfg.per_image, tracks, sampled, rng)
        if not slots:
            skipped += 1
            continue
        cur = img
        mask = np.zeros((H, W), np.uint8)
        defects = []
        for slot in slots:
            cur, m = render_defect(
                cur, sampled[slot.track], tracks[slot.track].width, slot.params, rng, light, jpeg
            )
            ys, xs = np.nonzero(m)
            defects.append(
                slot.params.to_dict()
                | {
                    "area_px": len(xs),
                    "bbox": [
                        int(xs.min()),
                        int(ys.min()),
                        int(np.ptp(xs)) + 1,
                        int(np.ptp(ys)) + 1,
                    ],
                }
            )
            mask = np.maximum(mask, m)
        stem = f"{i:04d}_{bases[bi].stem}"
        cv2.imwrite(str(out / "test" / typ / f"{stem}.png"), cur)
        cv2.imwrite(str(out / "ground_truth" / typ / f"{stem}_mask.png"), mask)
        labels[stem] = {
            "split": "test",
            "category": typ,
            "source": str(bases[bi].relative_to(data)),
            "area_ratio": round(float((mask > 0).mean()), 6),
            # the source's estimated JPEG step, re-applied to the drawn patches
            "jpeg": None if jpeg is None else {"quality": jpeg.quality, "grid": list(jpeg.phase)},
            "defects": defects,
        }
        if cfg.preview is not None and sum(1 for v in previews if v[3] == typ) < 1:
            previews.append((img, cur, mask, typ))
    bar.close()
    ref_tracks = source.fixed if source.fixed is not None else cache[next(iter(cache))][1]
    (out / "paths.json").write_text(json.dumps(paths_doc(ref_tracks, (W, H)), indent=1) + "\n")
    (out / "labels.json").write_text(
        json.dumps(
            {
                "version": 1,
                "sealant": source.kind,
                "seed": cfg.seed,
                "images": dict(sorted(labels.items())),
            },
            indent=1,
        )
        + "\n"
    )
    if cfg.preview is not None and previews:
        from xrbridge.synth.preview import preview_grid

        cfg.preview.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(cfg.preview), preview_grid(previews))
    seconds = time.perf_counter() - t_start
    written = count - skipped
    return {
        "out": str(out),
        "sealant": source.kind,
        "tracks": len(ref_tracks),
        "defective_images": written,
        "skipped": skipped,
        "train_good": len(train),
        "test_good": len(bases),
        "image_size": [W, H],
        "seconds": round(seconds, 2),
        "images_per_s": round(written / max(seconds, 1e-9), 2),
    }
