"""``trackkit eval <target>``: evaluate tracker results against ground truth."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from trackkit.cli.options import add_verb

#: Modules providing the evaluation targets (``mot``, ``sot``, ...), each with ``add_eval_parser``.
TARGET_MODULES: tuple[str, ...] = ("trackkit.cli.eval_mot", "trackkit.cli.eval_sot")


HELP = "evaluate results (MOTChallenge, OTB/VOT, ReID)"
DESCRIPTION = "Evaluate tracking results against ground truth."


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "eval", HELP, DESCRIPTION)
    targets = parser.add_subparsers(dest="target", metavar="TARGET")
    for name in TARGET_MODULES:
        importlib.import_module(name).add_eval_parser(targets)
    parser.set_defaults(func=lambda args: _no_target(parser, args))


def _no_target(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2
