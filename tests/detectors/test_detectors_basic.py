"""Detector protocol, registry, adapters, NMS, file / HOG / background-subtraction detectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.core.boxes import iou_matrix
from trackkit.core.detections import Detections
from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.detectors.base import (
    DETECTORS,
    CallableDetector,
    ClassFilter,
    Detector,
    EmbeddingDetector,
    as_detector,
    build_detector,
)
from trackkit.detectors.evaluate import count_matches
from trackkit.detectors.from_file import FileDetector
from trackkit.detectors.nms import batched_nms, nms
from trackkit.errors import ConfigError, DataNotFoundError, FormatError, TrackkitError


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    keep: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda k: (-scores[k], k)):
        if all(iou_matrix(boxes[i : i + 1], boxes[j : j + 1])[0, 0] <= thr for j in keep):
            keep.append(i)
    return keep


def test_nms_matches_a_reference() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        xy = rng.uniform(0, 100, (30, 2))
        wh = rng.uniform(5, 40, (30, 2))
        boxes = np.hstack([xy, xy + wh])
        scores = rng.uniform(0, 1, 30)
        assert nms(boxes, scores, 0.4).tolist() == _reference_nms(boxes, scores, 0.4)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_batched_nms_keeps_other_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10.5], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, [0, 0, 1], 0.5).tolist() == [0, 2]


def test_registry_and_specs(tmp_path: Path) -> None:
    assert {"hog", "bgsub", "yolox", "file"} <= set(DETECTORS.available())
    with pytest.raises(ConfigError, match="valid names"):
        build_detector("nope")
    with pytest.raises(ConfigError, match="unknown option"):
        build_detector("hog", winsize=3)
    det_file = tmp_path / "det.txt"
    det_file.write_text("1,-1,10,20,30,40,0.9\n3,-1,1,2,3,4,0.5\n1,-1,0,0,5,5,0.2\n")
    for spec in (f"file:{det_file}", str(det_file)):
        d = build_detector(spec)
        assert isinstance(d, FileDetector) and isinstance(d, Detector)


def test_file_detector_frames_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "det.txt"
    path.write_text("1,-1,10,20,30,40,0.9\n\n3 -1 1 2 3 4 0.5\n1,-1,0,0,5,5,0.2,-1,-1,-1\n")
    d = FileDetector(path)
    f1 = d.detect(np.zeros((4, 4, 3), np.uint8))
    assert f1.xyxy.tolist() == [[10, 20, 40, 60], [0, 0, 5, 5]]
    assert len(d.detect()) == 0 and len(d.detect()) == 1
    d.reset()
    assert len(d.detect()) == 2
    assert len(FileDetector(path, min_score=0.3).detect_frame(1)) == 1
    with pytest.raises(DataNotFoundError):
        FileDetector(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,1,2,3,4,0.5\n2,-1,1,x,3,4,0.5\n")
    with pytest.raises(FormatError, match="line 2, column 4"):
        FileDetector(bad)
    bad.write_text("0,-1,1,2,3,4,0.5\n")
    with pytest.raises(FormatError, match="line 1"):
        FileDetector(bad)


def test_callable_adapter_and_class_filter() -> None:
    def fn(frame: np.ndarray) -> np.ndarray:
        return np.array([[0, 0, 10, 10, 0.9, 0], [5, 5, 20, 20, 0.4, 2]])

    det = as_detector(fn)
    assert isinstance(det, CallableDetector)
    d = det.detect(np.zeros((30, 30, 3), np.uint8))
    assert d.class_ids is not None and d.class_ids.tolist() == [0, 2]
    named = CallableDetector(fn, class_names=["person", "bike", "car"])
    assert ClassFilter(named, ["car"]).detect(np.zeros((1, 1, 3), np.uint8)).xyxy.tolist() == [
        [5, 5, 20, 20]
    ]
    assert len(ClassFilter(named, [0, "2"]).detect(np.zeros((1, 1, 3), np.uint8))) == 2
    with pytest.raises(ConfigError, match="unknown class"):
        ClassFilter(named, ["zebra"])
    assert len(as_detector(lambda f: []).detect(np.zeros((1, 1, 3), np.uint8))) == 0
    with pytest.raises(TrackkitError, match="shape"):
        as_detector(lambda f: np.zeros((2, 3))).detect(np.zeros((1, 1, 3), np.uint8))


def test_embedding_hook() -> None:
    class Embedder:
        def embed(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
            return np.hstack([boxes[:, :2], np.ones((len(boxes), 1))])

    base = CallableDetector(lambda f: Detections([[1, 2, 3, 4], [5, 6, 7, 8]]))
    d = EmbeddingDetector(base, Embedder()).detect(np.zeros((9, 9, 3), np.uint8))
    assert d.embeddings is not None and d.embeddings.tolist() == [[1, 2, 1], [5, 6, 1]]
    empty = EmbeddingDetector(CallableDetector(lambda f: Detections.empty()), Embedder())
    assert len(empty.detect(np.zeros((9, 9, 3), np.uint8))) == 0


def test_bgsub_finds_the_moving_objects() -> None:
    cfg = SceneConfig(width=320, height=240, num_frames=80, num_objects=3, seed=5,
                      min_height=40, max_height=70, min_speed=2, max_speed=4)  # fmt: skip
    scene = SyntheticScene(cfg)
    det = build_detector("bgsub", min_area=100)
    found = isolated = spurious = total = 0
    for _, img, truth in scene.iter_with_truth():
        d = det.detect(img)
        # objects standing apart (no other box within 3 pixels) must be found alone;
        # touching objects merge into one blob, which is this detector's known limit
        grown = truth.xyxy + np.array([-3, -3, 3, 3])
        near = iou_matrix(grown, grown) > 0
        alone = (near.sum(axis=1) == 1) & (truth.visibility >= 0.9)
        c = count_matches(d.xyxy, truth.xyxy[alone], np.zeros((0, 4)))
        found, isolated = found + c.tp, isolated + c.positives
        if len(d):
            overlaps = (
                iou_matrix(d.xyxy, truth.xyxy).max(axis=1) if len(truth) else np.zeros(len(d))
            )
            spurious += int(np.sum(overlaps == 0))
            total += len(d)
    assert isolated > 40
    assert found / isolated >= 0.8
    assert spurious <= 0.05 * total
    det.reset()
    assert len(det.detect(scene.frame(1))) == 0


def test_hog_detects_a_person_like_silhouette(shared: Path) -> None:
    import cv2

    img = cv2.imread(
        str(shared / "data" / "MOT17" / "train" / "MOT17-05-FRCNN" / "img1" / "000001.jpg")
    )
    det = build_detector("hog", hit_threshold=0.0)
    d = det.detect(img)
    assert len(d) > 0 and d.class_ids is not None and set(d.class_ids.tolist()) == {0}
    assert np.all(d.xyxy[:, 2] <= img.shape[1]) and np.all(d.xyxy[:, 3] <= img.shape[0])
    strict = build_detector("hog", hit_threshold=1.5).detect(img)
    assert len(strict) <= len(d)
