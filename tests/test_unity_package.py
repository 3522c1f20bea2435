"""The Unity package is installable: a valid manifest, assembly definitions that reference each
other by name, a sample that exists, and a .meta file for every asset (Unity ignores assets of an
immutable git package that have none)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.bridge_support import ROOT

PKG = ROOT / "unity_client_stub" / "com.xrbridge.client"


def test_manifest_names_the_package_and_its_sample() -> None:
    m = json.loads((PKG / "package.json").read_text())
    assert m["name"] == "com.xrbridge.client" and m["name"] == PKG.name
    assert m["version"].count(".") == 2 and m["unity"] >= "2021.3"
    for s in m["samples"]:
        assert (PKG / s["path"]).is_dir() and list((PKG / s["path"]).glob("*.cs")), s


def test_assembly_definitions_reference_existing_assemblies() -> None:
    defs = {p: json.loads(p.read_text()) for p in PKG.rglob("*.asmdef")}
    names = {d["name"] for d in defs.values()}
    assert {"Xrbridge.Client", "Xrbridge.Client.Unity"} <= names
    for p, d in defs.items():
        assert set(d["references"]) <= names, p
    core = next(d for d in defs.values() if d["name"] == "Xrbridge.Client")
    assert core["noEngineReferences"] is True  # the protocol code runs without UnityEngine


def test_every_asset_has_a_meta_file() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unity_meta.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
