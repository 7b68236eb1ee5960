"""Association stages: one frame's matching of tracks (rows) with detections (columns) as a
sequence of small, reusable steps.

A tracker's association is a list of stages run in order on one :class:`Frame`. A
:class:`Stage` names

- **which tracks** take part (a function of the frame: e.g. confirmed tracks still
  unmatched),
- **which detections** (a named pool of detection rows, e.g. ``"high"``; rows matched by an
  earlier stage are left out),
- the **cost** of every (track, detection) pair (a ``(n, m)`` float64 matrix, lower is better)
- and the **threshold**: only pairs costing less can match (gated Hungarian assignment,
  :func:`~trackkit.association.assign.gated_matches`).

So ByteTrack's second association with the low-score detections (Zhang et al., ECCV 2022) is
``Stage(tracks, "low", iou_distance, threshold)`` wherever it is used, and DeepSORT's matching
cascade (Wojke et al., ICIP 2017) is a :class:`CascadeStage`. Boxes are ``xyxy`` float64,
continuous pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import gated_matches
from trackkit.association.costs import confidence, iou_similarity

__all__ = [
    "CascadeStage",
    "DetectionPools",
    "all_rows",
    "all_tracks",
    "byte_stage",
    "Frame",
    "Stage",
    "fused_iou_distance",
    "iou_distance",
    "iou_of",
    "run_stages",
    "score_bands",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# read-only 0-d constants: numpy 2 compares with them faster than with Python scalars
_ZERO = np.array(0)
_ZERO.setflags(write=False)
_ONE_F = np.array(1.0)
_ONE_F.setflags(write=False)
_EMPTY = np.zeros(0, np.int64)
_EMPTY.setflags(write=False)
_UNMATCHED = np.full(4096, -1, np.int64)
_UNMATCHED.setflags(write=False)


class Frame:
    """One frame's association state, shared by a tracker's stages.

    Attributes:
        boxes: ``(M, 4)`` float64 detection boxes (xyxy); ``scores`` ``(M,)`` float64;
            ``embeddings`` ``(M, D)`` appearance features or ``None``.
        pred: ``(N, 4)`` float64 predicted track boxes (xyxy).
        iou: ``(N, M)`` float64 IoU of every predicted box with every detection.
        pools: named detection pools, ascending int64 row indices into ``boxes``.
        det_of_track: ``(N,)`` int64, each track's detection (-1: unmatched so far).
        used: ``(M,)`` bool, detections matched so far.

    ``groups`` (optional) maps each pool to a group: pools of different groups are disjoint
    (:attr:`DetectionPools.GROUPS`), so matches made from one never shrink the others — a
    pool is then filtered by ``used`` only once a stage drawing from its group matched.
    """

    __slots__ = (
        "boxes",
        "scores",
        "embeddings",
        "pred",
        "pools",
        "det_of_track",
        "used",
        "iou",
        "_n_used",
        "_first",
        "_groups",
        "_touched",
        "_free",
    )

    def __init__(self) -> None:
        """An empty frame; :meth:`reset` starts one (a tracker keeps one and resets it)."""
        #: groups of the pools matches were drawn from (``None``: any pool)
        self._touched: set[int | None] = set()
        #: ``pool -> (matches so far, its free rows)``: the last :meth:`free` of each pool
        self._free: dict[str, tuple[int, IntArray]] = {}

    def reset(
        self,
        boxes: FloatArray,
        scores: FloatArray,
        pred: FloatArray,
        pools: Mapping[str, IntArray],
        embeddings: NDArray[Any] | None = None,
        groups: Mapping[str, int] | None = None,
    ) -> None:
        """Start a new frame (as a new :class:`Frame` would), reusing this object: a tracker
        keeps one frame and resets it every step."""
        self.boxes = boxes
        self.scores = scores
        self.embeddings = embeddings
        self.pred = pred
        self.pools = pools
        n, m = len(pred), len(boxes)
        # every track unmatched (-1): a copy of a cached row is the cheapest fresh array
        self.det_of_track = (
            _UNMATCHED[:n].copy() if n <= len(_UNMATCHED) else np.full(n, -1, np.int64)
        )
        self.used = np.zeros(m, bool)
        self._n_used = 0
        self.iou = iou_similarity(pred, boxes) if n and m else np.zeros((n, m))
        self._first: tuple[IntArray, IntArray] | None = None  # the only assignment so far
        self._groups = groups
        if self._touched:
            self._touched.clear()
        if self._free:
            self._free.clear()

    def free(self, pool: str) -> IntArray:
        """The detections of ``pool`` not matched yet (ascending)."""
        cols = self.pools[pool]
        n_used = self._n_used
        if n_used:
            groups = self._groups
            touched = self._touched
            if groups is None or None in touched or groups[pool] in touched:
                last = self._free.get(pool)
                if last is not None and last[0] == n_used:  # nothing matched since
                    return last[1]
                cols = cols[~self.used[cols]]
                self._free[pool] = (n_used, cols)
        return cols

    def assign(self, rows: IntArray, cols: IntArray, pool: str | None = None) -> None:
        """Record the matches of tracks ``rows`` (ascending) with detections ``cols`` (drawn
        from ``pool``; ``None``: any)."""
        self.det_of_track[rows] = cols
        self.used[cols] = True
        self._first = (rows, cols) if self._n_used == 0 else None
        self._n_used += len(cols)
        groups = self._groups
        self._touched.add(None if groups is None or pool is None else groups[pool])

    def matched(self) -> NDArray[np.bool_]:
        """``(N,)`` bool: tracks matched so far."""
        return self.det_of_track >= _ZERO

    def matches(self) -> tuple[NDArray[np.bool_], IntArray, IntArray]:
        """``(matched, tracks, detections)``: the ``(N,)`` mask of matched tracks and the
        matched pairs so far, tracks ascending."""
        matched = self.det_of_track >= _ZERO
        if self._first is not None:  # one assignment: already ascending
            return matched, *self._first
        if not self._n_used:
            return matched, _EMPTY, _EMPTY
        rows = matched.nonzero()[0]
        return matched, rows, self.det_of_track[rows]

    def unmatched(self) -> IntArray:
        """Rows of the tracks not matched yet (ascending)."""
        return (self.det_of_track < _ZERO).nonzero()[0]

    def add_tracks(self, det_rows: IntArray) -> None:
        """Extend ``det_of_track`` with new tracks born from detections ``det_rows``."""
        self.det_of_track = np.concatenate([self.det_of_track, det_rows])

    def keep_tracks(self, index: NDArray[Any]) -> None:
        """Keep only the tracks selected by a mask or index array (as the track store does)."""
        self.det_of_track = self.det_of_track[index]


#: ``cost(frame, rows, cols) -> (len(rows), len(cols))`` float64.
Cost = Callable[[Frame, IntArray, IntArray], FloatArray]
#: ``tracks(frame) -> rows``: which tracks take part in a stage.
TrackSelector = Callable[[Frame], IntArray]


def iou_of(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    """The IoU of tracks ``rows`` with detections ``cols`` (a slice of ``frame.iou``)."""
    iou = frame.iou
    # ``rows`` and ``cols`` are sorted and unique: as long as the matrix, they are all
    if len(rows) != len(iou):
        iou = iou.take(rows, 0)
    if len(cols) != iou.shape[1]:
        iou = iou.take(cols, 1)
    return iou


def iou_distance(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    """``1 - IoU`` of the predicted track boxes with the detections (SORT)."""
    return np.subtract(_ONE_F, iou_of(frame, rows, cols))


def fused_iou_distance(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    """``1 - IoU * score``: IoU cost with the detection confidence fused in (ByteTrack);
    scores clipped to ``[0, 1]`` (:func:`~trackkit.association.costs.confidence`), so the
    cost is in ``[0, 1]`` whatever the detector's scale."""
    s = frame.scores
    return np.subtract(
        _ONE_F, iou_of(frame, rows, cols) * confidence(s if len(cols) == len(s) else s.take(cols))
    )


class Matcher(Protocol):
    """Anything that matches tracks with detections on a :class:`Frame` (a stage)."""

    def run(self, frame: Frame) -> None: ...


@dataclass(frozen=True)
class Stage:
    """One gated Hungarian association (see the module docstring)."""

    tracks: TrackSelector
    dets: str
    cost: Cost
    threshold: float
    #: ``threshold`` as a read-only 0-d array (faster to compare with, the same result)
    _thr: NDArray[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_thr", _const(self.threshold))

    def run(self, frame: Frame) -> None:
        """Match this stage's tracks and free detections; record the matches in ``frame``."""
        dets = self.dets
        cols = frame.free(dets)
        if not len(cols):
            return
        rows = self.tracks(frame)
        if not len(rows):
            return
        r, c = gated_matches(self.cost(frame, rows, cols), self._thr)
        if len(r):
            # ``rows`` and ``cols`` are sorted and unique: as long as all, they are the identity
            frame.assign(
                r if len(rows) == len(frame.det_of_track) else rows[r],
                c if len(cols) == len(frame.used) else cols[c],
                dets,
            )


@dataclass(frozen=True)
class CascadeStage:
    """A matching cascade (DeepSORT): the tracks are matched level by level — ``levels``
    gives each track's level (frames since its last match), smallest first — each level
    against the detections the previous levels left, with one cost matrix computed for all.

    ``cost(frame, rows, cols)`` returns the matrix and its threshold.
    """

    tracks: TrackSelector
    dets: str
    cost: Callable[[Frame, IntArray, IntArray], tuple[FloatArray, float]]
    levels: Callable[[IntArray], IntArray]

    def run(self, frame: Frame) -> None:
        cols = frame.free(self.dets)
        rows = self.tracks(frame)
        if len(rows) == 0 or len(cols) == 0:
            return
        cost_all, thresh = self.cost(frame, rows, cols)
        free_cols = np.arange(len(cols))
        levels = self.levels(rows)
        # only the levels that have a track with a candidate below the threshold (a level
        # whose tracks have none matches nothing and leaves the columns free)
        has = (cost_all < thresh).any(axis=1)
        for level in np.unique(levels[has]).tolist():
            if len(free_cols) == 0:
                break
            local = (levels == level).nonzero()[0]
            r, c = gated_matches(cost_all.take(local, 0).take(free_cols, 1), thresh)
            if len(r):
                frame.assign(rows[local[r]], cols[free_cols[c]], self.dets)
                left = np.ones(len(free_cols), bool)
                left[c] = False
                free_cols = free_cols[left]


_RANGE = np.arange(4096, dtype=np.int64)
_RANGE.setflags(write=False)


def all_rows(n: int) -> IntArray:
    """``arange(n)`` (int64, read-only; a view of a cached range when ``n`` is small)."""
    return _RANGE[:n] if n <= len(_RANGE) else np.arange(n, dtype=np.int64)


def all_tracks(frame: Frame) -> IntArray:
    """Every track (a stage's track selector)."""
    return all_rows(len(frame.det_of_track))


def run_stages(stages: Sequence[Matcher], frame: Frame) -> None:
    """Run the stages in order on ``frame``."""
    for stage in stages:
        stage.run(frame)


def byte_stage(tracks: TrackSelector, threshold: float) -> Stage:
    """BYTE's second association (Zhang et al., ECCV 2022): the tracks ``tracks`` left
    unmatched by the confident detections get a chance with the low-score ones (pool
    ``"low"``), mostly occluded objects, on ``1 - IoU`` below ``threshold``."""
    return Stage(tracks, "low", iou_distance, threshold)


class DetectionPools:
    """A tracker's detection pools by score, made once per frame: ``"high"`` (score at least
    ``high``, above it when ``strict``; every detection when ``high`` is ``None``) and
    ``"low"`` (above ``low`` and not high; empty without ``low``) — ByteTrack's split (Zhang
    et al. 2022), OC-SORT's (strict), or one confidence floor (SORT, DeepSORT).

    The detections that start tracks are the high ones still free after the stages, scoring
    at least ``birth`` when given (:meth:`births`). Without ``birth`` they are also the pool
    ``"birth"``, another name of ``"high"``.
    """

    #: the pools' groups for :class:`Frame`: ``"low"`` is disjoint from the high ones
    GROUPS: Mapping[str, int] = {"high": 0, "birth": 0, "low": 1}

    def __init__(
        self,
        high: float | None,
        low: float | None = None,
        birth: float | None = None,
        strict: bool = False,
    ) -> None:
        # 0-d arrays: numpy 2 compares with them about twice as fast as with Python floats
        self._high = None if high is None else _const(high)
        self._low = None if low is None else _const(low)
        self._birth = None if birth is None else _const(birth)
        self._strict = strict

    def __call__(self, scores: FloatArray) -> dict[str, IntArray]:
        if self._high is None:
            high, low = all_rows(len(scores)), _EMPTY
        else:
            high, low = score_bands(scores, self._high, self._low, self._strict)
        if self._birth is None:
            return {"high": high, "low": low, "birth": high}
        return {"high": high, "low": low}

    def births(self, frame: Frame) -> IntArray:
        """The free high detections of ``frame`` scoring at least ``birth`` (ascending)."""
        high = frame.free("high")
        birth = self._birth
        if birth is None or not len(high):
            return high
        return high[frame.scores[high] >= birth]


def _const(value: float) -> NDArray[Any]:
    out = np.array(value)
    out.setflags(write=False)
    return out


def score_bands(
    scores: FloatArray, high: NDArray[Any], low: NDArray[Any] | None = None, strict: bool = False
) -> tuple[IntArray, IntArray]:
    """Split detections by score: ``high`` rows score ``>= high`` (``> high`` when
    ``strict``), ``low`` rows score above ``low`` and are not high (empty without ``low``).

    ``high`` and ``low`` are best given as 0-d arrays (the per-frame hot path)."""
    confident = scores > high if strict else scores >= high
    if low is None:
        return confident.nonzero()[0], _EMPTY
    # above ``low`` and not confident (``a > b`` on booleans is ``a & ~b``)
    return confident.nonzero()[0], ((scores > low) > confident).nonzero()[0]
