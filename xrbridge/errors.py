"""The one exception tree of xrbridge.

Every error xrbridge raises on purpose derives from :class:`XrbridgeError`;
third-party exceptions are translated at the adapter boundary with
``raise ... from exc``. Messages say what was expected and what came.

    XrbridgeError
    ├── UsageError             bad command-line usage or settings (exit code 2)
    ├── InputError             bad input data (exit code 2)
    │   ├── VideoError         missing, unreadable or empty video
    │   ├── ImageError         missing, corrupt or wrongly shaped image
    │   ├── DatasetError       data folder not in the MVTec layout
    │   └── TemplateError      missing, empty or oversized templates
    ├── UnknownNameError       a name (model, backbone, view, stream) not in its registry
    ├── ArtifactError          model folder, manifest or ONNX graph missing or inconsistent
    ├── ModelError             inference failed at run time
    ├── WireError              a message that cannot be decoded or violates the schema
    │   ├── AuthError          missing or wrong bearer token
    │   └── LimitError         message too large, queue full, rate exceeded
    ├── RecordError            the inspection record store failed
    └── EventError             the plant event bus (MQTT publisher, its spool) failed
"""

from __future__ import annotations


class XrbridgeError(Exception):
    """Base of every error raised by xrbridge on purpose."""

    #: Process exit code when this error reaches the command line.
    exit_code: int = 1


class UsageError(XrbridgeError):
    exit_code = 2


class InputError(XrbridgeError):
    exit_code = 2


class VideoError(InputError):
    pass


class ImageError(InputError):
    pass


class DatasetError(InputError):
    pass


class TemplateError(InputError):
    pass


class UnknownNameError(XrbridgeError):
    exit_code = 2


class ArtifactError(XrbridgeError):
    exit_code = 2


class ModelError(XrbridgeError):
    pass


class WireError(XrbridgeError):
    exit_code = 2


class AuthError(WireError):
    pass


class LimitError(WireError):
    pass


class RecordError(XrbridgeError):
    pass


class EventError(XrbridgeError):
    pass
