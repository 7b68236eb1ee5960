"""Video -> detector -> tracker -> results / annotated video (trackkit.pipeline, track CLI)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.core.detections import Detections
from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.errors import FormatError
from trackkit.io.mot_txt import read_mot_txt
from trackkit.io.video import VideoWriter, open_video
from trackkit.pipeline import track_video

CFG = SceneConfig(width=320, height=240, num_frames=60, num_objects=4, seed=2,
                  min_height=30, max_height=70, min_speed=2, max_speed=4)  # fmt: skip


def _oracle(scene: SyntheticScene):  # type: ignore[no-untyped-def]
    """A detector returning the scene's visible ground truth for the frame it is given."""
    frame_ids = itertools.count(1)

    def detect(frame: np.ndarray) -> Detections:
        truth = scene.truth(next(frame_ids))
        visible = truth.xyxy[truth.visibility > 0.3]
        return Detections(visible, np.full(len(visible), 0.9))

    return detect


def test_oracle_detections_give_near_perfect_scores(tmp_path: Path) -> None:
    from trackkit.io.mot_sequence import load_mot_sequence
    from trackkit.metrics.mot import evaluate_mot

    scene = SyntheticScene(CFG)
    seq = scene.write_mot_sequence(tmp_path / "gt", "SYN", images=False)
    seen: list[int] = []
    summary = track_video(
        scene,
        _oracle(SyntheticScene(CFG)),
        "sort",
        results=tmp_path / "res" / "SYN.txt",
        video=tmp_path / "a.mp4",
        progress=False,
        on_frame=lambda t, f, d, tr: seen.append(t),
    )
    assert summary.frames == 60 and seen == list(range(1, 61))
    assert summary.video is not None and len(list(open_video(summary.video))) == 60
    scores = evaluate_mot([load_mot_sequence(seq, tmp_path / "res" / "SYN.txt", "MOT17")])
    d = scores.combined.as_dict()
    assert d["MOTA"] > 0.8 and d["IDF1"] > 0.8 and d["HOTA"] > 0.7, d


def test_real_detector_streams_results(tmp_path: Path) -> None:
    scene = SyntheticScene(CFG)
    video = tmp_path / "in.mp4"
    with VideoWriter(video, CFG.fps) as w:
        for _, f in scene:
            w.write(f)
    res = tmp_path / "out.txt"
    summary = track_video(video, "bgsub", "bytetrack", results=res, progress=False, max_frames=40)
    assert summary.frames == 40 and summary.tracks >= 2
    table = read_mot_txt(res, "result")
    assert table.frames.max() <= 40 and len(table.frames) > 20


def test_failure_mid_video_keeps_finished_frames(tmp_path: Path) -> None:
    scene = SyntheticScene(CFG)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in scene:
        if t > 12:
            break
        cv2.imwrite(str(folder / f"{t:04d}.png"), f)
    (folder / "0013.png").write_bytes(b"not a png")
    res = tmp_path / "res.txt"
    with pytest.raises(FormatError, match="0013.png"):
        track_video(folder, _oracle(SyntheticScene(CFG)), "sort", results=res, progress=False)
    table = read_mot_txt(res, "result")  # still a valid file
    assert table.frames.max() == 12


def test_track_cli_on_a_video_and_bad_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli.main import main

    scene = SyntheticScene(CFG)
    video = tmp_path / "in.mp4"
    with VideoWriter(video, CFG.fps) as w:
        for _, f in scene:
            w.write(f)
    out = tmp_path / "res" / "tracks.txt"
    ann = tmp_path / "ann.mp4"
    args = ["track", str(video), "--detector", "bgsub", "--tracker", "ocsort", "--out", str(out)]
    assert main([*args, "--video", str(ann), "-q"]) == 0
    assert "60 frames" in capsys.readouterr().out
    assert len(read_mot_txt(out, "result").frames) > 0 and ann.is_file()
    # --out DIR names the file after the video
    assert main(["track", str(video), "--detector", "bgsub", "--out", str(tmp_path), "-q"]) == 0
    assert (tmp_path / "in.txt").is_file()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    for argv in (
        ["track", str(tmp_path / "missing.mp4"), "--out", str(out)],
        ["track", str(bad), "--out", str(out)],
        ["track", str(video), "--detector", f"yolox:{tmp_path / 'no.onnx'}", "--out", str(out)],
        ["track", str(video), "--detector", "nope", "--out", str(out)],
    ):
        capsys.readouterr()
        assert main([*argv, "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("trackkit: error:"), err


def test_track_cli_mot_sequence_with_annotated_video(tmp_path: Path) -> None:
    """A MOTChallenge sequence with --video: its img1 frames and det/det.txt detections."""
    from trackkit.cli.main import main

    cfg = SceneConfig(**{**CFG.__dict__, "num_frames": 12})
    seq = SyntheticScene(cfg).write_mot_sequence(tmp_path, "SYN-02")
    (seq / "det").mkdir()
    rows = [line.split(",")[:6] for line in (seq / "gt" / "gt.txt").read_text().splitlines()]
    (seq / "det" / "det.txt").write_text(
        "".join(f"{r[0]},-1,{r[2]},{r[3]},{r[4]},{r[5]},0.9\n" for r in rows)
    )
    out = tmp_path / "out"
    assert main(["track", str(seq), "--out", str(out), "--video", str(out / "a.mp4"), "-q"]) == 0
    table = read_mot_txt(out / "SYN-02.txt", "result")
    assert table.frames.max() == 12 and len(list(open_video(out / "a.mp4"))) == 12
