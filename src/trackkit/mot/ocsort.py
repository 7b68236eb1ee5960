"""OC-SORT: observation-centric SORT (Cao, Pang, Weng, Khirodkar, Kitani; CVPR 2023).

SORT's Kalman filter drifts while a track goes unobserved, and its velocity estimate is noisy.
OC-SORT keeps SORT's ``(cx, cy, s, r)`` filter and adds three observation-centric parts:

- **OCM** (momentum): the association cost adds the consistency between a track's motion
  direction (from its observation ``delta_t`` frames ago to its last one) and the direction
  from that old observation to each candidate detection, weighted by ``inertia`` and the
  detection score;
- **OCR** (recovery): detections and tracks still unmatched are matched once more using the
  tracks' *last observations* instead of their predictions (an object that stopped while
  occluded is found where it was last seen);
- **ORU** (re-update): when a track is re-found after ``g`` unobserved frames, its filter is
  rolled back to the moment it was lost and re-run along a virtual trajectory interpolated
  between the last and the new observation, undoing the drift accumulated in the gap.

Reported boxes are the matched detections themselves (the last observations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.association.costs import confidence, iou_similarity
from trackkit.association.stages import (
    DetectionPools,
    Frame,
    Matcher,
    Stage,
    all_rows,
    all_tracks,
    byte_stage,
    iou_of,
)
from trackkit.mot.base import MOT_TRACKERS, LifeCycleConfig
from trackkit.mot.kalman_tracker import KalmanTracker
from trackkit.mot.store import FieldSpec
from trackkit.motion.kalman import Layout

__all__ = ["OCSort", "OCSortConfig"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class OCSortConfig(LifeCycleConfig):
    """OC-SORT parameters (defaults from the paper's code for MOT17); the life-cycle options
    are those of :class:`~trackkit.mot.base.LifeCycleConfig`.

    Attributes:
        det_thresh: detections scoring above this are associated and start tracks.
        iou_threshold: minimum IoU of a match (with the prediction, or with the last
            observation in OCR).
        delta_t: the motion direction is measured over this many frames.
        inertia: weight of the direction-consistency term (OCM).
        use_byte: also match the remaining tracks with low-score detections (ByteTrack's
            second association; off in the paper's MOT17 setting).
        low_thresh: lowest score of a "low" detection when ``use_byte``.
        min_hits: consecutive matches, the birth detection included, that confirm a track
            (tracks born in the first ``min_hits`` frames are confirmed at once). 4 would be
            the paper code's ``min_hits = 3``, which counts the matches after the birth;
            trackkit: 3, with ``max_age`` 69 and ``report_lost`` 9 (0.3 s), chosen by
            leave-one-sequence-out cross-validation (docs/benchmarks.md).
        max_age: frames a track survives unmatched, at 30 fps (scaled by ``frame_rate``);
            2 seconds as in all trackkit trackers (paper: 30).
        report_streak: 3 is the paper code's rule for a track found again after a miss
            (``hit_streak >= min_hits``), which halves the id switches at a small cost in
            HOTA (docs/benchmarks.md, "Id switches").
    """

    RANGES: ClassVar[str] = (
        "det_thresh in [0, 1]; iou_threshold in (0, 1]; delta_t >= 1; inertia >= 0; "
        "low_thresh in [0, det_thresh]"
    )
    SEARCH_SPACE: ClassVar[str] = (
        "det_thresh float [0.3, 0.85]; iou_threshold float [0.1, 0.6]; delta_t int [1, 6]; "
        "inertia float [0.02, 0.6] log; use_byte choice (True, False); "
        "low_thresh float [0.05, 0.3]"
    )

    det_thresh: float = 0.6
    iou_threshold: float = 0.3
    delta_t: int = 3
    inertia: float = 0.2
    use_byte: bool = False
    low_thresh: float = 0.1
    min_hits: int = 3
    max_age: int = 69
    report_lost: int = 9
    report_streak: int = 3


def _direction(src: FloatArray, dst: FloatArray) -> FloatArray:
    """Unit vectors ``(dy, dx)`` from the centres of ``src`` to those of ``dst`` (``[..., 4]``)."""
    d = (dst[..., :2] + dst[..., 2:]) - (src[..., :2] + src[..., 2:])
    d = d[..., ::-1] / 2.0
    return d / (np.sqrt((d * d).sum(-1, keepdims=True)) + 1e-6)


@MOT_TRACKERS.register("ocsort")
class OCSort(KalmanTracker):
    """OC-SORT (Cao 2023): SORT + observation-centric momentum, recovery and re-update."""

    config_class = OCSortConfig
    config: OCSortConfig
    layout: ClassVar[Layout] = "xysr"

    def _uses_oru(self) -> bool:
        return True

    def _extra_fields(self) -> dict[str, FieldSpec]:
        d = self.config.delta_t + 1
        return {"hist": ((d, 4), float), "hist_frame": ((d,), int), "velocity": ((2,), float)}

    def _stages(self) -> list[Matcher]:
        cfg = self.config
        gate = 1.0 - cfg.iou_threshold
        stages: list[Matcher] = [Stage(all_tracks, "high", self._momentum_cost, 0.0)]
        if cfg.use_byte:  # BYTE's second association, with every track still unmatched
            stages.append(byte_stage(Frame.unmatched, gate))
        # OCR: the rest against the tracks' last observations
        stages.append(Stage(Frame.unmatched, "high", self._recovery_cost, gate))
        return stages

    def _detection_pools(self) -> DetectionPools:
        cfg = self.config
        return DetectionPools(cfg.det_thresh, cfg.low_thresh if cfg.use_byte else None, None, True)

    def _begin(self, f: Frame) -> None:
        n = len(self.tracks)
        self._prev = self._previous_obs(all_rows(n)) if n else np.zeros((0, 4))

    def _previous_obs(self, rows: IntArray) -> FloatArray:
        """Each track's observation ``delta_t`` frames ago (or the nearest later one within
        ``delta_t``; else its last observation): ``(len(rows), 4)``."""
        t = self.tracks
        dt = self.config.delta_t
        want = self.frame_id - np.arange(dt, 0, -1)  # oldest first
        slots = want % (dt + 1)
        hist_frame = t.hist_frame[rows][:, slots]
        ok = hist_frame == want
        first = ok.argmax(axis=1)
        out = t.last_obs[rows].copy()
        has = ok.any(axis=1)
        if has.any():
            r = has.nonzero()[0]
            out[r] = t.hist[rows[r], slots[first[r]]]
        return out

    def _momentum_cost(self, f: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
        """OCM: ``-(IoU + inertia * score * direction consistency)``, pairs below the IoU
        threshold forbidden (scores clipped to ``[0, 1]``, as in every cost)."""
        cfg = self.config
        boxes = f.boxes[cols]
        iou = iou_of(f, rows, cols)
        direc = _direction(self._prev[:, None, :], boxes[None, :, :])  # (N, M, 2)
        vel = self.tracks.velocity
        cos = np.clip((direc * vel[:, None, :]).sum(-1), -1.0, 1.0)
        angle = np.arcsin(cos) / np.pi  # (pi/2 - |angle between directions|) / pi
        gain = iou + angle * (cfg.inertia * confidence(f.scores[cols]))[None, :]
        cost = -gain
        cost[iou < cfg.iou_threshold] = np.inf
        return cost

    def _recovery_cost(self, f: Frame, rows: IntArray, cols: IntArray) -> FloatArray:
        """OCR: ``1 - IoU`` of the tracks' last observations with the detections."""
        return 1.0 - iou_similarity(self.tracks.last_obs[rows], f.boxes[cols])

    def _report_boxes(self, rows: IntArray) -> FloatArray:
        return self.tracks.last_obs[rows]  # the matched detections themselves

    def _on_born(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        self._observe(rows, f.boxes[det_rows])

    def _on_matched(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        boxes = f.boxes[det_rows]
        self.tracks.velocity[rows] = _direction(self._prev[rows], boxes)
        self._observe(rows, boxes)

    def _observe(self, rows: IntArray, boxes: FloatArray) -> None:
        """Record the observations of tracks ``rows`` in the momentum history."""
        t = self.tracks
        slot = self.frame_id % (self.config.delta_t + 1)
        t.hist[rows, slot] = boxes
        t.hist_frame[rows, slot] = self.frame_id
