"""``trackkit sot train --help`` names every registered trainer."""

from __future__ import annotations

import pytest

from trackkit.cli.sot import build_train_parser, trainers_help
from trackkit.sot.train.base import SOT_TRAINERS


def test_help_lists_every_registered_trainer() -> None:
    pytest.importorskip("torch")
    names = SOT_TRAINERS.available()
    assert set(names) >= {"dcfnet", "siamfc", "goturn", "mdnet"}
    listed = {line.split()[0] for line in trainers_help().splitlines() if line.startswith("  ")}
    assert set(names) <= listed
    assert all(n in build_train_parser().format_help() for n in names)
