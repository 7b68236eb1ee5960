"""Box conventions and vectorised overlap measures.

Inside trackkit every box is ``xyxy``: a float64 array ``[..., 4]`` of
``(x1, y1, x2, y2)`` in **continuous pixel coordinates** — the top-left corner of the image is
``(0, 0)``, a box covering pixel columns ``0..9`` spans ``x1=0, x2=10``, and its width is
``x2 - x1`` (no ``+1``). Other layouts exist only at the edges (file formats, Kalman states)
and are converted with the named functions below:

- ``xywh``: top-left corner, width, height (MOTChallenge and OTB files);
- ``cxcywh``: centre, width, height.

Files that use the 1-based *pixel-index* convention (OTB's ``groundtruth_rect.txt``) are
converted by their readers; all functions here are convention-free and never add 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

__all__ = [
    "area",
    "as_boxes",
    "clip_boxes",
    "cxcywh_to_xyxy",
    "giou_matrix",
    "ioa_matrix",
    "iou_matrix",
    "iou_pairwise",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
]


def as_boxes(boxes: ArrayLike) -> FloatArray:
    """``boxes`` as a float64 array of shape ``(N, 4)`` (a single box becomes ``(1, 4)``)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 4) if arr.size else arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def xywh_to_xyxy(boxes: ArrayLike) -> FloatArray:
    """``(x, y, w, h)`` (top-left, size) -> ``(x1, y1, x2, y2)``; shape ``[..., 4]`` kept."""
    b = np.asarray(boxes, dtype=np.float64)
    out = b.copy()
    out[..., 2] = b[..., 0] + b[..., 2]
    out[..., 3] = b[..., 1] + b[..., 3]
    return out


def xyxy_to_xywh(boxes: ArrayLike) -> FloatArray:
    """``(x1, y1, x2, y2)`` -> ``(x, y, w, h)`` (top-left, size); shape ``[..., 4]`` kept."""
    b = np.asarray(boxes, dtype=np.float64)
    out = b.copy()
    out[..., 2] = b[..., 2] - b[..., 0]
    out[..., 3] = b[..., 3] - b[..., 1]
    return out


def cxcywh_to_xyxy(boxes: ArrayLike) -> FloatArray:
    """``(cx, cy, w, h)`` (centre, size) -> ``(x1, y1, x2, y2)``; shape ``[..., 4]`` kept."""
    b = np.asarray(boxes, dtype=np.float64)
    out = np.empty_like(b)
    half_w = b[..., 2] / 2.0
    half_h = b[..., 3] / 2.0
    out[..., 0] = b[..., 0] - half_w
    out[..., 1] = b[..., 1] - half_h
    out[..., 2] = b[..., 0] + half_w
    out[..., 3] = b[..., 1] + half_h
    return out


def xyxy_to_cxcywh(boxes: ArrayLike) -> FloatArray:
    """``(x1, y1, x2, y2)`` -> ``(cx, cy, w, h)`` (centre, size); shape ``[..., 4]`` kept."""
    b = np.asarray(boxes, dtype=np.float64)
    out = np.empty_like(b)
    out[..., 0] = (b[..., 0] + b[..., 2]) / 2.0
    out[..., 1] = (b[..., 1] + b[..., 3]) / 2.0
    out[..., 2] = b[..., 2] - b[..., 0]
    out[..., 3] = b[..., 3] - b[..., 1]
    return out


def area(boxes: ArrayLike) -> FloatArray:
    """Areas of ``xyxy`` boxes, shape ``[...]``; degenerate boxes (x2 < x1) give 0."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def clip_boxes(boxes: ArrayLike, width: float, height: float) -> FloatArray:
    """Clip ``xyxy`` boxes to the image ``[0, width] x [0, height]``."""
    b = np.asarray(boxes, dtype=np.float64).copy()
    b[..., 0::2] = np.clip(b[..., 0::2], 0.0, width)
    b[..., 1::2] = np.clip(b[..., 1::2], 0.0, height)
    return b


def _intersection(a: FloatArray, b: FloatArray) -> FloatArray:
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)


def iou_matrix(a: ArrayLike, b: ArrayLike, eps: float = np.finfo(np.float64).eps) -> FloatArray:
    """Intersection over union of every pair of ``xyxy`` boxes.

    Args:
        a: ``(N, 4)`` boxes.
        b: ``(M, 4)`` boxes.
        eps: boxes with area ``<= eps`` overlap nothing (IoU 0), as do intersections ``< eps``.

    Returns:
        ``(N, M)`` float64 IoUs in ``[0, 1]``.
    """
    a = as_boxes(a)
    b = as_boxes(b)
    inter = _intersection(a, b)
    area_a = area(a)
    area_b = area(b)
    union = area_a[:, None] + area_b[None, :] - inter
    inter[area_a <= eps, :] = 0.0
    inter[:, area_b <= eps] = 0.0
    inter[inter < eps] = 0.0
    union[union < eps] = 1.0
    return inter / union


def ioa_matrix(a: ArrayLike, b: ArrayLike, eps: float = np.finfo(np.float64).eps) -> FloatArray:
    """Intersection over the area of each box of ``a``: ``(N, M)`` with ``|a_i & b_j| / |a_i|``."""
    a = as_boxes(a)
    b = as_boxes(b)
    inter = _intersection(a, b)
    area_a = area(a)
    inter[area_a <= eps, :] = 0.0
    denom = np.where(area_a > eps, area_a, 1.0)
    return inter / denom[:, None]


def iou_pairwise(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """IoU of row ``i`` of ``a`` with row ``i`` of ``b``: ``(N, 4), (N, 4) -> (N,)``."""
    a = as_boxes(a)
    b = as_boxes(b)
    if a.shape != b.shape:
        raise ValueError(f"iou_pairwise needs equal shapes, got {a.shape} and {b.shape}")
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = iw * ih
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def giou_matrix(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Generalised IoU (Rezatofighi et al., CVPR 2019) of every pair of ``xyxy`` boxes.

    ``GIoU = IoU - |C \\ (A u B)| / |C|`` with ``C`` the smallest enclosing box; in ``[-1, 1]``.

    Returns:
        ``(N, M)`` float64.
    """
    a = as_boxes(a)
    b = as_boxes(b)
    inter = _intersection(a, b)
    union = area(a)[:, None] + area(b)[None, :] - inter
    safe_union = np.where(union > 0, union, 1.0)
    iou = np.where(union > 0, inter / safe_union, 0.0)
    cw = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    ch = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    enclose = np.clip(cw, 0, None) * np.clip(ch, 0, None)
    safe_enclose = np.where(enclose > 0, enclose, 1.0)
    return iou - np.where(enclose > 0, (enclose - union) / safe_enclose, 0.0)
