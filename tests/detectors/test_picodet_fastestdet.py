"""PP-PicoDet and FastestDet: decoders checked on known boxes of a real MOT17 frame, their
maths on hand-made outputs, layouts refused clearly, models by name, classes by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.core.boxes import iou_matrix
from trackkit.detectors import build_detector
from trackkit.detectors.evaluate import average_precision, rank_matches, read_gt_frames
from trackkit.detectors.fastestdet import FastestDetDetector
from trackkit.detectors.picodet import PicoDetDetector, dfl_integral, picodet_centers
from trackkit.errors import ConfigError, FormatError

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.timeout(60)

FRAME = ("data", "MOT17", "train", "MOT17-09-FRCNN", "img1", "000001.jpg")


@pytest.fixture(scope="module")
def frame(shared: Path) -> np.ndarray:
    img = cv2.imread(str(shared.joinpath(*FRAME)))
    assert img is not None
    return img


def _best(det: Any, img: np.ndarray) -> tuple[list[float], float, int]:
    d = det.detect(img)
    k = int(np.argmax(d.scores))
    return d.xyxy[k].tolist(), float(d.scores[k]), len(d)


@pytest.mark.parametrize(
    "name, box, score",
    [  # the known answers of ../shared/weights/picodet_s/SOURCE.txt (RGB, plain resize)
        ("picodet-s-320", [1704, 391, 1869, 728], 0.736),
        ("picodet-s", [1686, 391, 1859, 730], 0.780),
    ],
)
def test_picodet_known_box_on_mot17(frame: np.ndarray, name: str, box: list[int],
                                    score: float) -> None:  # fmt: skip
    det = build_detector(name, classes=["person"], tiles=(1, 1), score_threshold=0.4)
    assert isinstance(det, PicoDetDetector)
    got, s, _ = _best(det, frame)
    np.testing.assert_allclose(got, box, atol=1.5)
    assert s == pytest.approx(score, abs=0.002)


def test_fastestdet_known_box_on_mot17(frame: np.ndarray) -> None:
    # SOURCE.txt: [1702,397,1872,726] 0.875 (the author's demo resizes with INTER_AREA,
    # trackkit with INTER_LINEAR, as the author's training loader: a pixel or two apart)
    det = build_detector("fastestdet", classes=["person"], tiles=(1, 1), score_threshold=0.4)
    assert isinstance(det, FastestDetDetector)
    got, s, _ = _best(det, frame)
    np.testing.assert_allclose(got, [1702, 397, 1872, 726], atol=4)
    assert s == pytest.approx(0.875, abs=0.01)


@pytest.mark.parametrize("name", ["yolox-nano", "picodet-s", "fastestdet"])
def test_best_box_is_a_real_person(frame: np.ndarray, shared: Path, name: str) -> None:
    """The top detection matches a ground-truth pedestrian (the man on the right)."""
    seq = shared.joinpath(*FRAME[:4])
    pos, _ = read_gt_frames(seq / "gt" / "gt.txt", {1}, 0.5, (1920, 1080))[1]
    got, _, _ = _best(build_detector(name, classes=["person"], tiles=(1, 1)), frame)
    assert iou_matrix(np.asarray([got]), pos).max() > 0.6  # a true positive at IoU 0.5


def test_dfl_integral_and_centres() -> None:
    logits = np.full((2, 32), -50.0)
    for side, b in enumerate([0, 3, 7, 5]):
        logits[0, side * 8 + b] = 50.0  # one-hot: the bin itself
    logits[1] = 0.0  # uniform over 0..7: the mean, 3.5
    np.testing.assert_allclose(dfl_integral(logits, 7), [[0, 3, 7, 5], [3.5] * 4], atol=1e-9)
    centres, strides = picodet_centers((416, 416))
    assert len(centres) == 52 * 52 + 26 * 26 + 13 * 13 + 7 * 7  # ceil(416 / 64) = 7
    np.testing.assert_allclose(centres[:2], [[4, 4], [12, 4]])  # row-major, +0.5 cell
    np.testing.assert_allclose(centres[52], [4, 12])
    assert strides[-1] == 64 and centres[-1].tolist() == [6.5 * 64, 6.5 * 64]


class _Session:
    def __init__(self, outs: list[np.ndarray], size: int) -> None:
        self.outs, self.size = outs, size

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="x", shape=[1, 3, self.size, self.size])]

    def get_outputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=f"o{i}", shape=list(o.shape)) for i, o in enumerate(self.outs)]

    def run(self, names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert feeds["x"].shape == (1, 3, self.size, self.size)
        return self.outs


def _fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cls: Any, outs: list[np.ndarray],
          size: int, **opts: Any) -> Any:  # fmt: skip
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr("trackkit.detectors.onnx_base._session", lambda p, n: _Session(outs, size))
    return cls(model, **opts)


def test_picodet_decoding_by_hand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    size = 64  # levels 8x8, 4x4, 2x2, 1x1
    counts = [64, 16, 4, 1]
    cls = [np.zeros((1, n, 3), np.float32) for n in counts]
    reg = [np.full((1, n, 32), -50.0, np.float32) for n in counts]
    # stride-16 cell (row 1, col 2): centre (40, 24); distances 1, 2, 0.5 (bins 0/1), 3 strides
    k = 1 * 4 + 2
    cls[1][0, k, 2] = 0.9
    for side, b in enumerate([1, 2, 0, 3]):
        reg[1][0, k, side * 8 + b] = 50.0
    reg[1][0, k, 2 * 8 : 2 * 8 + 2] = 0.0  # right side: p(0) = p(1) = 0.5 -> 0.5
    # outputs in Paddle's order: the four class maps, then the four box maps
    det = _fake(monkeypatch, tmp_path, PicoDetDetector, cls + reg, size,
                class_names=("a", "b", "c"), tiles=(1, 1))  # fmt: skip
    frame = np.zeros((32, 128, 3), np.uint8)  # plain resize: x scale 0.5, y scale 2
    d = det.detect(frame)
    assert len(d) == 1 and d.class_ids.tolist() == [2] and d.scores[0] == pytest.approx(0.9)
    x1, x2, y2 = 40 - 16, 40 + 8, 24 + 48  # input pixels (y1 = 24 - 32 < 0: clipped)
    np.testing.assert_allclose(d.xyxy[0], [x1 * 2, 0, x2 * 2, min(y2 / 2, 32)], atol=1e-6)
    with pytest.raises(FormatError, match="not PicoDet's"):
        _fake(monkeypatch, tmp_path, PicoDetDetector, cls + reg[:3], size)


def test_fastestdet_decoding_by_hand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    g = 4
    out = np.zeros((1, 5 + 2, g, g), np.float32)
    out[0, 0, 2, 1] = 0.81  # objectness at row 2, col 1
    out[0, 1, 2, 1] = np.arctanh(0.5)  # x offset +0.5 cell
    out[0, 2, 2, 1] = 0.0  # y offset 0
    out[0, 3, 2, 1] = np.log(0.25 / 0.75)  # width 0.25 of the image
    out[0, 4, 2, 1] = 0.0  # height 0.5
    out[0, 6, 2, 1] = 0.9  # class 1
    det = _fake(monkeypatch, tmp_path, FastestDetDetector, [out], 64,
                class_names=("a", "b"), tiles=(1, 1), score_threshold=0.5)  # fmt: skip
    d = det.detect(np.zeros((100, 200, 3), np.uint8))
    assert d.class_ids.tolist() == [1]
    assert d.scores[0] == pytest.approx(0.81**0.6 * 0.9**0.4)
    cx, cy, w, h = 1.5 / 4 * 200, 2 / 4 * 100, 0.25 * 200, 0.5 * 100
    np.testing.assert_allclose(d.xyxy[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    with pytest.raises(FormatError, match="not FastestDet's"):
        _fake(monkeypatch, tmp_path, FastestDetDetector, [out[0]], 64)


def test_models_and_classes_by_name(shared: Path) -> None:
    det = build_detector("picodet-s-320", classes=["person,car"])
    assert det.config.classes == (0, 2)
    path = shared / "weights" / "fastestdet" / "FastestDet.onnx"
    assert isinstance(build_detector(str(path)), FastestDetDetector)  # known by its sha256
    with pytest.raises(ConfigError, match="unknown class 'sedan'"):
        build_detector("fastestdet", classes=["sedan"])
    with pytest.raises(ConfigError, match="unknown detect model 'udt'"):
        build_detector("udt")


def test_average_precision_ranks_by_score() -> None:
    pos = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    ign = np.array([[50, 50, 60, 60]], float)
    det = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60], [100, 0, 110, 10],
                    [20, 0, 30, 10]], float)  # fmt: skip
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    outcome = rank_matches(det, scores, pos, ign)
    assert outcome.tolist() == [1, 0, -1, 0, 1]  # duplicate = FP, inside ignored = ignored
    # P/R: (1/1, .5), (1/2, .5), (1/3, .5), (2/4, 1) -> monotone precision .5 -> AP = .5*1+.5*.5
    assert average_precision(scores, outcome, 2) == pytest.approx(0.75)
