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

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import linear_assignment
from trackkit.association.costs import iou_similarity
from trackkit.config import make_config, require
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import (
    CONFIRMED,
    MOT_TRACKERS,
    MOTTracker,
    TrackStore,
    advance_life,
    new_track_rows,
    prune,
    scaled_age,
)
from trackkit.motion.kalman import KalmanFilter

__all__ = ["OCSort", "OCSortConfig"]


@dataclass(frozen=True)
class OCSortConfig:
    """OC-SORT parameters (defaults from the paper's code for MOT17).

    Attributes:
        det_thresh: detections scoring above this are associated and start tracks.
        iou_threshold: minimum IoU of a match (with the prediction, or with the last
            observation in OCR).
        min_hits: consecutive matches, the birth detection included, that confirm a track
            (tracks born in the first ``min_hits`` frames are confirmed at once). 4 is the
            paper code's ``min_hits = 3``, which counts the matches after the birth.
        max_age: frames a track survives unmatched, at 30 fps (scaled by ``frame_rate``);
            2 seconds as in all trackkit trackers (paper: 30).
        delta_t: the motion direction is measured over this many frames.
        inertia: weight of the direction-consistency term (OCM).
        use_byte: also match the remaining tracks with low-score detections (ByteTrack's
            second association; off in the paper's MOT17 setting).
        low_thresh: lowest score of a "low" detection when ``use_byte``.
        report_streak: a track is reported only once its current run of consecutive
            matches reaches this (tracks born in the first ``min_hits`` frames excepted);
            1 reports every matched confirmed track at once. 3 is the paper code's rule for
            a track found again after a miss (``hit_streak >= min_hits``), which halves the
            id switches at a small cost in HOTA (docs/benchmarks.md, "Id switches").
        frame_rate: frames per second of the video.
    """

    det_thresh: float = 0.6
    iou_threshold: float = 0.3
    min_hits: int = 4
    max_age: int = 60
    delta_t: int = 3
    inertia: float = 0.2
    use_byte: bool = False
    low_thresh: float = 0.1
    report_streak: int = 3
    frame_rate: float = 30.0

    def __post_init__(self) -> None:
        require(0.0 <= self.det_thresh <= 1.0, "det_thresh must be in [0, 1]")
        require(0.0 < self.iou_threshold <= 1.0, "iou_threshold must be in (0, 1]")
        require(self.min_hits >= 1, "min_hits must be >= 1")
        require(self.max_age >= 0, "max_age must be >= 0")
        require(self.delta_t >= 1, "delta_t must be >= 1")
        require(self.report_streak >= 1, "report_streak must be >= 1")
        require(self.inertia >= 0.0, "inertia must be >= 0")
        require(0.0 <= self.low_thresh <= self.det_thresh, "need 0 <= low_thresh <= det_thresh")
        require(self.frame_rate > 0, "frame_rate must be > 0")


def _direction(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit vectors ``(dy, dx)`` from the centres of ``src`` to those of ``dst`` (``[..., 4]``)."""
    d = (dst[..., :2] + dst[..., 2:]) - (src[..., :2] + src[..., 2:])
    d = d[..., ::-1] / 2.0
    return d / (np.sqrt((d * d).sum(-1, keepdims=True)) + 1e-6)


@MOT_TRACKERS.register("ocsort")
class OCSort(MOTTracker):
    """OC-SORT (Cao 2023): SORT + observation-centric momentum, recovery and re-update."""

    def __init__(self, config: OCSortConfig | None = None, **overrides: object) -> None:
        self.config = config if config is not None else make_config(OCSortConfig, **overrides)
        super().__init__()

    def _reset_state(self) -> None:
        d = self.config.delta_t + 1
        self.kf = KalmanFilter("xysr")
        self.tracks = TrackStore(
            {
                "last_obs": ((4,), float),
                "last_obs_frame": ((), int),
                "hist": ((d, 4), float),
                "hist_frame": ((d,), int),
                "velocity": ((2,), float),
                "frozen_mean": ((8,), float, "last"),
                "frozen_cov": ((3, 4), float, "last"),
            }
        )
        self._max_age = scaled_age(self.config.max_age, self.config.frame_rate)

    def _previous_obs(self, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """Each track's observation ``delta_t`` frames ago (or the nearest later one within
        ``delta_t``; else its last observation): ``(len(rows), 4)``."""
        t = self.tracks
        dt = self.config.delta_t
        want = self.frame_id - np.arange(dt, 0, -1)  # oldest first
        slots = want % (dt + 1)
        hist_frame = t["hist_frame"][rows][:, slots]
        ok = hist_frame == want
        first = ok.argmax(axis=1)
        out = t["last_obs"][rows].copy()
        has = ok.any(axis=1)
        if has.any():
            r = has.nonzero()[0]
            out[r] = t["hist"][rows[r], slots[first[r]]]
        return out

    def _match(
        self,
        rows: NDArray[np.int64],
        det_rows: NDArray[np.int64],
        cost: NDArray[np.float64],
        thresh: float,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        a = linear_assignment(cost, thresh)
        return (
            rows[a.matches[:, 0]],
            det_rows[a.matches[:, 1]],
            rows[a.unmatched_rows],
            det_rows[a.unmatched_cols],
        )

    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        t = self.tracks
        kf = self.kf
        scores = dets.scores
        high = (scores > cfg.det_thresh).nonzero()[0]
        if len(t):
            t["mean"], t["cov"] = kf.predict(t["mean"], t["cov"])
            t["since_update"] += 1
        pred = kf.to_xyxy(t["mean"])
        rows = np.arange(len(t))
        self._prev = self._previous_obs(rows) if len(rows) else np.zeros((0, 4))
        m_t: list[NDArray[np.int64]] = []
        m_d: list[NDArray[np.int64]] = []
        # 1) IoU + observation-centric momentum with the confident detections
        if len(rows) and len(high):
            boxes = dets.xyxy[high]
            iou = iou_similarity(pred, boxes)
            direc = _direction(self._prev[:, None, :], boxes[None, :, :])  # (N, M, 2)
            vel = t["velocity"]
            cos = np.clip((direc * vel[:, None, :]).sum(-1), -1.0, 1.0)
            angle = np.arcsin(cos) / np.pi  # (pi/2 - |angle between directions|) / pi
            gain = iou + angle * (cfg.inertia * scores[high])[None, :]
            cost = -gain
            cost[iou < cfg.iou_threshold] = np.inf
            mt, md, rows, high = self._match(rows, high, cost, 0.0)
            m_t.append(mt)
            m_d.append(md)
        # 2) optional BYTE association of the rest with low-score detections
        if cfg.use_byte and len(rows):
            low = ((scores > cfg.low_thresh) & (scores <= cfg.det_thresh)).nonzero()[0]
            if len(low):
                iou = iou_similarity(pred[rows], dets.xyxy[low])
                mt, md, rows, _ = self._match(rows, low, 1.0 - iou, 1.0 - cfg.iou_threshold)
                m_t.append(mt)
                m_d.append(md)
        # 3) OCR: the rest against the tracks' last observations
        if len(rows) and len(high):
            iou = iou_similarity(t["last_obs"][rows], dets.xyxy[high])
            mt, md, rows, high = self._match(rows, high, 1.0 - iou, 1.0 - cfg.iou_threshold)
            m_t.append(mt)
            m_d.append(md)
        det_of_track = np.empty(len(t), np.int64)
        det_of_track.fill(-1)
        if m_t:
            ti = np.concatenate(m_t)
            di = np.concatenate(m_d)
            if len(ti):
                det_of_track[ti] = di
                self._update_matched(ti, dets.xyxy[di], det_of_track >= 0)
                t["score"][ti] = scores[di]
        # unmatched tracks: remember the state at the first miss (for ORU), then age
        first_miss = rows[t["since_update"][rows] == 1]
        if len(first_miss):
            t["frozen_mean"][:, first_miss] = t["mean"][:, first_miss]
            t["frozen_cov"][..., first_miss] = t["cov"][..., first_miss]
        advance_life(t, det_of_track >= 0, cfg.min_hits, drop_tentative=False)
        # new tracks from the confident detections left
        if len(high):
            mean, cov = kf.initiate(dets.xyxy[high])
            first = len(t)
            t.append(
                new_track_rows(
                    self,
                    mean,
                    cov,
                    scores[high],
                    self._class_of(dets, high),
                    self.frame_id <= cfg.min_hits,
                )
            )
            new = np.arange(first, len(t))
            self._observe(new, dets.xyxy[high])
            det_of_track = np.concatenate([det_of_track, high])
        alive = prune(t, self._max_age)
        if alive is not None:
            det_of_track = det_of_track[alive]
        report = (det_of_track >= 0) & (t["state"] == CONFIRMED)
        if cfg.report_streak > 1 and self.frame_id > cfg.min_hits:
            report &= t["streak"] >= cfg.report_streak
        out = report.nonzero()[0]
        return self._make_tracks(
            t["last_obs"][out],
            t["id"][out],
            t["score"][out],
            det_of_track[out],
            t["class_id"][out],
        )

    def _observe(self, rows: NDArray[np.int64], boxes: NDArray[np.float64]) -> None:
        """Record the observations of tracks ``rows`` at this frame."""
        t = self.tracks
        slot = self.frame_id % (self.config.delta_t + 1)
        t["last_obs"][rows] = boxes
        t["last_obs_frame"][rows] = self.frame_id
        t["hist"][rows, slot] = boxes
        t["hist_frame"][rows, slot] = self.frame_id

    def _update_matched(
        self, rows: NDArray[np.int64], boxes: NDArray[np.float64], matched: NDArray[np.bool_]
    ) -> None:
        """Kalman-correct matched tracks (with ORU after a gap), velocity, observations."""
        t = self.tracks
        kf = self.kf
        gap = self.frame_id - t["last_obs_frame"][rows]
        reup = gap > 1
        mean = t["mean"]
        z = mean[:4].copy()
        z[:, rows] = kf.from_xyxy(boxes)
        if reup.any():
            matched = matched.copy()
            matched[rows[reup]] = False
        t["mean"], t["cov"] = kf.update_measurement(mean, t["cov"], z, mask=matched)
        for k in reup.nonzero()[0].tolist():
            self._reupdate(int(rows[k]), boxes[k], int(gap[k]))
        t["velocity"][rows] = _direction(self._prev[rows], boxes)
        self._observe(rows, boxes)

    def _reupdate(self, row: int, box: NDArray[np.float64], gap: int) -> None:
        """ORU: re-run the filter from the lost moment along a linear virtual trajectory."""
        t = self.tracks
        mean, cov = self.kf.reupdate(
            t["frozen_mean"][:, row : row + 1],
            t["frozen_cov"][..., row : row + 1],
            t["last_obs"][row],
            box,
            gap,
        )
        t["mean"][:, row] = mean[:, 0]
        t["cov"][..., row] = cov[..., 0]
