"""Helpers for the frozen configuration dataclasses of trackkit's algorithms.

Each algorithm has one ``@dataclass(frozen=True)`` config whose ``__post_init__`` validates
its fields (raising :class:`~trackkit.errors.ConfigError`). These helpers build such a config
from keyword arguments or from CLI ``key=value`` strings with errors that list valid keys.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

from trackkit.errors import ConfigError

C = TypeVar("C")


def make_config(cls: type[C], **overrides: Any) -> C:
    """Instantiate config dataclass ``cls`` with ``overrides``.

    Unknown keys raise :class:`ConfigError` naming the valid keys.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
            f"valid options: {', '.join(names)}"
        )
    return cls(**overrides)


def parse_value(text: str) -> Any:
    """Parse a CLI value: Python literals (numbers, booleans, tuples, None) or a plain string."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` into a dict, values parsed by :func:`parse_value`."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key=value, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)
