"""Golden bytes: the encoders must produce exactly the committed files, and
decoding the committed files must give back the sample values.

Regenerate (only on purpose, together with unity_client_stub/PROTOCOL.md):
``XRBRIDGE_UPDATE_GOLDEN=1 python -m pytest tests/test_wire_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xrbridge.wire import codec, verdict
from xrbridge.wire.samples import SAMPLES, VERDICT_SAMPLES

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
