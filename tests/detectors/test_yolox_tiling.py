"""Tiled YOLOX inference: tile layout and the merge of tile and whole-frame detections."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from trackkit.detectors.yolox import YoloxDetector, merge_tiles

# A 100 x 200 (width x height) frame cut into a top and a bottom tile overlapping on y 80..120.
W, H = 100, 200
TILES = [(0, 0, 100, 120), (0, 80, 100, 200)]


Region = tuple[np.ndarray, np.ndarray, np.ndarray]


def _region(
    boxes: list[list[float]], scores: list[float], classes: list[int] | None = None
) -> Region:
    return (
        np.asarray(boxes, np.float64).reshape(-1, 4),
        np.asarray(scores, np.float64),
        np.asarray(classes if classes is not None else [0] * len(scores), np.int64),
    )


def _tile(
    k: int, boxes: list[list[float]], scores: list[float], classes: list[int] | None = None
) -> Region:
    """A tile's region from frame-pixel boxes (moved to the tile's own pixels)."""
    x0, y0 = TILES[k][:2]
    b = np.asarray(boxes, np.float64).reshape(-1, 4) - [x0, y0, x0, y0]
    return _region(b.tolist(), scores, classes)


def _merge(
    whole: Region, top: Region, bottom: Region
) -> tuple[list[tuple[float, ...]], np.ndarray, np.ndarray]:
    boxes, scores, classes = merge_tiles(whole, TILES, [top, bottom], W, H, 0.45)
    return sorted(map(tuple, np.round(boxes, 6).tolist())), scores, classes


def test_cut_and_shrunk_tile_boxes_give_way_to_the_full_box() -> None:
    person = [40.0, 60.0, 60.0, 180.0]  # crosses both inner borders (y=80 and y=120)
    whole = _region([person], [0.6])
    top = _tile(
        0,
        [
            [40, 60, 60, 120],  # cut by the top tile's lower border
            [45, 65, 52, 85],  # a narrower, distant person inside the box: a different object
            [10, 10, 25, 50],  # a full box well inside the tile
        ],
        [0.9, 0.7, 0.8],
    )
    # the bottom tile shrinks the person to the visible legs, not touching its border
    bottom = _tile(1, [[41, 95, 59, 180]], [0.95])
    boxes, scores, _ = _merge(whole, top, bottom)
    assert boxes == sorted([tuple(person), (45, 65, 52, 85), (10, 10, 25, 50)])
    assert np.all(np.diff(scores) <= 0)  # by decreasing score


def test_plain_nms_alone_would_keep_the_part() -> None:
    """The rule matters: a confident half box overlaps the full one by IoU > NMS threshold."""
    person = [40.0, 60.0, 60.0, 180.0]
    half = [40.0, 60.0, 60.0, 120.0]
    iou = (20 * 60) / (20 * 120)
    assert iou > 0.45  # ordinary NMS would suppress the lower-scoring full box
    boxes, _, _ = _merge(_region([person], [0.6]), _tile(0, [half], [0.9]), _region([], []))
    assert boxes == [tuple(person)]


def test_partial_box_kept_when_nothing_shows_more() -> None:
    """A cut box with no fuller view elsewhere stays: a partial box beats a miss."""
    top = _tile(0, [[70, 90, 90, 120]], [0.8])  # touches the border, nothing else sees it
    boxes, _, _ = _merge(_region([], []), top, _region([], []))
    assert boxes == [(70, 90, 90, 120)]


def test_cut_tile_box_is_the_fullest_view() -> None:
    """The head is cut by the bottom tile's top border, the top tile sees only the torso."""
    top = _tile(0, [[41, 70, 59, 112]], [0.72])  # head and torso; legs beyond y=120
    bottom = _tile(1, [[40, 80, 60, 180]], [0.66])  # all but the head
    boxes, _, _ = _merge(_region([], []), top, bottom)
    assert boxes == [(40, 80, 60, 180)]


def test_box_barely_past_the_border_is_not_a_cut() -> None:
    """Boxes of one object differing by regression noise: NMS picks by score, as usual."""
    whole = _region([[40, 60, 60, 124]], [0.5])  # 4 px past y=120: < 10 % of its height
    top = _tile(0, [[40, 62, 60, 119]], [0.9])
    boxes, _, _ = _merge(whole, top, _region([], []))
    assert boxes == [(40, 62, 60, 119)]


def test_other_classes_and_no_tiles() -> None:
    whole = _region([[40, 60, 60, 180]], [0.6], [0])
    top = _tile(0, [[40, 60, 60, 120]], [0.9], [1])  # another class: not a part of it
    boxes, _, classes = _merge(whole, top, _region([], []))
    assert len(boxes) == 2 and sorted(classes.tolist()) == [0, 1]
    only = merge_tiles(_region([[0, 0, 10, 10], [1, 1, 10, 10]], [0.9, 0.8]), [], [], W, H, 0.45)
    assert only[0].tolist() == [[0, 0, 10, 10]]


class _SequenceSession:
    """Stands in for onnxruntime: a 64x64 model with decoded output, one answer per run."""

    def __init__(self, outputs: list[np.ndarray], size: int = 64) -> None:
        self.outputs = outputs
        self.calls = 0
        self.size = size

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="images", shape=[1, 3, self.size, self.size])]

    def get_outputs(self) -> list[SimpleNamespace]:
        cells = sum((self.size // s) ** 2 for s in (8, 16, 32))
        return [SimpleNamespace(name="output", shape=[1, cells, 6])]

    def run(self, names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        out = self.outputs[self.calls]
        self.calls += 1
        return [out]


def _decoded(boxes_xyxy: list[list[float]], scores: list[float], r: float) -> np.ndarray:
    """Raw decoded output ``[1, 84, 6]`` putting frame/tile boxes at letterbox scale ``r``."""
    out = np.zeros((1, 84, 6), np.float32)
    for k, (b, s) in enumerate(zip(boxes_xyxy, scores)):
        x1, y1, x2, y2 = (v * r for v in b)
        out[0, k] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, s, 1.0]
    return out


def test_detect_merges_tiles_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"fake")
    frame = np.zeros((100, 200, 3), np.uint8)
    # automatic tiling on a 200x100 frame with a 64-pixel network: 2 x 1 tiles
    outputs = [
        # whole frame (letterbox scale 64 / 200): the person crossing the tiles' borders
        _decoded([[60, 10, 140, 90]], [0.8], 0.32),
        # left tile 0..111 (scale 64 / 111): the person cut at x = 111
        _decoded([[60, 10, 111, 90]], [0.9], 64 / 111),
        # right tile 89..200, tile pixels: the person's right part, and a small object
        _decoded([[0, 10, 51, 90], [61, 20, 81, 60]], [0.9, 0.7], 64 / 111),
    ]
    session = _SequenceSession(outputs)
    monkeypatch.setattr("trackkit.detectors.onnx_base._session", lambda path, n: session)
    det = YoloxDetector(model, decoded=True)
    assert det.tile_boxes(200, 100) == [(0, 0, 111, 100), (89, 0, 200, 100)]
    d = det.detect(frame)
    assert session.calls == 3
    got = np.asarray(sorted(d.xyxy.tolist()))
    np.testing.assert_allclose(got, [[60, 10, 140, 90], [150, 20, 170, 60]], atol=0.01)


def test_tile_layout_covers_large_frames_with_overlap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"fake")
    session = _SequenceSession([], size=416)
    monkeypatch.setattr("trackkit.detectors.onnx_base._session", lambda path, n: session)
    det = YoloxDetector(model, decoded=True)
    tiles = det.tile_boxes(1920, 1080)
    assert len(tiles) == 6  # 3 columns x 2 rows
    assert tiles[0][:2] == (0, 0) and tiles[-1][2:] == (1920, 1080)
    xs = sorted({(t[0], t[2]) for t in tiles})
    assert all(a[1] > b[0] for a, b in zip(xs, xs[1:]))  # neighbours overlap
    assert det.tile_boxes(640, 480) == []  # small frames: whole frame only
