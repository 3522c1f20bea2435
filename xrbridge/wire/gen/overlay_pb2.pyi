from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackState(_message.Message):
    __slots__ = ("car_id", "x", "y", "vx", "vy", "t", "view", "score")
    CAR_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    VX_FIELD_NUMBER: _ClassVar[int]
    VY_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    car_id: int
    x: float
    y: float
    vx: float
    vy: float
    t: float
    view: str
    score: float
    def __init__(self, car_id: _Optional[int] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., vx: _Optional[float] = ..., vy: _Optional[float] = ..., t: _Optional[float] = ..., view: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class Hint(_message.Message):
    __slots__ = ("location", "angle_deg", "distance", "distance_unit", "moving_dir", "speed", "time_to_station_s")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ANGLE_DEG_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_UNIT_FIELD_NUMBER: _ClassVar[int]
    MOVING_DIR_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_STATION_S_FIELD_NUMBER: _ClassVar[int]
    location: str
    angle_deg: float
    distance: float
    distance_unit: str
    moving_dir: str
    speed: float
    time_to_station_s: float
    def __init__(self, location: _Optional[str] = ..., angle_deg: _Optional[float] = ..., distance: _Optional[float] = ..., distance_unit: _Optional[str] = ..., moving_dir: _Optional[str] = ..., speed: _Optional[float] = ..., time_to_station_s: _Optional[float] = ...) -> None: ...

class Defect(_message.Message):
    __slots__ = ("defect_id", "view", "contour_px", "contour_uv", "bbox_px", "centroid_px", "centroid_uv", "area_px", "peak_score", "mean_score", "severity", "age_frames", "confirmed", "hint", "hits", "area_mm2")
    DEFECT_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    CONTOUR_PX_FIELD_NUMBER: _ClassVar[int]
    CONTOUR_UV_FIELD_NUMBER: _ClassVar[int]
    BBOX_PX_FIELD_NUMBER: _ClassVar[int]
    CENTROID_PX_FIELD_NUMBER: _ClassVar[int]
    CENTROID_UV_FIELD_NUMBER: _ClassVar[int]
    AREA_PX_FIELD_NUMBER: _ClassVar[int]
    PEAK_SCORE_FIELD_NUMBER: _ClassVar[int]
    MEAN_SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    AGE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    AREA_MM2_FIELD_NUMBER: _ClassVar[int]
    defect_id: int
    view: str
    contour_px: _containers.RepeatedScalarFieldContainer[float]
    contour_uv: _containers.RepeatedScalarFieldContainer[float]
    bbox_px: _containers.RepeatedScalarFieldContainer[float]
    centroid_px: _containers.RepeatedScalarFieldContainer[float]
    centroid_uv: _containers.RepeatedScalarFieldContainer[float]
    area_px: float
    peak_score: float
    mean_score: float
    severity: str
    age_frames: int
    confirmed: bool
    hint: Hint
    hits: int
    area_mm2: float
    def __init__(self, defect_id: _Optional[int] = ..., view: _Optional[str] = ..., contour_px: _Optional[_Iterable[float]] = ..., contour_uv: _Optional[_Iterable[float]] = ..., bbox_px: _Optional[_Iterable[float]] = ..., centroid_px: _Optional[_Iterable[float]] = ..., centroid_uv: _Optional[_Iterable[float]] = ..., area_px: _Optional[float] = ..., peak_score: _Optional[float] = ..., mean_score: _Optional[float] = ..., severity: _Optional[str] = ..., age_frames: _Optional[int] = ..., confirmed: _Optional[bool] = ..., hint: _Optional[_Union[Hint, _Mapping]] = ..., hits: _Optional[int] = ..., area_mm2: _Optional[float] = ...) -> None: ...

class OverlayFrame(_message.Message):
    __slots__ = ("schema_version", "stream_id", "seq", "t_capture", "t_emit", "model", "view", "track", "image_score", "defects")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    T_CAPTURE_FIELD_NUMBER: _ClassVar[int]
    T_EMIT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SCORE_FIELD_NUMBER: _ClassVar[int]
    DEFECTS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    stream_id: str
    seq: int
    t_capture: float
    t_emit: float
    model: str
    view: str
    track: TrackState
    image_score: float
    defects: _containers.RepeatedCompositeFieldContainer[Defect]
    def __init__(self, schema_version: _Optional[int] = ..., stream_id: _Optional[str] = ..., seq: _Optional[int] = ..., t_capture: _Optional[float] = ..., t_emit: _Optional[float] = ..., model: _Optional[str] = ..., view: _Optional[str] = ..., track: _Optional[_Union[TrackState, _Mapping]] = ..., image_score: _Optional[float] = ..., defects: _Optional[_Iterable[_Union[Defect, _Mapping]]] = ...) -> None: ...
