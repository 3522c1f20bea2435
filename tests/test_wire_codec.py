"""Round trips and malformed input for the overlay and frame codecs."""

from __future__ import annotations

import dataclasses

import msgpack
import numpy as np
import pytest

from xrbridge.core.types import Frame, OverlayFrame
from xrbridge.errors import WireError
from xrbridge.wire import codec
from xrbridge.wire.gen import overlay_pb2
from xrbridge.wire.samples import sample_overlay, sample_overlay_empty


def _same(a: OverlayFrame, b: OverlayFrame) -> None:
    assert codec.overlay_to_dict(a) == codec.overlay_to_dict(b)
    for da, db in zip(a.defects, b.defects, strict=True):
        assert da.contour_px.dtype == db.contour_px.dtype == np.float32
        np.testing.assert_array_equal(da.contour_px, db.contour_px)
        np.testing.assert_array_equal(da.contour_uv, db.contour_uv)


@pytest.mark.parametrize("make", [sample_overlay, sample_overlay_empty])
@pytest.mark.parametrize("fmt", ["msgpack", "proto"])
def test_round_trip(make, fmt: str) -> None:
    frame = make()
    if fmt == "msgpack":
        back = codec.overlay_from_msgpack(codec.overlay_to_msgpack(frame))
    else:
        back = codec.overlay_from_proto(codec.overlay_to_proto_bytes(frame))
    _same(frame, back)
    assert back.view == frame.view and back.track == frame.track
    assert back.image_score == frame.image_score


def test_both_formats_carry_the_same_field_names() -> None:
    d = codec.overlay_to_dict(sample_overlay())
    proto_fields = {f.name for f in overlay_pb2.OverlayFrame.DESCRIPTOR.fields}
    assert set(d) - {"type"} == proto_fields
    domain = {f.name for f in dataclasses.fields(OverlayFrame)}
    assert proto_fields == domain
    defect_proto = {f.name for f in overlay_pb2.Defect.DESCRIPTOR.fields}
    assert set(d["defects"][0]) == defect_proto
    assert defect_proto == {f.name for f in dataclasses.fields(type(sample_overlay().defects[0]))}
    track_proto = {f.name for f in overlay_pb2.TrackState.DESCRIPTOR.fields}
    assert set(d["track"]) == track_proto


def test_none_values_are_absent_in_proto() -> None:
    msg = codec.overlay_to_proto(sample_overlay_empty())
    assert (
        not msg.HasField("view") and not msg.HasField("track") and not msg.HasField("image_score")
    )
    full = codec.overlay_to_proto(sample_overlay())
    assert not full.defects[0].HasField("area_mm2") and full.defects[1].HasField("area_mm2")
    assert not full.defects[1].HasField("hint")


def _mutated(**changes) -> bytes:
    d = codec.overlay_to_dict(sample_overlay())
    for k, v in changes.items():
        if v is KeyError:
            del d[k]
        else:
            d[k] = v
    return msgpack.packb(d, use_bin_type=True)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\xc1", "not a msgpack"),
        (msgpack.packb([1, 2]), "must be a map"),
        (_mutated(schema_version=2), "schema_version must be 1"),
        (_mutated(type="status"), "expected type"),
        (_mutated(seq=KeyError), "missing key 'seq'"),
        (_mutated(seq="12"), "overlay.seq"),
        (_mutated(defects=[{"defect_id": 1}]), "missing key"),
        (_mutated(track=[1, 2]), "track"),
    ],
)
def test_malformed_msgpack_raises_wire_error(data: bytes, needle: str) -> None:
    with pytest.raises(WireError, match=needle):
        codec.overlay_from_msgpack(data)


def test_odd_contour_and_bad_severity_raise() -> None:
    d = codec.overlay_to_dict(sample_overlay())
    d["defects"][0]["contour_px"] = [1.0, 2.0, 3.0]
    with pytest.raises(WireError, match="even length"):
        codec.overlay_from_dict(d)
    d = codec.overlay_to_dict(sample_overlay())
    d["defects"][0]["severity"] = "critical"
    with pytest.raises(WireError, match="severity"):
        codec.overlay_from_dict(d)


def test_garbage_proto_raises_wire_error() -> None:
    with pytest.raises(WireError):
        codec.overlay_from_proto(b"\xff\xff\xff\xff")


@pytest.mark.parametrize("encoding", ["raw", "png", "jpeg"])
def test_frame_round_trip(encoding: str) -> None:
    rng = np.random.default_rng(0)
    pixels = np.zeros((48, 64, 3), np.uint8)
    pixels[10:30, 20:50] = rng.integers(0, 255, size=(20, 30, 3), dtype=np.uint8)
    frame = Frame("cam", 5, 1.5, pixels)
    back = codec.frame_from_proto(codec.frame_to_proto(frame, encoding).SerializeToString())
    assert (back.stream_id, back.seq, back.t_capture) == ("cam", 5, 1.5)
    assert back.pixels.shape == pixels.shape
    if encoding != "jpeg":
        np.testing.assert_array_equal(back.pixels, pixels)


def test_frame_bad_raw_size_raises() -> None:
    msg = codec.frame_to_proto(Frame("cam", 1, 0.0, np.zeros((4, 4, 3), np.uint8)), "raw")
    msg.data = msg.data[:-1]
    with pytest.raises(WireError, match="raw BGR frame must hold"):
        codec.frame_from_proto(msg)
