"""The base and the helpers of the frozen configuration dataclasses of trackkit's algorithms.

Each algorithm has one ``@dataclass(frozen=True)`` config whose ``__post_init__`` validates
its fields (raising :class:`~trackkit.errors.ConfigError`). These helpers build such a config
from keyword arguments or from CLI ``key=value`` strings with errors that list valid keys.
"""

from __future__ import annotations

import ast
import dataclasses
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

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


def check_ranges(config: Any) -> None:
    """Validate the numeric fields named in the ``RANGES`` of ``config``'s class and its bases
    (a subclass's rule for a field replaces its base's).

    ``RANGES`` is a string of ``;``-separated rules, each a field and an interval or a bound:
    ``"iou_threshold in (0, 1]; delta_t >= 1; frame_rate > 0; low_thresh in [0, high]"``.
    The operators are ``>=``, ``>``, ``<=``, ``<``; a bound is a number or the name of another
    field (``max_trans >= trans``). A field set to ``None`` (an optional value left unset)
    passes.

    Raises:
        ConfigError: ``"NAME must be in (0, 1], got 1.5"`` / ``"NAME must be >= 1, got 0"``
            for the first field out of range.
    """
    rules: dict[str, str] = {}
    for cls in reversed(type(config).__mro__):
        for item in cls.__dict__.get("RANGES", "").split(";"):
            if item.strip():
                name, rule = item.split(maxsplit=1)
                rules[name] = rule

    def bound(text: str) -> Any:
        text = text.strip()
        try:
            return float(text)
        except ValueError:
            return getattr(config, text)

    for name, rule in rules.items():
        value = getattr(config, name)
        if value is None:  # an optional field left unset
            continue
        if rule.startswith("in "):
            interval = rule[3:]
            lo, hi = (bound(x) for x in interval[1:-1].split(","))
            ok = (value > lo if interval[0] == "(" else value >= lo) and (
                value < hi if interval[-1] == ")" else value <= hi
            )
        else:
            op, text = rule.split()
            ok = _COMPARE[op](value, bound(text))
        require(ok, f"{name} must be {rule}, got {value!r}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Config:
    """Base of trackkit's frozen configuration dataclasses.

    A subclass declares its numeric bounds in the class attribute ``RANGES`` (checked by
    :func:`check_ranges`, merged with its bases') and its other rules (choices, relations
    between fields) in :meth:`validate`; both run when an instance is made.
    """

    RANGES: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_ranges(self)
        self.validate()

    def validate(self) -> None:
        """Rules beyond ``RANGES``; raise :class:`ConfigError` (see :func:`require`)."""
