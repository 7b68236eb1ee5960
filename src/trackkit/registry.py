"""Name -> factory registries with helpful errors, loaded lazily from packages.

Each family of algorithms (MOT trackers, SOT trackers, SOT trainers, ReID models, datasets,
detectors, ...) owns one :class:`Registry` that names the packages its entries live in. The
first lookup imports every module of those packages (``pkgutil``: no hand-kept module list),
so a new algorithm is one new module with a decorator::

    TRACKERS = Registry("MOT tracker", packages=("trackkit.mot.trackers",))

    @TRACKERS.register("sort")
    class Sort: ...

    tracker = TRACKERS.build("sort", max_age=30)

Modules are imported on first use only and must keep heavy imports (torch, onnxruntime)
inside functions; a module that cannot be imported is reported with the reason in the error
for a name that is not found.

A **preset** is a registered name that builds another entry with fixed overrides
(:meth:`Registry.register_preset`): the overrides are merged into the configuration at build
time (the caller's own keys win), so the built object's config is the configuration that
runs.

An unknown name raises :class:`~trackkit.errors.ConfigError` listing the valid names.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from trackkit.errors import ConfigError

T = TypeVar("T")

__all__ = ["Preset", "Registry"]


class Preset:
    """A named configuration of another registry entry (``base`` + fixed ``overrides``)."""

    def __init__(self, base: str, overrides: Mapping[str, Any]) -> None:
        self.base = base
        self.overrides = dict(overrides)


def _first_sentence(doc: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line (the whole paragraph
    when it has no sentence end)."""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    for end in (". ", ".) "):
        k = para.find(end)
        if k >= 0:
            return para[: k + len(end) - 1]
    return para


class Registry(Generic[T]):
    """A mapping from names to factories (classes or functions) of one kind.

    Args:
        kind: human-readable name of what is registered, used in error messages.
        packages: dotted names of packages whose modules register entries; every module of
            them (not sub-packages, not names starting with ``_``) is imported on first use.
    """

    def __init__(self, kind: str, packages: Sequence[str] = ()) -> None:
        self.kind = kind
        self.packages = tuple(packages)
        self._entries: dict[str, Callable[..., T]] = {}
        self._summaries: dict[str, str] = {}
        self._presets: dict[str, Preset] = {}
        self._loaded = not self.packages
        self._failed: dict[str, str] = {}

    # -- registration ---------------------------------------------------------------------
    def register(self, name: str, summary: str | None = None) -> Callable[[Any], Any]:
        """Decorator registering a factory under ``name``.

        ``summary`` is the one-line description shown by listings; by default the first line
        of the factory's docstring.
        """
        key = name.lower()

        def deco(factory: Any) -> Any:
            self._check_new(key, name)
            self._entries[key] = factory
            self._summaries[key] = summary or _first_sentence(factory.__doc__ or "")
            return factory

        return deco

    def register_preset(self, name: str, base: str, summary: str, **overrides: Any) -> None:
        """Register ``name`` as ``base`` built with ``overrides`` (caller's keys win)."""
        key = name.lower()
        self._check_new(key, name)
        self._presets[key] = Preset(base.lower(), overrides)
        self._summaries[key] = summary

    def _check_new(self, key: str, name: str) -> None:
        if key in self._entries or key in self._presets:
            raise ConfigError(f"{self.kind} {name!r} is registered twice")

    # -- loading ----------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
                if info.ispkg or info.name.startswith("_"):
                    continue
                module = f"{package}.{info.name}"
                try:
                    importlib.import_module(module)
                except ImportError as exc:  # an optional dependency is missing
                    self._failed[module] = str(exc)

    # -- lookup -----------------------------------------------------------------------------
    def available(self) -> list[str]:
        """The registered names (presets included), sorted."""
        self._load()
        return sorted([*self._entries, *self._presets])

    def summary(self, name: str) -> str:
        """One-line description of a registered name."""
        self._resolve(name)  # raises a helpful error for unknown names
        return self._summaries[name.lower()]

    def preset(self, name: str) -> Preset | None:
        """The preset registered as ``name``, or ``None`` for a plain entry."""
        self._resolve(name)
        return self._presets.get(name.lower())

    def _resolve(self, name: str) -> tuple[str, dict[str, Any]]:
        """``(entry key, preset overrides)`` of ``name``."""
        self._load()
        key = name.lower()
        if key in self._presets:
            preset = self._presets[key]
            return preset.base, dict(preset.overrides)
        if key in self._entries:
            return key, {}
        valid = ", ".join(self.available()) or "(none registered)"
        hint = "".join(f"; {m} could not be imported ({e})" for m, e in self._failed.items())
        raise ConfigError(f"unknown {self.kind} {name!r}; valid names: {valid}{hint}")

    def get(self, name: str) -> Callable[..., T]:
        """The factory that builds ``name`` (for a preset: its base entry's factory)."""
        key, _ = self._resolve(name)
        return self._entries[key]

    def build(self, name: str, **cfg: Any) -> T:
        """Build the algorithm registered under ``name`` with keyword configuration.

        A preset's overrides come first; ``cfg`` overrides them.
        """
        key, overrides = self._resolve(name)
        factory = self._entries[key]
        try:
            return factory(**{**overrides, **cfg})
        except TypeError as exc:
            raise ConfigError(f"bad configuration for {self.kind} {name!r}: {exc}") from exc

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._load()
        return name.lower() in self._entries or name.lower() in self._presets
