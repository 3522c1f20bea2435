"""Use a trained model from Python: an image in, a score and the defect regions out.

The three entry points, each with an example that CI runs (``tests/test_api.py``):

- :class:`Inspector`: a model folder (``xrbridge train`` or a default model) that
  inspects one image of its view and returns an :class:`Inspection`.
- :func:`default_models_dir`: where the default models are (inside the installed
  wheel, or ``models/`` of a source checkout).
- :func:`sample_image`: a crop of one view from the embedded sealant-line video, good
  or defective, to try the rest without any data.

Example:
    >>> from xrbridge import Inspector, default_models_dir, sample_image
    >>> inspector = Inspector(default_models_dir() / "lower_front")
    >>> result = inspector.inspect(sample_image("lower_front", defective=True))
    >>> result.anomalous, len(result.regions)
    (True, 1)

The bridge client that subscribes to a running bridge is :class:`xrbridge.client.BridgeClient`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.core.regions import Region
from xrbridge.errors import ArtifactError, ImageError, InputError

__all__ = ["Inspection", "Inspector", "default_models_dir", "sample_image"]


def default_models_dir() -> Path:
    """The folder of the default models, one sub-folder per view (``lower_front`` ...).

    Inside an installed wheel it is ``xrbridge/default_models``; in a source checkout,
    ``models/`` at its top.

    Example:
        >>> sorted(p.name for p in default_models_dir().iterdir() if p.is_dir())
        ['lower_back', 'lower_center', 'lower_front']
    """
    pkg = Path(__file__).resolve().parent
    inside = pkg / "default_models"
    return inside if inside.is_dir() else pkg.parent / "models"


@dataclass(frozen=True, slots=True)
class Inspection:
    """What :meth:`Inspector.inspect` found in one image.

    Attributes:
        score: image anomaly score, normalised so that the model's calibrated image
            threshold is 0.5 (``manifest.json`` ``thresholds.image``).
        anomalous: ``score`` above the image threshold.
        regions: connected regions of the map above the pixel threshold, highest peak
            first; their ``*_px`` coordinates are pixels of the image given to
            :meth:`Inspector.inspect`, ``*_uv`` fractions of its width and height.
        anomaly_map: (H, W) float32 normalised pixel scores at the model's resolution.
    """

    score: float
    anomalous: bool
    regions: list[Region]
    anomaly_map: np.ndarray


class Inspector:
    """One trained model folder (``model.onnx`` + ``manifest.json``) in ONNX Runtime.

    Args:
        model_dir: a folder written by ``xrbridge train`` (or one of the default models).
        threads: ONNX Runtime intra-op threads (None: one per core).
        min_area_px: smallest region kept, in pixels of the inspected image.
        max_regions: at most this many regions per image, the largest first.

    Raises:
        ArtifactError: the folder, the manifest or the graph is missing or inconsistent.

    Example:
        >>> from xrbridge import Inspector, default_models_dir, sample_image
        >>> inspector = Inspector(default_models_dir() / "lower_front", threads=1)
        >>> inspector.view, inspector.model_name
        ('lower_front', 'patchcore')
        >>> good = inspector.inspect(sample_image("lower_front", defective=False))
        >>> good.anomalous, good.regions
        (False, [])
        >>> bad = inspector.inspect(sample_image("lower_front", defective=True))
        >>> region = bad.regions[0]
        >>> bad.anomalous, region.peak_score > 0.5, region.area_px > 500
        (True, True, True)
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        threads: int | None = None,
        min_area_px: float = 20.0,
        max_regions: int = 16,
    ) -> None:
        from xrbridge.core.regions import RegionConfig, pixel_threshold
        from xrbridge.models.runtime import load_model

        if not Path(model_dir).is_dir():
            raise ArtifactError(f"model folder not found: {model_dir}")
        self._model = load_model(model_dir, threads=threads)  # the manifest may pick OpenVINO
        self.manifest: dict[str, Any] = self._model.manifest
        self._config = RegionConfig(
            threshold=pixel_threshold(self.manifest),
            min_area_px=min_area_px,
            max_regions=max_regions,
        )
        thresholds = self.manifest.get("thresholds", {})
        self.image_threshold = float(thresholds.get("image", 0.5))

    @property
    def model_name(self) -> str:
        """The model's name from its manifest (``patchcore``, ``efficientad-s`` ...)."""
        return str(self.manifest.get("model", ""))

    @property
    def view(self) -> str:
        """The view (or data-set category) the model was trained on."""
        return str(self.manifest.get("category", ""))

    def inspect(self, image: np.ndarray | str | Path) -> Inspection:
        """Score one image of the model's view and find its defect regions.

        Args:
            image: a BGR uint8 array (H, W, 3), as OpenCV reads it, or an image file.

        Raises:
            ImageError: the file cannot be read, or the array is not (H, W, 3) uint8.
            ModelError: inference failed.
        """
        from xrbridge.core.regions import ViewPlacement, find_regions

        pixels = _read_image(image)
        amap, score = self._model.predict(pixels)
        h, w = pixels.shape[:2]
        place = ViewPlacement(self.view or "image", 0.0, 0.0, w, h)
        regions = find_regions(amap, place, self._config)
        return Inspection(
            score=float(score),
            anomalous=float(score) > self.image_threshold,
            regions=regions,
            anomaly_map=amap,
        )

    def __repr__(self) -> str:
        return f"Inspector({str(self._model.model_dir)!r}, model={self.model_name!r}, view={self.view!r})"


def _read_image(image: np.ndarray | str | Path) -> np.ndarray:
    import cv2

    if isinstance(image, str | Path):
        pixels = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if pixels is None:
            raise ImageError(f"cannot read image {image} (missing, or not an image OpenCV reads)")
        return pixels
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
    ):
        got = (getattr(image, "shape", None), getattr(image, "dtype", type(image).__name__))
        raise ImageError(f"image must be an HxWx3 uint8 BGR array or a file, got {got[0]} {got[1]}")
    return image


def sample_image(view: str = "lower_front", *, defective: bool = True) -> np.ndarray:
    """A BGR crop of ``view`` from the embedded sealant-line video (``xrbridge demo``'s video).

    The crop is the view's template rectangle at the frame where the view is best in
    sight, on the first car that has (``defective=True``) or has not a defect in that
    view, according to the video's ground truth (``truth.jsonl``).

    Raises:
        InputError: ``view`` is not one of the three views, or the video has no such car.

    Example:
        >>> sample_image("lower_front").shape
        (400, 520, 3)
    """
    import cv2

    from xrbridge.names import VIEWS
    from xrbridge.sim import embedded_line_dir

    if view not in VIEWS:
        raise InputError(f"view must be one of {VIEWS}, got {view!r}")
    scene = Path(embedded_line_dir())
    with (scene / "truth.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:
        for car in row["cars"]:
            seen = car["views"].get(view)
            has_defect = any(d.get("view") == view for d in car["defects"])
            if seen and seen.get("peak") and has_defect == defective:
                x, y, w, h = (round(v) for v in seen["bbox"])
                cap = cv2.VideoCapture(str(scene / "line.mp4"))
                try:
                    pixels = None
                    for _ in range(int(row["index"]) + 1):
                        ok, pixels = cap.read()
                        if not ok:
                            raise InputError(
                                f"{scene / 'line.mp4'} ends before frame {row['index']}"
                            )
                finally:
                    cap.release()
                assert pixels is not None
                return np.ascontiguousarray(pixels[y : y + h, x : x + w])
    kind = "a defective" if defective else "a good"
    raise InputError(f"the embedded video has no car with {kind} {view} in full view")
