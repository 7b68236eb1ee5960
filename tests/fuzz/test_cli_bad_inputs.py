"""Bad inputs through the ``trackkit`` command, as a user meets them: exit status 2, one line
on stderr naming the file or the option, no traceback, and no results file left behind by a
run that never finished a frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main

pytestmark = pytest.mark.timeout(120)

ASSETS = Path(__file__).resolve().parents[2] / "src" / "trackkit" / "assets"


def _video(shared: Path, tmp: Path) -> Path:
    data = (shared / "data" / "videos" / "room_entrance_one_by_one.mp4").read_bytes()
    (tmp / "trunc.mp4").write_bytes(data[:50_000])
    return tmp / "trunc.mp4"


def _mot_seq(tmp: Path, det: str, ini: str | None = None) -> Path:
    seq = tmp / "MOT-X"
    (seq / "det").mkdir(parents=True)
    (seq / "det" / "det.txt").write_text(det)
    if ini is not None:
        (seq / "img1").mkdir()
        (seq / "seqinfo.ini").write_text(ini)
    return seq


def _otb(shared: Path, tmp: Path, gt: str) -> Path:
    seq = tmp / "Bad"
    (seq / "img").mkdir(parents=True)
    img = cv2.imread(str(shared / "data" / "otb" / "Car4" / "img" / "0001.jpg"))
    cv2.imwrite(str(seq / "img" / "0001.jpg"), img)
    cv2.imwrite(str(seq / "img" / "0002.jpg"), img)
    (seq / "groundtruth_rect.txt").write_text(gt)
    return seq


def _bytes(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


Case = Callable[[Path, Path], tuple[list[str], str]]

CASES: dict[str, Case] = {
    "empty video": lambda s, t: (
        ["track", str(_bytes(t, "e.mp4", b"")), "--tracker", "sort"], "e.mp4"),
    "text as video": lambda s, t: (
        ["track", str(_bytes(t, "t.mp4", b"1,2,3\n" * 9)), "--tracker", "sort"], "t.mp4"),
    "letter in det.txt": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n2,-1,1,2,x,4,0.9\n")), "--tracker", "sort"],
        "det.txt, line 2"),
    "short det line": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n2,-1,1,2\n")), "--tracker", "sort"],
        "det.txt, line 2"),
    "NaN in det.txt": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,nan,4,0.9\n")), "--tracker", "sort"],
        "det.txt, line 1"),
    "bad seqinfo.ini": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n", "[Sequence]\nseqLength=abc\n")),
         "--tracker", "sort"], "seqinfo.ini"),
    "tracktor without images": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n")), "--tracker", "tracktor"], "frame"),
    "letter in OTB ground truth": lambda s, t: (
        ["sot", str(_otb(s, t, "1,2,3,x\n1,2,3,4\n")), "--tracker", "kcf"],
        "groundtruth_rect.txt, line 1"),
    "truncated weights": lambda s, t: (
        ["sot", str(s / "data" / "otb" / "Car4"), "--tracker", "siamfc", "--weights",
         str(_bytes(t, "w.pt", (ASSETS / "siamfc.pt").read_bytes()[:3000]))], "w.pt"),
    "random-bytes weights": lambda s, t: (
        ["sot", str(s / "data" / "otb" / "Car4"), "--tracker", "goturn", "--weights",
         str(_bytes(t, "r.pt", bytes(range(256)) * 8))], "r.pt"),
    "ONNX given as NanoTrack weights": lambda s, t: (
        ["sot", str(s / "data" / "otb" / "Car4"), "--tracker", "siamrpn", "--weights",
         str(_bytes(t, "m.onnx", b"\x08\x07" + bytes(300)))], "m.onnx"),
    "wrong option type (sot)": lambda s, t: (
        ["sot", str(s / "data" / "otb" / "Car4"), "--tracker", "kcf", "--set", "padding=abc"],
        "padding"),
    "wrong option type (track)": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n")), "--tracker", "bytetrack", "--config",
         "track_buffer=sixty"], "track_buffer"),
    "infinite frame rate": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n")), "--tracker", "sort", "--set",
         "frame_rate=1e400"], "frame_rate"),
    "unknown detector option": lambda s, t: (
        ["track", str(_mot_seq(t, "1,-1,1,2,3,4,0.9\n")), "--tracker", "sort", "--det-config",
         "score_thresh=0.3"], "score_thresh"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_and_leaves_nothing(
    case: str, shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, named = CASES[case](shared, tmp_path)
    out = tmp_path / "out"
    if args[0] == "track":
        args += ["--out", str(out), "-q"]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("detector: ")]
    assert len(lines) == 1 and lines[0].startswith("trackkit: error: "), err
    assert "Traceback" not in err and named in lines[0], lines[0]
    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    if args[0] == "track":
        assert left == [], f"left behind: {left}"


def test_sot_failing_in_init_leaves_no_output(shared: Path, tmp_path: Path) -> None:
    """``trackkit sot --out`` creates its files with the first tracked frame (it opened them,
    and wrote the side file's header, before the tracker's ``init``)."""
    bad = _bytes(tmp_path, "w.pt", (ASSETS / "siamfc.pt").read_bytes()[:3000])
    out = tmp_path / "out" / "boxes.txt"
    car4 = str(shared / "data" / "otb" / "Car4")
    assert main(["sot", car4, "--tracker", "siamfc", "--weights", str(bad), "--out", str(out)]) == 2
    assert not out.exists() and not list(out.parent.glob("*"))


def test_tiny_image_named_mp4_is_a_valid_one_frame_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenCV opens a PNG named ``.mp4`` as a one-frame video: a valid result. (Its 9x9
    frame made OpenCV's HOG people detector corrupt its heap and abort the process; images
    smaller than the HOG window now give no detections.)"""
    png = cv2.imencode(".png", np.zeros((9, 9, 3), np.uint8))[1].tobytes()
    out = tmp_path / "out"
    rc = main(["track", str(_bytes(tmp_path, "p.mp4", png)), "--tracker", "sort", "--out",
               str(out), "-q"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert (out / "p.txt").read_text() == ""  # one frame, no people
    from trackkit.detectors import build_detector

    hog = build_detector("hog")  # the default detector may be another where a model is cached
    for h, w in ((9, 9), (127, 64), (128, 63), (1, 500)):
        assert len(hog.detect(np.zeros((h, w, 3), np.uint8))) == 0


def test_frame_rate_can_be_set(tmp_path: Path) -> None:
    """``--set frame_rate=25`` failed with "build_tracker() got multiple values for argument
    'frame_rate'" (found by the infinite-frame-rate case)."""
    out = tmp_path / "out"
    seq = _mot_seq(tmp_path, "1,-1,1,2,3,4,0.9\n2,-1,1,2,3,4,0.9\n")
    args = ["track", str(seq), "--tracker", "sort", "--set", "frame_rate=25", "--out", str(out)]
    assert main([*args, "-q"]) == 0
    assert (out / "MOT-X.txt").is_file()
