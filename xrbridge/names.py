"""Names every part of xrbridge agrees on (../docs/contracts.md)."""

from __future__ import annotations

from typing import Final

VIEWS: Final = ("lower_front", "lower_center", "lower_back")
MODELS: Final = ("patchcore", "memseg", "efficientad-s", "efficientad-m", "simplenet")
DEFECTS: Final = ("missing", "misalignment", "bifurcation", "narrowing", "hole")
SEVERITIES: Final = ("low", "medium", "high")
BACKBONES: Final = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def check_name(kind: str, value: str, valid: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``valid``; else raise UnknownNameError listing them."""
    from xrbridge.errors import UnknownNameError

    if value not in valid:
        raise UnknownNameError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return value
