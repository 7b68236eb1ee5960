"""PP-PicoDet exported to ONNX (``picodet:PATH``, ``picodet-s``), run with onnxruntime.

PP-PicoDet (Yu et al., "PP-PicoDet: A Better Real-Time Object Detector on Mobile Devices",
arXiv:2111.00902) is an anchor-free one-stage detector with a GFL-style head (Li et al.,
"Generalized Focal Loss", NeurIPS 2020). The PaddleDetection ONNX export (no NMS inside) takes a
``[1, 3, S, S]`` float image: RGB, *plain* resize to ``S x S`` (aspect ratio not kept), ``(x /
255 - mean) / std`` with ImageNet's mean ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224,
0.225)``. It returns two tensors per level ``l`` of stride ``s_l`` in ``8, 16, 32, 64`` (grid
``G_l = ceil(S / s_l)`` cells, row-major): class scores ``[1, G_l^2, C]`` (sigmoid already
applied; the quality-aware score of GFL) and box distributions ``[1, G_l^2, 4 (R + 1)]``
(``R = reg_max = 7``). A cell's centre is ``((col + 0.5) s_l, (row + 0.5) s_l)``; each side
(left, top, right, bottom) has a discrete distribution over ``0..R`` (softmax of its logits)
whose expectation — the *distribution focal loss integral* ``d = sum_k p_k k`` — times ``s_l``
is the distance from the centre to that side. The box is ``(cx - d_l, cy - d_t, cx + d_r,
cy + d_b)`` in input pixels; score = the best class score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.detectors.base import DETECTORS
from trackkit.detectors.onnx_base import (
    Blob,
    Decoded,
    OnnxDetector,
    OnnxDetectorConfig,
    resize_plain,
)

__all__ = ["PicoDetConfig", "PicoDetDetector", "dfl_integral", "picodet_centers"]

STRIDES = (8, 16, 32, 64)
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class PicoDetConfig(OnnxDetectorConfig):
    """Configuration of :class:`PicoDetDetector` (the options of
    :class:`~trackkit.detectors.onnx_base.OnnxDetectorConfig`, and:)

    Attributes:
        reg_max: the largest bin of the box distributions (PicoDet: 7, i.e. 8 bins).
    """

    nms_threshold: float = 0.5
    reg_max: int = 7

    def validate(self) -> None:
        super().validate()
        require(self.reg_max >= 1, "reg_max must be >= 1")


def picodet_centers(size: tuple[int, int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cell centres and strides of the four PicoDet levels for input ``(H, W)``.

    Returns:
        ``(centres (A, 2) x, y input pixels, strides (A,))`` in the order of the concatenated
        level outputs (level by level, each row-major).
    """
    centres, strides = [], []
    for s in STRIDES:
        gh, gw = math.ceil(size[0] / s), math.ceil(size[1] / s)
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        centres.append((np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * s)
        strides.append(np.full(gh * gw, float(s)))
    return np.concatenate(centres).astype(np.float64), np.concatenate(strides)


def dfl_integral(logits: NDArray[Any], reg_max: int) -> NDArray[np.float64]:
    """Expected bin of each side's distribution: ``(N, 4 (R + 1))`` logits -> ``(N, 4)``.

    ``softmax`` over the ``R + 1`` bins of each side, then ``sum_k p_k k`` (in strides).
    """
    x = np.asarray(logits, np.float64).reshape(-1, 4, reg_max + 1)
    x = x - x.max(axis=2, keepdims=True)
    p = np.exp(x)
    p /= p.sum(axis=2, keepdims=True)
    out: NDArray[np.float64] = p @ np.arange(reg_max + 1, dtype=np.float64)
    return out


@DETECTORS.register("picodet")
class PicoDetDetector(OnnxDetector):
    """PP-PicoDet ONNX detector (``picodet:PATH``, ``picodet-s``); COCO classes by default."""

    config_class = PicoDetConfig
    family = "picodet"
    config: PicoDetConfig

    def _check_model(self, output_shapes: list[list[Any]]) -> None:
        self._centres, self._strides = picodet_centers(self.input_size)
        counts = self._level_sizes()
        bins = 4 * (self.config.reg_max + 1)
        expected = (
            f"{2 * len(STRIDES)} outputs [1, N_l, classes] and [1, N_l, {bins}], N_l = {counts}"
        )
        if len(output_shapes) != 2 * len(STRIDES) or any(len(s) != 3 for s in output_shapes):
            raise self._fail(f"outputs {output_shapes} are not PicoDet's: expected {expected}")
        cls_idx, reg_idx = [], []
        for n in counts:
            same = [i for i, s in enumerate(output_shapes) if s[1] == n]
            reg = [i for i in same if output_shapes[i][2] == bins]
            cls = [i for i in same if i not in reg[:1]]
            if len(same) != 2 or not reg or len(cls) != 1:
                raise self._fail(f"outputs {output_shapes} are not PicoDet's: expected {expected}")
            cls_idx.append(cls[0])
            reg_idx.append(reg[0])
        self._cls_idx, self._reg_idx = cls_idx, reg_idx

    def _level_sizes(self) -> list[int]:
        h, w = self.input_size
        return [math.ceil(h / s) * math.ceil(w / s) for s in STRIDES]

    def _preprocess(self, img: NDArray[np.uint8]) -> tuple[Blob, tuple[float, float]]:
        return resize_plain(img, self.input_size, rgb=True, mean=MEAN_RGB, std=STD_RGB)

    def _decode(self, outputs: list[NDArray[Any]]) -> Decoded:
        scores = np.concatenate([outputs[i].reshape(-1, outputs[i].shape[-1])
                                 for i in self._cls_idx]).astype(np.float32)  # fmt: skip
        reg = np.concatenate([outputs[i].reshape(-1, outputs[i].shape[-1]) for i in self._reg_idx])
        if len(scores) != len(self._centres):
            raise self._fail(f"outputs have {len(scores)} cells, expected {len(self._centres)}")

        def boxes(sel: NDArray[np.int64]) -> NDArray[np.float64]:
            d = dfl_integral(reg[sel], self.config.reg_max) * self._strides[sel, None]
            c = self._centres[sel]
            return np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1).reshape(-1, 4)

        return scores, boxes
