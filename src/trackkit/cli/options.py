"""The shared vocabulary of the ``trackkit`` verbs: their parsers and ``--set KEY=VALUE``.

:func:`add_verb` adds a verb's (or sub-verb's) parser, with its examples kept as written.

Every verb that builds an algorithm takes its options as ``--set KEY=VALUE`` (repeatable,
several pairs after one ``--set``). A prefix addresses another part of the run:
``--set det.score_threshold=0.3`` goes to the detector, ``--set offline.max_gap=90`` to the
offline linker; plain keys go to the verb's main algorithm (the tracker). Values are Python
literals (numbers, booleans, tuples, ``None``) or plain strings
(:func:`trackkit.config.parse_value`).

:func:`check_options` compares options with a configuration dataclass so that a bad key or
a value of the wrong kind gives one line naming the option and the valid names, never a
``TypeError`` from deep inside; :func:`building` turns any error of building into such a line.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackkit.config import parse_overrides
from trackkit.errors import ConfigError, TrackkitError

__all__ = [
    "TRAIN_FLAGS",
    "add_key_values",
    "add_set_argument",
    "add_train_flag",
    "add_verb",
    "building",
    "from_args",
    "check_options",
    "split_options",
]


def add_verb(
    sub: Any, name: str, help: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """Add the parser of verb ``name`` to the subparsers ``sub``; ``epilog`` (examples,
    layouts) is printed by ``--help`` as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _prefixed(prefix: str) -> Callable[[str], str]:
    """The ``type`` of an item of a deprecated alias of ``--set``: the item with ``prefix``."""

    def item(text: str) -> str:
        return prefix + text

    return item


def add_set_argument(
    parser: argparse.ArgumentParser | Any, help: str, deprecated: dict[str, str] | None = None
) -> None:
    """Add ``--set KEY=VALUE ...`` (into ``args.set``, a list) to ``parser``.

    Args:
        help: what the keys configure (shown by ``--help``).
        deprecated: hidden aliases, option -> prefix added to their items (e.g.
            ``{"--config": "", "--det-config": "det."}``); they keep old command lines working.
    """
    parser.add_argument(
        "--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help=help
    )
    for option, prefix in (deprecated or {}).items():
        parser.add_argument(
            option,
            nargs="*",
            action="extend",
            type=_prefixed(prefix),
            dest="set",
            help=argparse.SUPPRESS,
        )


def add_key_values(
    parser: argparse.ArgumentParser | Any, flag: str, help: str, default: Any = None
) -> None:
    """Add ``FLAG KEY=VALUE ...`` (zero or more items into a list, ``[]`` by default; a
    repeated flag keeps its last items): the plain ``--set`` of ``trackkit sot`` and
    ``trackkit eval sot``, and the options of ``trackkit reid train``."""
    parser.add_argument(
        flag, nargs="*", default=[] if default is None else default, metavar="KEY=VALUE", help=help
    )


#: ``add_argument`` keywords of the flags the ``train`` verbs share (``trackkit reid train``,
#: ``trackkit sot train``); :func:`add_train_flag` adds one with the verb's default or help.
TRAIN_FLAGS: dict[str, dict[str, Any]] = {
    "--epochs": {"type": int},
    "--lr": {"type": float},
    "--seed": {"type": int, "default": 0},
    "--threads": {"type": int, "default": 1, "help": "torch threads (default 1)"},
    "--out": {"type": Path, "help": "output folder"},
    "--resume": {"action": "store_true", "help": "continue from OUT/checkpoint.pt"},
}


def add_train_flag(parser: argparse.ArgumentParser | Any, flag: str, **kwargs: Any) -> None:
    """Add the training flag ``flag`` (a key of :data:`TRAIN_FLAGS`); ``kwargs`` (a default,
    a help text, ``required``) override its shared keywords."""
    parser.add_argument(flag, **{**TRAIN_FLAGS[flag], **kwargs})


def from_args(args: argparse.Namespace, names: str, **renamed: str) -> dict[str, Any]:
    """Configuration fields from parsed options: ``names`` (space separated) are fields set by
    the option of their name, ``renamed`` maps a field to the option (``dest``) that sets it
    (``p="batch_p"``)."""
    dests = {name: name for name in names.split()} | renamed
    return {field: getattr(args, dest) for field, dest in dests.items()}


def split_options(items: Sequence[str], groups: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``KEY=VALUE`` items -> ``{"": main options, group: options, ...}``.

    ``group.KEY=VALUE`` goes to ``group`` (one of ``groups``) without its prefix; every other
    key to ``""``. A malformed item raises :class:`ConfigError` naming it.
    """
    out: dict[str, dict[str, Any]] = {"": {}, **{g: {} for g in groups}}
    for key, value in parse_overrides(items).items():
        group, dot, rest = key.partition(".")
        if dot and group in groups and rest:
            out[group][rest] = value
        else:
            out[""][key] = value
    return out


def _kind(default: Any) -> tuple[tuple[type, ...], str] | None:
    """The value types a field with this default takes, and their name."""
    if isinstance(default, bool):
        return (bool,), "true or false"
    if isinstance(default, int):
        return (int,), "an integer"
    if isinstance(default, float):
        return (int, float), "a number"
    if isinstance(default, str):
        return (str,), "a string"
    return None


def check_options(what: str, config_class: Any, options: dict[str, Any], prefix: str = "") -> None:
    """Raise :class:`ConfigError` for an option ``config_class`` (a dataclass) lacks or a
    value of another kind than the field's default; the message names the ``--set`` item
    and the valid keys. Nothing is checked when ``config_class`` is not a dataclass."""
    if not dataclasses.is_dataclass(config_class):
        return
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    # a paper's name for an option (ByteTrack's track_buffer = max_age) is checked as its field
    aliases: dict[str, str] = dict(getattr(config_class, "ALIASES", {}))
    valid = ", ".join(prefix + n for n in [*fields, *aliases])
    for key, value in options.items():
        field = fields.get(aliases.get(key, key))
        if field is None:
            raise ConfigError(
                f"--set {prefix}{key}: unknown option for {what}; valid options: {valid}"
            )
        kind = _kind(field.default)
        if kind is None:
            continue
        types, name = kind
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(f"--set {prefix}{key}={value!r}: {what} option {key!r} takes {name}")


@contextmanager
def building(what: str) -> Iterator[None]:
    """Turn an error raised while building ``what`` from ``--set`` options into one line."""
    try:
        yield
    except TrackkitError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--set: bad option for {what}: {exc}") from None


def offline_options(enabled: bool, options: dict[str, Any]) -> dict[str, Any] | None:
    """The checked options of the offline pass (``--offline`` with ``--set offline.KEY=V``;
    ``None``: no offline pass), the same rule for ``track``, ``tune`` and ``batch``.

    Raises:
        ConfigError: ``offline.*`` options without ``--offline``, or a bad option.
    """
    if not enabled:
        if options:
            raise ConfigError("--set offline.KEY=VALUE needs --offline")
        return None
    from trackkit.mot.offline import OfflineConfig, OfflineLinker

    check_options("--offline", OfflineConfig, options, "offline.")
    with building("--offline"):
        OfflineLinker(**options)
    return options
