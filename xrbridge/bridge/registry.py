"""The model registry: trained models found in the models folder, chosen by name.

A client never sends a path: it sends a *name* that this registry looked up
when the bridge started. Layouts recognised under ``models_dir``:

- ``<view>/manifest.json`` (the default models, one per view): a model set
  named after the manifests' ``model`` key (e.g. ``patchcore``);
- ``<set>/<view>/manifest.json``: a model set named ``<set>``;
- ``<set>/manifest.json``: a one-view set named ``<set>`` (its view is the
  manifest's ``category``).

Each (set, view) entry is listed as ``<set>-<view>`` (``ModelInfo.name``).
Loading builds ONNX Runtime sessions once per set and keeps them (a switch
back is instant; sessions are shared by streams, ``run`` is thread-safe).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrbridge.errors import ArtifactError, UnknownNameError
from xrbridge.names import VIEWS

#: ONNX sessions shared by every registry of the process, keyed by (folder, threads):
#: sessions are immutable and thread-safe, and loading one costs a warm-up.
_SESSIONS: dict[tuple[str, float, int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One trained model of a set, for one view."""

    set_name: str
    view: str
    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.set_name}-{self.view}"

    def info(self) -> dict[str, Any]:
        inp = self.manifest.get("input", {})
        return {
            "name": self.name,
            "model": str(self.manifest.get("model", self.set_name)),
            "view": self.view,
            "backbone": str(self.manifest.get("backbone", "")),
            "input_height": int(inp.get("height", 0)),
            "input_width": int(inp.get("width", 0)),
        }


def _manifest(path: Path) -> dict[str, Any] | None:
    f = path / "manifest.json"
    if not f.is_file() or not (path / "model.onnx").is_file():
        return None
    try:
        m = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


class ModelRegistry:
    """Model sets by name, scanned once from a folder."""

    def __init__(self, models_dir: Path) -> None:
        self.root = Path(models_dir)
        self.sets: dict[str, dict[str, ModelEntry]] = {}
        self.scan()

    def _add(self, set_name: str, view: str, path: Path, manifest: dict[str, Any]) -> None:
        if not _NAME.match(set_name) or view not in VIEWS:
            return
        self.sets.setdefault(set_name, {})[view] = ModelEntry(set_name, view, path, manifest)

    def scan(self) -> None:
        self.sets.clear()
        if not self.root.is_dir():
            return
        for d in sorted(p for p in self.root.iterdir() if p.is_dir()):
            m = _manifest(d)
            if m is not None:
                if d.name in VIEWS:
                    self._add(str(m.get("model", "default")), d.name, d, m)
                else:
                    self._add(d.name, str(m.get("category", "")), d, m)
                continue
            for v in VIEWS:
                mv = _manifest(d / v)
                if mv is not None:
                    self._add(d.name, v, d / v, mv)

    def names(self) -> list[str]:
        """Selectable model (set) names, sorted."""
        return sorted(self.sets)

    def infos(self) -> list[dict[str, Any]]:
        return [e.info() for s in self.names() for e in self.sets[s].values()]

    def default(self) -> str:
        if not self.sets:
            raise ArtifactError(
                f"no trained models in {self.root} (expected <view>/model.onnx + manifest.json)"
            )
        return self.names()[0]

    def check(self, name: str) -> str:
        if name not in self.sets:
            raise UnknownNameError(
                f"unknown model {name!r}; valid: {', '.join(self.names()) or '(none)'}"
            )
        return name

    def load(self, name: str, threads: int | None = 1) -> dict[str, Any]:
        """{view: OnnxModel} of a set, built once (blocking; call it off the event loop)."""
        from xrbridge.models.runtime import OnnxModel

        self.check(name)
        out = {}
        for view, e in self.sets[name].items():
            onnx = e.path / "model.onnx"
            key = (str(onnx.resolve()), onnx.stat().st_mtime, threads)
            with _SESSIONS_LOCK:
                if key not in _SESSIONS:
                    _SESSIONS[key] = OnnxModel(e.path, threads=threads)
                out[view] = _SESSIONS[key]
        return out
