"""PatchCore's torch modules: the patch features (shared with SimpleNet) and the map smoothing.

Both live outside this folder (:mod:`xrbridge.models.features`,
:mod:`xrbridge.models.blur`); the names stay importable from here.
"""

from __future__ import annotations

from xrbridge.models.blur import GaussianBlur, gaussian_kernel1d
from xrbridge.models.features import PatchFeatures

__all__ = ["GaussianBlur", "PatchFeatures", "gaussian_kernel1d"]
