"""Entry point of the ``trackkit`` command.

Each verb lives in its own module of :mod:`trackkit.cli` exposing
``add_parser(subparsers) -> None``; that function adds the verb's parser and sets
``func=handler`` where ``handler(args) -> int`` returns the exit status. Verb modules are
found by scanning the package (a module with ``add_parser`` is a verb, named after it):
``VERB_ORDER`` fixes the order of the known ones in ``trackkit --help``, any other comes after
them by name; a command line naming a verb imports that verb's module only. Verb modules must
import heavy optional dependencies (torch, onnxruntime) inside their handlers only, so that
``trackkit --help`` and the evaluation work without them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from trackkit import __version__
from trackkit.errors import TrackkitError

#: Verbs listed first by ``trackkit --help``, in this order; others follow by module name.
VERB_ORDER: tuple[str, ...] = ("demo", "track", "sot", "eval", "reid")


def _module_names() -> list[str]:
    import trackkit.cli as package

    return sorted(
        info.name for info in pkgutil.iter_modules(package.__path__) if info.name != "main"
    )


def verb_modules(only: str | None = None) -> list[str]:
    """Names of the modules of :mod:`trackkit.cli` that define a verb (``add_parser``);
    with ``only``, just that verb's module when there is one (a verb's module is named
    after it), so that one command imports one verb's code."""
    names = _module_names()
    if only is not None and only in names:
        module = importlib.import_module(f"trackkit.cli.{only}")
        if callable(getattr(module, "add_parser", None)):
            return [module.__name__]
    ordered = [n for n in VERB_ORDER if n in names] + [n for n in names if n not in VERB_ORDER]
    found = []
    for name in ordered:
        module = importlib.import_module(f"trackkit.cli.{name}")
        if callable(getattr(module, "add_parser", None)):
            found.append(module.__name__)
    return found


def _verb_of(argv: Sequence[str]) -> str | None:
    """The verb named on a command line (its first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every verb registered, or with only ``verb`` when it names
    one (start-up then imports that verb's module only)."""
    parser = argparse.ArgumentParser(
        prog="trackkit",
        description="Visual object tracking and re-identification: multi-object tracking, "
        "single-object tracking, person re-identification and their evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"trackkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in verb_modules(verb):
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (0 ok, 2 bad input, 130 interrupted)."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_verb_of(words))
    args = parser.parse_args(words)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.verb is None else 2
    try:
        return int(args.func(args) or 0)
    except TrackkitError as exc:
        print(f"trackkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trackkit: interrupted; results written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
