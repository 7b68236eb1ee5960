"""The base and the helpers of the frozen configuration dataclasses of trackkit's algorithms.

Each algorithm has one ``@dataclass(frozen=True)`` config whose ``__post_init__`` validates
its fields (raising :class:`~trackkit.errors.ConfigError`). These helpers build such a config
from keyword arguments or from CLI ``key=value`` strings with errors that list valid keys.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import numbers
import operator
import os
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
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        s = "s" if len(unknown) > 1 else ""
        raise ConfigError(
            f"unknown option{s} {', '.join(repr(u) for u in unknown)} for {cls.__name__}; "
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


def _expected_kind(default: Any) -> str | None:
    """What a field whose default is ``default`` takes (``None``: not checked)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, numbers.Integral):
        return "an integer"
    if isinstance(default, numbers.Real):
        return "a number"
    if isinstance(default, str):
        return "a string"
    return None


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "true or false":
        return isinstance(value, (bool, numbers.Integral)) and value in (0, 1)
    if kind == "a string":
        return isinstance(value, (str, os.PathLike))
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, numbers.Real):
        return False
    # an integer field takes a float only when it is a whole number (30.0 for 30)
    return kind == "a number" or float(value).is_integer()


def _check_tuple(config: Any, name: str, default: tuple[Any, ...], value: Any) -> None:
    """A tuple field: a tuple or list (kept), or — for a tuple of strings — a comma-separated
    string (``--set features=hog,cn`` becomes ``("hog", "cn")``)."""
    if isinstance(value, (tuple, list)):
        if isinstance(value, list):
            object.__setattr__(config, name, tuple(value))
        return
    if isinstance(value, str) and all(isinstance(v, str) for v in default):
        parts = tuple(p.strip() for p in value.split(",") if p.strip())
        object.__setattr__(config, name, parts)
        return
    example = ",".join(str(v) for v in default) or "a,b"
    raise ConfigError(f"{name} must be a list such as {example!r}, got {value!r}")


#: Largest magnitude of a number in a configuration (beyond it, arithmetic such as
#: ``cell ** 2`` overflows): far above any meaningful setting.
MAX_MAGNITUDE = 1e15


def _check_magnitude(config: Any, name: str, value: Any, default: Any, kind: str) -> None:
    """A numeric field: finite (unless its default is infinite) and at most
    :data:`MAX_MAGNITUDE`; an integer field given a whole float (``30.0``) stores ``30``."""
    if not _finite_like(value, default):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if math.isfinite(float(value)) and abs(float(value)) > MAX_MAGNITUDE:
        raise ConfigError(f"{name} must be at most {MAX_MAGNITUDE:g} in size, got {value!r}")
    if kind == "an integer" and not isinstance(value, numbers.Integral):
        object.__setattr__(config, name, int(value))


def _finite_like(value: Any, default: Any) -> bool:
    """``value`` is finite, or infinite where the default is too (``inf`` meaning "no
    limit")."""
    v = float(value)
    return math.isfinite(v) or (not math.isnan(v) and not math.isfinite(float(default)))


def check_types(config: Any) -> None:
    """Check that every field whose default is a boolean, a number or a string holds a value
    of that kind (``None`` only where the field's type allows it, ``float | None``).

    Values from the command line are parsed by :func:`parse_value`, so ``--set padding=abc``
    arrives as the string ``'abc'``; this turns it into one line that names the option.

    A field whose default is a tuple takes a tuple or a list; a tuple of strings also takes a
    comma-separated string (``"hog,cn"``), stored as a tuple.

    Raises:
        ConfigError: ``"padding must be a number, got 'abc'"``.
    """
    for f in dataclasses.fields(config):
        kind = _expected_kind(f.default)
        value = getattr(config, f.name)
        if isinstance(f.default, tuple):
            _check_tuple(config, f.name, f.default, value)
            continue
        if kind is None or _has_kind(value, kind):
            if kind in ("a number", "an integer"):
                _check_magnitude(config, f.name, value, f.default, kind)
            continue
        if value is None and ("None" in str(f.type) or "Optional" in str(f.type)):
            continue
        raise ConfigError(f"{f.name} must be {kind}, got {value!r}")


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
        if isinstance(value, (str, bytes)) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name} must be a number ({name} {rule}), got {value!r}")
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
    between fields) in :meth:`validate`; when an instance is made, the kinds of the values
    are checked first (:func:`check_types`), then both.
    """

    RANGES: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_types(self)
        check_ranges(self)
        self.validate()

    def validate(self) -> None:
        """Rules beyond ``RANGES``; raise :class:`ConfigError` (see :func:`require`)."""
