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
    __slots__ = ("defect_id", "view", "contour_px", "contour_uv", "bbox_px", "centroid_px", "centroid_uv", "area_px", "peak_score", "mean_score", "severity", "age_frames", "confirmed", "hint", "hits", "area_mm2", "size_class", "type_guess", "confidence")
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
    SIZE_CLASS_FIELD_NUMBER: _ClassVar[int]
    TYPE_GUESS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
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
    size_class: str
    type_guess: str
    confidence: float
    def __init__(self, defect_id: _Optional[int] = ..., view: _Optional[str] = ..., contour_px: _Optional[_Iterable[float]] = ..., contour_uv: _Optional[_Iterable[float]] = ..., bbox_px: _Optional[_Iterable[float]] = ..., centroid_px: _Optional[_Iterable[float]] = ..., centroid_uv: _Optional[_Iterable[float]] = ..., area_px: _Optional[float] = ..., peak_score: _Optional[float] = ..., mean_score: _Optional[float] = ..., severity: _Optional[str] = ..., age_frames: _Optional[int] = ..., confirmed: _Optional[bool] = ..., hint: _Optional[_Union[Hint, _Mapping]] = ..., hits: _Optional[int] = ..., area_mm2: _Optional[float] = ..., size_class: _Optional[str] = ..., type_guess: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class VerdictDefect(_message.Message):
    __slots__ = ("defect_id", "view", "type_guess", "size_class", "severity", "confidence", "centroid_ub", "contour_ub", "length_px", "area_px", "location", "frames", "travel_px", "peak_score", "area_mm2")
    DEFECT_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    TYPE_GUESS_FIELD_NUMBER: _ClassVar[int]
    SIZE_CLASS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CENTROID_UB_FIELD_NUMBER: _ClassVar[int]
    CONTOUR_UB_FIELD_NUMBER: _ClassVar[int]
    LENGTH_PX_FIELD_NUMBER: _ClassVar[int]
    AREA_PX_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_PX_FIELD_NUMBER: _ClassVar[int]
    PEAK_SCORE_FIELD_NUMBER: _ClassVar[int]
    AREA_MM2_FIELD_NUMBER: _ClassVar[int]
    defect_id: int
    view: str
    type_guess: str
    size_class: str
    severity: str
    confidence: float
    centroid_ub: _containers.RepeatedScalarFieldContainer[float]
    contour_ub: _containers.RepeatedScalarFieldContainer[float]
    length_px: float
    area_px: float
    location: str
    frames: int
    travel_px: float
    peak_score: float
    area_mm2: float
    def __init__(self, defect_id: _Optional[int] = ..., view: _Optional[str] = ..., type_guess: _Optional[str] = ..., size_class: _Optional[str] = ..., severity: _Optional[str] = ..., confidence: _Optional[float] = ..., centroid_ub: _Optional[_Iterable[float]] = ..., contour_ub: _Optional[_Iterable[float]] = ..., length_px: _Optional[float] = ..., area_px: _Optional[float] = ..., location: _Optional[str] = ..., frames: _Optional[int] = ..., travel_px: _Optional[float] = ..., peak_score: _Optional[float] = ..., area_mm2: _Optional[float] = ...) -> None: ...

class ViewCoverage(_message.Message):
    __slots__ = ("view", "frames", "travel_px", "complete")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_PX_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    view: str
    frames: int
    travel_px: float
    complete: bool
    def __init__(self, view: _Optional[str] = ..., frames: _Optional[int] = ..., travel_px: _Optional[float] = ..., complete: _Optional[bool] = ...) -> None: ...

class CarVerdict(_message.Message):
    __slots__ = ("schema_version", "stream_id", "car_id", "status", "confidence", "t_first", "t_last", "views_seen", "views_missing", "defects", "coverage", "reason")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CAR_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    T_FIRST_FIELD_NUMBER: _ClassVar[int]
    T_LAST_FIELD_NUMBER: _ClassVar[int]
    VIEWS_SEEN_FIELD_NUMBER: _ClassVar[int]
    VIEWS_MISSING_FIELD_NUMBER: _ClassVar[int]
    DEFECTS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    stream_id: str
    car_id: int
    status: str
    confidence: float
    t_first: float
    t_last: float
    views_seen: _containers.RepeatedScalarFieldContainer[str]
    views_missing: _containers.RepeatedScalarFieldContainer[str]
    defects: _containers.RepeatedCompositeFieldContainer[VerdictDefect]
    coverage: _containers.RepeatedCompositeFieldContainer[ViewCoverage]
    reason: str
    def __init__(self, schema_version: _Optional[int] = ..., stream_id: _Optional[str] = ..., car_id: _Optional[int] = ..., status: _Optional[str] = ..., confidence: _Optional[float] = ..., t_first: _Optional[float] = ..., t_last: _Optional[float] = ..., views_seen: _Optional[_Iterable[str]] = ..., views_missing: _Optional[_Iterable[str]] = ..., defects: _Optional[_Iterable[_Union[VerdictDefect, _Mapping]]] = ..., coverage: _Optional[_Iterable[_Union[ViewCoverage, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class OverlayFrame(_message.Message):
    __slots__ = ("schema_version", "stream_id", "seq", "t_capture", "t_emit", "model", "view", "track", "image_score", "defects", "verdicts")
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
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
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
    verdicts: _containers.RepeatedCompositeFieldContainer[CarVerdict]
    def __init__(self, schema_version: _Optional[int] = ..., stream_id: _Optional[str] = ..., seq: _Optional[int] = ..., t_capture: _Optional[float] = ..., t_emit: _Optional[float] = ..., model: _Optional[str] = ..., view: _Optional[str] = ..., track: _Optional[_Union[TrackState, _Mapping]] = ..., image_score: _Optional[float] = ..., defects: _Optional[_Iterable[_Union[Defect, _Mapping]]] = ..., verdicts: _Optional[_Iterable[_Union[CarVerdict, _Mapping]]] = ...) -> None: ...
