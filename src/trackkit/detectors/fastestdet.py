"""FastestDet exported to ONNX (``fastestdet:PATH``, ``fastestdet``), run with onnxruntime.

FastestDet (xuehao.ma, 2022, github.com/dog-qiuqiu/FastestDet) is an anchor-free detector
with a ShuffleNetV2 backbone and a single output grid of stride 16. Its ONNX export takes a
``[1, 3, S, S]`` float image (``S = 352``): BGR, *plain* resize to ``S x S``, values ``/ 255``,
no mean/std. It returns ``[1, 5 + C, G, G]`` (``G = S / 16 = 22``); at grid cell ``(row,
col)``: channel 0 the objectness (sigmoid applied), 1–2 the raw centre offsets (``tanh`` gives
``(-1, 1)`` cells), 3–4 the raw width and height (``sigmoid`` gives a fraction of the whole
image), ``5..`` the class probabilities (softmax applied). Decoding::

    cx = (col + tanh(t1)) / G,  cy = (row + tanh(t2)) / G,  w = sigmoid(t3),  h = sigmoid(t4)

in fractions of the input, and ``score_c = obj^0.6 * p_c^0.4`` (the author's weighting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import cxcywh_to_xyxy
from trackkit.detectors.base import DETECTORS
from trackkit.detectors.onnx_base import (
    Blob,
    Decoded,
    OnnxDetector,
    OnnxDetectorConfig,
    resize_plain,
)

__all__ = ["FastestDetConfig", "FastestDetDetector"]

#: Exponents of objectness and class probability in the score.
OBJ_POWER, CLS_POWER = 0.6, 0.4


@dataclass(frozen=True)
class FastestDetConfig(OnnxDetectorConfig):
    """Configuration of :class:`FastestDetDetector`: the options of
    :class:`~trackkit.detectors.onnx_base.OnnxDetectorConfig`; the score threshold is the
    author's demo value, 0.65 (its scores run higher than YOLOX's: at 0.4 half of its boxes
    on the MOT17 frames are false, see docs/benchmarks.md)."""

    score_threshold: float = 0.65
    input_size: tuple[int, int] = (352, 352)


@DETECTORS.register("fastestdet")
class FastestDetDetector(OnnxDetector):
    """FastestDet ONNX detector (``fastestdet:PATH``, ``fastestdet``); COCO classes."""

    config_class = FastestDetConfig
    family = "fastestdet"

    def _check_model(self, output_shapes: list[list[Any]]) -> None:
        out = output_shapes[0]
        ok = len(output_shapes) == 1 and len(out) == 4
        ok = ok and all(not isinstance(v, int) or v >= 1 for v in out)
        ok = ok and (not isinstance(out[1], int) or out[1] > 5)
        if not ok:
            raise self._fail(f"output {output_shapes} is not FastestDet's one [1, 5 + C, G, G]")

    def _preprocess(self, img: NDArray[np.uint8]) -> tuple[Blob, tuple[float, float]]:
        return resize_plain(img, self.input_size, std=(255.0, 255.0, 255.0))

    def _decode(self, outputs: list[NDArray[Any]]) -> Decoded:
        out = np.asarray(outputs[0], np.float32)
        if out.ndim != 4 or out.shape[0] != 1 or out.shape[1] <= 5:
            raise self._fail(f"unexpected output shape {out.shape}")
        _, ch, gh, gw = out.shape
        cells = out[0].reshape(ch, gh * gw).T  # (A, 5 + C), row-major cells
        obj = np.clip(cells[:, 0:1], 0, 1)
        scores = (obj**OBJ_POWER) * (np.clip(cells[:, 5:], 0, 1) ** CLS_POWER)
        rows, cols = np.divmod(np.arange(gh * gw), gw)
        h, w = self.input_size

        def boxes(sel: NDArray[np.int64]) -> NDArray[np.float64]:
            t = cells[sel, 1:5].astype(np.float64)
            cxcywh = np.empty((len(sel), 4))
            cxcywh[:, 0] = (cols[sel] + np.tanh(t[:, 0])) / gw * w
            cxcywh[:, 1] = (rows[sel] + np.tanh(t[:, 1])) / gh * h
            cxcywh[:, 2] = w / (1.0 + np.exp(-t[:, 2]))
            cxcywh[:, 3] = h / (1.0 + np.exp(-t[:, 3]))
            return cxcywh_to_xyxy(cxcywh).reshape(-1, 4)

        return scores.astype(np.float32), boxes
