"""The options of an algorithm in words: name, default, allowed range and meaning.

``trackkit track --options`` prints them for the chosen tracker, detector and offline pass:
the fields of their configuration dataclasses, each with its default, its rule from
``RANGES`` and its meaning from the ``Attributes:`` section of the docstrings (a subclass's
text for a field replaces its base's).
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from typing import Any

__all__ = ["describe_config", "field_docs"]

_ITEM = re.compile(r"^(\s*)(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def _attributes(doc: str) -> dict[str, str]:
    """``name -> text`` of the ``Attributes:`` section of one docstring."""
    lines = textwrap.dedent("\n".join((doc or "").splitlines()[1:])).splitlines()
    out: dict[str, str] = {}
    inside = False
    base: int | None = None
    current: str | None = None
    for line in lines:
        if line.strip() == "Attributes:":
            inside, base, current = True, None, None
            continue
        if not inside:
            continue
        if not line.strip():
            current = None
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            inside = False
            continue
        m = _ITEM.match(line)
        if m and (base is None or len(m.group(1)) == base):
            base = len(m.group(1))
            current = m.group(2)
            out[current] = m.group(3).strip()
        elif current is not None:
            out[current] += " " + line.strip()
    return out


def _plain(text: str) -> str:
    """reStructuredText markup to plain words: ``x`` -> x, :class:`~a.B` -> B, **x** -> x."""
    text = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("**", "")


def field_docs(config_class: type) -> dict[str, str]:
    """Meaning of each field (plain text), from the docstrings along the class's bases."""
    docs: dict[str, str] = {}
    for cls in reversed(config_class.__mro__):
        docs.update(_attributes(cls.__doc__ or ""))
    return {k: _plain(v) for k, v in docs.items()}


def _rules(config_class: type) -> dict[str, str]:
    rules: dict[str, str] = {}
    for cls in reversed(config_class.__mro__):
        for item in str(cls.__dict__.get("RANGES", "")).split(";"):
            if item.strip():
                name, rule = item.split(maxsplit=1)
                rules[name] = rule
    return rules


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return repr(f.default_factory())
    return "(required)"


def describe_config(title: str, config_class: Any, prefix: str = "", width: int = 100) -> str:
    """A table of the options of ``config_class``: ``--set PREFIX+name=DEFAULT  rule
    meaning``; a line saying there are none when it is not a dataclass."""
    if not dataclasses.is_dataclass(config_class):
        return f"{title}: no options"
    docs = field_docs(config_class)  # type: ignore[arg-type]
    rules = _rules(config_class)  # type: ignore[arg-type]
    aliases: dict[str, str] = dict(getattr(config_class, "ALIASES", {}))
    fields = [f for f in dataclasses.fields(config_class) if f.init]
    heads = [f"{prefix}{f.name}={_default(f)}" for f in fields]
    col = min(max((len(h) for h in heads), default=0) + 2, 40)
    lines = [f"{title} (--set {prefix}KEY=VALUE):"]
    for f, head in zip(fields, heads, strict=True):
        text = docs.get(f.name, "")
        rule = rules.get(f.name)
        if rule:
            text = f"[{f.name} {rule}] {text}"
        also = [a for a, n in aliases.items() if n == f.name]
        if also:
            text += f" (also: {', '.join(prefix + a for a in also)})"
        wrapped = textwrap.wrap(text, width - col - 2) or [""]
        pad = "" if len(head) + 2 <= col else "\n" + " " * (col + 2)
        lines.append(f"  {head:<{col}}{pad}{wrapped[0]}".rstrip())
        lines.extend(" " * (col + 2) + w for w in wrapped[1:])
    return "\n".join(lines)
