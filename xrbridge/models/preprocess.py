"""Image preprocessing shared by training and inference (numpy + OpenCV only).

The contract (docs/contracts.md, "Model artifact"): the ONNX input ``image`` is
float32 (1,3,H,W), RGB, resized to the manifest's (height, width) with
``cv2.INTER_AREA`` (aspect ratio not kept), normalised ``(rgb01 - 0.5) / 0.5``
and, when the manifest says ``roi.applied``, set to black (rgb 0, i.e. -1.0
after normalisation) outside the ROI mask.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.errors import ArtifactError, ImageError

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
RESIZE = "cv2.INTER_AREA"
#: Normalised value of masked-out input pixels (black).
MASKED_VALUE = -1.0


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Any common image array -> (H,W,3) uint8 BGR.

    Accepts (H,W) / (H,W,1) grey, (H,W,3) BGR, (H,W,4) BGRA; uint8 or uint16
    (16-bit is scaled down by 257).

    Raises:
        ImageError: other shapes or dtypes, or an empty image.
    """
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise ImageError(f"image must be a non-empty numpy array, got {type(image).__name__}")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    if image.dtype != np.uint8:
        raise ImageError(f"image must be uint8 or uint16, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ImageError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")


def resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h,w) mask (any dtype, >0 = on) -> (height,width) bool, nearest neighbour."""
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if m.ndim == 3:
        m = m.max(axis=2)
    return cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST) > 0


def normalise(image_bgr: np.ndarray, height: int, width: int, roi: np.ndarray | None) -> np.ndarray:
    """BGR image -> (3,H,W) float32 normalised, black outside ``roi`` ((H,W) bool) if given."""
    img = to_bgr_uint8(image_bgr)
    if img.shape[:2] != (height, width):
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    rgb = img[:, :, ::-1].astype(np.float32) * (1.0 / 255.0)
    x = (rgb - 0.5) / 0.5
    if roi is not None:
        x[~roi] = MASKED_VALUE
    return np.ascontiguousarray(x.transpose(2, 0, 1))


@lru_cache(maxsize=16)
def _roi_for(path: str, height: int, width: int) -> np.ndarray:
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ArtifactError(f"ROI mask {path} is missing or unreadable")
    return resize_mask(mask, height, width)


def manifest_roi(manifest: dict[str, Any]) -> np.ndarray | None:
    """The (H,W) bool ROI of a loaded manifest at model resolution, or None if none applies."""
    roi = manifest.get("roi") or {}
    if not roi.get("applied"):
        return None
    model_dir = manifest.get("_model_dir")
    if model_dir is None or not roi.get("file"):
        raise ArtifactError(
            "manifest says roi.applied but names no file (load it with load_manifest)"
        )
    h, w = int(manifest["input"]["height"]), int(manifest["input"]["width"])
    return _roi_for(str(Path(model_dir) / roi["file"]), h, w)


def preprocess(image_bgr: np.ndarray, manifest: dict[str, Any]) -> np.ndarray:
    """BGR (or grey/BGRA) uint8 image -> (1,3,H,W) float32 input of the model in ``manifest``.

    Raises:
        ImageError: unusable image array.
        ArtifactError: the manifest's ROI file is missing.
    """
    h, w = int(manifest["input"]["height"]), int(manifest["input"]["width"])
    return normalise(image_bgr, h, w, manifest_roi(manifest))[None]
