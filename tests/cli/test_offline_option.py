"""``--offline`` and ``--set offline.KEY=VALUE``: one rule for track, tune and batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackkit.cli.main import main
from trackkit.cli.options import offline_options
from trackkit.errors import ConfigError


def test_offline_options_rule() -> None:
    assert offline_options(False, {}) is None
    assert offline_options(True, {"max_gap": 5}) == {"max_gap": 5}
    with pytest.raises(ConfigError, match="needs --offline"):
        offline_options(False, {"max_gap": 5})
    with pytest.raises(ConfigError, match="--offline"):
        offline_options(True, {"max_gap": "sixty"})
    with pytest.raises(ConfigError, match="max_gapp"):
        offline_options(True, {"max_gapp": 5})


@pytest.mark.parametrize(
    "argv",
    [
        ["track", "{seq}", "--out", "{out}"],
        ["tune", "--tracker", "sort", "--gt", "{seq}", "--out", "{out}"],
        ["batch", "{seq}", "--out", "{out}"],
    ],
)
def test_every_verb_refuses_offline_options_without_offline(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    seq = tmp_path / "missing-sequence"
    args = [a.format(seq=seq, out=tmp_path / "out") for a in argv]
    assert main([*args, "--set", "offline.max_gap=9"]) != 0
    err = capsys.readouterr().err.strip()
    assert "needs --offline" in err and "\n" not in err
