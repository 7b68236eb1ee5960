"""``trackkit render``: existing results (and ground truth) drawn at their boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.io.video import VideoWriter, open_video
from trackkit.viz.draw import id_color

pytestmark = pytest.mark.timeout(60)

GRAY = 128


def _video(path: Path, n: int = 10) -> Path:
    with VideoWriter(path, 10.0, codec="mp4v") as w:
        for _ in range(n):
            w.write(np.full((240, 320, 3), GRAY, np.uint8))
    return path


def _patch(img: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 3x3 neighbourhood of (x, y), as (9, 3) int colours."""
    return img[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)


def _near(img: np.ndarray, x: int, y: int, color: tuple[int, int, int], tol: int = 45) -> bool:
    """Whether some pixel next to (x, y) has ``color`` (BGR), within ``tol`` per channel."""
    return bool((np.abs(_patch(img, x, y) - np.array(color)).max(axis=1) <= tol).any())


def _untouched(img: np.ndarray, x: int, y: int) -> bool:
    return bool((np.abs(_patch(img, x, y) - GRAY) <= 12).all())


def test_render_draws_results_and_truth_at_their_boxes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = _video(tmp_path / "in.mp4")
    results = tmp_path / "r.jsonl"
    with results.open("w") as fh:  # track 1 at x 40..140, y 40..160, frames 1-5 only
        for f in range(1, 11):
            tracks = [{"id": 1, "bbox": [40, 40, 100, 120], "score": 0.9, "class_id": 0,
                       "class": "person"}] if f <= 5 else []  # fmt: skip
            fh.write(json.dumps({"frame": f, "tracks": tracks}) + "\n")
    seq = tmp_path / "SEQ"
    (seq / "gt").mkdir(parents=True)
    (seq / "gt" / "gt.txt").write_text(
        "".join(f"{f},5,200,50,80,150,1,1,1.0\n" for f in range(1, 11))
        + "".join(f"{f},6,10,180,30,40,0,1,1.0\n" for f in range(1, 11))  # flag 0: not drawn
    )
    out = tmp_path / "out.mp4"
    args = ["render", str(results), "--source", str(video), "--gt", str(seq), "--video", str(out)]
    assert main([*args, "--trail", "0"]) == 0
    assert "rendered 10 frames (5 boxes, 1 tracks, ground truth)" in capsys.readouterr().out
    frames = [f for _, f in open_video(out)]
    assert len(frames) == 10
    color = id_color(1)
    first, late = frames[2], frames[8]
    # result box: its left and bottom edges in the identity's colour, its inside untouched
    assert _near(first, 41, 100, color) and _near(first, 90, 158, color)
    assert _untouched(first, 90, 110) and _untouched(first, 300, 20)
    # no result after frame 5: the same place is untouched there
    assert _untouched(late, 41, 100)
    # ground truth: dashed white along its edges (some pixels white, some not), every frame
    for img in (first, late):
        edge = img[50, 200:280].astype(int)
        white = (edge.min(axis=1) > 200).sum()
        assert 10 < white < 70, white
    # the ignored ground-truth row (flag 0) is not drawn
    assert _untouched(first, 25, 200)


def test_render_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = _video(tmp_path / "in.mp4", 3)
    res = tmp_path / "r.txt"
    res.write_text("1,1,10,10,20,20,1,-1,-1,-1\n")
    cases = [
        ["render", str(tmp_path / "none.txt"), "--source", str(video)],
        ["render", str(res), "--source", str(tmp_path / "missing.mp4")],
        ["render", str(res), "--source", str(video), "--gt", str(tmp_path)],
    ]
    for argv in cases:
        assert main([*argv, "--video", str(tmp_path / "o.mp4")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("trackkit: error:") and "\n" not in err, err
    assert main(["render", str(res), "--source", str(video), "--video", str(tmp_path / "o.mp4"),
                 "--count-line", "0,100,100,100"]) == 0  # fmt: skip
    assert "count line 1: in 0, out 0" in capsys.readouterr().out
    first = next(iter(open_video(tmp_path / "o.mp4")))[1]
    assert _near(first, 60, 101, (0, 220, 255))  # the counting line is drawn
