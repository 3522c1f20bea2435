"""Golden bytes: the encoders must produce exactly the committed files, and
decoding the committed files must give back the sample values.

Regenerate (only on purpose, together with unity_client_stub/PROTOCOL.md):
``XRBRIDGE_UPDATE_GOLDEN=1 python -m pytest tests/test_wire_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from xrbridge.wire import alert, codec, verdict
from xrbridge.wire.samples import ALERT_SAMPLES, SAMPLES, VERDICT_SAMPLES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("XRBRIDGE_UPDATE_GOLDEN") == "1"


def _files(name: str) -> tuple[Path, Path, Path]:
    return GOLDEN / f"{name}.msgpack", GOLDEN / f"{name}.pb", GOLDEN / f"{name}.json"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_encoders_match_golden_bytes(name: str) -> None:
    frame = SAMPLES[name]()
    mp, pb, js = _files(name)
    got_mp = codec.overlay_to_msgpack(frame)
    got_pb = codec.overlay_to_proto_bytes(frame)
    if UPDATE:
        mp.write_bytes(got_mp)
        pb.write_bytes(got_pb)
        js.write_text(json.dumps(codec.overlay_to_dict(frame), indent=2) + "\n")
    assert got_mp == mp.read_bytes()
    assert got_pb == pb.read_bytes()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_bytes_decode_to_the_sample(name: str) -> None:
    mp, pb, js = _files(name)
    want = codec.overlay_to_dict(SAMPLES[name]())
    assert codec.overlay_to_dict(codec.overlay_from_msgpack(mp.read_bytes())) == want
    assert codec.overlay_to_dict(codec.overlay_from_proto(pb.read_bytes())) == want
    # the JSON rendering is what the Unity stub compares its decoded values with
    assert json.loads(js.read_text()) == want


@pytest.mark.parametrize("name", sorted(VERDICT_SAMPLES))
def test_verdict_encoders_match_golden_bytes(name: str) -> None:
    v = VERDICT_SAMPLES[name]()
    mp, pb, js = _files(name)
    got_mp = verdict.verdict_to_msgpack(v)
    got_pb = verdict.verdict_to_proto(v).SerializeToString(deterministic=True)
    if UPDATE:
        mp.write_bytes(got_mp)
        pb.write_bytes(got_pb)
        js.write_text(json.dumps(verdict.verdict_to_dict(v), indent=2) + "\n")
    assert got_mp == mp.read_bytes()
    assert got_pb == pb.read_bytes()


@pytest.mark.parametrize("name", sorted(VERDICT_SAMPLES))
def test_verdict_golden_bytes_decode_to_the_sample(name: str) -> None:
    mp, pb, js = _files(name)
    want = verdict.verdict_to_dict(VERDICT_SAMPLES[name]())
    assert verdict.verdict_to_dict(verdict.verdict_from_msgpack(mp.read_bytes())) == want
    assert verdict.verdict_to_dict(verdict.verdict_from_proto(pb.read_bytes())) == want
    assert json.loads(js.read_text()) == want


@pytest.mark.parametrize("name", sorted(ALERT_SAMPLES))
def test_alert_encoders_match_golden_bytes(name: str) -> None:
    a = ALERT_SAMPLES[name]()
    mp, pb, js = _files(name)
    got_mp = alert.alert_to_msgpack(a)
    got_pb = alert.alert_to_proto(a).SerializeToString(deterministic=True)
    if UPDATE:
        mp.write_bytes(got_mp)
        pb.write_bytes(got_pb)
        js.write_text(json.dumps(alert.alert_to_dict(a), indent=2) + "\n")
    assert got_mp == mp.read_bytes()
    assert got_pb == pb.read_bytes()


@pytest.mark.parametrize("name", sorted(ALERT_SAMPLES))
def test_alert_golden_bytes_decode_to_the_sample(name: str) -> None:
    mp, pb, js = _files(name)
    want = ALERT_SAMPLES[name]()
    assert alert.alert_from_msgpack(mp.read_bytes()) == want
    assert alert.alert_from_proto(pb.read_bytes()) == want
    assert json.loads(js.read_text()) == alert.alert_to_dict(want)


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        ({"state": "on"}, "alert.state must be one of"),
        ({"rate": 1.5}, "alert.rate must be in [0, 1]"),
        ({"cars": "25"}, "alert.cars: expected int, got str"),
        ({"schema_version": 2}, "alert.schema_version must be 1"),
        ({"type": "car_verdict"}, "expected type 'robot_alert'"),
    ],
)
def test_bad_alert_messages_name_the_field(change: dict, msg: str) -> None:
    from xrbridge.errors import WireError

    d = {**alert.alert_to_dict(ALERT_SAMPLES["robot_alert_v1"]()), **change}
    with pytest.raises(WireError, match=re.escape(msg)):
        alert.alert_from_dict(d)
    with pytest.raises(WireError, match="missing key 'robot'"):
        alert.alert_from_dict(
            {k: v for k, v in d.items() if k != "robot"}
            | {"type": "robot_alert", "schema_version": 1}
        )
