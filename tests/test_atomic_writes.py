"""What a killed or failed ``trackkit track`` leaves on disk.

Real runs of the command on the public detections of ``../shared`` MOT17 sequences are
stopped with ``SIGKILL`` and with ``SIGINT`` (Ctrl-C) at random points (a seeded generator:
the points are the same on every run of the test) once their first results file exists.
Every results file left must be a whole-frame prefix of the complete run's file: only whole
lines, and every frame it holds complete. A run that fails before its first frame leaves no
results file at all, and the writers that write whole files (JSON, plots, weights) go through
a temporary file renamed into place.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trackkit.io.atomic import atomic_path, write_text
from trackkit.io.mot_txt import MOTResultWriter

SEQS = ("MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-09-FRCNN")


def _track(src: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "trackkit.cli.main", "track", str(src), "--tracker", "ocsort"]
    return subprocess.Popen(
        [*cmd, "--out", str(out), "-q", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def sequences(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three MOT17 sequences with their detections only (no images): a folder to track."""
    root = tmp_path_factory.mktemp("seqs")
    for name in SEQS:
        src = shared / "data" / "MOT17" / "train" / name
        (root / name / "det").mkdir(parents=True)
        shutil.copy(src / "det" / "det.txt", root / name / "det" / "det.txt")
        shutil.copy(src / "seqinfo.ini", root / name / "seqinfo.ini")
    return root


@pytest.fixture(scope="module")
def reference(sequences: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref")
    proc = _track(sequences, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return {p.name: p.read_text() for p in out.iterdir()}


def _frames(text: str) -> list[int]:
    return [int(line.split(",", 1)[0]) for line in text.splitlines()]


def _check_prefix(partial: str, full: str, name: str) -> int:
    """``partial`` is ``full`` cut after a whole frame; returns the number of lines."""
    assert partial == "" or partial.endswith("\n"), f"{name}: ends in a broken line"
    assert full.startswith(partial), f"{name}: not a prefix of the complete results"
    n = partial.count("\n")
    lines = full.splitlines()
    if 0 < n < len(lines):
        last = _frames(partial)[-1]
        assert _frames(full)[n] != last, f"{name}: frame {last} is cut in the middle"
    return n


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_runs_leave_whole_frames(
    sequences: Path, reference: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    rng = np.random.default_rng(int(sig))
    cut = 0  # runs stopped in the middle of a sequence
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        proc = _track(sequences, out)
        deadline = time.monotonic() + 120
        while not any(out.glob("*.txt")) and proc.poll() is None:
            assert time.monotonic() < deadline, "no results file appeared"
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGINT and proc.returncode not in (0,):
            assert proc.returncode == 130, err
            assert "Traceback" not in err and "interrupted" in err
        files = sorted(out.glob("*.txt")) if out.exists() else []
        assert not list(out.glob(".*")) if out.exists() else True, "temporary files left"
        for f in files:
            n = _check_prefix(f.read_text(), reference[f.name], f.name)
            cut += n < reference[f.name].count("\n")
    assert cut > 0, "no run was stopped in the middle: the test checked nothing"


@pytest.mark.timeout(120)
def test_a_run_failing_before_its_first_frame_leaves_no_file(
    sequences: Path, tmp_path: Path
) -> None:
    """Tracktor needs the frames' images; the sequences have none: one line, exit 2, no
    results file (and no folder made for it)."""
    out = tmp_path / "out"
    proc = _track(sequences / SEQS[0], out, "--tracker", "tracktor")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("trackkit: error")
    assert not out.exists() or not any(out.iterdir())


def test_result_writer_creates_its_file_with_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "a" / "r.txt"
    with MOTResultWriter(path) as w:
        assert not path.exists() and not w.started
        w.write(1, [], np.zeros((0, 4)))  # a frame without tracks is a finished frame
        assert path.exists() and path.read_text() == ""
        w.write(2, [3], [[1.0, 2.0, 4.0, 6.0]], [0.5])
    assert path.read_text() == "2,3,1.000,2.000,3.000,4.000,0.5,-1,-1,-1\n"


def test_atomic_writes_keep_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    write_text(path, '{"old": 1}\n')
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text('{"new": ')
        raise RuntimeError("killed while writing")
    assert path.read_text() == '{"old": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]
    write_text(path, '{"new": 2}\n')
    assert path.read_text() == '{"new": 2}\n'
