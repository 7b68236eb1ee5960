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
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.association.stages import (
    CascadeStage,
    DetectionPools,
    Frame,
    Matcher,
    Stage,
    iou_distance,
)
from trackkit.mot.base import MOT_TRACKERS, LifeCycleConfig
from trackkit.mot.kalman_tracker import KalmanTracker
from trackkit.mot.store import TENTATIVE, FieldSpec
from trackkit.motion.kalman import CHI2INV95, Layout

__all__ = ["DeepSort", "DeepSortConfig"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DeepSortConfig(LifeCycleConfig):
    """DeepSORT parameters (defaults from the paper's code); the life-cycle options are
    those of :class:`~trackkit.mot.base.LifeCycleConfig`.

    Attributes:
        max_cosine_distance: largest appearance distance of a match.
        nn_budget: embeddings kept per track (the most recent).
        max_iou_distance: largest ``1 - IoU`` of a match in the IoU stage (and in the cascade
            when detections have no embeddings).
        min_confidence: detections scoring below are ignored.
        motion_weight: ``lambda``, the weight of the normalised Mahalanobis distance in the
            cascade cost when embeddings are present (paper: 0).
        gating_threshold: squared Mahalanobis gate (chi-square 0.95 quantile, 4 dof).
        max_age: frames a track survives unmatched (at 30 fps; scaled by ``frame_rate``).
        min_hits: consecutive matches that confirm a track. **Alias** ``n_init`` (the
            paper's name): ``build("deepsort", n_init=2)`` sets ``min_hits``; giving both is
            a :class:`~trackkit.errors.ConfigError`. Tracks are born confirmed only when it
            is 1.
    """

    ALIASES: ClassVar[dict[str, str]] = {"n_init": "min_hits"}
    RANGES: ClassVar[str] = (
        "max_cosine_distance in (0, 2]; nn_budget >= 1; max_iou_distance in (0, 1]; "
        "max_age >= 1; motion_weight in [0, 1]; gating_threshold > 0"
    )
    SEARCH_SPACE: ClassVar[str] = (
        "max_iou_distance float [0.4, 0.95]; min_confidence float [0, 0.7]; "
        "gating_threshold float [3, 40] log"
    )

    max_cosine_distance: float = 0.2
    nn_budget: int = 100
    max_iou_distance: float = 0.7
    min_confidence: float = 0.3
    motion_weight: float = 0.0
    gating_threshold: float = CHI2INV95[4]
    max_age: int = 70

    @property
    def n_init(self) -> int:
        """The paper's name of ``min_hits``."""
        return self.min_hits


@MOT_TRACKERS.register("deepsort")
class DeepSort(KalmanTracker):
    """DeepSORT (Wojke 2017): appearance cascade + Mahalanobis gate + IoU, Kalman (cx,cy,a,h)."""

    config_class = DeepSortConfig
    config: DeepSortConfig
    layout: ClassVar[Layout] = "xyah"
    drop_tentative = True

    def _extra_fields(self) -> dict[str, FieldSpec]:
        return {"gallery": ((), object)}

    def _detection_pools(self) -> DetectionPools:
        return DetectionPools(self.config.min_confidence)

    def _stages(self) -> list[Matcher]:
        return [
            # matching cascade over confirmed tracks, most recently seen first
            CascadeStage(self._confirmed, "high", self._cascade_cost, self._levels),
            # IoU stage: tentative tracks and tracks missed for one frame only
            Stage(self._recent, "high", iou_distance, self.config.max_iou_distance),
        ]

    def _born_confirmed(self) -> bool:
        return self.config.min_hits <= 1

    def _confirmed(self, f: Frame) -> IntArray:
        return self.tracks.rows_not(TENTATIVE)

    def _levels(self, rows: IntArray) -> IntArray:
        return self.tracks.since_update[rows]

    def _recent(self, f: Frame) -> IntArray:
        t = self.tracks
        return ((f.det_of_track < 0) & ((t.state == TENTATIVE) | (t.since_update == 1))).nonzero()[
            0
        ]

    def _cascade_cost(self, f: Frame, rows: IntArray, cols: IntArray) -> tuple[FloatArray, float]:
        """Gated cost of tracks ``rows`` against detections ``cols`` and its threshold
        (computed once per frame for all confirmed tracks; the cascade slices it)."""
        cfg = self.config
        t = self.tracks
        maha = self.kf.gating_distance(t.mean[:, rows], t.cov[..., rows], f.boxes[cols])
        if f.embeddings is None:  # IoU stands in for appearance inside the gate
            cost = iou_distance(f, rows, cols)
            thresh = cfg.max_iou_distance
        else:
            emb = _unit(f.embeddings[cols])
            app = np.full((len(rows), len(cols)), np.inf)
            for k, g in enumerate(t.gallery[rows]):
                if g is not None:
                    app[k] = (1.0 - g @ emb.T).min(axis=0)
            lam = cfg.motion_weight
            cost = lam * (maha / cfg.gating_threshold) + (1.0 - lam) * app
            cost[app > cfg.max_cosine_distance] = np.inf
            thresh = lam + (1.0 - lam) * cfg.max_cosine_distance
        cost[maha > cfg.gating_threshold] = np.inf
        return cost, thresh

    def _on_matched(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        """Append the matched detections' unit embeddings to the tracks' galleries."""
        if f.embeddings is None:
            return
        gal = self.tracks.gallery
        budget = self.config.nn_budget
        for r, e in zip(rows.tolist(), _unit(f.embeddings[det_rows])):
            g = gal[r]
            gal[r] = e[None, :] if g is None else np.concatenate([g, e[None, :]])[-budget:]


def _unit(emb: NDArray[np.floating]) -> FloatArray:
    """Rows scaled to unit length, as float64."""
    out = emb.astype(np.float64)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out
