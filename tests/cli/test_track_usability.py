"""Issue 23, MOT/CLI side: what a new user tripped over, each through the real command line
(``trackkit.cli.main.main``) or the documented API; class-aware tracking, counting, formats."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.mot_seq import write_mot_sequence
from trackkit.cli.main import main
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.errors import ConfigError
from trackkit.io.export import read_results
from trackkit.io.mot_txt import read_mot_txt
from trackkit.io.video import VideoWriter, open_video
from trackkit.pipeline import track_video

pytestmark = pytest.mark.timeout(60)

CFG = SceneConfig(width=320, height=240, num_frames=24, num_objects=3, seed=4,
                  min_height=40, max_height=70, min_speed=2, max_speed=4)  # fmt: skip


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    with VideoWriter(path, CFG.fps, codec="mp4v") as w:
        for _, f in SyntheticScene(CFG):
            w.write(f)
    return path


def _seq(root: Path, rows: list[str], length: int = 20, name: str = "S") -> Path:
    return write_mot_sequence(root, name, rows, length)


def _walkers(n: int = 20) -> list[str]:
    """Two walkers: one right from x=100 to x=290, one left from x=290 to x=100."""
    rows = []
    for f in range(1, n + 1):
        rows.append(f"{f},-1,{100 + 10 * (f - 1) - 20},150,40,100,0.95")
        rows.append(f"{f},-1,{290 - 10 * (f - 1) - 20},300,40,100,0.9")
    return rows


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and "\n" not in err, err
    return err


# -- 1. a text file is not a video ----------------------------------------------------------


def test_text_file_is_refused_as_a_video(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = _seq(tmp_path, _walkers())
    det = seq / "det" / "det.txt"
    assert main(["track", str(det), "--out", str(tmp_path / "m.txt"), "-q"]) == 2
    err = _err(capsys)
    assert "a text file, not a video" in err and f"sequence folder ({seq})" in err
    notes = tmp_path / "NOTES"  # no suffix: the content tells
    notes.write_text("These are notes about the videos.\nNothing to track here.\n")
    assert main(["track", str(notes), "--out", str(tmp_path / "m.txt"), "-q"]) == 2
    assert "a text file" in _err(capsys)
    assert not (tmp_path / "m.txt").exists()
    # a real video (binary) is still a video
    assert main(["track", str(video), "--detector", "bgsub", "--out", str(tmp_path / "v.txt"),
                 "-q", "--max-frames", "3"]) == 0  # fmt: skip


# -- 3. what the class filter dropped ---------------------------------------------------------


def test_class_filter_says_what_it_dropped(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["track", str(video), "--detector", "bgsub", "--out", str(tmp_path / "a.txt"), "-q"]
    assert main([*args, "--classes", "1"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"class filter \(1\): kept 0; dropped (\d+): (\d+) object", out)
    assert m and int(m.group(1)) == int(m.group(2)) > 0, out
    assert "0 tracks, 0 detections" in out

    def fn(frame: np.ndarray) -> np.ndarray:
        return np.array([[10, 10, 50, 90, 0.9, 0], [60, 10, 99, 90, 0.9, 2]])

    summary = track_video(video, fn, "sort", classes=[0], progress=False, max_frames=4)
    assert summary.class_filter == "kept 4: 4 class 0; dropped 4: 4 class 2"
    # a plain function has no class names: say to pass ids
    with pytest.raises(ConfigError, match=r"no class names.*classes=\[0\]"):
        track_video(video, fn, "sort", classes=["person"], progress=False)


# -- 4. --out FILE.json is a file; --out not needed with --video ---------------------------------


def test_out_suffix_and_video_only(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["track", str(video), "--detector", "bgsub", "-q", "--max-frames", "8"]
    assert main([*base, "--out", str(tmp_path / "res.json")]) == 0
    assert (tmp_path / "res.json").is_file()  # a COCO file, not a folder
    assert "videos" in json.loads((tmp_path / "res.json").read_text())
    assert main([*base, "--out", str(tmp_path / "res.xml")]) == 2
    assert ".xml is not a results suffix" in _err(capsys)
    assert not (tmp_path / "res.xml").exists()
    assert main([*base, "--out", str(tmp_path / "r.json"), "--format", "csv"]) == 2
    assert "means --format coco" in _err(capsys)
    assert main([*base, "--video", str(tmp_path / "only.mp4")]) == 0
    assert len(list(open_video(tmp_path / "only.mp4"))) == 8
    assert main(base) == 2
    assert "--out FILE|DIR" in _err(capsys)


# -- 6. options: listed with defaults and meaning; bad detector options name the valid ones ----


def test_options_listing_and_detector_option_errors(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["track", "--tracker", "bytetrack", "--detector", "hog", "--options"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"track_thresh=0\.62 +detections scoring at least this", out), out
    flat = " ".join(out.split())
    assert "(also: track_buffer)" in flat and "[min_hits >= 1]" in flat
    assert "det.hit_threshold=0.9" in out and "offline.max_gap=" in out
    base = ["track", str(video), "--out", str(tmp_path / "a.txt"), "-q"]
    assert main([*base, "--detector", "bgsub", "--det-config", "score_thresh=0.3"]) == 2
    err = _err(capsys)
    assert "--set det.score_thresh" in err and "det.var_threshold" in err
    assert "TypeError" not in err
    # a detector that needs its model file: the flag's form, not a Python signature
    assert main([*base, "--detector", "yolox"]) == 2
    err = _err(capsys)
    assert "--detector yolox:MODEL.onnx" in err and "__init__" not in err


# -- 7. inputs that do not fit ---------------------------------------------------------------


def test_reid_with_a_tracker_that_ignores_appearance(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["track", str(video), "--out", str(tmp_path / "a.txt"), "--reid", "histogram", "-q"]
    assert main([*base, "--tracker", "sort"]) == 2
    err = _err(capsys)
    assert "tracker sort does not use appearance" in err and "deepsort" in err
    assert "botsort" in err
    assert main([*base, "--tracker", "botsort", "--set", "with_reid=false"]) == 2
    assert main([*base, "--tracker", "deepsort", "--detector", "bgsub", "--max-frames", "3"]) == 0


def test_detection_file_of_another_video(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = _seq(tmp_path / "long", [f"{f},-1,10,10,30,60,0.9" for f in range(1, 41)], 40)
    base = ["track", str(video), "--out", str(tmp_path / "a.txt"), "-q"]
    assert main([*base, "--detector", f"file:{long / 'det' / 'det.txt'}"]) == 2
    err = _err(capsys)
    assert "detections run to frame 40" in err and "has 24 frames" in err
    big = _seq(tmp_path / "big", [f"{f},-1,900,500,40,90,0.9" for f in range(1, 20)], 24)
    assert main([*base, "--detector", f"file:{big / 'det' / 'det.txt'}"]) == 2
    err = _err(capsys)
    assert "frame 1 has a box (900, 500, 940, 590) wholly outside the 320x240 image" in err


# -- 8. --offline on a video, with an annotated video ------------------------------------------


def test_offline_on_a_video_with_annotated_video(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["track", str(video), "--detector", "bgsub", "--tracker", "sort", "--offline",
            "--out", str(tmp_path / "r.txt"), "--video", str(tmp_path / "r.mp4"), "-q"]  # fmt: skip
    assert main(args) == 0
    assert "+ offline" in capsys.readouterr().out
    assert len(list(open_video(tmp_path / "r.mp4"))) == CFG.num_frames
    assert len(read_mot_txt(tmp_path / "r.txt", "result")) > 0


# -- 9. the Python API --------------------------------------------------------------------------


def test_builtin_detectors_are_functions_and_tracks_repr(video: Path) -> None:
    from trackkit.detectors import build_detector

    det: Any = build_detector("bgsub")  # (the Detector protocol only promises detect())
    frames = [f for _, f in open_video(video)][:3]
    out = [det(f) for f in frames]
    assert all(isinstance(d, Detections) for d in out) and callable(det)
    # so the README's "any function from a frame to boxes" holds for them too
    hog: Any = build_detector("hog")
    summary = track_video(video, hog.__call__, "sort", progress=False, max_frames=2)
    assert summary.frames == 2
    t = Tracks([[0, 0, 1, 1]], [7], class_ids=[2])
    assert repr(t) == "Tracks(n=1, track_ids=[7], class_ids=[2])"
    assert t.track_ids.tolist() == [7]


# -- 11. small ones -----------------------------------------------------------------------------


def test_ids_count_only_reported_tracks(tmp_path: Path) -> None:
    """Clutter makes tentative tracks that are never confirmed: the results still read 1..N."""
    rng = np.random.default_rng(0)
    rows = []
    for f in range(1, 31):
        rows += [f"{f},-1,{100 + 3 * f},100,40,100,0.95", f"{f},-1,{400 - 3 * f},200,40,100,0.9"]
        if f >= 12:  # a third walker, born after the clutter has used up ids
            rows.append(f"{f},-1,{300 + 3 * f},350,40,100,0.9")
        if f > 4:  # (tracks born in the first min_hits frames are confirmed at once)
            x, y = rng.uniform(0, 600, 2)  # a one-frame false positive somewhere new
            rows.append(f"{f},-1,{x:.1f},{y:.1f},20,20,0.9")
    seq = _seq(tmp_path, rows, 30)
    opts = {"min_hits": 3}
    track_video(seq, None, "sort", results=tmp_path / "a.txt", progress=False,
                tracker_options=opts)  # fmt: skip
    track_video(seq, None, "sort", results=tmp_path / "raw.txt", progress=False,
                tracker_options=opts, renumber=False)  # fmt: skip
    ids = set(read_mot_txt(tmp_path / "a.txt", "result").ids.tolist())
    raw = set(read_mot_txt(tmp_path / "raw.txt", "result").ids.tolist())
    assert len(ids) == len(raw) == 3
    assert ids == {1, 2, 3} and max(raw) > 3  # the tracker's own ids are sparse


def test_help_reads_for_videos(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("track "))
    assert "video" in line
    with pytest.raises(SystemExit):
        main(["track", "--help"])
    text = capsys.readouterr().out
    assert "video file" in text and "--count-line" in text and "--format" in text


def test_overlay_text_scales_with_the_frame(tmp_path: Path) -> None:
    from trackkit.viz.annotate import TrackAnnotator

    def label_height(h: int) -> int:
        img = np.zeros((h, h * 16 // 9, 3), np.uint8)
        out = TrackAnnotator(header=False, trail_length=0).annotate(
            img, Tracks([[h * 0.3, h * 0.3, h * 0.5, h * 0.8]], [1])
        )
        rows = np.flatnonzero((out[: int(h * 0.3)] > 0).any(axis=(1, 2)))
        return int(rows.max() - rows.min() + 1)

    small, large = label_height(360), label_height(1080)
    assert 1.3 < large / small < 1.8, (small, large)


def test_readme_counts_its_first_steps() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    m = re.search(r"then try these (\w+) things", readme)
    assert m is not None
    words = {"four": 4, "five": 5, "six": 6}
    section = readme[m.end() : readme.index("See `DEVELOPERS.md`")]
    assert words[m.group(1)] == len(re.findall(r"^\*\*\d+\. ", section, re.M))


# -- class-aware tracking and class output ------------------------------------------------------


def _class_switch(frame: np.ndarray) -> np.ndarray:
    """One box moving right whose class flips from 0 to 1 at frame 11 (of a 24-frame video)."""
    _class_switch.k = getattr(_class_switch, "k", 0) + 1  # type: ignore[attr-defined]
    k = _class_switch.k  # type: ignore[attr-defined]
    return np.array([[10 + 3 * k, 50, 50 + 3 * k, 130, 0.9, 0 if k <= 10 else 1]])


def test_class_aware_never_matches_across_classes(tmp_path: Path, video: Path) -> None:
    from trackkit.detectors import CallableDetector

    def run(aware: bool, path: Path) -> np.ndarray:
        _class_switch.k = 0  # type: ignore[attr-defined]
        det = CallableDetector(_class_switch, ["person", "bicycle"])
        track_video(video, det, "sort", results=path, progress=False, class_aware=aware,
                    tracker_options={"min_hits": 1})  # fmt: skip
        table = read_results(path)
        return np.stack([table.frames, table.ids, table.class_ids], 1)

    plain = run(False, tmp_path / "plain.txt")
    aware = run(True, tmp_path / "aware.jsonl")
    assert len(set(plain[:, 1].tolist())) == 1  # one identity turns into a bicycle
    by_class = {c: set(aware[aware[:, 2] == c, 1].tolist()) for c in (0, 1)}
    assert len(by_class[0]) == 1 and len(by_class[1]) == 1 and by_class[0] != by_class[1]
    # the class column is written (the MOTChallenge text's 8th column: a track keeps the
    # class it was born with), the names in JSON lines
    assert set(plain[:, 2].tolist()) == {0} and set(aware[:, 2].tolist()) == {0, 1}
    assert read_results(tmp_path / "aware.jsonl").class_names == {0: "person", 1: "bicycle"}


# -- counting --------------------------------------------------------------------------------


def test_count_line_and_zone_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = _seq(tmp_path, _walkers())
    out = tmp_path / "o"
    args = ["track", str(seq), "--tracker", "sort", "--set", "min_hits=1", "--out", str(out),
            "--count-line", "200,480,200,0", "--zone", "0,0,150,0,150,480,0,480", "-q"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "count line 1: in 1 (object 1), out 1 (object 1)" in printed
    doc = json.loads((out / "S.counts.json").read_text())
    line, zone = doc["counters"]
    assert (line["in"], line["out"]) == ({"object": 1}, {"object": 1})
    assert (zone["in_total"], zone["out_total"]) == (1, 1)  # one walks in, one walks out
    assert sorted(e["direction"] for e in doc["events"]) == ["in", "in", "out", "out"]
    assert main([*args[:-1], "--counts", str(tmp_path / "c.csv"), "-q"]) == 0
    assert "line 1,line,all,1,1" in (tmp_path / "c.csv").read_text()
    assert main([*args[:-1], "--count-line", "1,2,3", "-q"]) == 2
    assert "--count-line '1,2,3'" in _err(capsys)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "coco"])
def test_format_flag_writes_what_the_readers_read(tmp_path: Path, fmt: str) -> None:
    seq = _seq(tmp_path, _walkers())
    base = ["track", str(seq), "--tracker", "sort", "--set", "min_hits=1", "-q"]
    assert main([*base, "--out", str(tmp_path / "mot")]) == 0
    assert main([*base, "--out", str(tmp_path / fmt), "--format", fmt]) == 0
    suffix = {"jsonl": ".jsonl", "csv": ".csv", "coco": ".json"}[fmt]
    a = read_results(tmp_path / "mot" / "S.txt")
    b = read_results(tmp_path / fmt / f"S{suffix}")
    assert a.frames.tolist() == b.frames.tolist() and a.ids.tolist() == b.ids.tolist()
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)


def test_offline_keeps_classes_and_never_links_across_them(tmp_path: Path, video: Path) -> None:
    from trackkit.detectors import CallableDetector

    _class_switch.k = 0  # type: ignore[attr-defined]
    det = CallableDetector(_class_switch, ["person", "bicycle"])
    track_video(video, det, "sort", results=tmp_path / "r.csv", progress=False, offline=True,
                class_aware=True, tracker_options={"min_hits": 1})  # fmt: skip
    table = read_results(tmp_path / "r.csv")
    pairs = set(zip(table.ids.tolist(), table.class_ids.tolist(), strict=True))
    assert {c for _, c in pairs} == {0, 1} and len(pairs) == len({i for i, _ in pairs}) == 2


def test_per_class_tracker_rows_align_with_its_input() -> None:
    from trackkit.mot import build
    from trackkit.mot.per_class import PerClassTracker

    trk = PerClassTracker(lambda: build("sort", min_hits=1))
    for k in range(1, 6):  # a person and a car on the same spot, rows in varying order
        boxes = [[10 + k, 10, 50 + k, 90], [12 + k, 11, 52 + k, 91], [200, 50, 240, 90]]
        order = [2, 0, 1] if k % 2 else [0, 1, 2]
        dets = Detections(np.array(boxes)[order], None, np.array([0, 2, 2])[order])
        tracks = trk.update(dets)
    assert len(tracks) == 3 and sorted(tracks.track_ids.tolist()) == [1, 2, 3]
    assert tracks.class_ids is not None
    for cls, row in zip(tracks.class_ids.tolist(), tracks.det_index.tolist(), strict=True):
        assert dets.class_ids is not None and dets.class_ids[row] == cls
    trk.reset()
    assert len(trk.update(Detections.empty())) == 0
