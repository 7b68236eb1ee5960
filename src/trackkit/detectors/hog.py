"""People detection with OpenCV's built-in HOG + linear SVM detector (``hog``).

Dalal & Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005: a linear
SVM scores 64x128 windows of HOG features over an image pyramid. OpenCV ships the SVM
trained on the INRIA person set (``HOGDescriptor_getDefaultPeopleDetector``). Windows contain
a margin around the person, so boxes are shrunk by ``shrink`` (fraction of the width and of
the height removed on each side) to fit the body, and overlapping windows are merged by our
own greedy NMS on the SVM margins. People smaller than about 100 pixels need ``upscale > 1``
(slower). The offline default for people: no weights to download.
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
from trackkit.detectors.nms import nms

__all__ = ["HogConfig", "HogDetector"]


@dataclass(frozen=True)
class HogConfig(Config):
    """Configuration of :class:`HogDetector`.

    Attributes:
        hit_threshold: SVM margin a window needs (higher: fewer, surer detections).
        win_stride: window step in pixels (multiple of 8; smaller is slower and finer).
        padding: padding added around the image, pixels.
        scale: pyramid factor between scales (> 1).
        upscale: the frame is resized by this factor first (``> 1`` finds small people).
        nms_threshold: IoU above which the lower-scoring window is dropped.
        shrink: ``(fx, fy)`` fraction of the window width / height removed on each side.
        min_height: drop boxes less tall than this (frame pixels).
    """

    RANGES: ClassVar[str] = (
        "win_stride >= 1; padding >= 0; scale > 1; upscale > 0; nms_threshold in (0, 1]"
    )

    hit_threshold: float = 0.9
    win_stride: int = 8
    padding: int = 8
    scale: float = 1.05
    upscale: float = 1.0
    nms_threshold: float = 0.4
    shrink: tuple[float, float] = (0.15, 0.08)
    min_height: float = 0.0

    def validate(self) -> None:
        require(
            len(self.shrink) == 2 and all(0 <= s < 0.5 for s in self.shrink),
            "shrink must be two fractions in [0, 0.5)",
        )


@DETECTORS.register("hog")
class HogDetector:
    """OpenCV's HOG people detector (Dalal & Triggs 2005); class 0 = person."""

    class_names = ("person",)

    def __init__(self, **options: Any) -> None:
        if "shrink" in options:
            options["shrink"] = tuple(float(v) for v in options["shrink"])
        self.config = make_config(HogConfig, **options)
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        """People in a ``(H, W, 3)`` uint8 BGR frame as ``xyxy`` boxes scored by SVM margin."""
        cfg = self.config
        img = frame
        if cfg.upscale != 1.0:
            img = np.asarray(cv2.resize(frame, None, fx=cfg.upscale, fy=cfg.upscale), np.uint8)
        win_w, win_h = self._hog.winSize
        if img.shape[0] < win_h or img.shape[1] < win_w:
            # smaller than one detection window: nothing to find, and OpenCV's
            # detectMultiScale corrupts its heap on such images (the process aborts)
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
        rects, weights = self._hog.detectMultiScale(
            img,
            hitThreshold=cfg.hit_threshold,
            winStride=(cfg.win_stride, cfg.win_stride),
            padding=(cfg.padding, cfg.padding),
            scale=cfg.scale,
            groupThreshold=0,
        )
        if len(rects) == 0:
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
        r = np.asarray(rects, np.float64).reshape(-1, 4) / cfg.upscale
        s = np.asarray(weights, np.float64).reshape(-1)
        fx, fy = cfg.shrink
        boxes = np.stack(
            [
                r[:, 0] + fx * r[:, 2],
                r[:, 1] + fy * r[:, 3],
                r[:, 0] + (1 - fx) * r[:, 2],
                r[:, 1] + (1 - fy) * r[:, 3],
            ],
            axis=1,
        )
        keep = nms(boxes, s, cfg.nms_threshold)
        boxes, s = boxes[keep], s[keep]
        tall = (boxes[:, 3] - boxes[:, 1]) >= cfg.min_height
        boxes, s = boxes[tall], s[tall]
        h, w = frame.shape[:2]
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        return Detections(boxes, s, np.zeros(len(s), np.int64))
