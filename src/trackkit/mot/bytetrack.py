"""ByteTrack: multi-object tracking by associating every detection box (Zhang et al., ECCV 2022).

Detections are split by score. Confident ones are matched first with all confirmed and lost
tracks (IoU cost with the detection score fused in); the tracks still unmatched that were
tracked in the previous frame then get a second chance with the low-score detections, which
are mostly occluded objects — this recovers them instead of throwing them away as
background. Tentative tracks (born in the previous frame) are matched last with the
confident detections left; the confident detections left after that start new tracks.

The Kalman filter uses the ``(cx, cy, a, h)`` layout of DeepSORT. :class:`ByteTrack` is also
the base of BoT-SORT (:mod:`trackkit.mot.botsort`), which changes the layout and the cost of
the first and third stages and adds camera motion compensation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.association.stages import (
    Cost,
    DetectionPools,
    Frame,
    Matcher,
    Stage,
    byte_stage,
    fused_iou_distance,
    iou_distance,
)
from trackkit.mot.adaptive import AdaptiveKalmanFilter, InnovationMonitor
from trackkit.mot.base import MOT_TRACKERS, LifeCycleConfig
from trackkit.mot.kalman_tracker import KalmanTracker
from trackkit.mot.store import CONFIRMED, TENTATIVE, const
from trackkit.motion.kalman import Layout

__all__ = ["ByteTrack", "ByteTrackConfig"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class ByteTrackConfig(LifeCycleConfig):
    """ByteTrack parameters; the life-cycle options are those of
    :class:`~trackkit.mot.base.LifeCycleConfig`. Defaults: ``track_thresh``, ``low_thresh``,
    ``match_thresh``, ``unconfirmed_match_thresh`` and ``reupdate`` were chosen by
    ``trackkit tune`` (100 trials, leave-one-sequence-out on MOT17 train: held-out HOTA
    48.88 against 48.79 for the paper's values 0.5, 0.1, 0.8, 0.7, off; docs/benchmarks.md);
    the others are the paper's MOT17 code's, except ``max_age`` and ``report_lost``
    (trackkit's choices for all its trackers, see below).

    Attributes:
        track_thresh: detections scoring at least this are "high" (first association).
        low_thresh: detections scoring above this and below ``track_thresh`` are "low".
        new_track_thresh: minimum score of a detection that starts a track
            (``track_thresh + 0.1`` in the paper's code).
        match_thresh: maximum cost (``1 - IoU * score``) of a first-association match.
        second_match_thresh: maximum ``1 - IoU`` with a low-score detection.
        unconfirmed_match_thresh: maximum cost for matching tentative tracks.
        fuse_score: multiply IoU by the detection score in the first and third association.
        max_age: frames a lost track is kept, at 30 fps (scaled by ``frame_rate``); 2 seconds
            as in all trackkit trackers (paper: 30). **Alias** ``track_buffer`` (the paper's
            name): ``build("bytetrack", track_buffer=30)`` sets ``max_age``; giving both is a
            :class:`~trackkit.errors.ConfigError`.
        min_hits: consecutive matches that confirm a track (paper: 2, the match after the
            birth); only tracks born in the first frame are confirmed at once.
        duplicate_iou: tracked and lost tracks overlapping more than this are duplicates;
            the younger one is removed.
        reupdate: when a lost track is found again, re-run its Kalman filter along the
            virtual trajectory between its last and new observation (OC-SORT's ORU) instead
            of keeping the drifted state (not in ByteTrack).
        report_lost: lost tracks are reported with their predicted box and ``det_index`` -1
            during their first ``report_lost`` unmatched frames (at 30 fps) — bridging short
            detector misses where the constant-velocity prediction is still reliable
            (trackkit: 3, a tenth of a second; ByteTrack: 0).
        velocity_noise_target: adapt the Kalman velocity noise to the video
            (:mod:`trackkit.mot.adaptive`): the median normalized innovation of the matched
            box centres it aims at (0: off, the paper's fixed noise). Chosen by
            leave-one-sequence-out on MOT17 train and its 1/2 and 1/3 frame-rate variants
            (``benchmarks/mot_cv.py --noise-grid``: held-out HOTA / MOTA / IDF1 over the 21
            variants 48.33 / 48.99 / 56.77 against 47.85 / 48.48 / 56.04 with the fixed
            noise; BoT-SORT: 0.16).
        velocity_noise_max: the largest multiplier of the velocity noise std.
    """

    ALIASES: ClassVar[dict[str, str]] = {"track_buffer": "max_age"}
    RANGES: ClassVar[str] = (
        "new_track_thresh >= 0; match_thresh in (0, 1]; second_match_thresh in (0, 1]; "
        "unconfirmed_match_thresh in (0, 1]; duplicate_iou in (0, 1]; "
        "low_thresh in [0, track_thresh]; velocity_noise_target >= 0; velocity_noise_max >= 1"
    )
    SEARCH_SPACE: ClassVar[str] = (
        "track_thresh float [0.3, 0.85]; low_thresh float [0.05, 0.3]; "
        "new_track_thresh float [0.3, 0.95]; match_thresh float [0.5, 0.95]; "
        "second_match_thresh float [0.2, 0.9]; unconfirmed_match_thresh float [0.4, 0.95]; "
        "fuse_score choice (True, False); duplicate_iou float [0.5, 1.0]; "
        "reupdate choice (True, False); velocity_noise_target float [0.05, 0.7] log; "
        "velocity_noise_max float [2, 40] log"
    )

    track_thresh: float = 0.62
    low_thresh: float = 0.068
    new_track_thresh: float = 0.6
    match_thresh: float = 0.84
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.646
    fuse_score: bool = True
    duplicate_iou: float = 0.85
    reupdate: bool = True
    min_hits: int = 2
    report_lost: int = 3
    velocity_noise_target: float = 0.11
    velocity_noise_max: float = 20.0

    @property
    def track_buffer(self) -> int:
        """The paper's name of ``max_age``."""
        return self.max_age


@MOT_TRACKERS.register("bytetrack")
class ByteTrack(KalmanTracker):
    """ByteTrack (Zhang 2022): high- then low-score association, Kalman (cx,cy,a,h)."""

    config_class: ClassVar[type[ByteTrackConfig]] = ByteTrackConfig
    config: ByteTrackConfig
    layout: ClassVar[Layout] = "xyah"
    drop_tentative = True
    hold_lost_size = True

    def _reset_state(self) -> None:
        super()._reset_state()
        cfg = self.config
        self._duplicate_iou = const(cfg.duplicate_iou)  # (a per-frame comparison)
        self._monitor: InnovationMonitor | None = None
        if cfg.velocity_noise_target > 0:
            kf = AdaptiveKalmanFilter(self.layout)
            self.kf = kf
            self._monitor = InnovationMonitor(kf, cfg.velocity_noise_target, cfg.velocity_noise_max)
        else:  # the hooks below only feed the monitor: skip them (unless a subclass adds)
            cls = type(self)
            skip = {"_begin"}
            if cls._on_matched is ByteTrack._on_matched:
                skip.add("_on_matched")
            if cls._on_born is ByteTrack._on_born:
                skip.add("_on_born")
            self._hooks = self._hooks - skip

    def _begin(self, f: Frame) -> None:
        if self._monitor is not None:
            self._monitor.before(self.tracks.mean, self.tracks.cov)

    def _on_matched(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        if self._monitor is not None:
            self._monitor.observe(rows, f.boxes.take(det_rows, 0))

    def _on_born(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        """New tracks have no innovation."""

    def _uses_oru(self) -> bool:
        return self.config.reupdate

    def _cost(self) -> Cost:
        """Cost of the first and third stages (confident detections)."""
        return fused_iou_distance if self.config.fuse_score else iou_distance

    def _stages(self) -> list[Matcher]:
        cfg = self.config
        cost = self._cost()
        return [
            # 1) confirmed + lost tracks with the confident detections
            Stage(self._known, "high", cost, cfg.match_thresh),
            # 2) tracks tracked in the previous frame with the low-score detections
            byte_stage(self._tracked_unmatched, cfg.second_match_thresh),
            # 3) tentative tracks with the confident detections left
            Stage(self._tentative, "high", cost, cfg.unconfirmed_match_thresh),
        ]

    def _known(self, f: Frame) -> IntArray:
        return self.tracks.rows_not(TENTATIVE)

    def _tracked_unmatched(self, f: Frame) -> IntArray:
        return self.tracks.rows_in(CONFIRMED, f.det_of_track)

    def _tentative(self, f: Frame) -> IntArray:
        return self.tracks.rows_in(TENTATIVE)

    def _detection_pools(self) -> DetectionPools:
        cfg = self.config
        return DetectionPools(cfg.track_thresh, cfg.low_thresh, cfg.new_track_thresh)

    def _born_confirmed(self) -> bool:
        return self.frame_id == 1

    def _select_births(self, f: Frame, new: IntArray) -> IntArray:
        """ByteTrack's duplicate removal: a track matched (or born) this frame and a lost
        track overlapping by more than ``duplicate_iou`` are one object; the younger goes.

        Active tracks are represented by their detection box (exact for new tracks, the
        measurement of the corrected state for matched ones) and lost tracks by their
        prediction, so the IoUs come from this frame's track-detection IoU matrix.
        """
        t = self.tracks
        lost = t.lost_within(self._max_age_c)
        if len(lost) == 0:
            return new
        close = f.iou.take(lost, 0) > self._duplicate_iou
        if not np.count_nonzero(close):  # the usual frame: no lost track overlaps anything
            return new
        det_of_track = f.det_of_track
        act = (det_of_track >= 0).nonzero()[0]
        cols = np.concatenate([det_of_track[act], new])
        pl, pa = close.take(cols, 1).nonzero()
        if len(pl) == 0:
            return new
        start = np.concatenate([t.start[act], np.full(len(new), self.frame_id)])
        older_active = start[pa] < t.start[lost[pl]]
        keep = np.ones(len(t), bool)
        keep[lost[pl[older_active]]] = False
        young = pa[~older_active]
        keep[act[young[young < len(act)]]] = False
        drop_new = np.zeros(len(new), bool)
        drop_new[young[young >= len(act)] - len(act)] = True
        t.keep(keep)
        f.keep_tracks(keep)
        return new[~drop_new]
