from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(_message.Message):
    __slots__ = ("schema_version", "stream_id", "state", "model", "frames_received", "frames_processed", "frames_dropped", "last_seq", "latency_ms_p50", "latency_ms_p99", "message", "t")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FRAMES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_P50_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_P99_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    stream_id: str
    state: str
    model: str
    frames_received: int
    frames_processed: int
    frames_dropped: int
    last_seq: int
    latency_ms_p50: float
    latency_ms_p99: float
    message: str
    t: float
    def __init__(self, schema_version: _Optional[int] = ..., stream_id: _Optional[str] = ..., state: _Optional[str] = ..., model: _Optional[str] = ..., frames_received: _Optional[int] = ..., frames_processed: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., last_seq: _Optional[int] = ..., latency_ms_p50: _Optional[float] = ..., latency_ms_p99: _Optional[float] = ..., message: _Optional[str] = ..., t: _Optional[float] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "model", "view", "backbone", "input_height", "input_width")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    BACKBONE_FIELD_NUMBER: _ClassVar[int]
    INPUT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INPUT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    view: str
    backbone: str
    input_height: int
    input_width: int
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., view: _Optional[str] = ..., backbone: _Optional[str] = ..., input_height: _Optional[int] = ..., input_width: _Optional[int] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "active")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    active: str
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., active: _Optional[str] = ...) -> None: ...

class SelectModelRequest(_message.Message):
    __slots__ = ("stream_id", "name")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    name: str
    def __init__(self, stream_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SelectModelResponse(_message.Message):
    __slots__ = ("ok", "active", "message")
    OK_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    active: str
    message: str
    def __init__(self, ok: _Optional[bool] = ..., active: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class RobotAlert(_message.Message):
    __slots__ = ("schema_version", "stream_id", "robot", "state", "rate", "defective", "cars", "car_id", "t", "cars_seen", "threshold")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    ROBOT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    DEFECTIVE_FIELD_NUMBER: _ClassVar[int]
    CARS_FIELD_NUMBER: _ClassVar[int]
    CAR_ID_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    CARS_SEEN_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    stream_id: str
    robot: str
    state: str
    rate: float
    defective: int
    cars: int
    car_id: int
    t: float
    cars_seen: int
    threshold: float
    def __init__(self, schema_version: _Optional[int] = ..., stream_id: _Optional[str] = ..., robot: _Optional[str] = ..., state: _Optional[str] = ..., rate: _Optional[float] = ..., defective: _Optional[int] = ..., cars: _Optional[int] = ..., car_id: _Optional[int] = ..., t: _Optional[float] = ..., cars_seen: _Optional[int] = ..., threshold: _Optional[float] = ...) -> None: ...
