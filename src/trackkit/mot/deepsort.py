"""DeepSORT: simple online and realtime tracking with a deep association metric
(Wojke, Bewley, Paulus; ICIP 2017).

Kalman filter in ``(cx, cy, a, h)``. Confirmed tracks (tracked or lost) are matched first,
by a **matching cascade**: tracks unmatched for 1 frame, then 2, ... up to ``max_age``, each
level solved by the Hungarian algorithm on the appearance cost — the smallest cosine
distance between the detection's embedding and the track's last ``nn_budget`` embeddings —
restricted to pairs inside the Kalman **Mahalanobis gate** (chi-square 95 % with 4 degrees of
freedom) and below ``max_cosine_distance``. Tentative tracks and tracks lost for one frame
then get an IoU matching with the detections left. The paper's cost is
``lambda * mahalanobis + (1 - lambda) * cosine`` with ``lambda = 0``. Without embeddings in the
detections, ``1 - IoU`` takes the place of the appearance distance inside the same Mahalanobis
gate and cascade (SORT's cost with DeepSORT's gate and priorities). The Mahalanobis distance
alone (``lambda = 1``) is a poor motion-only cost: the gate of a track lost for long is wide
and its distance small, so lost tracks steal detections (MOT17 train: HOTA 40.8 against 48.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import gated_matches, linear_assignment
from trackkit.association.costs import iou_cost
from trackkit.config import make_config, require
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import (
    CONFIRMED,
    MOT_TRACKERS,
    TENTATIVE,
    MOTTracker,
    TrackStore,
    advance_life,
    new_track_rows,
    prune,
    scaled_age,
)
from trackkit.motion.kalman import CHI2INV95, KalmanFilter

__all__ = ["DeepSort", "DeepSortConfig"]


@dataclass(frozen=True)
class DeepSortConfig:
    """DeepSORT parameters (defaults from the paper's code).

    Attributes:
        max_cosine_distance: largest appearance distance of a match.
        nn_budget: embeddings kept per track (the most recent).
        max_iou_distance: largest ``1 - IoU`` of a match in the IoU stage (and in the cascade
            when detections have no embeddings).
        max_age: frames a track survives unmatched (at 30 fps; scaled by ``frame_rate``).
        n_init: consecutive matches that confirm a track.
        min_confidence: detections scoring below are ignored.
        motion_weight: ``lambda``, the weight of the normalised Mahalanobis distance in the
            cascade cost when embeddings are present (paper: 0).
        gating_threshold: squared Mahalanobis gate (chi-square 0.95 quantile, 4 dof).
        frame_rate: frames per second of the video.
    """

    max_cosine_distance: float = 0.2
    nn_budget: int = 100
    max_iou_distance: float = 0.7
    max_age: int = 70
    n_init: int = 3
    min_confidence: float = 0.3
    motion_weight: float = 0.0
    gating_threshold: float = CHI2INV95[4]
    frame_rate: float = 30.0

    def __post_init__(self) -> None:
        require(0.0 < self.max_cosine_distance <= 2.0, "max_cosine_distance must be in (0, 2]")
        require(self.nn_budget >= 1, "nn_budget must be >= 1")
        require(0.0 < self.max_iou_distance <= 1.0, "max_iou_distance must be in (0, 1]")
        require(self.max_age >= 1, "max_age must be >= 1")
        require(self.n_init >= 1, "n_init must be >= 1")
        require(0.0 <= self.motion_weight <= 1.0, "motion_weight must be in [0, 1]")
        require(self.gating_threshold > 0, "gating_threshold must be > 0")
        require(self.frame_rate > 0, "frame_rate must be > 0")


@MOT_TRACKERS.register("deepsort")
class DeepSort(MOTTracker):
    """DeepSORT (Wojke 2017): appearance cascade + Mahalanobis gate + IoU, Kalman (cx,cy,a,h)."""

    def __init__(self, config: DeepSortConfig | None = None, **overrides: object) -> None:
        self.config = config if config is not None else make_config(DeepSortConfig, **overrides)
        super().__init__()

    def _reset_state(self) -> None:
        self.kf = KalmanFilter("xyah")
        self.tracks = TrackStore({"gallery": ((), object)})
        self._max_age = scaled_age(self.config.max_age, self.config.frame_rate)

    def _cascade_cost(
        self, rows: NDArray[np.int64], dets: Detections, det_rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], float]:
        """Gated cost of tracks ``rows`` against detections ``det_rows`` and its threshold
        (computed once per frame for all confirmed tracks; the cascade slices it)."""
        cfg = self.config
        t = self.tracks
        mean = t["mean"][:, rows]
        maha = self.kf.gating_distance(mean, t["cov"][..., rows], dets.xyxy[det_rows])
        if dets.embeddings is None:  # IoU stands in for appearance inside the gate
            cost = iou_cost(self._pred[rows], dets.xyxy[det_rows])
            thresh = cfg.max_iou_distance
        else:
            emb = dets.embeddings[det_rows].astype(np.float64)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            app = np.full((len(rows), len(det_rows)), np.inf)
            for k, g in enumerate(t["gallery"][rows]):
                if g is not None:
                    app[k] = (1.0 - g @ emb.T).min(axis=0)
            lam = cfg.motion_weight
            cost = lam * (maha / cfg.gating_threshold) + (1.0 - lam) * app
            cost[app > cfg.max_cosine_distance] = np.inf
            thresh = lam + (1.0 - lam) * cfg.max_cosine_distance
        cost[maha > cfg.gating_threshold] = np.inf
        return cost, thresh

    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        t = self.tracks
        kf = self.kf
        det_rows = (dets.scores >= cfg.min_confidence).nonzero()[0]
        if len(t):
            t["mean"], t["cov"] = kf.predict(t["mean"], t["cov"])
            t["since_update"] += 1
        self._pred = kf.to_xyxy(t["mean"])
        state = t["state"]
        since = t["since_update"]
        m_t: list[NDArray[np.int64]] = []
        m_d: list[NDArray[np.int64]] = []
        free = det_rows
        # matching cascade over confirmed tracks, most recently seen first
        confirmed = (state != TENTATIVE).nonzero()[0]
        if len(confirmed) and len(free):
            cost_all, thresh = self._cascade_cost(confirmed, dets, free)
            free_cols = np.arange(len(free))
            levels = since[confirmed]
            # only the levels that have a track with a candidate below the threshold (a
            # level whose tracks have none matches nothing and leaves the columns free)
            has = (cost_all < thresh).any(axis=1)
            for level in np.unique(levels[has]).tolist():
                if len(free_cols) == 0:
                    break
                local = (levels == level).nonzero()[0]
                r, c = gated_matches(cost_all.take(local, 0).take(free_cols, 1), thresh)
                if len(r):
                    m_t.append(confirmed[local[r]])
                    m_d.append(free[free_cols[c]])
                    left = np.ones(len(free_cols), bool)
                    left[c] = False
                    free_cols = free_cols[left]
            free = free[free_cols]
        det_of_track = np.empty(len(t), np.int64)
        det_of_track.fill(-1)
        for rows, cols in zip(m_t, m_d):
            det_of_track[rows] = cols
        # IoU stage: tentative tracks and tracks missed for one frame only
        cand = ((det_of_track < 0) & ((state == TENTATIVE) | (since == 1))).nonzero()[0]
        if len(cand) and len(free):
            cost = iou_cost(self._pred[cand], dets.xyxy[free])
            a = linear_assignment(cost, cfg.max_iou_distance)
            det_of_track[cand[a.matches[:, 0]]] = free[a.matches[:, 1]]
            free = free[a.unmatched_cols]
        matched = det_of_track >= 0
        if matched.any():
            ti = matched.nonzero()[0]
            di = det_of_track[ti]
            mean = t["mean"]
            z = mean[:4].copy()
            z[:, ti] = kf.from_xyxy(dets.xyxy[di])
            t["mean"], t["cov"] = kf.update_measurement(mean, t["cov"], z, mask=matched)
            t["score"][ti] = dets.scores[di]
            self._add_features(ti, dets, di)
        advance_life(t, matched, cfg.n_init, drop_tentative=True)
        if len(free):
            mean, cov = kf.initiate(dets.xyxy[free])
            first = len(t)
            t.append(
                new_track_rows(
                    self, mean, cov, dets.scores[free], self._class_of(dets, free), cfg.n_init <= 1
                )
            )
            det_of_track = np.concatenate([det_of_track, free])
            self._add_features(np.arange(first, len(t)), dets, free)
        alive = prune(t, self._max_age)
        if alive is not None:
            det_of_track = det_of_track[alive]
        out = ((det_of_track >= 0) & (t["state"] == CONFIRMED)).nonzero()[0]
        return self._make_tracks(
            kf.to_xyxy(t["mean"][:, out]),
            t["id"][out],
            t["score"][out],
            det_of_track[out],
            t["class_id"][out],
        )

    def _add_features(
        self, rows: NDArray[np.int64], dets: Detections, det_rows: NDArray[np.int64]
    ) -> None:
        """Append the matched detections' unit embeddings to the tracks' galleries."""
        if dets.embeddings is None:
            return
        emb = dets.embeddings[det_rows].astype(np.float64)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        gal = self.tracks["gallery"]
        budget = self.config.nn_budget
        for r, e in zip(rows.tolist(), emb):
            g = gal[r]
            gal[r] = e[None, :] if g is None else np.concatenate([g, e[None, :]])[-budget:]
