"""Tracktor: tracking by box regression (Bergmann, Meinhardt, Leal-Taixé, "Tracking without
bells and whistles", ICCV 2019).

Tracktor does not associate detections with tracks. Each frame it

1. **regresses** every active track's box from the previous frame into the new one — in the
   paper with the detector's own bounding-box regression head; here with a *regressor*:
   a single-object tracker per track (``regressor="sot:kcf"``, any name of
   :mod:`trackkit.sot`), or ``regressor="detections"``, which moves a box onto the detection
   overlapping it most (the detector "refines" the box; the previous box, shifted by the
   track's last displacement, is the proposal). With ``refine=True`` (default) a SOT's box is
   also refined by the detector: when a detection overlaps it by IoU >= ``refine_iou`` the
   box becomes that detection's (and the SOT restarts on it if they differ by IoU < 0.8) —
   a SOT cannot change its box's aspect ratio, e.g. as an object walks in through the image
   border, which the paper's regression head does;
2. **kills** tracks whose regression score falls below ``active_thresh`` (the paper's
   sigma_active; for a SOT the score is its confidence, for ``detections`` the detection's
   score, 0 without an overlapping detection), then suppresses duplicates: of two tracks
   overlapping by IoU > ``track_nms`` (lambda_active), the lower-scoring one dies;
3. **starts** tracks from the detections scoring at least ``det_thresh`` (sigma_detection) that
   overlap no surviving track by IoU > ``new_nms`` (lambda_new) — detections are used only to
   start tracks and to kill duplicates, never to update them.

Killed tracks stay *inactive* for ``inactive_patience`` frames; a new detection overlapping an
inactive track's last box by IoU >= ``reid_iou`` (and, when both have embeddings, cosine
distance <= ``reid_max_cosine``) revives it with its old id — the paper's short-term re-id.

Input: ``Detections`` (``xyxy``, scores; embeddings optional) and, for SOT regressors, the
frame ``(H, W, 3)`` uint8 BGR. Output rows: ``det_index`` is the detection that started or
revived the track this frame, ``-1`` for regressed boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trackkit.config import Config, require
from trackkit.core.boxes import iou_matrix
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.detectors.nms import nms
from trackkit.errors import TrackkitError
from trackkit.mot.base import MOT_TRACKERS, MOTTracker

__all__ = ["Tracktor", "TracktorConfig"]


@dataclass(frozen=True)
class TracktorConfig(Config):
    """Tracktor parameters (defaults after the paper where they carry over).

    Attributes:
        regressor: ``"sot:NAME"`` (a single-object tracker per track, e.g. ``sot:kcf``) or
            ``"detections"`` (move each box onto its best-overlapping detection).
        regressor_options: options of the single-object tracker.
        refine: refine SOT boxes with overlapping detections (see the module docstring).
        active_thresh: a track whose regression score is below this dies (sigma_active).
        det_thresh: detections scoring at least this may start tracks (sigma_detection).
        track_nms: IoU above which the lower-scoring of two tracks dies (lambda_active).
        new_nms: a detection overlapping a track by IoU above this starts nothing (lambda_new).
        refine_iou: ``detections`` regressor: the proposal must overlap a detection by at
            least this IoU to be moved onto it.
        inactive_patience: frames a killed track can be revived (0: never).
        reid_iou: IoU between a new detection and an inactive track's last box to revive it.
        reid_max_cosine: maximum cosine distance of embeddings to revive (when available).
        min_size: tracks whose box gets narrower or lower than this (pixels) die.

    Time is counted in frames: there is no ``frame_rate`` option
    (:func:`trackkit.mot.base.takes_frame_rate` is false for ``tracktor``).
    """

    RANGES: ClassVar[str] = (
        "active_thresh >= 0; det_thresh >= 0; track_nms in (0, 1]; new_nms in (0, 1]; "
        "refine_iou in (0, 1]; reid_iou in (0, 1]; inactive_patience >= 0; "
        "reid_max_cosine in [0, 2]; min_size >= 0"
    )

    regressor: str = "sot:kcf"
    regressor_options: dict[str, Any] = field(default_factory=dict)
    refine: bool = True
    active_thresh: float = 0.25
    det_thresh: float = 0.5
    track_nms: float = 0.6
    new_nms: float = 0.3
    refine_iou: float = 0.3
    inactive_patience: int = 10
    reid_iou: float = 0.3
    reid_max_cosine: float = 0.3
    min_size: float = 4.0

    def validate(self) -> None:
        require(
            self.regressor == "detections" or self.regressor.startswith("sot:"),
            f"regressor must be 'sot:NAME' or 'detections', got {self.regressor!r}",
        )
        if self.regressor.startswith("sot:"):
            from trackkit import sot

            name = self.regressor[4:]
            require(
                name in sot.available(),
                f"unknown single-object tracker {name!r}; valid: {', '.join(sot.available())}",
            )


@dataclass
class _Track:
    track_id: int
    box: NDArray[np.float64]
    score: float
    class_id: int
    velocity: NDArray[np.float64]  # last displacement of the box (detections regressor)
    last_good: NDArray[np.float64] | None = None  # box before the last regression
    sot: Any = None
    embedding: NDArray[np.float32] | None = None
    inactive_for: int = 0


@MOT_TRACKERS.register("tracktor")
class Tracktor(MOTTracker):
    """Tracktor (Bergmann 2019): boxes regressed frame to frame, detections start tracks."""

    config_class = TracktorConfig
    config: TracktorConfig

    @property
    def needs_frames(self) -> bool:
        """A single-object regressor needs every frame's image."""
        return self.config.regressor != "detections"

    def _reset_state(self) -> None:
        self._active: list[_Track] = []
        self._inactive: list[_Track] = []

    # -- regression ---------------------------------------------------------------------
    def _new_sot(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> Any:
        from trackkit import sot

        tracker = sot.build(self.config.regressor[4:], **self.config.regressor_options)
        tracker.init(frame, box)
        return tracker

    def _regress(self, dets: Detections, frame: NDArray[np.uint8] | None) -> None:
        cfg = self.config
        for t in self._active:
            t.last_good = t.box.copy()
        if cfg.regressor == "detections":
            props = np.array([t.box + t.velocity for t in self._active]).reshape(-1, 4)
            iou = iou_matrix(props, dets.xyxy) if len(dets) else np.zeros((len(props), 0))
            for k, t in enumerate(self._active):
                j = int(np.argmax(iou[k])) if iou.shape[1] else -1
                if j >= 0 and iou[k, j] >= cfg.refine_iou:
                    new = np.asarray(dets.xyxy[j], np.float64)
                    t.velocity = 0.5 * t.velocity + 0.5 * (new - t.box)
                    t.box, t.score = new, float(dets.scores[j])
                else:
                    t.score = 0.0
            return
        assert frame is not None
        for t in self._active:
            res = t.sot.update(frame)
            t.box, t.score = np.asarray(res.box, np.float64), float(res.score)
        if not (cfg.refine and len(dets) and self._active):
            return
        boxes = np.array([t.box for t in self._active])
        iou = iou_matrix(boxes, dets.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] < cfg.refine_iou:
                continue
            t = self._active[r]
            t.box = np.asarray(dets.xyxy[c], np.float64)
            t.score = max(t.score, float(dets.scores[c]))
            if iou[r, c] < 0.8:
                t.sot = self._new_sot(frame, t.box)

    def _kill(self, keep: NDArray[np.bool_]) -> None:
        for t, k in zip(self._active, keep, strict=True):
            if not k:
                t.sot, t.inactive_for = None, 0
                if t.last_good is not None:
                    t.box = t.last_good
                if self.config.inactive_patience > 0:
                    self._inactive.append(t)
        self._active = [t for t, k in zip(self._active, keep, strict=True) if k]

    # -- one frame ----------------------------------------------------------------------
    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        if frame is None and self.needs_frames:
            raise TrackkitError("Tracktor with a single-object regressor needs the frame image")
        h, w = (frame.shape[:2]) if frame is not None else (np.inf, np.inf)
        # 1. regress, 2. kill weak, vanished and duplicate tracks
        self._regress(dets, frame)
        if self._active:
            boxes = np.array([t.box for t in self._active])
            scores = np.array([t.score for t in self._active])
            clipped = boxes.copy()
            clipped[:, 0::2] = np.clip(clipped[:, 0::2], 0, w)
            clipped[:, 1::2] = np.clip(clipped[:, 1::2], 0, h)
            size_ok = np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1])
            alive = (scores >= cfg.active_thresh) & (size_ok >= cfg.min_size)
            idx = np.flatnonzero(alive)
            kept = idx[nms(clipped[idx], scores[idx], cfg.track_nms)] if len(idx) else idx
            keep = np.zeros(len(self._active), bool)
            keep[kept] = True
            for t, b in zip(self._active, clipped, strict=True):
                t.box = b
            self._kill(keep)
        # 3. new tracks from detections away from every surviving track
        cand = np.flatnonzero(dets.scores >= cfg.det_thresh)
        if len(cand) and self._active:
            act = np.array([t.box for t in self._active])
            cand = cand[iou_matrix(dets.xyxy[cand], act).max(axis=1) <= cfg.new_nms]
        cand = cand[nms(dets.xyxy[cand], dets.scores[cand], cfg.new_nms)] if len(cand) else cand
        det_index = [-1] * len(self._active)
        revived = self._revive(dets, cand, frame)
        for j, t in revived:
            self._active.append(t)
            det_index.append(j)
        used = {j for j, _ in revived}
        fresh = [int(j) for j in cand if int(j) not in used]
        for j, tid in zip(fresh, self._new_ids(len(fresh)), strict=True):
            box = np.asarray(dets.xyxy[j], np.float64)
            t = _Track(
                int(tid),
                box,
                float(dets.scores[j]),
                -1 if dets.class_ids is None else int(dets.class_ids[j]),
                np.zeros(4),
                embedding=None if dets.embeddings is None else dets.embeddings[j].copy(),
            )
            if frame is not None and cfg.regressor != "detections":
                t.sot = self._new_sot(frame, box)
            self._active.append(t)
            det_index.append(j)
        # age the inactive tracks
        for t in self._inactive:
            t.inactive_for += 1
        self._inactive = [t for t in self._inactive if t.inactive_for <= cfg.inactive_patience]
        return self._output(det_index)

    def _revive(
        self, dets: Detections, cand: NDArray[np.int64], frame: NDArray[np.uint8] | None
    ) -> list[tuple[int, _Track]]:
        """Re-identify inactive tracks among the candidate detections (IoU + appearance)."""
        cfg = self.config
        if not len(cand) or not self._inactive:
            return []
        last = np.array([t.box for t in self._inactive])
        iou = iou_matrix(last, dets.xyxy[cand])
        ok = iou >= cfg.reid_iou
        if dets.embeddings is not None and dets.embeddings.shape[1]:
            for k, t in enumerate(self._inactive):
                if t.embedding is not None and len(t.embedding) == dets.embeddings.shape[1]:
                    a = t.embedding / (np.linalg.norm(t.embedding) + 1e-12)
                    e = dets.embeddings[cand]
                    b = e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-12)
                    ok[k] &= (1.0 - b @ a) <= cfg.reid_max_cosine
        rows, cols = linear_sum_assignment(-np.where(ok, iou, 0.0))
        out = []
        for r, c in zip(rows, cols, strict=True):
            if not ok[r, c]:
                continue
            t, j = self._inactive[r], int(cand[c])
            t.box, t.score = np.asarray(dets.xyxy[j], np.float64), float(dets.scores[j])
            t.velocity = np.zeros(4)
            if dets.embeddings is not None:
                t.embedding = dets.embeddings[j].copy()
            if frame is not None and cfg.regressor != "detections":
                t.sot = self._new_sot(frame, t.box)
            out.append((j, t))
        revived = {id(t) for _, t in out}
        self._inactive = [t for t in self._inactive if id(t) not in revived]
        return out

    def _output(self, det_index: list[int]) -> Tracks:
        if not self._active:
            return Tracks.empty()
        cls = np.array([t.class_id for t in self._active], np.int64)
        return self._make_tracks(
            np.array([t.box for t in self._active]),
            np.array([t.track_id for t in self._active], np.int64),
            np.array([t.score for t in self._active]),
            np.asarray(det_index, np.int64),
            cls,
        )
