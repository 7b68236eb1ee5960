"""``trackkit track``: MOTChallenge folders in, result files out, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.io.mot_txt import read_mot_txt


def _write_seq(root: Path, name: str, rows: list[str], length: int = 12) -> Path:
    seq = root / name
    (seq / "det").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nframeRate=30\nseqLength={length}\n"
        "imWidth=640\nimHeight=480\nimDir=img1\nimExt=.jpg\n"
    )
    (seq / "det" / "det.txt").write_text("".join(r + "\n" for r in rows))
    return seq


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
