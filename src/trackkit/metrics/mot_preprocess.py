"""The MOTChallenge benchmarks' preprocessing: from the typed rows of two MOTChallenge tables
(:class:`trackkit.io.mot_txt.MOTTable`, ground truth and results) to the
:class:`~trackkit.metrics.mot_data.MOTSequenceData` every metric takes, following the official
MOTChallenge evaluation (TrackEval's MotChallenge2DBox):

1. per frame, tracker boxes matched (IoU >= 0.5, optimal assignment over all ground truth) to
   a *distractor* ground-truth box (classes 2, 7, 8, 12; MOT20 also 6) are removed;
2. ground truth is kept only where ``flag != 0`` and, except for MOT15, ``class == 1``.

Each convention is an explicit field of :class:`MOTPreprocessing`; :data:`MOT_BENCHMARKS`
holds the official presets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import as_boxes
from trackkit.errors import TrackkitError
from trackkit.metrics.lsap import linear_sum_assignment
from trackkit.metrics.mot_data import (
    EPS,
    MOTSequenceData,
    block_pairs,
    box_iou_pairs,
    frame_ious,
    relabel,
    split_counts,
)

if TYPE_CHECKING:
    from trackkit.io.mot_txt import MOTTable

__all__ = ["MOT_BENCHMARKS", "MOTPreprocessing", "preprocess_mot", "resolve_benchmark"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MOTPreprocessing:
    """Benchmark preprocessing conventions (all explicit).

    Attributes:
        remove_distractor_matches: drop tracker boxes matched to distractor ground truth.
        distractor_classes: ground-truth classes that are distractors.
        distractor_iou: IoU a tracker box needs with a distractor to be removed (>=, with
            machine-epsilon tolerance, after an optimal assignment over all ground truth).
        keep_class: ground-truth class scored (``None``: every class, as for MOT15).
        drop_zero_flag: drop ground truth whose ``flag`` column is 0.
        valid_classes: classes allowed in ground truth (``None``: any); others are an error.
    """

    remove_distractor_matches: bool = True
    distractor_classes: tuple[int, ...] = (2, 7, 8, 12)
    distractor_iou: float = 0.5
    keep_class: int | None = 1
    drop_zero_flag: bool = True
    valid_classes: tuple[int, ...] | None = tuple(range(1, 14))


_MOT17 = MOTPreprocessing()
#: The official presets: MOT15 has no classes and no distractors; MOT20 adds class 6.
MOT_BENCHMARKS: dict[str, MOTPreprocessing] = {
    "MOT15": MOTPreprocessing(
        remove_distractor_matches=False, distractor_classes=(), keep_class=None, valid_classes=None
    ),
    "MOT16": _MOT17,
    "MOT17": _MOT17,
    "MOT20": MOTPreprocessing(distractor_classes=(2, 6, 7, 8, 12)),
}


def _distractor_matches(scores: FloatArray, distractor_row: NDArray[np.bool_]) -> IntArray:
    """Columns optimally assigned (score > 0) to distractor rows of a thresholded score matrix."""
    cand = scores > EPS
    if cand.sum(0).max() <= 1 and cand.sum(1).max() <= 1:
        # The candidates form a matching: every optimal assignment takes exactly them.
        rows, cols = np.nonzero(cand)
    else:
        rows, cols = linear_sum_assignment(-scores)
        matched = scores[rows, cols] > EPS
        rows, cols = rows[matched], cols[matched]
    return cols[distractor_row[rows]]


def resolve_benchmark(benchmark: str | MOTPreprocessing) -> MOTPreprocessing:
    """The conventions of ``benchmark``: a key of :data:`MOT_BENCHMARKS` (any case) or
    explicit :class:`MOTPreprocessing` (returned as is); an unknown name raises
    :class:`TrackkitError` listing the valid ones."""
    if isinstance(benchmark, MOTPreprocessing):
        return benchmark
    key = benchmark.upper()
    if key not in MOT_BENCHMARKS:
        raise TrackkitError(f"unknown benchmark {benchmark!r}; valid: {', '.join(MOT_BENCHMARKS)}")
    return MOT_BENCHMARKS[key]


def preprocess_mot(
    name: str,
    num_frames: int,
    gt: MOTTable,
    tracker: MOTTable,
    preprocessing: MOTPreprocessing | str = "MOT17",
) -> MOTSequenceData:
    """Turn the rows of two MOTChallenge tables into :class:`MOTSequenceData` following the
    benchmark's conventions.

    Args:
        name: sequence name.
        num_frames: number of frames; every frame number must lie in ``1..num_frames``.
        gt: the ground truth (``frames``, ``ids``, ``xyxy``, ``classes`` and the flag column
            ``conf`` are used; rows in file order).
        tracker: the tracker's results (``frames``, ``ids``, ``xyxy`` are used).
        preprocessing: a :class:`MOTPreprocessing` or a key of :data:`MOT_BENCHMARKS`
            (:func:`resolve_benchmark`).

    Returns:
        The sequence data, with similarities = box IoU.
    """
    cfg = resolve_benchmark(preprocessing)
    g_frames = np.asarray(gt.frames, np.int64)
    g_ids = np.asarray(gt.ids, np.int64)
    g_boxes = as_boxes(gt.xyxy)
    g_cls = np.asarray(gt.classes, np.int64)
    g_flags = np.asarray(gt.conf, np.float64)
    t_frames = np.asarray(tracker.frames, np.int64)
    t_ids = np.asarray(tracker.ids, np.int64)
    t_boxes = as_boxes(tracker.xyxy)
    for frames, who in ((g_frames, "ground truth"), (t_frames, "tracker")):
        if len(frames) and (frames.min() < 1 or frames.max() > num_frames):
            raise TrackkitError(f"{name}: {who} has frames outside 1..{num_frames}")
    if cfg.valid_classes is not None and len(g_cls):
        bad = np.setdiff1d(np.unique(g_cls), cfg.valid_classes)
        if len(bad):
            raise TrackkitError(f"{name}: ground truth has invalid class(es) {bad.tolist()}")
    keep = g_flags != 0 if cfg.drop_zero_flag else np.ones(len(g_ids), bool)
    if cfg.keep_class is not None:
        keep &= g_cls == cfg.keep_class
    g_order = np.argsort(g_frames, kind="stable")  # file order kept within a frame
    t_order = np.argsort(t_frames, kind="stable")

    def per_frame(rows: IntArray, frames: IntArray) -> IntArray:
        return np.bincount(frames[rows] - 1, minlength=num_frames)[:num_frames]

    n_t = per_frame(t_order, t_frames)
    if cfg.remove_distractor_matches and len(t_order):
        # Vectorised check: which frames have a distractor overlapping a tracker box enough?
        dis = g_order[np.isin(g_cls[g_order], cfg.distractor_classes)]
        ia, ib, start = block_pairs(per_frame(dis, g_frames), n_t)
        hit = box_iou_pairs(g_boxes[dis[ia]], t_boxes[t_order[ib]]) >= cfg.distractor_iou - EPS
        frames_hit = np.unique(np.searchsorted(start, np.flatnonzero(hit), side="right") - 1)
        if len(frames_hit):
            g_bounds = np.searchsorted(g_frames[g_order], np.arange(1, num_frames + 2))
            t_bounds = np.concatenate(([0], np.cumsum(n_t)))
            dropped = []
            is_dis_row = np.isin(g_cls, cfg.distractor_classes)
            hits = frames_hit.tolist()
            g_rows = [g_order[g_bounds[f] : g_bounds[f + 1]] for f in hits]
            t_rows = [t_order[t_bounds[f] : t_bounds[f + 1]] for f in hits]
            # every hit frame's IoU matrix at once (the same arithmetic as box_iou)
            ious = frame_ious(
                g_boxes[np.concatenate(g_rows)],
                np.array([len(r) for r in g_rows], np.int64),
                t_boxes[np.concatenate(t_rows)],
                np.array([len(r) for r in t_rows], np.int64),
            )
            for gr, tr, scores in zip(g_rows, t_rows, ious):
                scores[scores < cfg.distractor_iou - EPS] = 0.0
                dropped.append(tr[_distractor_matches(scores, is_dis_row[gr])])
            removed = np.zeros(len(t_ids), bool)
            removed[np.concatenate(dropped)] = True
            t_order = t_order[~removed[t_order]]
            n_t = per_frame(t_order, t_frames)
    g_kept = g_order[keep[g_order]]
    n_g = per_frame(g_kept, g_frames)
    out_s = frame_ious(g_boxes[g_kept], n_g, t_boxes[t_order], n_t)
    out_g = split_counts(g_ids[g_kept], n_g)
    out_t = split_counts(t_ids[t_order], n_t)
    g_rel, num_g = relabel(out_g)
    t_rel, num_t = relabel(out_t)
    return MOTSequenceData(name, tuple(g_rel), tuple(t_rel), tuple(out_s), num_g, num_t)
