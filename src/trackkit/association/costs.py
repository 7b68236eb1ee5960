"""Cost matrices for matching tracks (rows) with detections (columns).

Every function returns a new ``(N, M)`` float64 array and never modifies its inputs; lower is
better. Boxes are ``xyxy`` float64 in continuous pixels (:mod:`trackkit.core.boxes`).
Costs that should forbid a pair use ``np.inf``;
:func:`trackkit.association.assign.linear_assignment` treats every cost above its threshold
(inf included) as "no match".

Detection scores enter a cost only through :func:`confidence`, clipped to ``[0, 1]``: a
detection file whose scores are not probabilities (ACF's e.g. 67.5, DPM's margins) would
otherwise make ``1 - IoU * score`` negative, below every threshold, so that any overlap at
all matched. Clipping (rather than refusing) keeps raw files usable (``score_scale="none"``)
with the meaning a score above 1 has — fully confident: the fused cost becomes the plain
IoU cost — and leaves scores inside ``[0, 1]`` exactly as they are.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import giou_matrix, iou_matrix

__all__ = [
    "center_distance",
    "confidence",
    "cosine_distance",
    "fuse_score",
    "gate",
    "giou_cost",
    "iou_cost",
    "iou_similarity",
    "weighted_sum",
]

FloatArray = NDArray[np.float64]
# read-only 0-d arrays: numpy 2 runs ``maximum`` with them about twice as fast as with a
# Python float (same result)
_EPS, _ZERO, _ONE = np.array(np.finfo(np.float64).eps), np.array(0.0), np.array(1.0)
_EPS.setflags(write=False)
_ZERO.setflags(write=False)
_ONE.setflags(write=False)


def confidence(scores: ArrayLike) -> FloatArray:
    """Detection scores as they enter a cost: float64 clipped to ``[0, 1]`` (a new array;
    the same values for scores already inside). See the module docstring for why."""
    s = np.minimum(np.asarray(scores, dtype=np.float64), _ONE)
    return np.maximum(s, _ZERO, out=s)


def iou_similarity(tracks_xyxy: ArrayLike, dets_xyxy: ArrayLike) -> FloatArray:
    """IoU of every track box with every detection box: ``(N, M)`` in ``[0, 1]``.

    The same values as :func:`trackkit.core.boxes.iou_matrix` (boxes of zero area overlap
    nothing), computed with fewer array operations for the per-frame hot path.
    """
    a = np.asarray(tracks_xyxy, dtype=np.float64)
    b = np.asarray(dets_xyxy, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        return iou_matrix(a, b)
    # (4, N) and (4, M): contiguous coordinate rows are fastest (no copy when the boxes are
    # already the transpose of such rows, as :meth:`KalmanFilter.to_xyxy` returns them)
    at = np.ascontiguousarray(a.T)
    bt = np.ascontiguousarray(b.T)
    lo = np.maximum(at[:2, :, None], bt[:2, None, :])  # (2, N, M) intersection corners
    wh = np.minimum(at[2:, :, None], bt[2:, None, :])
    wh -= lo  # intersection extents
    np.maximum(wh, _ZERO, out=wh)
    inter = wh[0] * wh[1]
    sa = at[2:] - at[:2]
    sb = bt[2:] - bt[:2]
    union = np.add.outer(sa[0] * sa[1], sb[0] * sb[1])
    union -= inter
    np.maximum(union, _EPS, out=union)
    inter /= union
    return inter


def iou_cost(tracks_xyxy: ArrayLike, dets_xyxy: ArrayLike) -> FloatArray:
    """``1 - IoU`` of every track box with every detection box: ``(N, M)`` in ``[0, 1]``."""
    return 1.0 - iou_similarity(tracks_xyxy, dets_xyxy)


def giou_cost(tracks_xyxy: ArrayLike, dets_xyxy: ArrayLike) -> FloatArray:
    """``(1 - GIoU) / 2`` (Rezatofighi et al., 2019): ``(N, M)`` in ``[0, 1]``.

    Unlike IoU it still ranks pairs of boxes that do not overlap (by their enclosing box).
    """
    return (1.0 - giou_matrix(tracks_xyxy, dets_xyxy)) / 2.0


def center_distance(
    tracks_xyxy: ArrayLike, dets_xyxy: ArrayLike, normalize: bool = False
) -> FloatArray:
    """Euclidean distance between box centres, ``(N, M)`` pixels.

    With ``normalize`` the distance is divided by the diagonal of the track's box, so that the
    cost is comparable across object sizes.
    """
    a = np.asarray(tracks_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(dets_xyxy, dtype=np.float64).reshape(-1, 4)
    ca = (a[:, :2] + a[:, 2:]) / 2.0
    cb = (b[:, :2] + b[:, 2:]) / 2.0
    d = np.sqrt(np.sum((ca[:, None, :] - cb[None, :, :]) ** 2, axis=2))
    if normalize:
        diag = np.hypot(a[:, 2] - a[:, 0], a[:, 3] - a[:, 1])
        d = d / np.maximum(diag, 1e-9)[:, None]
    return d


def cosine_distance(track_features: ArrayLike, det_features: ArrayLike) -> FloatArray:
    """``1 - cos`` similarity of appearance embeddings: ``(N, D), (M, D) -> (N, M)`` in [0, 2].

    Features are L2-normalised here (zero vectors get distance 1 to everything).
    """
    a = np.asarray(track_features, dtype=np.float64)
    b = np.asarray(det_features, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"features must be 2-D, got shapes {a.shape} and {b.shape}")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    a = a / np.where(na > 0, na, 1.0)
    b = b / np.where(nb > 0, nb, 1.0)
    return 1.0 - a @ b.T


def gate(cost: ArrayLike, mask: ArrayLike, value: float = np.inf) -> FloatArray:
    """A copy of ``cost`` with ``value`` (default inf: forbidden) wherever ``mask`` is true.

    Typical masks: ``mahalanobis > CHI2INV95[4]`` (DeepSORT), ``iou < 0.5``
    (BoT-SORT's proximity gate on appearance costs).
    """
    out = np.array(cost, dtype=np.float64, copy=True)
    out[np.asarray(mask, dtype=bool)] = value
    return out


def fuse_score(cost: ArrayLike, det_scores: ArrayLike) -> FloatArray:
    """Fold detection confidences into an IoU cost: ``1 - (1 - cost) * score`` (ByteTrack).

    A confident detection keeps its overlap; a weak one looks less similar to every track.
    Scores are clipped to ``[0, 1]`` (:func:`confidence`), so an IoU cost in ``[0, 1]``
    stays in ``[0, 1]``.
    """
    c = np.asarray(cost, dtype=np.float64)
    s = confidence(det_scores).reshape(1, -1)
    return 1.0 - (1.0 - c) * s


def weighted_sum(costs: list[ArrayLike], weights: list[float]) -> FloatArray:
    """``sum_k w_k C_k`` of equally shaped cost matrices (inf stays inf)."""
    if len(costs) != len(weights) or not costs:
        raise ValueError("weighted_sum needs as many weights as (at least one) cost matrices")
    out = np.zeros(np.shape(costs[0]))
    for c, w in zip(costs, weights):
        arr = np.asarray(c, dtype=np.float64)
        if arr.shape != out.shape:
            raise ValueError(f"cost shapes differ: {arr.shape} and {out.shape}")
        out = out + w * arr
    return out
