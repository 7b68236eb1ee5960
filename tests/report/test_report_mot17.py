"""A report of the seven MOT17 training sequences x 3 trackers: size, load time in a real
browser, and its numbers against the official kit's."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trackkit.cli.main import main
from trackkit.report.browser import Browser

pytestmark = [pytest.mark.shared, pytest.mark.slow, pytest.mark.timeout(300)]


def test_mot17_seven_sequences_three_trackers(
    shared: Path, browser: Browser, tmp_path: Path
) -> None:
    vector = shared / "data" / "metrics" / "MOT17-tracker-A"
    results = vector / "data"
    # the same results under three names: a page as large as three trackers' (every list,
    # timeline and thumbnail is made three times)
    pred = ",".join(f"{name}={results}" for name in ("A", "B", "C"))
    out = tmp_path / "mot17.html"
    gt = shared / "data" / "MOT17" / "train"
    assert main(["report", "--gt", str(gt), "--pred", pred, "--out", str(out)]) == 0
    size = out.stat().st_size
    assert size < 15e6
    load = browser.open(out)
    assert load.errors == []
    assert load.seconds < 3.0, f"loaded in {load.seconds:.2f} s"
    thumbs = browser.evaluate(
        "Object.keys(JSON.parse(document.getElementById('tk-data').textContent).thumbs).length"
    )
    assert thumbs > 0  # the first frames of each sequence exist in img1/
    cells = browser.evaluate(
        "Array.from(document.querySelectorAll('#mot-summary td[data-key]'))"
        ".filter(td => td.dataset.tracker === 'B').map(td => [td.dataset.seq, td.dataset.key,"
        " JSON.parse(td.dataset.value)])"
    )
    assert len(cells) == 8 * 13
    official = json.loads((vector / "expected_trackeval.json").read_text())
    for seq, key, value in cells:
        want = official["combined"] if seq == "COMBINED" else official["sequences"][seq]
        assert math.isclose(value, want[key], rel_tol=0, abs_tol=1e-9), (seq, key)
