"""MkDocs hook: the configuration reference, generated from ``xrbridge.bridge.settings.Settings``.

``docs/configuration.md`` holds the marker ``<!-- settings-reference -->``; this hook replaces
it with one table row per settings field (TOML key, environment variable, flag, type, default,
help). The build fails (also without ``--strict``) when a field has no help text, or when the
page lost its marker, so a setting cannot be added without being documented.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = "<!-- settings-reference -->"
PAGE = "configuration.md"


def _settings() -> Any:
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    from xrbridge.bridge import settings

    return settings


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def settings_table() -> str:
    """The Markdown table of every settings field; raises PluginError on an undocumented one."""
    s = _settings()
    rows = [
        "| TOML key | environment | flag | type | default | what |",
        "|---|---|---|---|---|---|",
    ]
    undocumented = []
    for f in dataclasses.fields(s.Settings):
        help_text = str(f.metadata.get("help", "")).strip()
        if not help_text:
            undocumented.append(f.name)
            continue
        kind = f.metadata.get("kind", str)
        kind_name = {list: "list of strings"}.get(kind, getattr(kind, "__name__", str(kind)))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            flag += f" / --no-{f.name.replace('_', '-')}"
        env = s.ENV_PREFIX + f.name.upper()
        rows.append(
            f"| `{f.name}` | `{env}` | `{flag}` | {kind_name} | {_default(default)} | "
            f"{help_text.replace('|', '&#124;')} |"
        )
    if undocumented:
        raise PluginError(
            "settings without a help text (add metadata help in xrbridge/bridge/settings.py): "
            + ", ".join(undocumented)
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"docs/{PAGE} lost its marker {MARKER}")
    return markdown.replace(MARKER, settings_table())
