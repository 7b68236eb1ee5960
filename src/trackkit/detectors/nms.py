"""Greedy non-maximum suppression in numpy (no torchvision).

Boxes are ``xyxy`` float, continuous pixels (area ``(x2 - x1) * (y2 - y1)``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes

__all__ = ["batched_nms", "nms"]


def nms(boxes: ArrayLike, scores: ArrayLike, iou_threshold: float) -> NDArray[np.int64]:
    """Greedy NMS: keep the best box, drop boxes overlapping it by IoU > ``iou_threshold``.

    Args:
        boxes: ``(N, 4)`` ``xyxy`` boxes.
        scores: ``(N,)`` scores; higher is better.
        iou_threshold: boxes with IoU strictly above it with a kept box are suppressed.

    Returns:
        ``(K,)`` int64 indices of the kept boxes, by decreasing score (ties keep input order).
    """
    b = as_boxes(boxes)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(b) != len(s):
        raise ValueError(f"nms: {len(b)} boxes but {len(s)} scores")
    if len(b) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(
    boxes: ArrayLike, scores: ArrayLike, classes: ArrayLike, iou_threshold: float
) -> NDArray[np.int64]:
    """Class-aware NMS: boxes of different classes never suppress each other.

    Each class is shifted to its own disjoint region of the plane, then one :func:`nms` runs.

    Returns:
        ``(K,)`` int64 indices of the kept boxes, by decreasing score.
    """
    b = as_boxes(boxes)
    c = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(b) == 0:
        return np.zeros(0, np.int64)
    span = float(np.max(np.abs(b))) * 2.0 + 1.0
    shifted = b + (c.astype(np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold)
