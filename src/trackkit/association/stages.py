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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import gated_matches
from trackkit.association.costs import iou_similarity

__all__ = [
    "CascadeStage",
    "Frame",
    "Stage",
    "fused_iou_distance",
    "iou_distance",
    "run_stages",
    "score_bands",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# read-only 0-d constants: numpy 2 compares with them faster than with Python scalars
_ZERO = np.array(0)
_ZERO.setflags(write=False)


class Frame:
    """One frame's association state, shared by a tracker's stages.

    Attributes:
        boxes: ``(M, 4)`` float64 detection boxes (xyxy); ``scores`` ``(M,)`` float64;
            ``embeddings`` ``(M, D)`` appearance features or ``None``.
        pred: ``(N, 4)`` float64 predicted track boxes (xyxy).
        pools: named detection pools, ascending int64 row indices into ``boxes``.
        det_of_track: ``(N,)`` int64, each track's detection (-1: unmatched so far).
        used: ``(M,)`` bool, detections matched so far.
    """

    __slots__ = (
        "boxes",
        "scores",
        "embeddings",
        "pred",
        "pools",
        "det_of_track",
        "used",
        "_n_used",
        "_iou",
    )

    def __init__(
        self,
        boxes: FloatArray,
        scores: FloatArray,
        pred: FloatArray,
        pools: dict[str, IntArray],
        embeddings: NDArray[Any] | None = None,
    ) -> None:
        self.boxes = boxes
        self.scores = scores
        self.embeddings = embeddings
        self.pred = pred
        self.pools = pools
        det_of_track = np.empty(len(pred), np.int64)
        det_of_track.fill(-1)
        self.det_of_track = det_of_track
        self.used = np.zeros(len(boxes), bool)
        self._n_used = 0
        self._iou: FloatArray | None = None

    @property
    def iou(self) -> FloatArray:
        """``(N, M)`` IoU of every predicted track box with every detection (computed once)."""
        if self._iou is None:
            self._iou = iou_similarity(self.pred, self.boxes)
        return self._iou

    def free(self, pool: str) -> IntArray:
        """The detections of ``pool`` not matched yet (ascending)."""
        cols = self.pools[pool]
        if self._n_used:
            cols = cols[~self.used[cols]]
        return cols

    def assign(self, rows: IntArray, cols: IntArray) -> None:
        """Record the matches of tracks ``rows`` with detections ``cols``."""
        self.det_of_track[rows] = cols
        self.used[cols] = True
        self._n_used += len(cols)

    def matched(self) -> NDArray[np.bool_]:
        """``(N,)`` bool: tracks matched so far."""
        return self.det_of_track >= _ZERO

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


def _iou_of(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    iou = frame.iou
    # ``rows`` and ``cols`` are sorted and unique: as long as the matrix, they are all
    if len(rows) != len(iou):
        iou = iou.take(rows, 0)
    if len(cols) != iou.shape[1]:
        iou = iou.take(cols, 1)
    return iou


def iou_distance(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    """``1 - IoU`` of the predicted track boxes with the detections (SORT)."""
    return 1.0 - _iou_of(frame, rows, cols)


def fused_iou_distance(frame: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
    """``1 - IoU * score``: IoU cost with the detection confidence fused in (ByteTrack)."""
    s = frame.scores
    return 1.0 - _iou_of(frame, rows, cols) * (s if len(cols) == len(s) else s.take(cols))


class Matcher(Protocol):
    def run(self, frame: Frame) -> None: ...


@dataclass(frozen=True)
class Stage:
    """One gated Hungarian association (see the module docstring)."""

    tracks: TrackSelector
    dets: str
    cost: Cost
    threshold: float

    def run(self, frame: Frame) -> None:
        """Match this stage's tracks and free detections; record the matches in ``frame``."""
        cols = frame.free(self.dets)
        if len(cols) == 0:
            return
        rows = self.tracks(frame)
        if len(rows) == 0:
            return
        r, c = gated_matches(self.cost(frame, rows, cols), self.threshold)
        if len(r):
            frame.assign(rows[r], cols[c])


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
                frame.assign(rows[local[r]], cols[free_cols[c]])
                left = np.ones(len(free_cols), bool)
                left[c] = False
                free_cols = free_cols[left]


def run_stages(stages: Sequence[Matcher], frame: Frame) -> None:
    """Run the stages in order on ``frame``."""
    for stage in stages:
        stage.run(frame)


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


_EMPTY = np.zeros(0, np.int64)
_EMPTY.setflags(write=False)
