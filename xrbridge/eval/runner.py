"""Run one model over a category's test split, streaming.

Only one image is in memory at a time: per image the runner keeps one
:class:`ImageRecord` (a few numbers) and adds the anomaly map to the
:class:`~xrbridge.eval.histogram.PixelAccumulator` (fixed size), so memory
does not grow with the size of the test set beyond the records.

Resolution: pixel metrics are computed at the *mask's* resolution (the
image's own size): the model's map (model input size) is resized to it with
bilinear interpolation, as the paper does ("at the chosen evaluation
granularity").

ROI: with an evaluation ROI (``--roi`` or the category's ``roi.png``), the
input image is blacked out outside the ROI before the model (the same value
the models' own ROI masking uses) and the map is set to 0 there; every pixel
still counts in the pixel metrics, as in the paper. A model whose manifest
says ``roi.applied`` masks its own input and map in addition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from xrbridge.errors import ModelError
from xrbridge.eval.dataset import LoadedSample, Sample, load
from xrbridge.eval.histogram import DEFAULT_BINS, PixelAccumulator
from xrbridge.eval.metrics import area_ratio


class Predictor(Protocol):
    """What the runner needs of a model (``xrbridge.models.runtime.OnnxModel`` is one)."""

    manifest: dict[str, Any]

    def predict(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]: ...


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """The per-image outcome: ``score`` is ``pred_score``; area_ratio by eq. 14."""

    path: str
    defect: str
    label: bool
    score: float
    area_ratio: float
    map_max: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything the metrics and the report need from one pass over the test set."""

    records: tuple[ImageRecord, ...]
    pixels: PixelAccumulator
    latencies_ms: np.ndarray  # (N,) preprocess + inference per image
    notes: tuple[str, ...]


def resize_map(amap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) map -> (H, W) float32 map with bilinear interpolation."""
    amap = np.asarray(amap, dtype=np.float32)
    if amap.ndim != 2:
        raise ModelError(f"anomaly map must be (H, W), got shape {amap.shape}")
    if amap.shape == shape:
        return amap
    return cv2.resize(amap, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def roi_for(roi: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The (H, W) bool ROI resized (nearest) to an image of ``shape``."""
    if roi is None or roi.shape == shape:
        return roi
    small = roi.astype(np.uint8)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def infer(
    model: Predictor, item: LoadedSample, roi: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """One image through the model: ((H, W) map at mask resolution, score, milliseconds)."""
    shape = item.image.shape[:2]
    r = roi_for(roi, shape)
    image = item.image if r is None else np.where(r[:, :, None], item.image, 0).astype(np.uint8)
    t0 = time.perf_counter()
    amap, score = model.predict(image)
    ms = (time.perf_counter() - t0) * 1000.0
    full = resize_map(amap, shape)
    if r is not None:
        full = np.where(r, full, 0.0).astype(np.float32)
    if not np.isfinite(score) or not np.isfinite(full).all():
        raise ModelError(f"model returned NaN or infinite values for {item.sample.image}")
    return full, float(score), ms


def run(
    model: Predictor,
    samples: list[Sample],
    roi: np.ndarray | None = None,
    n_bins: int = DEFAULT_BINS,
    progress: bool = True,
    on_image: Callable[[ImageRecord], None] | None = None,
) -> RunResult:
    """Stream ``samples`` through ``model``.

    Args:
        model: see :class:`Predictor`.
        samples: from :func:`xrbridge.eval.dataset.list_test_set`.
        roi: (H, W) bool evaluation ROI in the images' pixel grid, or None.
        n_bins: histogram bins of the pixel scores (error bound vs memory).
        progress: show a tqdm bar on stderr.
        on_image: called with each record (for logging).
    """
    from tqdm import tqdm

    acc = PixelAccumulator(n_bins=n_bins)
    records: list[ImageRecord] = []
    lat: list[float] = []
    notes: list[str] = []
    bar = tqdm(load(samples), total=len(samples), desc="eval", unit="img", disable=not progress)
    for item in bar:
        full, score, ms = infer(model, item, roi)
        notes.extend(item.notes)
        mask = item.mask
        if mask.any():
            _, regions = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        else:
            regions = np.zeros(mask.shape, np.int32)
        acc.add(full, regions, group=item.sample.defect)
        rec = ImageRecord(
            path=str(item.sample.image),
            defect=item.sample.defect,
            label=item.sample.is_defective,
            score=score,
            area_ratio=area_ratio(mask),
            map_max=float(full.max()),
        )
        records.append(rec)
        lat.append(ms)
        if on_image is not None:
            on_image(rec)
    return RunResult(tuple(records), acc, np.asarray(lat), tuple(notes))
