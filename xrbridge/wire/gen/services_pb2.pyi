from . import control_pb2 as _control_pb2
from . import frame_pb2 as _frame_pb2
from . import overlay_pb2 as _overlay_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
