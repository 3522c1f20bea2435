"""xrbridge: sealant inspection results on the car underbody, in mixed reality.

The public Python API, imported lazily (``import xrbridge`` loads neither OpenCV nor
ONNX Runtime nor the network libraries):

- :class:`~xrbridge.api.Inspector`, :class:`~xrbridge.api.Inspection`: a trained model
  folder that inspects one image and returns a score and the defect regions;
- :func:`~xrbridge.api.default_models_dir`, :func:`~xrbridge.api.sample_image`: the
  default models and a sample crop of the embedded line video;
- :class:`~xrbridge.client.BridgeClient`: subscribe to a running bridge's overlays.

Example:
    >>> import xrbridge
    >>> sorted(xrbridge.__all__)
    ['BridgeClient', 'Inspection', 'Inspector', '__version__', 'default_models_dir', 'sample_image']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "Inspector": "xrbridge.api",
    "Inspection": "xrbridge.api",
    "default_models_dir": "xrbridge.api",
    "sample_image": "xrbridge.api",
    "BridgeClient": "xrbridge.client",
}

__all__ = [
    "BridgeClient",
    "Inspection",
    "Inspector",
    "__version__",
    "default_models_dir",
    "sample_image",
]

if TYPE_CHECKING:
    from xrbridge.api import Inspection, Inspector, default_models_dir, sample_image
    from xrbridge.client import BridgeClient


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xrbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
