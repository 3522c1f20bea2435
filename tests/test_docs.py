"""The documentation's generated configuration reference: every bridge setting appears, and a
setting without a help text fails the build."""

from __future__ import annotations

import dataclasses
import importlib.util
from types import ModuleType

import pytest

from tests.bridge_support import ROOT
from xrbridge.bridge import settings


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_reference", ROOT / "docs/hooks/settings_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_reference() -> None:
    table = _hook().settings_table()
    for f in dataclasses.fields(settings.Settings):
        assert f"| `{f.name}` | `XRBRIDGE_{f.name.upper()}` |" in table
    assert "`--realtime / --no-realtime` | bool | `true`" in table


def test_an_undocumented_setting_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from mkdocs.exceptions import PluginError

    @dataclasses.dataclass(frozen=True)
    class WithNewSetting(settings.Settings):
        new_knob: int = dataclasses.field(default=3, metadata={"kind": int})

    monkeypatch.setattr(settings, "Settings", WithNewSetting)
    with pytest.raises(PluginError, match=r"settings without a help text .*: new_knob"):
        _hook().settings_table()


def test_the_configuration_page_keeps_its_marker() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "<!-- settings-reference -->" in page
