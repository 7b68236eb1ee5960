"""YOLOX detectors exported to ONNX, run with onnxruntime (``yolox:PATH``).

YOLOX (Ge et al., "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430) is an
anchor-free one-stage detector. Its usual ONNX export takes a ``[1, 3, S_h, S_w]`` float
image — BGR, values 0–255, no mean/std — *letterboxed*: resized by
``r = min(S_h / h, S_w / w)`` keeping the aspect ratio, placed at the top-left corner and padded
with grey 114. It returns ``[1, A, 5 + C]`` raw grid predictions for the ``A`` cells of three
feature maps with strides 8, 16 and 32 (row-major, ``y`` then ``x``): per cell
``(tx, ty, tw, th, objectness, class_1..class_C)``, decoded as

    cx = (tx + grid_x) * stride,   cy = (ty + grid_y) * stride,
    w = exp(tw) * stride,          h = exp(th) * stride,
    score = objectness * max_c class_c, class = argmax_c class_c

(objectness and class scores are already sigmoid outputs). Models exported with the decoding
inside (boxes already in pixels) are read with ``decoded=True``. Class filter, threshold,
NMS and the whole frame + tiles search are :class:`~trackkit.detectors.onnx_base.OnnxDetector`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.core.boxes import cxcywh_to_xyxy
from trackkit.detectors.base import DETECTORS
from trackkit.detectors.onnx_base import (
    Blob,
    Decoded,
    OnnxDetector,
    OnnxDetectorConfig,
    letterbox,
)
from trackkit.detectors.tiles import merge_tiles

__all__ = ["YoloxConfig", "YoloxDetector", "letterbox", "merge_tiles", "yolox_grids"]

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class YoloxConfig(OnnxDetectorConfig):
    """Configuration of :class:`YoloxDetector` (the options of
    :class:`~trackkit.detectors.onnx_base.OnnxDetectorConfig`, and:)

    Attributes:
        decoded: the model already outputs decoded ``cx, cy, w, h`` in input pixels.
    """

    decoded: bool = False

    def validate(self) -> None:
        super().validate()
        require(
            all(s % 32 == 0 for s in self.input_size),
            "input_size must be (height, width), multiples of 32",
        )


def yolox_grids(size: tuple[int, int]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Grid cell offsets and strides of the three YOLOX heads for input ``(H, W)``.

    Returns:
        ``(grid, stride)``: ``(A, 2)`` float32 cell ``(x, y)`` indices and ``(A, 1)`` float32
        strides, in the row-major order of the model's output.
    """
    grids, strides = [], []
    for s in STRIDES:
        gh, gw = size[0] // s, size[1] // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((gh * gw, 1), s))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(strides).astype(np.float32),
    )


@DETECTORS.register("yolox")
class YoloxDetector(OnnxDetector):
    """YOLOX ONNX detector (``yolox:PATH``, ``yolox-nano``); default classes are COCO's."""

    config_class = YoloxConfig
    family = "yolox"
    config: YoloxConfig

    def _check_model(self, output_shapes: list[list[Any]]) -> None:
        h, w = self.input_size
        if h % 32 or w % 32:
            raise self._fail(f"input size {[h, w]} is not a multiple of 32")
        out = output_shapes[0]
        num_cells = sum((h // s) * (w // s) for s in STRIDES)
        ok = len(out) == 3 and (not isinstance(out[2], int) or out[2] >= 6)
        if ok and isinstance(out[1], int) and out[1] != num_cells:
            ok = False
        if not ok:
            raise self._fail(
                f"output shape {out} is not YOLOX's [1, {num_cells}, 5 + classes] for an "
                f"input of {h}x{w}"
            )
        self._grid, self._strides = yolox_grids(self.input_size)

    def _preprocess(self, img: NDArray[np.uint8]) -> tuple[Blob, tuple[float, float]]:
        blob, r = letterbox(img, self.input_size)
        return blob, (r, r)

    def _rows(self, outputs: list[Any]) -> NDArray[np.float32]:
        pred = np.asarray(outputs[0], np.float32)
        if pred.ndim != 3 or pred.shape[0] != 1 or pred.shape[2] < 6:
            raise self._fail(f"unexpected output shape {pred.shape}")
        if pred.shape[1] != len(self._grid):
            raise self._fail(
                f"output has {pred.shape[1]} rows, expected {len(self._grid)} grid cells"
            )
        return pred[0]

    def _decode(self, outputs: list[NDArray[Any]]) -> Decoded:
        pred = self._rows(outputs)
        scores = pred[:, 4:5] * pred[:, 5:]

        def boxes(sel: NDArray[np.int64]) -> NDArray[np.float64]:
            p = pred[sel].astype(np.float64)
            if self.config.decoded:
                return cxcywh_to_xyxy(p[:, :4]).reshape(-1, 4)
            cxcywh = np.empty((len(sel), 4))
            cxcywh[:, :2] = (p[:, :2] + self._grid[sel]) * self._strides[sel]
            cxcywh[:, 2:4] = np.exp(np.clip(p[:, 2:4], -20, 20)) * self._strides[sel]
            return cxcywh_to_xyxy(cxcywh).reshape(-1, 4)

        return scores, boxes
