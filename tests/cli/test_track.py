"""``trackkit track``: MOTChallenge folders in, result files out, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.mot_seq import write_mot_sequence
from trackkit.cli.main import main
from trackkit.errors import TrackkitError
from trackkit.io.mot_txt import read_mot_txt


def _write_seq(root: Path, name: str, rows: list[str], length: int = 12) -> Path:
    return write_mot_sequence(root, name, rows, length)


def _walk_rows(n: int = 12) -> list[str]:
    rows = []
    for f in range(1, n + 1):
        rows.append(f"{f},-1,{100 + 4 * f},100,40,100,0.95")
        rows.append(f"{f},-1,{400 - 4 * f},120,40,100,0.9")
    return rows


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["track", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("sort", "deepsort", "bytetrack", "ocsort", "botsort", "--offline"):
        assert name in out


@pytest.mark.parametrize("offline", [False, True])
def test_folder_of_sequences(tmp_path: Path, offline: bool) -> None:
    _write_seq(tmp_path / "data", "SEQ-A", _walk_rows())
    _write_seq(tmp_path / "data", "SEQ-B", _walk_rows()[:10])
    args = ["track", str(tmp_path / "data"), "--tracker", "sort", "--out", str(tmp_path / "o")]
    assert main([*args, "-q", "--config", "min_hits=1", *(["--offline"] if offline else [])]) == 0
    table = read_mot_txt(tmp_path / "o" / "SEQ-A.txt", "result")
    assert set(table.frames.tolist()) == set(range(1, 13))
    assert sorted(set(table.ids.tolist())) == [1, 2]
    assert (tmp_path / "o" / "SEQ-B.txt").is_file()


def test_frames_out_of_order_read_correctly(tmp_path: Path) -> None:
    rows = _walk_rows()
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    _write_seq(tmp_path, "ordered", rows)
    _write_seq(tmp_path, "shuffled", shuffled)
    for name in ("ordered", "shuffled"):
        assert main(["track", str(tmp_path / name), "--out", str(tmp_path / "o"), "-q"]) == 0
    a = (tmp_path / "o" / "ordered.txt").read_text().splitlines()
    b = (tmp_path / "o" / "shuffled.txt").read_text().splitlines()
    # same tracks; rows within a frame may follow the file order of the detections
    assert sorted(a) == sorted(b) and len(a) > 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("5,-1,10,10,nan,20,0.9", "frame 5"),
        ("6,-1,10,10,inf,20,0.9", "frame 6"),
        ("7,-1,10,10,0,20,0.9", "frame 7: zero width"),
        ("8,-1,10,10,30,0,0.9", "frame 8: zero height"),
        ("9,-1,10,10,-3,20,0.9", "negative width"),
    ],
)
def test_bad_detections_give_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, message: str
) -> None:
    _write_seq(tmp_path, "S", [*_walk_rows()[:6], bad, *_walk_rows()[6:]])
    assert main(["track", str(tmp_path / "S"), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and "det.txt, line 7" in err and message in err
    assert "\n" not in err


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_seq(tmp_path, "S", _walk_rows())
    assert main(["track", str(tmp_path / "S"), "--tracker", "nope", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "S"), "--out", str(tmp_path), "--config", "x=1"]) == 2
    assert "valid options" in capsys.readouterr().err
    args = ["track", str(tmp_path / "S"), "--out", str(tmp_path), "--config", "offline.bad=1"]
    assert main(args) == 2
    assert main(["track", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert main(["track", str(tmp_path), "--out", str(tmp_path / "o")]) == 0  # folder of seqs
    (tmp_path / "empty").mkdir()
    assert main(["track", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no det/det.txt" in capsys.readouterr().err
    assert main(["track"]) == 2


def test_set_is_the_option_vocabulary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--set for the tracker, det.KEY for the detector; --config stays a hidden alias."""
    seq = _write_seq(tmp_path, "S", _walk_rows())
    base = ["track", str(seq), "--tracker", "sort", "-q"]
    assert main([*base, "--out", str(tmp_path / "a"), "--set", "min_hits=1"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--config", "min_hits=1"]) == 0
    a = (tmp_path / "a" / "S.txt").read_text()
    assert a and a == (tmp_path / "b" / "S.txt").read_text()
    # det.min_score drops the 0.9 walker: one identity left
    args = [*base, "--out", str(tmp_path / "c"), "--set", "min_hits=1", "det.min_score=0.92"]
    assert main(args) == 0
    assert set(read_mot_txt(tmp_path / "c" / "S.txt", "result").ids.tolist()) == {1}
    assert "--set" in main_help(capsys) and "--config" not in main_help(capsys)


def main_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["track", "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("nope=1", ["--set nope", "valid options", "max_age"]),
        ("max_age=abc", ["--set max_age='abc'", "integer"]),
        ("min_hits=true", ["--set min_hits=True", "integer"]),
        ("det.nope=1", ["unknown option", "nope"]),
        ("offline.nope=1", ["--set offline.nope", "offline.max_gap"]),
        ("justtext", ["key=value"]),
    ],
)
def test_bad_set_items_give_one_line_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, words: list[str]
) -> None:
    seq = _write_seq(tmp_path, "S", _walk_rows())
    args = ["track", str(seq), "--tracker", "sort", "--out", str(tmp_path / "o"), "--offline"]
    assert main([*args, "--set", item]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and "\n" not in err and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_offline_options_need_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = _write_seq(tmp_path, "S", _walk_rows())
    args = ["track", str(seq), "--out", str(tmp_path / "o"), "-q"]
    assert main([*args, "--set", "offline.max_gap=5"]) == 2
    assert "needs --offline" in capsys.readouterr().err
    # --offline with --video is allowed (tests/cli/test_track_usability.py); a sequence
    # without images gets no video, and the run says so
    assert main([*args, "--offline", "--video", str(tmp_path / "a.mp4")]) == 0
    assert "video: none written" in capsys.readouterr().out


def test_mot_sequence_through_the_pipeline_without_images(tmp_path: Path) -> None:
    """A MOTChallenge sequence is a FrameSource like a video: det.txt is its detector; with
    img1/ holding only the first frames a motion-only tracker still runs every frame."""
    from trackkit.pipeline import open_sources, track_video

    seq = _write_seq(tmp_path, "S", _walk_rows(12), length=14)
    (seq / "img1").mkdir()
    import cv2

    for k in (1, 2):
        cv2.imwrite(str(seq / "img1" / f"{k:06d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    (source,) = open_sources(seq)
    assert (source.name, source.fps, source.num_frames) == ("S", 30.0, 14)
    seen: list[tuple[int, bool]] = []
    summary = track_video(
        source,
        None,
        "sort",
        results=tmp_path / "r.txt",
        progress=False,
        tracker_options={"min_hits": 1},
        on_frame=lambda k, frame, dets, tracks: seen.append((k, frame is None)),
    )
    assert summary.frames == 14 and summary.detections == 24 and summary.tracks == 2
    assert seen == [(k, True) for k in range(1, 15)]  # file: detector needs no image
    # the CLI writes the same file through the same path
    assert main(["track", str(seq), "--tracker", "sort", "--set", "min_hits=1",
                 "--out", str(tmp_path / "o"), "-q"]) == 0  # fmt: skip
    assert (tmp_path / "o" / "S.txt").read_text() == (tmp_path / "r.txt").read_text()
    # a detector that looks at images stops, in one line, at the first frame without one
    with pytest.raises(TrackkitError, match="frame 3 has no image"):
        track_video(source, lambda f: np.zeros((0, 5)), "sort", progress=False)


def test_offline_is_a_stage_of_the_pipeline(tmp_path: Path) -> None:
    """--offline links a gap the online tracker could not bridge; the API gives the same."""
    from trackkit.pipeline import track_video

    rows = [r for r in _walk_rows(30) if not (10 <= int(r.split(",")[0]) <= 14)]
    seq = _write_seq(tmp_path, "S", rows, length=30)
    options = {"min_hits": 1, "max_age": 2}
    track_video(seq, None, "sort", results=tmp_path / "on.txt", progress=False,
                tracker_options=options)  # fmt: skip
    summary = track_video(seq, None, "sort", results=tmp_path / "off.txt", progress=False,
                          tracker_options=options, offline={"max_gap": 10})  # fmt: skip
    online = read_mot_txt(tmp_path / "on.txt", "result")
    offline = read_mot_txt(tmp_path / "off.txt", "result")
    assert len(set(online.ids.tolist())) == 4 and summary.tracks == 2
    assert set(offline.frames.tolist()) == set(range(1, 31))  # the gap is interpolated
    args = ["track", str(seq), "--tracker", "sort", "--out", str(tmp_path / "o"), "-q"]
    args += ["--offline", "--set", "min_hits=1", "max_age=2", "offline.max_gap=10"]
    assert main(args) == 0
    assert (tmp_path / "o" / "S.txt").read_text() == (tmp_path / "off.txt").read_text()
