"""Typed model options: each model declares a dataclass, ``xrbridge train`` builds its flags from it.

A model's ``options.py`` (importable without torch) defines a frozen dataclass
whose fields are its settings, each made with :func:`opt` (default, help text,
optional choices). :func:`parse` turns ``TrainConfig.options`` (a plain
mapping, e.g. from the command line) into that dataclass, refusing unknown
keys and values of the wrong type or outside the choices with a
:class:`~xrbridge.errors.UsageError` that names what was expected.

Flags: field ``coreset_ratio`` becomes ``--coreset-ratio``. The same field
name in two models is one flag (its type must agree).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar, get_type_hints

from xrbridge.errors import UsageError

T = TypeVar("T")


def opt(default: Any, help: str, choices: tuple[Any, ...] | None = None, flag: bool = True) -> Any:
    """A dataclass field with a help text (and allowed values); ``flag=False`` keeps it off the CLI."""
    return dataclasses.field(
        default=default, metadata={"help": help, "choices": choices, "flag": flag}
    )


def fields(cls: type) -> list[tuple[str, type, Any, dict[str, Any]]]:
    """(name, type, default, metadata) of each option of ``cls``."""
    hints = get_type_hints(cls)
    return [(f.name, hints[f.name], f.default, dict(f.metadata)) for f in dataclasses.fields(cls)]


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _coerce(model: str, name: str, typ: type, value: Any, choices: tuple[Any, ...] | None) -> Any:
    try:
        if typ is bool:
            if isinstance(value, str):
                if value.lower() not in ("0", "1", "true", "false"):
                    raise ValueError(value)
                out: Any = value.lower() in ("1", "true")
            else:
                out = bool(value)
        elif typ is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        else:
            out = typ(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{model} option {name}: expected {typ.__name__}, got {value!r}") from exc
    if choices is not None and out not in choices:
        raise UsageError(
            f"{model} option {name}: expected one of {', '.join(map(str, choices))}, got {value!r}"
        )
    return out


def parse(cls: type[T], model: str, values: Mapping[str, Any]) -> T:
    """``values`` (None entries ignored) over the defaults of ``cls``; typed and checked.

    Raises:
        UsageError: an unknown option, a value of the wrong type or outside the choices.
    """
    given = {k: v for k, v in values.items() if v is not None}
    known = {name: (typ, meta) for name, typ, _d, meta in fields(cls)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UsageError(f"unknown {model} options {unknown}; valid: {', '.join(known)}")
    kw = {
        k: _coerce(model, k, known[k][0], v, known[k][1].get("choices")) for k, v in given.items()
    }
    return cls(**kw)


def as_dict(options: Any) -> dict[str, Any]:
    """The options dataclass as a plain dict (for the manifest)."""
    return dataclasses.asdict(options)
