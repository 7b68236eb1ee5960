"""Search spaces declared next to the configuration dataclasses, and samplers over them.

A config class declares what may be tuned in a ``SEARCH_SPACE`` class attribute, beside its
``RANGES`` (merged over its bases like ``RANGES``; a subclass's rule replaces its base's)::

    SEARCH_SPACE: ClassVar[str] = (
        "max_age int [15, 240] log; track_thresh float [0.3, 0.8]; fuse_score choice (True, False)"
    )

Each rule is ``NAME KIND DOMAIN [log]``: ``float [lo, hi]`` and ``int [lo, hi]`` are closed
intervals sampled uniformly, or uniformly in ``log`` space; ``choice (a, b, ...)`` is a
categorical of Python literals. A rule whose domain is ``-`` removes the base's rule (the
field is not tuned for that class).

Samplers (:class:`RandomSampler`, :class:`LocalSampler`) draw configurations as
``{field: value}`` dicts; a draw that the config class rejects (``RANGES``, ``validate``) is
drawn again by the search (:mod:`trackkit.tune.search`).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trackkit.errors import ConfigError

__all__ = [
    "Param",
    "LocalSampler",
    "RandomSampler",
    "parse_space",
    "search_space",
]


@dataclass(frozen=True)
class Param:
    """One tunable field.

    Attributes:
        name: the config field.
        kind: ``"float"``, ``"int"`` or ``"choice"``.
        low, high: bounds of a numeric field (inclusive).
        log: sample ``float``/``int`` uniformly in log space (``low > 0``).
        choices: the values of a ``choice`` field.
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def _to_unit(self, value: float) -> float:
        lo, hi, v = self.low, self.high, float(value)
        if self.log:
            lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, self.low))
        return 0.0 if hi == lo else (v - lo) / (hi - lo)

    def _from_unit(self, u: float) -> Any:
        u = min(max(u, 0.0), 1.0)
        lo, hi = self.low, self.high
        if self.log:
            v = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        else:
            v = lo + u * (hi - lo)
        if self.kind == "int":
            return int(min(max(round(v), lo), hi))
        return float(min(max(v, lo), hi))

    def sample(self, rng: np.random.Generator) -> Any:
        """A uniform (or log-uniform) draw."""
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        return self._from_unit(float(rng.random()))

    def perturb(self, value: Any, rng: np.random.Generator, scale: float) -> Any:
        """A draw near ``value``: Gaussian with ``scale`` x the (log) range for numbers; for a
        choice, another value with probability ``scale``."""
        if self.kind == "choice":
            return self.sample(rng) if rng.random() < scale else value
        return self._from_unit(self._to_unit(value) + scale * float(rng.normal()))


def _literal(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_space(text: str, owner: str = "SEARCH_SPACE") -> dict[str, Param | None]:
    """Parse ``SEARCH_SPACE`` rules (see the module docstring); ``None`` marks a removed rule.

    Raises:
        ConfigError: naming ``owner`` and the malformed rule.
    """
    out: dict[str, Param | None] = {}
    for item in text.split(";"):
        rule = item.strip()
        if not rule:
            continue
        parts = rule.split(maxsplit=2)
        if len(parts) == 2 and parts[1] == "-":
            out[parts[0]] = None
            continue
        if len(parts) < 3:
            raise ConfigError(f"{owner}: rule {rule!r} needs NAME KIND DOMAIN")
        name, kind, rest = parts
        rest = rest.strip()
        log = rest.endswith(" log")
        if log:
            rest = rest[: -len(" log")].strip()
        try:
            if kind == "choice":
                if not (rest.startswith("(") and rest.endswith(")")):
                    raise ValueError("a choice lists its values in parentheses")
                values = tuple(_literal(v) for v in rest[1:-1].split(",") if v.strip())
                if not values:
                    raise ValueError("no values")
                out[name] = Param(name, "choice", choices=values)
            elif kind in ("float", "int"):
                if not (rest.startswith("[") and rest.endswith("]")):
                    raise ValueError("a numeric domain is [low, high]")
                lo, hi = (float(v) for v in rest[1:-1].split(","))
                if hi < lo or (log and lo <= 0):
                    raise ValueError("needs low <= high (and low > 0 with log)")
                out[name] = Param(name, kind, lo, hi, log)
            else:
                raise ValueError(f"unknown kind {kind!r} (float, int or choice)")
        except ValueError as exc:
            raise ConfigError(f"{owner}: bad rule {rule!r}: {exc}") from None
    return out


def search_space(config_class: type[Any]) -> dict[str, Param]:
    """The merged ``SEARCH_SPACE`` of ``config_class`` and its bases (fields in order of
    declaration, a subclass's rule replacing its base's; removed rules dropped)."""
    rules: dict[str, Param | None] = {}
    for cls in reversed(config_class.__mro__):
        text = cls.__dict__.get("SEARCH_SPACE", "")
        if text:
            rules.update(parse_space(text, f"{cls.__name__}.SEARCH_SPACE"))
    return {k: v for k, v in rules.items() if v is not None}


def restrict(space: Mapping[str, Param], names: Sequence[str] | None) -> dict[str, Param]:
    """The part of ``space`` named in ``names`` (``None``: all); unknown names raise
    :class:`ConfigError` listing the tunable ones."""
    if not names:
        return dict(space)
    unknown = [n for n in names if n not in space]
    if unknown:
        raise ConfigError(
            f"--params: {', '.join(unknown)} not tunable; tunable: {', '.join(space)}"
        )
    return {n: space[n] for n in names}


class RandomSampler:
    """Independent uniform (log-uniform) draws of every parameter."""

    def __init__(self, space: Mapping[str, Param], seed: int = 0) -> None:
        self.space = dict(space)
        self.rng = np.random.default_rng(seed)

    def propose(self, history: Sequence[tuple[dict[str, Any], float]]) -> dict[str, Any]:
        """A new configuration (``history``: past ``(params, objective)``, unused here)."""
        return {name: p.sample(self.rng) for name, p in self.space.items()}


class LocalSampler(RandomSampler):
    """Random draws for the first ``startup`` trials, then mostly perturbations of one of the
    best ``top`` configurations so far (a simple evolutionary search: with probability
    ``explore`` a fresh random draw). A perturbation changes a few parameters (each with
    probability ``2 / len(space)``, at least one), so that a good configuration is improved
    one or two settings at a time; the step shrinks from ``scale`` as trials accumulate."""

    def __init__(
        self,
        space: Mapping[str, Param],
        seed: int = 0,
        startup: int = 10,
        top: int = 5,
        scale: float = 0.15,
        explore: float = 0.15,
    ) -> None:
        super().__init__(space, seed)
        self.startup, self.top, self.scale, self.explore = startup, top, scale, explore

    def propose(self, history: Sequence[tuple[dict[str, Any], float]]) -> dict[str, Any]:
        done = [(p, v) for p, v in history if math.isfinite(v)]
        if len(done) < self.startup or self.rng.random() < self.explore:
            return super().propose(history)
        best = sorted(done, key=lambda pv: -pv[1])[: self.top]
        parent = best[int(self.rng.integers(len(best)))][0]
        scale = self.scale * max(0.3, 1.0 / math.sqrt(1.0 + len(done) / 50.0))
        names = list(self.space)
        change = self.rng.random(len(names)) < min(1.0, 2.0 / max(1, len(names)))
        change[int(self.rng.integers(len(names)))] = True
        out = {}
        for name, moved in zip(names, change.tolist()):
            p, value = self.space[name], parent.get(name)
            if value is None:
                out[name] = p.sample(self.rng)
            else:
                step = 1.0 if p.kind == "choice" else scale
                out[name] = p.perturb(value, self.rng, step) if moved else value
        return out


SAMPLERS = {"random": RandomSampler, "local": LocalSampler}
