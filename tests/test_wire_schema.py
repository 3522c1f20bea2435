"""The .proto files, the committed generated code and the field-number registry agree.

``tests/golden/field_numbers.json`` lists every (message, field) -> number ever
released. A field may be added (append it there), never renumbered; a removed
field must stay in the registry and be ``reserved`` (number and name) in the
.proto, so its number can never be reused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from xrbridge.wire.gen import control_pb2, frame_pb2, overlay_pb2, services_pb2

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "tests" / "golden" / "field_numbers.json"
MODULES = {
    "overlay.proto": overlay_pb2,
    "frame.proto": frame_pb2,
    "control.proto": control_pb2,
    "services.proto": services_pb2,
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path_factory.mktemp("proto") / "set.pb"
    protos = sorted(
        str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos/xrbridge/v1").glob("*.proto")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT / "protos"),
            f"--descriptor_set_out={out}",
            *protos,
        ],
        check=True,
        cwd=ROOT,
    )
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    for f in fds.file:  # the generated modules embed descriptors without json_name
        for m in f.message_type:
            for fld in m.field:
                fld.ClearField("json_name")
    return fds


def test_generated_code_is_up_to_date(compiled) -> None:
    by_name = {f.name: f for f in compiled.file}
    assert set(by_name) == {f"xrbridge/v1/{n}" for n in MODULES}
    for name, mod in MODULES.items():
        committed = descriptor_pb2.FileDescriptorProto()
        committed.ParseFromString(mod.DESCRIPTOR.serialized_pb)
        assert committed == by_name[f"xrbridge/v1/{name}"], (
            f"run scripts/gen_protos.sh ({name} changed)"
        )


def _fields(compiled) -> dict[str, int]:
    out = {}
    for f in compiled.file:
        assert f.package == "xrbridge.v1"
        for m in f.message_type:
            for fld in m.field:
                out[f"{m.name}.{fld.name}"] = fld.number
    return out


def _reserved(compiled) -> dict[str, tuple[set[int], set[str]]]:
    res = {}
    for f in compiled.file:
        for m in f.message_type:
            nums = {n for r in m.reserved_range for n in range(r.start, r.end)}
            res[m.name] = (nums, set(m.reserved_name))
    return res


def test_field_numbers_never_change_or_get_reused(compiled) -> None:
    registry: dict[str, int] = json.loads(REGISTRY.read_text())
    now = _fields(compiled)
    reserved = _reserved(compiled)
    for key, number in registry.items():
        msg, name = key.split(".")
        if key in now:
            assert now[key] == number, f"{key} renumbered {number} -> {now[key]}"
        else:
            nums, names = reserved.get(msg, (set(), set()))
            assert number in nums and name in names, (
                f"{key} removed but {number}/{name} not reserved"
            )
    new = {k: v for k, v in now.items() if k not in registry}
    for key, number in new.items():
        msg = key.split(".")[0]
        used = {v for k, v in registry.items() if k.startswith(msg + ".")}
        assert number not in used, f"{key} reuses number {number}"
    assert not new, f"new fields {sorted(new)}: append them to {REGISTRY.name}"
