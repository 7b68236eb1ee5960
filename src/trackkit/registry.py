"""Name -> factory registries with helpful errors.

Each family of algorithms (MOT trackers, SOT trackers, ReID models, detectors, ...) owns one
:class:`Registry`. Algorithms register themselves explicitly::

    TRACKERS = Registry("MOT tracker")

    @TRACKERS.register("sort")
    class Sort: ...

    tracker = TRACKERS.build("sort", max_age=30)

An unknown name raises :class:`~trackkit.errors.ConfigError` listing the valid names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from trackkit.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories (classes or functions) of one kind.

    Args:
        kind: human-readable name of what is registered, used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._summaries: dict[str, str] = {}

    def register(self, name: str, summary: str | None = None) -> Callable[[Any], Any]:
        """Decorator registering a factory under ``name``.

        ``summary`` is the one-line description shown by listings; by default the first line
        of the factory's docstring.
        """
        key = name.lower()

        def deco(factory: Any) -> Any:
            if key in self._entries:
                raise ConfigError(f"{self.kind} {name!r} is registered twice")
            self._entries[key] = factory
            doc = (factory.__doc__ or "").strip().splitlines()
            self._summaries[key] = summary or (doc[0] if doc else "")
            return factory

        return deco

    def available(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def summary(self, name: str) -> str:
        """One-line description of a registered name."""
        self.get(name)  # raises a helpful error for unknown names
        return self._summaries[name.lower()]

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name`` (case-insensitive)."""
        try:
            return self._entries[name.lower()]
        except KeyError:
            valid = ", ".join(self.available()) or "(none registered)"
            raise ConfigError(f"unknown {self.kind} {name!r}; valid names: {valid}") from None

    def build(self, name: str, **cfg: Any) -> T:
        """Build the algorithm registered under ``name`` with keyword configuration."""
        factory = self.get(name)
        try:
            return factory(**cfg)
        except TypeError as exc:
            raise ConfigError(f"bad configuration for {self.kind} {name!r}: {exc}") from exc

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries
