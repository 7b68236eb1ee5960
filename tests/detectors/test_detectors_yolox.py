"""YOLOX ONNX detector: letterbox, grid decoding, NMS, model checks, accuracy on MOT17."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from trackkit.detectors import build_detector
from trackkit.detectors.evaluate import DetectionCounts, count_matches, read_gt_frames
from trackkit.detectors.yolox import YoloxDetector, letterbox, yolox_grids
from trackkit.errors import ConfigError, DataNotFoundError, FormatError

pytest.importorskip("onnxruntime")


def _model(shared: Path) -> Path:
    path = shared / "weights" / "yolox_nano" / "yolox_nano_416x416.onnx"
    if not path.is_file():
        pytest.skip("yolox_nano weights missing from the shared folder")
    return path


def test_letterbox_keeps_aspect_and_pads_top_left() -> None:
    img = np.full((100, 200, 3), 7, np.uint8)
    blob, r = letterbox(img, (416, 416))
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert r == pytest.approx(416 / 200)
    assert np.all(blob[0, :, :208, :] == 7)  # resized image: 416 x 208
    assert np.all(blob[0, :, 208:, :] == 114)  # padding below


def test_grid_order_matches_row_major_heads() -> None:
    grid, stride = yolox_grids((64, 96))
    # stride 8: 8 rows x 12 cols, then 16: 4 x 6, then 32: 2 x 3
    assert len(grid) == 96 + 24 + 6
    assert grid[:3].tolist() == [[0, 0], [1, 0], [2, 0]]
    assert grid[12].tolist() == [0, 1]
    assert stride[95, 0] == 8 and stride[96, 0] == 16 and stride[-1, 0] == 32
    assert grid[-1].tolist() == [2, 1]


class _FakeSession:
    """Stands in for onnxruntime: returns a chosen raw output for a 64x64 model."""

    def __init__(self, out: np.ndarray, out_shape: list[object] | None = None) -> None:
        self.out = out
        self.out_shape = out_shape or list(out.shape)

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="images", shape=[1, 3, 64, 64])]

    def get_outputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="output", shape=self.out_shape)]

    def run(self, names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert feeds["images"].shape == (1, 3, 64, 64)
        return [self.out]


def _fake_detector(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    out: np.ndarray,
    out_shape: list[object] | None = None,
    **opts: object,
) -> YoloxDetector:
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr(
        "trackkit.detectors.onnx_base._session", lambda path, n: _FakeSession(out, out_shape)
    )
    return YoloxDetector(model, **opts)


def test_decoding_scores_and_nms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    n = 64 + 16 + 4  # cells of a 64x64 input
    raw = np.zeros((1, n, 5 + 3), np.float32)
    raw[0, :, 4] = 0.01
    # cell (x=2, y=3) of stride 8 (index 3 * 8 + 2): a class-1 box centred at (20.8, 28.8)
    k = 3 * 8 + 2
    raw[0, k, :4] = [0.6, 0.6, np.log(2.0), np.log(3.0)]
    raw[0, k, 4], raw[0, k, 6] = 0.9, 0.8
    # the neighbouring cell predicts almost the same box with a lower score: suppressed
    raw[0, k + 1, :4] = [-0.4, 0.6, np.log(2.0), np.log(3.0)]
    raw[0, k + 1, 4], raw[0, k + 1, 6] = 0.9, 0.6
    # a class-2 box on a stride-32 cell (x=1, y=1): different class, kept
    raw[0, 64 + 16 + 3, :4] = [0.5, 0.5, 0.0, 0.0]
    raw[0, 64 + 16 + 3, 4], raw[0, 64 + 16 + 3, 7] = 0.7, 0.9
    det = _fake_detector(monkeypatch, tmp_path, raw, class_names=("a", "b", "c"))
    frame = np.zeros((32, 32, 3), np.uint8)  # letterbox scale r = 2
    d = det.detect(frame)
    assert len(d) == 2
    order = np.argsort(-d.scores)
    assert d.scores[order].tolist() == pytest.approx([0.72, 0.63])
    assert d.class_ids[order].tolist() == [1, 2]
    cx, cy, w, h = 20.8 / 2, 28.8 / 2, 16 / 2, 24 / 2
    assert d.xyxy[order[0]].tolist() == pytest.approx(
        [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    )
    # stride-32 box centred at 48 with size 32 in input pixels -> [16, 16, 32, 32] / 2, clipped
    assert d.xyxy[order[1]].tolist() == pytest.approx([16, 16, 32, 32])
    only = _fake_detector(monkeypatch, tmp_path, raw, classes=[2], class_names=("a", "b", "c"))
    assert only.detect(frame).class_ids.tolist() == [2]
    strict = _fake_detector(monkeypatch, tmp_path, raw, score_threshold=0.7)
    assert len(strict.detect(frame)) == 1


def test_wrong_output_shape_is_a_format_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(FormatError, match="output shape"):
        _fake_detector(monkeypatch, tmp_path, np.zeros((1, 100, 85), np.float32))
    with pytest.raises(FormatError, match="output shape"):
        _fake_detector(monkeypatch, tmp_path, np.zeros((1, 84, 4), np.float32))
    # dynamic shapes pass the check, the first frame's output is checked
    det = _fake_detector(monkeypatch, tmp_path, np.zeros((1, 99, 85), np.float32),
                         out_shape=[1, "n", "c"])  # fmt: skip
    with pytest.raises(FormatError, match="99 rows"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_missing_garbage_and_wrong_models(shared: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        build_detector(f"yolox:{tmp_path / 'none.onnx'}")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(FormatError, match="junk.onnx"):
        build_detector(str(junk))  # a bare .onnx path means yolox
    reid = shared / "weights" / "omz_person_reid" / "person-reidentification-retail-0288.onnx"
    if reid.is_file():
        with pytest.raises(FormatError, match="input"):
            build_detector(f"yolox:{reid}")
    with pytest.raises(ConfigError, match="score_threshold"):
        build_detector(f"yolox:{_model(shared)}", score_threshold=2.0)
    with pytest.raises(ConfigError, match="unexpected keyword|bad configuration|yolox"):
        build_detector(f"yolox:{_model(shared)}", no_such_option=1)


@pytest.mark.slow
def test_accuracy_on_mot17_frames(shared: Path) -> None:
    """Recall of visible pedestrians >= 0.5 at IoU 0.5 with precision >= 0.8 (2 frames each)."""
    det = build_detector(f"yolox:{_model(shared)}", num_threads=1, classes=[0])
    total = DetectionCounts()
    for seq in ("MOT17-04-FRCNN", "MOT17-05-FRCNN", "MOT17-11-FRCNN"):
        root = shared / "data" / "MOT17" / "train" / seq
        imgs = [cv2.imread(str(root / "img1" / f"{i:06d}.jpg")) for i in (1, 2)]
        size = (imgs[0].shape[1], imgs[0].shape[0])
        gt = read_gt_frames(root / "gt" / "gt.txt", {1, 2}, 0.5, size)
        counts = DetectionCounts()
        for i, img in enumerate(imgs, start=1):
            d = det.detect(img)
            assert d.class_ids is not None and set(d.class_ids.tolist()) <= {0}
            counts = counts + count_matches(d.xyxy, *gt[i])
        assert counts.recall >= 0.5, (seq, counts)
        total = total + counts
    assert total.precision >= 0.8, total


def test_real_onnx_model_with_wrong_output(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    # [1, 3, 416, 416] image in, [1, 100, 85] out: the right input, not YOLOX's 3549 rows
    node_pool = helper.make_node("GlobalAveragePool", ["images"], ["pooled"])
    node_shape = helper.make_node(
        "Constant",
        [],
        ["shape"],
        value=helper.make_tensor("s", TensorProto.INT64, [3], [1, 1, 3]),
    )
    node_reshape = helper.make_node("Reshape", ["pooled", "shape"], ["flat"])
    node_tile = helper.make_node(
        "Constant",
        [],
        ["reps"],
        value=helper.make_tensor("r", TensorProto.INT64, [3], [1, 100, 28]),
    )
    node_out = helper.make_node("Tile", ["flat", "reps"], ["tiled"])
    node_slice_s = helper.make_node(
        "Constant", [], ["starts"], value=helper.make_tensor("a", TensorProto.INT64, [1], [0])
    )
    node_slice_e = helper.make_node(
        "Constant", [], ["ends"], value=helper.make_tensor("b", TensorProto.INT64, [1], [85])
    )
    node_slice_ax = helper.make_node(
        "Constant", [], ["axes"], value=helper.make_tensor("c", TensorProto.INT64, [1], [2])
    )
    node_slice = helper.make_node("Slice", ["tiled", "starts", "ends", "axes"], ["output"])
    graph = helper.make_graph(
        [
            node_pool,
            node_shape,
            node_reshape,
            node_tile,
            node_out,
            node_slice_s,
            node_slice_e,
            node_slice_ax,
            node_slice,
        ],  # fmt: skip
        "wrong",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 416, 416])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 100, 85])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "wrong.onnx"
    onnx.save(model, str(path))
    with pytest.raises(FormatError, match=r"output shape \[1, 100, "):
        build_detector(f"yolox:{path}")
