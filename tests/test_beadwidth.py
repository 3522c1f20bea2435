"""Bead-width evidence (xrbridge.core.beadwidth), on generated templates and crops.

A template is a grey plate with bright beads; a crop is the same plate lit
differently, shifted a pixel or two (alignment error), with one bead narrowed
over a stretch. The ratio must be low on the narrowing and about 1 elsewhere,
also near the beads' ends.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xrbridge.core.beadwidth import BeadConfig, BeadReference
from xrbridge.errors import InputError

H, W = 400, 520
GRID = (100, 130)


def _plate(
    narrow: tuple[int, int] | None = None,
    factor: float = 0.5,
    gain: float = 1.0,
    offset: float = 0.0,
    shift: tuple[int, int] = (0, 0),
    seed: int = 0,
) -> np.ndarray:
    """Metal at 120 with a horizontal bead (y=200, 12 px wide, x 40..480) and a diagonal one."""
    img = np.full((H, W), 120.0, np.float32)
    dx, dy = shift
    bead = np.zeros((H, W), np.uint8)
    cv2.line(bead, (40 + dx, 200 + dy), (480 + dx, 200 + dy), 1, 12)
    cv2.line(bead, (60 + dx, 60 + dy), (300 + dx, 120 + dy), 1, 10)
    if narrow is not None:
        x0, x1 = narrow
        half = 6
        thin = max(1, round(half * factor))
        bead[200 + dy - half : 200 + dy + half + 1, x0 + dx : x1 + dx] = 0
        bead[200 + dy - thin : 200 + dy + thin + 1, x0 + dx : x1 + dx] = 1
    img[bead > 0] = 200.0
    img = cv2.GaussianBlur(img, (5, 5), 1.2)
    ramp = np.linspace(-15, 15, W, dtype=np.float32)[None, :]  # uneven lighting
    img = img * gain + offset + ramp
    img += np.random.default_rng(seed).normal(0, 3, img.shape).astype(np.float32)
    g = np.clip(img, 0, 255).astype(np.uint8)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="module")
def ref() -> BeadReference:
    return BeadReference(_plate(), GRID)


def test_same_bead_reads_as_wide_as_the_template(ref: BeadReference) -> None:
    r = ref.ratio(_plate(gain=0.8, offset=10, shift=(2, -2), seed=1))
    assert r.shape == GRID and r.dtype == np.float32
    known = r[np.isfinite(r)]
    assert known.size > 50
    assert float(np.min(known)) > 0.75 and abs(float(np.median(known)) - 1.0) < 0.05


def test_narrowing_reads_thin_there_and_only_there(ref: BeadReference) -> None:
    r = ref.ratio(_plate(narrow=(200, 260), factor=0.4, gain=1.1, shift=(1, 2), seed=2))
    on = r[50, 52:63]  # cells of the narrowed stretch (y 200, x 208..252)
    assert np.isfinite(on).sum() >= 5
    assert float(np.nanmax(on)) < 0.7
    off = r.copy()
    off[45:56, 45:70] = np.nan
    assert float(np.nanmin(off)) > 0.75


def test_missing_bead_reads_zero(ref: BeadReference) -> None:
    crop = _plate(seed=3)
    crop[190:211, 300:360] = crop[150, 300]  # metal painted over the bead
    r = ref.ratio(crop)
    assert float(np.nanmax(r[50, 78:88])) < 0.3


def test_no_ratio_off_the_bead_and_at_its_ends(ref: BeadReference) -> None:
    r = ref.ratio(_plate(seed=4))
    assert np.isnan(r[20, 100]) and np.isnan(r[90, 10])  # bare metal
    assert np.isnan(r[50, 10]) and np.isnan(r[50, 121])  # before / at the bead's ends


@pytest.mark.parametrize(
    "crop, msg",
    [
        (np.zeros((10, 10, 3), np.uint8), "like its template"),
        (np.zeros((H, W, 3), np.float32), "uint8"),
    ],
)
def test_bad_crop_is_an_input_error(ref: BeadReference, crop: np.ndarray, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        ref.ratio(crop)


@pytest.mark.parametrize(
    "kwargs",
    [{"open_px": 0}, {"band_px": -1}, {"shift_px": -1.0}, {"min_share": 0.0}, {"scale": 0.0}],
)
def test_bad_config_is_an_input_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        BeadConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_template_is_an_input_error() -> None:
    with pytest.raises(InputError, match="template"):
        BeadReference(np.zeros((H, W), np.uint8), GRID)
