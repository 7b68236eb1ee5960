"""SORT: Simple Online and Realtime Tracking (Bewley, Ge, Ott, Ramos, Upcroft; ICIP 2016).

Each track is a constant-velocity Kalman filter over ``(cx, cy, s, r)`` (centre, area, aspect
ratio; :mod:`trackkit.motion.kalman` layout ``"xysr"``). Every frame: predict all tracks,
match predictions with detections by the Hungarian algorithm on ``1 - IoU`` where "no match"
costs ``1 - iou_threshold``, correct matched tracks, start tentative tracks from unmatched
detections, and report confirmed tracks that were matched this frame (their corrected box).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trackkit.association.stages import (
    DetectionPools,
    Matcher,
    Stage,
    all_tracks,
    iou_distance,
)
from trackkit.mot.base import MOT_TRACKERS, LifeCycleConfig
from trackkit.mot.kalman_tracker import KalmanTracker
from trackkit.motion.kalman import Layout

__all__ = ["Sort", "SortConfig"]


@dataclass(frozen=True)
class SortConfig(LifeCycleConfig):
    """SORT parameters (defaults from the paper and its code unless stated); the life-cycle
    options are those of :class:`~trackkit.mot.base.LifeCycleConfig`.

    Attributes:
        iou_threshold: minimum IoU of a match (paper: 0.3).
        min_score: detections scoring below are ignored (paper: none).
        min_hits: consecutive matches that confirm a track; tracks born in the first
            ``min_hits`` frames are confirmed at once (paper code: 3; trackkit: 1, chosen by
            leave-one-sequence-out cross-validation, docs/benchmarks.md).
        max_age: frames a track survives unmatched, at 30 fps (scaled by ``frame_rate``).
            The paper uses 1 (with its strong private detector); trackkit keeps a lost
            track for about 2 seconds (56, chosen by cross-validation), which carries ids
            through typical pedestrian occlusions.
        report_lost: a lost track's prediction is reported during its first 5 unmatched
            frames at 30 fps (a sixth of a second; chosen by cross-validation; paper: 0).
        report_streak: a track found again after a miss waits for a confirming match before
            it is reported — the paper code's ``hit_streak >= min_hits`` rule, milder.
            Default 2 (docs/benchmarks.md, "Id switches").
        frame_rate: frames per second of the video (scales ``max_age``).
    """

    RANGES: ClassVar[str] = "iou_threshold in (0, 1]"
    SEARCH_SPACE: ClassVar[str] = "iou_threshold float [0.1, 0.7]; min_score float [0, 0.7]"

    iou_threshold: float = 0.3
    min_score: float = 0.0
    report_streak: int = 2
    max_age: int = 56
    min_hits: int = 1
    report_lost: int = 5


@MOT_TRACKERS.register("sort")
class Sort(KalmanTracker):
    """SORT (Bewley 2016): Kalman (cx,cy,s,r) + IoU Hungarian matching."""

    config_class = SortConfig
    config: SortConfig
    layout: ClassVar[Layout] = "xysr"

    def _stages(self) -> list[Matcher]:
        return [Stage(all_tracks, "high", iou_distance, 1.0 - self.config.iou_threshold)]

    def _detection_pools(self) -> DetectionPools:
        min_score = self.config.min_score
        return DetectionPools(min_score if min_score > 0.0 else None)
