"""SORT: Simple Online and Realtime Tracking (Bewley, Ge, Ott, Ramos, Upcroft; ICIP 2016).

Each track is a constant-velocity Kalman filter over ``(cx, cy, s, r)`` (centre, area, aspect
ratio; :mod:`trackkit.motion.kalman` layout ``"xysr"``). Every frame: predict all tracks,
match predictions with detections by the Hungarian algorithm on ``1 - IoU`` where "no match"
costs ``1 - iou_threshold``, correct matched tracks, start tentative tracks from unmatched
detections, and report confirmed tracks that were matched this frame (their corrected box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import gated_matches
from trackkit.association.costs import iou_cost
from trackkit.config import make_config, require
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import (
    CONFIRMED,
    MOT_TRACKERS,
    MOTTracker,
    TrackStore,
    advance_life,
    const,
    new_track_rows,
    prune,
    scaled_age,
)
from trackkit.motion.kalman import KalmanFilter

__all__ = ["Sort", "SortConfig"]


@dataclass(frozen=True)
class SortConfig:
    """SORT parameters (defaults from the paper and its code unless stated).

    Attributes:
        iou_threshold: minimum IoU of a match (paper: 0.3).
        min_hits: consecutive matches that confirm a track; tracks born in the first
            ``min_hits`` frames are confirmed at once (paper code: 3).
        max_age: frames a track survives unmatched, at 30 fps (scaled by ``frame_rate``).
            The paper uses 1 (with its strong private detector); trackkit keeps every lost
            track for 2 seconds (60), which carries ids through typical pedestrian occlusions
            (MOT17 train, docs/benchmarks.md: HOTA 47.7 with 30, 48.5 with 60).
        min_score: detections scoring below are ignored (paper: none).
        report_streak: a track is reported only once its current run of consecutive
            matches reaches this (tracks born in the first ``min_hits`` frames excepted), so
            a track found again after a miss waits for a confirming match before it is
            reported — the paper code's ``hit_streak >= min_hits`` rule, milder. 1 reports
            every matched confirmed track at once. Default 2 (docs/benchmarks.md, "Id
            switches").
        frame_rate: frames per second of the video (scales ``max_age``).
    """

    iou_threshold: float = 0.3
    min_hits: int = 3
    max_age: int = 60
    min_score: float = 0.0
    report_streak: int = 2
    frame_rate: float = 30.0

    def __post_init__(self) -> None:
        require(0.0 < self.iou_threshold <= 1.0, "iou_threshold must be in (0, 1]")
        require(self.min_hits >= 1, "min_hits must be >= 1")
        require(self.report_streak >= 1, "report_streak must be >= 1")
        require(self.max_age >= 0, "max_age must be >= 0")
        require(self.frame_rate > 0, "frame_rate must be > 0")


@MOT_TRACKERS.register("sort")
class Sort(MOTTracker):
    """SORT (Bewley 2016): Kalman (cx,cy,s,r) + IoU Hungarian matching."""

    def __init__(self, config: SortConfig | None = None, **overrides: object) -> None:
        self.config = config if config is not None else make_config(SortConfig, **overrides)
        super().__init__()

    def _reset_state(self) -> None:
        self.kf = KalmanFilter("xysr")
        self.tracks = TrackStore()
        self._max_age = scaled_age(self.config.max_age, self.config.frame_rate)
        self._zero, self._one = const(0), const(1)  # (see ``trackkit.mot.base.const``)

    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        t = self.tracks
        kf = self.kf
        boxes = dets.xyxy
        scores = dets.scores
        det_rows = None
        if cfg.min_score > 0.0 and (scores < cfg.min_score).any():
            det_rows = (scores >= cfg.min_score).nonzero()[0]
            boxes, scores = boxes[det_rows], scores[det_rows]
        n = len(t)
        col = t.col
        arrays = t.arrays
        if n:
            arrays["mean"], arrays["cov"] = kf.predict(arrays["mean"], arrays["cov"])
            t.i[:, col["since_update"]] += self._one
        det_of_track = np.empty(n, np.int64)
        det_of_track.fill(-1)
        if n and len(boxes):
            ti, di = gated_matches(
                iou_cost(kf.to_xyxy(arrays["mean"]), boxes), 1.0 - cfg.iou_threshold
            )
        else:
            ti = di = np.zeros(0, np.int64)
        if len(ti):
            det_of_track[ti] = di
            matched = det_of_track >= self._zero
            # each track's detection as a measurement; unmatched tracks (-1) get the last
            # detection's, a finite value that ``mask`` ignores
            z = kf.from_xyxy(boxes).take(det_of_track, 1, mode="wrap")
            arrays["mean"], arrays["cov"] = kf.update_measurement(
                arrays["mean"], arrays["cov"], z, mask=matched
            )
            t.f[ti, col["score"]] = scores[di]
            if len(di) < len(boxes):
                free = np.ones(len(boxes), bool)
                free[di] = False
                new = free.nonzero()[0]
            else:
                new = di[:0]
        else:
            matched = np.zeros(n, bool)
            new = np.arange(len(boxes))
        advance_life(t, matched, cfg.min_hits, drop_tentative=False)
        if len(new):
            mean, cov = kf.initiate(boxes[new])
            confirm = self.frame_id <= cfg.min_hits
            cls = self._class_of(dets, new if det_rows is None else det_rows[new])
            t.append(new_track_rows(self, mean, cov, scores[new], cls, confirm))
            det_of_track = np.concatenate([det_of_track, new])
        alive = prune(t, self._max_age)
        if alive is not None:
            det_of_track = det_of_track[alive]
        ints = t.i
        # after the life cycle, confirmed tracks are exactly those matched (or born
        # confirmed) this frame
        report = ints[:, col["state"]] == CONFIRMED
        if cfg.report_streak > 1 and self.frame_id > cfg.min_hits:
            report &= ints[:, col["streak"]] >= cfg.report_streak
        out = report.nonzero()[0]
        det_index = det_of_track.take(out)
        if det_rows is not None:
            det_index = det_rows[det_index]
        sel = ints.take(out, 0)
        return self._make_tracks(
            kf.to_xyxy(arrays["mean"].take(out, 1)),
            sel[:, col["id"]],
            t.f.take(out, 0)[:, col["score"]],
            det_index,
            sel[:, col["class_id"]],
        )
