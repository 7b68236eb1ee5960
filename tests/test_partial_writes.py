"""What a killed or failed run leaves on disk, for the writers beyond ``trackkit track``'s
MOTChallenge text (that one is ``tests/test_atomic_writes.py``).

Streamed files (``trackkit sot --out`` and its ``.score.csv``; ``trackkit track --format
jsonl|csv``) are checked on real runs stopped with ``SIGKILL`` and ``SIGINT`` at seeded
random points: whatever is left is a whole-line prefix of the complete run's file. Files
written in one go (counts, HTML report, ReID evaluation JSON, ``trackkit render`` video,
COCO results) are made to fail while being written: the old file is kept, no temporary file
is left, and a run that fails before its first frame leaves no file at all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.core.tracks import Tracks
from trackkit.io import atomic
from trackkit.io.export import open_writer

ASSETS = Path(__file__).resolve().parents[1] / "src" / "trackkit" / "assets"
SOT_FRAMES = "200"


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "trackkit.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def _stop_after_start(
    proc: subprocess.Popen[str], first: Path, rng: np.random.Generator, sig: signal.Signals
) -> None:
    """Send ``sig`` a random 0-1 s after ``first`` appears; check how the process ended."""
    deadline = time.monotonic() + 90
    while not first.exists() and proc.poll() is None:
        assert time.monotonic() < deadline, f"{first} never appeared"
        time.sleep(0.005)
    time.sleep(float(rng.uniform(0.0, 1.0)))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT and proc.returncode != 0:
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    elif sig == signal.SIGKILL:
        assert proc.returncode in (0, -signal.SIGKILL), err


def _whole_prefix(partial: str, full: str, name: str) -> int:
    """``partial`` is ``full`` cut after a whole line; returns its number of lines."""
    assert partial == "" or partial.endswith("\n"), f"{name}: ends in a broken line"
    assert full.startswith(partial), f"{name}: not a prefix of the complete run's file"
    return partial.count("\n")


def _no_temporary(folder: Path) -> None:
    assert not [p.name for p in folder.glob(".*")], "temporary files left"


# ---------------------------------------------------------------- trackkit sot --out


@pytest.fixture(scope="module")
def sot_reference(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("sot_ref") / "boxes.txt"
    _finish(_start("sot", str(shared / "data" / "otb" / "Car4"), "--tracker", "kcf",
                   "--max-frames", SOT_FRAMES, "--out", str(out)))  # fmt: skip
    return {p.name: p.read_text() for p in out.parent.iterdir()}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_sot_killed_leaves_whole_lines(
    shared: Path, sot_reference: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    """``trackkit sot --out`` streams a line per frame to the boxes file and its side file:
    stopped anywhere, both hold whole lines of the complete run, the side file at most one
    frame more (it is written first)."""
    rng = np.random.default_rng(int(sig))
    cut = 0
    for attempt in range(3):  # until one run was stopped in the middle
        out = tmp_path / f"run{attempt}" / "boxes.txt"
        side = out.with_name("boxes.score.csv")
        proc = _start("sot", str(shared / "data" / "otb" / "Car4"), "--tracker", "kcf",
                      "--max-frames", SOT_FRAMES, "--out", str(out))  # fmt: skip
        _stop_after_start(proc, side, rng, sig)
        _no_temporary(out.parent)
        boxes = out.read_text() if out.exists() else ""
        n = _whole_prefix(boxes, sot_reference["boxes.txt"], "boxes.txt")
        scores = side.read_text()
        full = sot_reference["boxes.score.csv"]
        assert scores.startswith("frame,score,lost\n"), "side file without its header"
        m = _whole_prefix(scores, full, "boxes.score.csv") - 1
        assert m in (n, n + 1), f"{n} boxes but {m} score rows"
        cut += n < sot_reference["boxes.txt"].count("\n")
        if cut:
            break
    assert cut, "no run was stopped in the middle: the test checked nothing"


def test_sot_failing_before_its_first_frame_keeps_the_old_files(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unreadable weights fail in the tracker's ``init``: the files of an earlier run are
    neither truncated nor replaced by a header-only side file."""
    out = tmp_path / "boxes.txt"
    out.write_text("1.00,2.00,3.00,4.00\n")
    out.with_name("boxes.score.csv").write_text("frame,score,lost\n0,1.0000,0\n")
    bad = tmp_path / "w.pt"
    bad.write_bytes((ASSETS / "siamfc.pt").read_bytes()[:3000])
    car4 = str(shared / "data" / "otb" / "Car4")
    rc = main(["sot", car4, "--tracker", "siamfc", "--weights", str(bad), "--out", str(out)])
    assert rc == 2 and "w.pt" in capsys.readouterr().err
    assert out.read_text() == "1.00,2.00,3.00,4.00\n"
    assert out.with_name("boxes.score.csv").read_text() == "frame,score,lost\n0,1.0000,0\n"


# ------------------------------------------------- trackkit track --format jsonl / csv


@pytest.fixture(scope="module")
def mot_seq(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MOT17-04 with its public detections only (1050 frames, no images)."""
    src = shared / "data" / "MOT17" / "train" / "MOT17-04-FRCNN"
    seq = tmp_path_factory.mktemp("mot") / "MOT17-04-FRCNN"
    (seq / "det").mkdir(parents=True)
    shutil.copy(src / "det" / "det.txt", seq / "det" / "det.txt")
    shutil.copy(src / "seqinfo.ini", seq / "seqinfo.ini")
    return seq


def _track(seq: Path, out: Path) -> subprocess.Popen[str]:
    counts = str(out.with_name("c.json"))
    return _start("track", str(seq), "--tracker", "ocsort", "--out", str(out), "-q",
                  "--count-line", "0,500,1920,500", "--counts", counts)  # fmt: skip


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("fmt", "sig"), [("jsonl", signal.SIGKILL), ("csv", signal.SIGINT)], ids=["jsonl", "csv"]
)
def test_track_killed_leaves_whole_lines_in_every_streamed_format(
    mot_seq: Path, tmp_path: Path, fmt: str, sig: signal.Signals
) -> None:
    """``--format jsonl`` / ``csv`` (``io.export``) stream like MOTChallenge text: a stopped
    run leaves whole lines (every JSON line parses, the CSV has its header) of the complete
    run's file, and the counts file, written in one go at the end, is absent or complete."""
    ref = tmp_path / "ref" / f"r.{fmt}"
    _finish(_track(mot_seq, ref))
    full, full_counts = ref.read_text(), ref.with_name("c.json").read_text()
    rng = np.random.default_rng(int(sig))
    cut = 0
    for attempt in range(3):
        out = tmp_path / f"run{attempt}" / f"r.{fmt}"
        _stop_after_start(_track(mot_seq, out), out, rng, sig)
        _no_temporary(out.parent)
        text = out.read_text()
        n = _whole_prefix(text, full, out.name)
        if fmt == "jsonl":
            frames = [json.loads(line)["frame"] for line in text.splitlines()]
            assert frames == list(range(1, len(frames) + 1))
        else:
            assert text.startswith("frame,id,x,y,w,h,score,class_id,class\n")
        counts = out.with_name("c.json")
        assert not counts.exists() or counts.read_text() == full_counts
        cut += n < full.count("\n")
        if cut:
            break
    assert cut, "no run was stopped in the middle: the test checked nothing"


@pytest.mark.parametrize("fmt", ["mot", "jsonl", "csv", "coco"])
def test_results_writer_failing_before_its_first_frame_leaves_no_file(
    tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "a" / f"r.{fmt}"
    with pytest.raises(RuntimeError), open_writer(path, fmt) as w:
        raise RuntimeError("detector failed on frame 1")
    assert not path.exists() and not w.started
    with open_writer(path, fmt) as w:
        w.write(1, Tracks(np.array([[1.0, 2.0, 4.0, 6.0]]), np.array([3]), np.array([0.5])))
    text = path.read_text()
    if fmt == "coco":
        assert json.loads(text)["annotations"][0]["bbox"] == [1.0, 2.0, 3.0, 4.0]
    else:
        assert text.endswith("\n") and text.count("\n") == (2 if fmt == "csv" else 1)
    _no_temporary(path.parent)


# ----------------------------------------------------- files written in one go


def _keeps_old(path: Path, write: Any, failing: Any) -> None:
    """``write(path)`` replaces ``path``; failing mid-write, it keeps the old file."""
    path.write_text("old\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atomic.os, "fsync", failing)
        with pytest.raises(OSError, match="No space"):
            write(path)
    assert path.read_text() == "old\n"
    _no_temporary(path.parent)
    write(path)
    assert path.read_text() != "old\n"


def _enospc(fd: int) -> None:
    """The disk fails (``ENOSPC``) when a whole-file writer flushes its temporary file."""
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_counts_are_written_atomically(tmp_path: Path, suffix: str) -> None:
    from trackkit.analytics import CountReport, LineCounter

    report = CountReport([LineCounter((0, 50), (100, 50), name="door")], ["person"])
    for f, y in enumerate((20.0, 40.0, 60.0, 80.0), start=1):
        report.update(f, Tracks(np.array([[40, y - 10, 60, y]]), np.array([7]), np.ones(1),
                                class_ids=np.zeros(1, np.int64)))  # fmt: skip
    path = tmp_path / f"counts{suffix}"
    _keeps_old(path, report.write, _enospc)
    if suffix == ".json":
        assert json.loads(path.read_text())["counters"][0]["in_total"] == 1
    else:
        assert path.read_text().splitlines()[0] == "counter,kind,class,in,out"


def test_html_report_is_written_atomically(tmp_path: Path) -> None:
    from trackkit.report.page import write_page

    section = {"kind": "text", "title": "t", "text": "hello"}
    _keeps_old(tmp_path / "report.html", lambda p: write_page(p, [section], {}), _enospc)
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_reid_eval_json_is_written_atomically(tmp_path: Path) -> None:
    from trackkit.metrics.rank import evaluate_rank
    from trackkit.report.reid import write_reid_eval

    rng = np.random.default_rng(0)
    q = [SimpleNamespace(path=f"q{i}.jpg", pid=i % 3, camid=0) for i in range(3)]
    g = [SimpleNamespace(path=f"g{i}.jpg", pid=i % 3, camid=1) for i in range(6)]
    dist = rng.random((3, 6))
    result = evaluate_rank(dist, [0, 1, 2], [i % 3 for i in range(6)], [0] * 3, [1] * 6)
    report = SimpleNamespace(result=result, trials=[0])
    trial = SimpleNamespace(query=q, gallery=g)

    def write(p: Path) -> None:
        write_reid_eval(p, report, trial, dist, {"model": "m"})

    _keeps_old(tmp_path / "eval.json", write, _enospc)
    assert json.loads((tmp_path / "eval.json").read_text())["queries"] == 3


def _jsonl(path: Path, frames: int) -> Path:
    box = {"id": 1, "bbox": [4, 4, 10, 10], "score": 0.9, "class_id": 0, "class": "person"}
    path.write_text("".join(json.dumps({"frame": f, "tracks": [box]}) + "\n"
                            for f in range(1, frames + 1)))  # fmt: skip
    return path


def test_render_failing_mid_video_keeps_the_old_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Frame 3 of the image folder has another size: the render fails after two frames were
    encoded; the old ``--video`` stays, no temporary mp4 is left."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, (h, w) in enumerate(((48, 64), (48, 64), (40, 80), (48, 64)), start=1):
        cv2.imwrite(str(folder / f"{k:04d}.png"), np.full((h, w, 3), 90, np.uint8))
    results = _jsonl(tmp_path / "r.jsonl", 4)
    video = tmp_path / "out" / "v.mp4"
    video.parent.mkdir()
    video.write_bytes(b"old video")
    args = ["render", str(results), "--source", str(folder), "--video", str(video)]
    assert main(args) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert video.read_bytes() == b"old video"
    _no_temporary(video.parent)
    (folder / "0003.png").unlink()
    cv2.imwrite(str(folder / "0003.png"), np.full((48, 64, 3), 90, np.uint8))
    assert main(args) == 0
    assert str(video) in capsys.readouterr().out
    assert video.read_bytes()[4:8] == b"ftyp" and sorted(os.listdir(video.parent)) == ["v.mp4"]
