"""``trackkit demo`` at reduced size."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackkit.cli.main import main


@pytest.mark.slow
def test_demo_runs_and_prints_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--frames", "80", "--size", "320x240", "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["HOTA", "DetA", "AssA"])
    values = [float(v) for v in lines[header + 1].split()]
    hota, mota, idf1 = values[0], values[3], values[4]
    assert 20 < hota <= 100 and 0 < idf1 <= 100 and mota <= 100
    assert (out / "demo.mp4").is_file() and (out / "demo.png").is_file()
    assert (out / "results" / "SYNTH-01.txt").is_file()
    assert (out / "gt" / "SYNTH-01" / "gt" / "gt.txt").is_file()
    # the same run gives the same scores (fixed seed)
    assert main([*argv, "--no-video"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[header + 1] == lines[header + 1]
    assert main(["demo", "--out", str(out), "--frames", "1"]) == 2
