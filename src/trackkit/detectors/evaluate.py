"""Detection recall / precision on MOTChallenge ground truth (per frame, IoU matching).

Protocol (used by ``benchmarks/detectors.py`` and the tests):

- *positives*: ground-truth pedestrians (class 1, flag 1) with visibility ``>= min_visibility``;
- *ignored*: every other ground-truth box — less visible pedestrians, flag-0 boxes and the
  distractor classes (2 person on vehicle, 7 static person, 8 distractor, 12 reflection);
- detections are matched one-to-one to positives by the Hungarian algorithm on IoU
  (pairs below ``iou_threshold`` cannot match); matched detections are true positives;
- unmatched detections lying for at least ``iou_threshold`` of their area inside an ignored
  box (intersection over the detection's area, as ignore regions are treated in pedestrian
  detection benchmarks such as Caltech) are neither true nor false positives; the rest are
  false positives;
- ground-truth boxes are clipped to the image first (no detector sees outside it).

recall = TP / positives, precision = TP / (TP + FP).

Average precision (AP50, :func:`average_precision`) ranks the detections of every frame by
score, as PASCAL VOC and COCO do: each detection, best first, matches the unmatched positive it
overlaps most (IoU >= 0.5) and is a true positive; otherwise it is ignored when it lies inside
an ignored box (as above), else a false positive (a second detection of a matched person is
one). AP is the area under the precision-recall curve with precision made monotone
(all-point interpolation, VOC 2010+).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trackkit.core.boxes import clip_boxes, ioa_matrix, iou_matrix, xywh_to_xyxy
from trackkit.errors import DataNotFoundError, FormatError

__all__ = [
    "DetectionCounts",
    "average_precision",
    "count_matches",
    "rank_matches",
    "read_gt_frames",
]


@dataclass(frozen=True)
class DetectionCounts:
    """Matching counts, summable over frames."""

    tp: int = 0
    fp: int = 0
    positives: int = 0
    ignored: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(
            self.tp + other.tp,
            self.fp + other.fp,
            self.positives + other.positives,
            self.ignored + other.ignored,
        )

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else float("nan")

    @property
    def precision(self) -> float:
        n = self.tp + self.fp
        return self.tp / n if n else float("nan")


def _match(a: NDArray[np.float64], b: NDArray[np.float64], thr: float) -> NDArray[np.int64]:
    """Indices of rows of ``a`` matched one-to-one to ``b`` with IoU >= ``thr``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, np.int64)
    iou = iou_matrix(a, b)
    rows, cols = linear_sum_assignment(-np.where(iou >= thr, iou, 0.0))
    ok = iou[rows, cols] >= thr
    return rows[ok].astype(np.int64)


def count_matches(
    det_xyxy: NDArray[np.float64],
    positive_xyxy: NDArray[np.float64],
    ignore_xyxy: NDArray[np.float64],
    iou_threshold: float = 0.5,
) -> DetectionCounts:
    """Count true and false positives of one frame (see the module docstring)."""
    det = np.asarray(det_xyxy, np.float64).reshape(-1, 4)
    pos = np.asarray(positive_xyxy, np.float64).reshape(-1, 4)
    ign = np.asarray(ignore_xyxy, np.float64).reshape(-1, 4)
    matched = _match(det, pos, iou_threshold)
    rest = np.setdiff1d(np.arange(len(det)), matched)
    n_ignored = 0
    if len(rest) and len(ign):
        n_ignored = int(np.sum(ioa_matrix(det[rest], ign).max(axis=1) >= iou_threshold))
    fp = len(rest) - n_ignored
    return DetectionCounts(len(matched), fp, len(pos), n_ignored)


def rank_matches(
    det_xyxy: NDArray[np.float64],
    scores: NDArray[np.float64],
    positive_xyxy: NDArray[np.float64],
    ignore_xyxy: NDArray[np.float64],
    iou_threshold: float = 0.5,
) -> NDArray[np.int8]:
    """Greedy by-score matching of one frame for AP: per detection ``1`` true positive,
    ``0`` false positive, ``-1`` ignored (see the module docstring)."""
    det = np.asarray(det_xyxy, np.float64).reshape(-1, 4)
    pos = np.asarray(positive_xyxy, np.float64).reshape(-1, 4)
    ign = np.asarray(ignore_xyxy, np.float64).reshape(-1, 4)
    out = np.zeros(len(det), np.int8)
    if len(det) == 0:
        return out
    iou = iou_matrix(det, pos) if len(pos) else np.zeros((len(det), 0))
    inside = (
        ioa_matrix(det, ign).max(axis=1) >= iou_threshold if len(ign) else np.zeros(len(det), bool)
    )
    taken = np.zeros(len(pos), bool)
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        cand = np.where(taken, -1.0, iou[i]) if len(pos) else np.zeros(0)
        j = int(np.argmax(cand)) if len(cand) else -1
        if j >= 0 and cand[j] >= iou_threshold:
            taken[j] = True
            out[i] = 1
        elif inside[i]:
            out[i] = -1
    return out


def average_precision(
    scores: NDArray[np.float64], outcome: NDArray[np.int8], positives: int
) -> float:
    """Area under the precision-recall curve (all-point interpolation).

    Args:
        scores: ``(N,)`` scores of every detection of every frame.
        outcome: ``(N,)`` from :func:`rank_matches` (``1`` TP, ``0`` FP, ``-1`` ignored).
        positives: number of ground-truth positives.
    """
    if positives == 0:
        return float("nan")
    s = np.asarray(scores, np.float64)
    o = np.asarray(outcome, np.int8)
    keep = o >= 0
    s, o = s[keep], o[keep]
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(o[order] == 1)
    fp = np.cumsum(o[order] == 0)
    recall = np.concatenate([[0.0], tp / positives])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def read_gt_frames(
    gt_path: str | Path,
    frames: set[int],
    min_visibility: float = 0.5,
    image_size: tuple[int, int] | None = None,
) -> dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Positive and ignored ``xyxy`` boxes of some frames of a MOTChallenge ``gt.txt``.

    ``image_size`` ``(width, height)``: clip the boxes to the image.

    Returns:
        ``{frame: (positives (P, 4), ignored (Q, 4))}`` for each frame in ``frames``.
    """
    path = Path(gt_path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: ground-truth file not found")
    out: dict[int, tuple[list[list[float]], list[list[float]]]] = {f: ([], []) for f in frames}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.strip().split(",")
            if len(parts) < 9:
                if line.strip():
                    raise FormatError(path, f"expected 9 values, got {len(parts)}", lineno)
                continue
            try:
                frame = int(parts[0])
                x, y, w, h, flag, cls, vis = (float(v) for v in parts[2:9])
            except ValueError:
                raise FormatError(path, "not a number", lineno) from None
            if frame not in out:
                continue
            box = xywh_to_xyxy([x, y, w, h])
            if image_size is not None:
                box = clip_boxes(box, image_size[0], image_size[1])
            is_pos = flag > 0 and int(cls) == 1 and vis >= min_visibility
            out[frame][0 if is_pos else 1].append(box.tolist())
    return {
        f: (np.asarray(p, np.float64).reshape(-1, 4), np.asarray(q, np.float64).reshape(-1, 4))
        for f, (p, q) in out.items()
    }
