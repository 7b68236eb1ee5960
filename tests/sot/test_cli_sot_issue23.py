"""``trackkit sot`` / ``trackkit eval sot`` as a new user meets them (issue 23): the lost
signal in the outputs, --start, --target and two-target OTB folders, the score against the
ground truth, the ground truth drawn, the trackers in --help, --weights in error messages,
several trackers and the reference trackers in ``eval sot``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.io.images import read_image
from trackkit.io.otb import read_otb_boxes
from trackkit.sot import available


def _cut_sequence(shared: Path, root: Path) -> Path:
    """An OTB folder: 12 frames of Crossing, then 8 of Car4 (the target has left; OTB marks
    absent frames with 0,0,0,0 ground-truth rows)."""
    seq = root / "Leaving"
    (seq / "img").mkdir(parents=True)
    src = shared / "data" / "otb" / "Crossing"
    other = shared / "data" / "otb" / "Car4"
    gt = (src / "groundtruth_rect.txt").read_text().splitlines()[:12] + ["0,0,0,0"] * 8
    for i in range(12):
        shutil.copy(src / "img" / f"{i + 1:04d}.jpg", seq / "img" / f"{i + 1:04d}.jpg")
    h, w = read_image(src / "img" / "0001.jpg").shape[:2]
    for i in range(8):
        img = cv2.resize(read_image(other / "img" / f"{i + 101:04d}.jpg"), (w, h))
        cv2.imwrite(str(seq / "img" / f"{i + 13:04d}.jpg"), img)
    (seq / "groundtruth_rect.txt").write_text("\n".join(gt) + "\n")
    return seq


@pytest.mark.timeout(60)
def test_lost_frames_in_the_outputs(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = _cut_sequence(shared, tmp_path)
    out = tmp_path / "res" / "boxes.txt"
    assert main(["sot", str(seq), "--tracker", "kcf", "--out", str(out)]) == 0
    boxes = np.loadtxt(out, delimiter=",")
    assert boxes.shape == (20, 4) and np.all(np.isfinite(boxes))  # a box on every frame
    side = np.loadtxt(tmp_path / "res" / "boxes.score.csv", delimiter=",", skiprows=1)
    assert side.shape == (20, 3)
    np.testing.assert_array_equal(side[:, 0], np.arange(20))
    lost = side[:, 2].astype(bool)
    assert lost[:12].sum() <= 1 and lost[12:].sum() >= 6, side
    np.testing.assert_array_equal(lost, side[:, 1] < 0.27)  # KCF's documented threshold
    err = capsys.readouterr().err
    assert "target lost on" in err and "lost_threshold 0.27" in err
    assert "Leaving: success AUC" in err  # a sequence with ground truth is scored


@pytest.mark.timeout(60)
def test_two_targets_start_and_ground_truth(
    shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jog = shared / "data" / "otb" / "Jogging"
    assert main(["sot", str(jog), "--tracker", "kcf"]) == 2
    err = capsys.readouterr().err
    assert "2 targets" in err and "--target" in err and "Jogging-1" in err
    assert err.count("\n") == 1
    assert main(["sot", str(jog), "--target", "3"]) == 2
    assert "targets 1..2" in capsys.readouterr().err

    gt2 = read_otb_boxes(jog / "groundtruth_rect.2.txt")
    # --target 2, or .../Jogging-2: target 2 of the folder Jogging
    for source in ([str(jog), "--target", "2"], [str(jog.parent / "Jogging-2")]):
        out = tmp_path / "j2.txt"
        args = [*source, "--start", "5", "--max-frames", "6", "--out", str(out), "--one-based"]
        assert main(["sot", *args]) == 0
        rows = np.loadtxt(out, delimiter=",")
        assert rows.shape == (6, 4)
        # initialised on target 2's ground truth of frame 5 (1-based x,y,w,h)
        expect = [gt2[5, 0] + 1, gt2[5, 1] + 1, gt2[5, 2] - gt2[5, 0], gt2[5, 3] - gt2[5, 1]]
        np.testing.assert_allclose(rows[0], expect, atol=0.01)
        err = capsys.readouterr().err
        assert "Jogging-2: success AUC" in err and "frames 5..10" in err


@pytest.mark.timeout(60)
def test_video_draws_the_ground_truth(shared: Path, tmp_path: Path) -> None:
    seq = shared / "data" / "otb" / "Car4"
    gt = read_otb_boxes(seq / "groundtruth_rect.txt")
    mp4 = tmp_path / "car4.mp4"
    # --init far from the ground truth, so that both boxes are seen apart
    code = main(["sot", str(seq), "--init", "10,10,40,30", "--max-frames", "3",
                 "--video", str(mp4)])  # fmt: skip
    assert code == 0
    cap = cv2.VideoCapture(str(mp4))
    ok, frame = cap.read()
    cap.release()
    assert ok
    x1, y1, x2, _ = np.round(gt[0]).astype(int)
    edge = frame[y1, x1 + 5 : x2 - 5].astype(int)  # the top edge of the ground-truth box
    assert edge.min() > 170, edge.min()  # drawn in white
    raw = read_image(seq / "img" / "0001.jpg")[y1, x1 + 5 : x2 - 5].astype(int)
    assert raw.min() < 120  # ... over pixels that are not white in the frame


@pytest.mark.timeout(60)
def test_help_lists_trackers_and_errors_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sot", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in available():
        assert f"\n  {name} " in out, name
    assert "lost_threshold" in out and "--target" in out and "--start" in out
    frames = tmp_path / "f"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((40, 50, 3), 90, np.uint8))
    args = ["sot", str(frames), "--init", "5,5,20,20", "--tracker", "siamfc"]
    assert main([*args, "--weights", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err
    assert "--weights FILE" in err and err.count("\n") == 1


@pytest.mark.timeout(60)
def test_siamrpn_default_is_said(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trackkit.sot import SOT_TRACKERS, build
    from trackkit.sot.trackers.siamrpn import DEFAULT_NETWORK

    assert "default v2" in SOT_TRACKERS.summary("siamrpn")
    tracker = build("siamrpn")
    tracker._network()  # loads the default network
    assert Path(str(tracker.config.weights)).name == DEFAULT_NETWORK
    seq = shared / "data" / "otb" / "Crossing"
    assert main(["sot", str(seq), "--tracker", "siamrpn", "--max-frames", "3"]) == 0
    assert f"{DEFAULT_NETWORK} (the default of siamrpn" in capsys.readouterr().err


def _toy(root: Path, n: int = 8) -> Path:
    rng = np.random.default_rng(3)
    img = cv2.resize(rng.integers(0, 256, (15, 20, 3), np.uint8), (160, 120))
    seq = root / "Toy"
    (seq / "img").mkdir(parents=True)
    for t in range(n):
        shift = np.array([[1, 0, 2 * t], [0, 1, 0]], dtype=np.float64)
        shifted = cv2.warpAffine(img, shift, (160, 120))
        cv2.imwrite(str(seq / "img" / f"{t + 1:04d}.png"), shifted)
    lines = [f"{61 + 2 * t},41,30,30" for t in range(n)]
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return seq


@pytest.mark.timeout(60)
def test_eval_several_trackers_and_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _toy(tmp_path / "data")
    ref = tmp_path / "ref" / "Published"
    ref.mkdir(parents=True)
    res = [[61 + 2 * t + 6, 41, 30, 30] for t in range(8)]  # 6 px off: IoU 0.67
    (ref / "Toy.json").write_text(json.dumps([{"res": res}]))
    js = tmp_path / "s.json"
    code = main(["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf,siamfc",
                 "--reference", str(tmp_path / "ref"), "--json", str(js),
                 "--plot", str(tmp_path / "p.png"),
                 "--results", str(tmp_path / "res")])  # fmt: skip
    assert code == 0
    side = (tmp_path / "res" / "kcf" / "Toy.score.csv").read_text().splitlines()
    assert side[0] == "frame,score,lost" and len(side) == 9
    assert len((tmp_path / "res" / "siamfc" / "Toy.txt").read_text().splitlines()) == 8
    out = capsys.readouterr().out
    summary = out[out.index("ranked by mean AUC") :]
    for name in ("kcf", "siamfc", "Published"):
        assert f"\n{name} " in summary, summary
    assert "published results" in summary
    rep = json.loads(js.read_text())
    assert set(rep["trackers"]) == {"kcf", "siamfc"}
    assert rep["trackers"]["kcf"]["sequences"]["Toy"]["frames"] == 8
    assert main(["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf,siamfc",
                 "--weights", "x.pt"]) == 2  # fmt: skip


def test_plot_colour_is_the_trackers_in_both_panels() -> None:
    import matplotlib.pyplot as plt

    from trackkit.metrics.otb import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS
    from trackkit.viz.plots import Curves, otb_figure

    ns, npr = len(SUCCESS_THRESHOLDS), len(PRECISION_THRESHOLDS)
    # A ranks first in success, last in precision; C the other way round
    curves = {
        "A": Curves.of(np.full(ns, 0.9), np.full(npr, 0.2)),
        "B": Curves.of(np.full(ns, 0.5), np.full(npr, 0.5)),
        "C": Curves.of(np.full(ns, 0.2), np.full(npr, 0.9)),
    }
    fig = otb_figure(curves)
    try:
        colours = []
        for ax in fig.axes:
            colours.append({str(ln.get_label()).split(" ")[0]: ln.get_color() for ln in ax.lines})
        assert colours[0] == colours[1]
        assert len(set(colours[0].values())) == 3
    finally:
        plt.close(fig)
