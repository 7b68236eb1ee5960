"""The per-sequence structure MOT metrics work on.

Every MOT metric (:mod:`~trackkit.metrics.clear`, :mod:`~trackkit.metrics.identity`,
:mod:`~trackkit.metrics.hota`) takes a :class:`MOTSequenceData`: for each frame the ground-truth
ids, the tracker ids and their similarity (IoU) matrix. Ids are relabelled to ``0..n-1`` so
metrics can index arrays with them. Metrics never see files or box formats. The benchmarks'
preprocessing that builds it from two MOTChallenge tables is
:mod:`trackkit.metrics.mot_preprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import iou_matrix
from trackkit.errors import TrackkitError

__all__ = [
    "FlatPairs",
    "MOTSequenceData",
    "block_pairs",
    "box_iou",
    "box_iou_pairs",
    "frame_ious",
    "matching_frames",
    "relabel",
    "split_counts",
]

EPS = float(np.finfo(np.float64).eps)
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU matrix of ``xyxy`` boxes ``(N, 4) x (M, 4) -> (N, M)``, as the official kit computes it.

    This is :func:`trackkit.core.boxes.iou_matrix` (zero-area boxes and intersections below
    machine epsilon give 0, no ``+1`` pixel); the vectorised variants below repeat its
    arithmetic element for element.
    """
    return iou_matrix(a, b)


def box_iou_pairs(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of row ``i`` of ``a`` with row ``i`` of ``b`` (``(P, 4)`` xyxy each), element for
    element the same arithmetic as :func:`box_iou`."""
    ix = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    iy = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(ix, 0.0) * np.maximum(iy, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    inter[(area_a <= EPS) | (area_b <= EPS) | (inter < EPS)] = 0.0
    union[union < EPS] = 1.0
    return inter / union


def _padded(boxes: FloatArray, counts: IntArray, size: int) -> FloatArray:
    """Boxes laid out frame after frame -> ``(4, F, size)`` coordinate planes, zero-padded."""
    frames = len(counts)
    out = np.zeros((4, frames, size))
    if len(boxes):
        frame = np.repeat(np.arange(frames), counts)
        pos = np.arange(len(boxes)) - np.repeat(np.cumsum(counts) - counts, counts)
        out[:, frame, pos] = boxes.T
    return out


def frame_ious(
    a: FloatArray, n_a: IntArray, b: FloatArray, n_b: IntArray, chunk_elements: int = 1 << 21
) -> list[FloatArray]:
    """IoU matrices of many frames at once, element for element as :func:`box_iou`.

    Frames are processed in chunks of zero-padded ``(frames, rows, cols)`` blocks of at most
    about ``chunk_elements`` entries, so memory stays bounded on long sequences.

    Args:
        a: ``(sum(n_a), 4)`` xyxy boxes laid out frame after frame; ``n_a`` ``(F,)`` per frame.
        b: ``(sum(n_b), 4)`` likewise.

    Returns:
        ``F`` matrices of shape ``(n_a[f], n_b[f])``.
    """
    out: list[FloatArray] = []
    a_start = np.concatenate(([0], np.cumsum(n_a)))
    b_start = np.concatenate(([0], np.cumsum(n_b)))
    f0 = 0
    frames = len(n_a)
    while f0 < frames:
        f1 = f0 + 1
        k, t = int(n_a[f0]), int(n_b[f0])
        while f1 < frames:
            k2, t2 = max(k, int(n_a[f1])), max(t, int(n_b[f1]))
            if (f1 + 1 - f0) * k2 * t2 > chunk_elements:
                break
            k, t, f1 = k2, t2, f1 + 1
        out.extend(
            _padded_ious(
                a[a_start[f0] : a_start[f1]], n_a[f0:f1], b[b_start[f0] : b_start[f1]], n_b[f0:f1]
            )
        )
        f0 = f1
    return out


def _padded_ious(a: FloatArray, n_a: IntArray, b: FloatArray, n_b: IntArray) -> list[FloatArray]:
    frames = len(n_a)
    k = int(n_a.max()) if frames else 0
    t = int(n_b.max()) if frames else 0
    pa = _padded(a, n_a, k)
    pb = _padded(b, n_b, t)
    ix = np.minimum(pa[2][:, :, None], pb[2][:, None, :])
    ix -= np.maximum(pa[0][:, :, None], pb[0][:, None, :])
    np.maximum(ix, 0.0, out=ix)
    iy = np.minimum(pa[3][:, :, None], pb[3][:, None, :])
    iy -= np.maximum(pa[1][:, :, None], pb[1][:, None, :])
    np.maximum(iy, 0.0, out=iy)
    inter = ix
    inter *= iy
    del iy
    area_a = (pa[2] - pa[0]) * (pa[3] - pa[1])
    area_b = (pb[2] - pb[0]) * (pb[3] - pb[1])
    union = area_a[:, :, None] + area_b[:, None, :]
    union -= inter
    np.putmask(inter, inter < EPS, 0.0)
    real_a = np.arange(k)[None, :] < n_a[:, None]
    real_b = np.arange(t)[None, :] < n_b[:, None]
    if np.any(area_a[real_a] <= EPS) or np.any(area_b[real_b] <= EPS):
        inter[np.broadcast_to((area_a <= EPS)[:, :, None], inter.shape)] = 0.0
        inter[np.broadcast_to((area_b <= EPS)[:, None, :], inter.shape)] = 0.0
    np.putmask(union, union < EPS, 1.0)  # also the zero padding
    inter /= union
    return [inter[f, : n_a[f], : n_b[f]] for f in range(frames)]


def block_pairs(n_a: IntArray, n_b: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """All pairs of frame blocks, frame after frame, row-major within a frame.

    Args:
        n_a: ``(F,)`` rows of the first kind per frame (laid out frame after frame).
        n_b: ``(F,)`` rows of the second kind per frame.

    Returns:
        ``(ia, ib, start)``: for every pair its row in the first and in the second layout,
        and ``(F + 1,)`` offsets of each frame's block of ``n_a[f] * n_b[f]`` pairs.
    """
    start = np.concatenate(([0], np.cumsum(n_a * n_b)))
    total = int(start[-1])
    if total == 0:
        z = np.zeros(0, np.int64)
        return z, z, start
    b_off = np.concatenate(([0], np.cumsum(n_b)[:-1]))
    per_row = np.repeat(n_b, n_a)  # pairs of each row of the first kind
    ia = np.repeat(np.arange(int(n_a.sum())), per_row)
    row_pair_start = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    ib = np.arange(total) - np.repeat(row_pair_start, per_row)
    ib += np.repeat(np.repeat(b_off, n_a), per_row)
    return ia, ib, start


@dataclass(frozen=True, eq=False)
class MOTSequenceData:
    """Ground-truth/tracker ids and similarities per frame of one sequence.

    Attributes:
        name: the sequence's name.
        gt_ids: per frame, ``(G_t,)`` int64 ground-truth ids in ``0..num_gt_ids-1``.
        tracker_ids: per frame, ``(T_t,)`` int64 tracker ids in ``0..num_tracker_ids-1``.
        similarity: per frame, ``(G_t, T_t)`` float64 similarities in ``[0, 1]`` (box IoU).
        num_gt_ids: number of distinct ground-truth ids.
        num_tracker_ids: number of distinct tracker ids.
    """

    name: str
    gt_ids: tuple[IntArray, ...]
    tracker_ids: tuple[IntArray, ...]
    similarity: tuple[FloatArray, ...]
    num_gt_ids: int
    num_tracker_ids: int

    @property
    def num_frames(self) -> int:
        """Number of frames (time steps) of the sequence."""
        return len(self.gt_ids)

    @property
    def num_gt_dets(self) -> int:
        """Total number of ground-truth boxes."""
        return int(sum(len(g) for g in self.gt_ids))

    @property
    def num_tracker_dets(self) -> int:
        """Total number of tracker boxes."""
        return int(sum(len(t) for t in self.tracker_ids))

    @cached_property
    def flat(self) -> FlatPairs:
        """Every frame's (gt, tracker) pairs laid end to end, for vectorised metrics."""
        return FlatPairs.build(self)

    @classmethod
    def from_frames(
        cls,
        name: str,
        gt_ids: list[ArrayLike],
        tracker_ids: list[ArrayLike],
        similarity: list[ArrayLike],
    ) -> MOTSequenceData:
        """Build from per-frame arrays with arbitrary integer ids (relabelled here).

        Ids are relabelled in increasing order of their original value, as the official kit
        does. Raises :class:`TrackkitError` for inconsistent shapes, similarities outside
        ``[0, 1]`` or an id repeated within one frame.
        """
        if not len(gt_ids) == len(tracker_ids) == len(similarity):
            raise TrackkitError(
                f"{name}: {len(gt_ids)} frames of ground truth, {len(tracker_ids)} of tracker "
                f"ids and {len(similarity)} similarity matrices"
            )
        g = [np.asarray(x, dtype=np.int64).reshape(-1) for x in gt_ids]
        t = [np.asarray(x, dtype=np.int64).reshape(-1) for x in tracker_ids]
        s = []
        for f, (gi, ti, si) in enumerate(zip(g, t, similarity)):
            m = np.asarray(si, dtype=np.float64).reshape(len(gi), len(ti))
            if m.size and (not np.all(np.isfinite(m)) or m.min() < 0 or m.max() > 1):
                raise TrackkitError(f"{name}: frame {f + 1}: similarities must be in [0, 1]")
            for ids, who in ((gi, "ground-truth"), (ti, "tracker")):
                if len(np.unique(ids)) != len(ids):
                    raise TrackkitError(f"{name}: frame {f + 1}: repeated {who} id")
            s.append(m)
        g_rel, n_g = relabel(g)
        t_rel, n_t = relabel(t)
        return cls(name, tuple(g_rel), tuple(t_rel), tuple(s), n_g, n_t)


@dataclass(frozen=True, eq=False)
class FlatPairs:
    """The overlapping (similarity > 0) pairs of all frames, frame after frame, row-major.

    Pairs with similarity 0 add nothing to any metric's sums and are never a match, so they
    are left out; a frame's full matrix stays available in ``MOTSequenceData.similarity``.

    Attributes:
        sim: ``(P,)`` similarities (> 0) of the pairs.
        gt_id: ``(P,)`` ground-truth id of each pair; ``tr_id``: ``(P,)`` tracker id.
        row: ``(P,)`` global ground-truth row (box) index; ``col``: global tracker row index.
        lrow: ``(P,)`` row within the frame's matrix; ``lcol``: column within it.
        frame_start: ``(F + 1,)`` offsets of each frame's pairs in these arrays.
    """

    sim: FloatArray
    gt_id: IntArray
    tr_id: IntArray
    row: IntArray
    col: IntArray
    lrow: IntArray
    lcol: IntArray
    frame_start: IntArray

    @classmethod
    def build(cls, data: MOTSequenceData) -> FlatPairs:
        n_g = np.array([len(g) for g in data.gt_ids], np.int64)
        n_t = np.array([len(t) for t in data.tracker_ids], np.int64)
        block_start = np.concatenate(([0], np.cumsum(n_g * n_t)))
        frames = len(n_g)
        if block_start[-1] == 0:
            z = np.zeros(0, np.int64)
            return cls(np.zeros(0), z, z, z, z, z, z, np.zeros(frames + 1, np.int64))
        dense = np.concatenate([s.ravel() for s in data.similarity])
        pos = np.flatnonzero(dense)
        frame = np.searchsorted(block_start, pos, side="right") - 1
        local = pos - block_start[frame]
        width = n_t[frame]
        lrow = local // width
        lcol = local - lrow * width
        row = np.concatenate(([0], np.cumsum(n_g)[:-1]))[frame] + lrow
        col = np.concatenate(([0], np.cumsum(n_t)[:-1]))[frame] + lcol
        all_g = np.concatenate(data.gt_ids)
        all_t = np.concatenate(data.tracker_ids)
        frame_start = np.searchsorted(frame, np.arange(frames + 1))
        return cls(dense[pos], all_g[row], all_t[col], row, col, lrow, lcol, frame_start)


def matching_frames(flat: FlatPairs, mask: NDArray[np.bool_], num_frames: int) -> NDArray[np.bool_]:
    """Frames whose candidate pairs (``mask``) form a matching: no box in two candidates.

    In such a frame every optimal assignment contains exactly the candidate pairs (all other
    entries of the score matrix are 0), whatever the solver's tie-breaking — so the pairs can
    be taken without solving. Returns ``(num_frames,)`` bools.
    """
    pos = np.flatnonzero(mask)
    frame = np.searchsorted(flat.frame_start, pos, side="right") - 1
    rows = flat.row[pos]  # row-major: a box's candidates are adjacent
    cols = flat.col[pos]  # global indices: equal only within one frame
    order = np.argsort(cols, kind="stable")
    dup = np.concatenate(
        (
            np.flatnonzero(rows[1:] == rows[:-1]) + 1,
            order[1:][cols[order][1:] == cols[order][:-1]],
        )
    )
    ok = np.ones(num_frames, bool)
    ok[frame[dup]] = False
    return ok


def split_counts(values: IntArray, counts: IntArray) -> list[IntArray]:
    """Cut ``values`` into consecutive pieces of ``counts`` elements (views)."""
    bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
    return [values[bounds[i] : bounds[i + 1]] for i in range(len(counts))]


def relabel(per_frame: list[IntArray]) -> tuple[list[IntArray], int]:
    if not per_frame:
        return [], 0
    allids = np.concatenate(per_frame)
    if allids.size == 0:
        return per_frame, 0
    unique = np.unique(allids)
    mapped = np.searchsorted(unique, allids)
    return split_counts(mapped, np.array([len(x) for x in per_frame], np.int64)), len(unique)
