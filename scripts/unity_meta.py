"""Writes (or, with --check, requires) the Unity ``.meta`` file of every asset in the UPM package.

A package added from a git URL is immutable: Unity ignores any file or folder of it that has no
``.meta`` file next to it. The GUIDs are derived from the path inside the package, so running this
twice gives the same files and a new file gets a stable GUID:

    python scripts/unity_meta.py            # write the missing .meta files
    python scripts/unity_meta.py --check    # exit 1 naming every asset without one (CI)

Folders ending in ``~`` (``Samples~``) are hidden from Unity and skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "unity_client_stub" / "com.xrbridge.client"

_TAIL = "  externalObjects: {{}}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": (
        "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
        "  executionOrder: 0\n  icon: {instanceID: 0}\n  userData: \n  assetBundleName: \n"
        "  assetBundleVariant: \n"
    ),
    ".asmdef": "AssemblyDefinitionImporter:\n" + _TAIL.format(),
    ".json": "PackageManifestImporter:\n" + _TAIL.format(),
}
_TEXT = "TextScriptImporter:\n" + _TAIL.format()
_FOLDER = "folderAsset: yes\nDefaultImporter:\n" + _TAIL.format()


def assets(root: Path = PACKAGE) -> list[Path]:
    """Every file and folder Unity imports from the package (not ``*.meta``, not ``*~``)."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.endswith("~") or part.startswith(".") for part in rel.parts):
            continue
        if p.suffix == ".meta":
            continue
        out.append(p)
    return out


def meta_text(asset: Path, root: Path = PACKAGE) -> str:
    rel = asset.relative_to(root).as_posix()
    guid = hashlib.md5(f"com.xrbridge.client/{rel}".encode()).hexdigest()
    if asset.is_dir():
        body = _FOLDER
    elif asset.name == "package.json":
        body = _IMPORTERS[".json"]
    else:
        body = _IMPORTERS.get(asset.suffix, _TEXT)
    return f"fileFormatVersion: 2\nguid: {guid}\n{body}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report assets without a .meta")
    args = ap.parse_args(argv)
    missing = [a for a in assets() if not a.with_name(a.name + ".meta").exists()]
    orphans = [
        m for m in PACKAGE.rglob("*.meta") if not m.with_name(m.name[: -len(".meta")]).exists()
    ]
    if args.check:
        for a in missing:
            print(f"no .meta for {a.relative_to(PACKAGE.parent)} (run scripts/unity_meta.py)")
        for m in orphans:
            print(f"{m.relative_to(PACKAGE.parent)} has no asset next to it")
        return 1 if missing or orphans else 0
    for a in missing:
        a.with_name(a.name + ".meta").write_text(meta_text(a))
        print(f"wrote {a.relative_to(PACKAGE.parent)}.meta")
    return 0


if __name__ == "__main__":
    sys.exit(main())
