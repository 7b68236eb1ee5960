"""Moving-object blobs from background subtraction, for static cameras (``bgsub``).

A per-pixel Gaussian-mixture background model (Zivkovic, "Improved adaptive Gaussian mixture
model for background subtraction", ICPR 2004; OpenCV's MOG2) marks foreground pixels; the mask
is cleaned by a morphological opening (removes noise) and closing (fills holes), and each
connected blob larger than ``min_area`` becomes a box. The score of a box is the fraction of
its pixels that are foreground. The detector learns the scene as it goes: call it on every
frame in order (the first frames are learned as background), and ``reset()`` for a new video.
Touching objects merge into one blob — this detector suits sparse scenes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, make_config, require
from trackkit.core.detections import Detections
from trackkit.detectors.base import DETECTORS

__all__ = ["BgSubConfig", "BgSubDetector"]


@dataclass(frozen=True)
class BgSubConfig(Config):
    """Configuration of :class:`BgSubDetector`.

    Attributes:
        history: number of recent frames that shape the background model.
        var_threshold: squared Mahalanobis distance above which a pixel is foreground.
        learning_rate: model update rate per frame (``-1``: automatic from ``history``).
        open_size: side of the square opening kernel (pixels; 0 disables).
        close_size: side of the square closing kernel (pixels; 0 disables).
        min_area: smallest blob area kept, in pixels.
        min_fill: smallest foreground fraction of a blob's box.
    """

    RANGES: ClassVar[str] = (
        "history >= 1; var_threshold > 0; open_size >= 0; close_size >= 0; min_area >= 0; "
        "min_fill in [0, 1]"
    )

    history: int = 500
    var_threshold: float = 25.0
    learning_rate: float = -1.0
    open_size: int = 3
    close_size: int = 9
    min_area: float = 200.0
    min_fill: float = 0.3

    def validate(self) -> None:
        require(self.learning_rate == -1 or 0 <= self.learning_rate <= 1, "bad learning_rate")


@DETECTORS.register("bgsub")
class BgSubDetector:
    """Background-subtraction blobs (MOG2, Zivkovic 2004) for static cameras; class 0."""

    class_names = ("object",)

    def __init__(self, **options: Any) -> None:
        self.config = make_config(BgSubConfig, **options)
        self._model: Any = None
        self.reset()

    def reset(self) -> None:
        """Forget the background (new video)."""
        cfg = self.config
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=cfg.history, varThreshold=cfg.var_threshold, detectShadows=False
        )
        self._seen = 0

    def foreground(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Update the model with ``frame`` and return the cleaned ``(H, W)`` 0/255 mask."""
        cfg = self.config
        if self._seen == 0:
            # One frame shows no motion: it initialises the background, nothing is foreground.
            self._model.apply(frame, learningRate=1.0)
            self._seen = 1
            return np.zeros(frame.shape[:2], np.uint8)
        self._seen += 1
        mask = self._model.apply(frame, learningRate=cfg.learning_rate)
        if cfg.open_size > 1:
            k = np.ones((cfg.open_size, cfg.open_size), np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
        if cfg.close_size > 1:
            k = np.ones((cfg.close_size, cfg.close_size), np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
        return np.asarray(mask, np.uint8)

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        """Blobs of the next frame as ``xyxy`` boxes (continuous pixels), score = fill ratio."""
        cfg = self.config
        mask = self.foreground(frame)
        n, _, stats, _ = cv2.connectedComponentsWithStats(
            (mask > 0).astype(np.uint8), connectivity=8
        )
        boxes, scores = [], []
        for i in range(1, n):
            x, y, w, h, a = (int(v) for v in stats[i])
            fill = a / float(w * h)
            if a < cfg.min_area or fill < cfg.min_fill:
                continue
            boxes.append([x, y, x + w, y + h])
            scores.append(fill)
        return Detections(
            np.asarray(boxes, np.float64).reshape(-1, 4),
            np.asarray(scores, np.float64),
            np.zeros(len(scores), np.int64),
        )
