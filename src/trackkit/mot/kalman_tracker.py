"""The per-frame template of the Kalman trackers (SORT, DeepSORT, ByteTrack, OC-SORT,
BoT-SORT) and OC-SORT's observation-centric re-update, written once for all of them.

Every frame, :meth:`KalmanTracker._step` runs

1. **predict** every track one frame ahead (constant-velocity Kalman filter,
   :mod:`trackkit.motion.kalman`; camera-motion compensation where a tracker has it);
2. the tracker's **association stages** in order (:mod:`trackkit.association.stages`), each
   matching some tracks with some detections by a gated Hungarian assignment;
   (each a :class:`~trackkit.association.stages.Stage` naming its tracks, its detection
   pool — ``"high"`` or ``"low"``, :class:`DetectionPools` — its cost and its
   threshold);
3. **correct** the matched tracks with their detections (and re-update those found again
   after a gap, when the tracker keeps an :class:`ObservationMemory`);
4. the **life cycle** of every track (:meth:`TrackStore.advance_life`);
5. **birth**: the free high detections scoring enough (:meth:`DetectionPools.births`)
   start tentative tracks;
6. **prune** tracks unmatched for more than ``max_age`` frames;
7. **report** the confirmed tracks (optionally also briefly lost ones) as :class:`Tracks`.

A tracker is its stages, its detection pools and a few hooks (the methods starting with
``_`` below that do nothing here). The module ``kalman_tracker`` holds no registered
tracker.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.association.stages import DetectionPools, Frame, Matcher
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import LifeCycleConfig, MOTTracker, scaled_age
from trackkit.mot.store import FieldSpec, TrackStore, const
from trackkit.motion.kalman import KalmanFilter, Layout
from trackkit.motion.reupdate import reupdate

__all__ = ["KalmanTracker", "ObservationMemory"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class ObservationMemory:
    """Each track's last observation, and OC-SORT's observation-centric re-update (ORU; Cao
    et al., CVPR 2023): when a track is found again after ``g > 1`` unobserved frames, its
    filter is rolled back to the state it had at its first miss and re-run along a virtual
    trajectory interpolated between the last and the new observation
    (:func:`trackkit.motion.reupdate.reupdate`), undoing the drift accumulated in the gap.

    Store fields: ``last_obs`` ``(N, 4)`` xyxy and ``last_obs_frame`` (int), and the state at
    the first miss, ``frozen_mean`` ``(8, N)`` and ``frozen_cov`` ``(3, 4, N)``.
    """

    FIELDS: ClassVar[dict[str, FieldSpec]] = {
        "last_obs": ((4,), float),
        "last_obs_frame": ((), int),
        "frozen_mean": ((8,), float, "last"),
        "frozen_cov": ((3, 4), float, "last"),
    }

    @staticmethod
    def reupdate(
        t: TrackStore, kf: KalmanFilter, rows: IntArray, boxes: FloatArray, frame_id: int
    ) -> None:
        """Re-update the tracks ``rows`` (just corrected with ``boxes`` ``(n, 4)``) that were
        unobserved for more than one frame; then record the observations."""
        gaps = frame_id - t.last_obs_frame[rows]
        for k in (gaps > 1).nonzero()[0].tolist():
            r = int(rows[k])
            mean, cov = reupdate(
                kf,
                t.frozen_mean[:, r : r + 1],
                t.frozen_cov[..., r : r + 1],
                t.last_obs[r],
                boxes[k],
                int(gaps[k]),
            )
            t.mean[:, r] = mean[:, 0]
            t.cov[..., r] = cov[..., 0]
        ObservationMemory.observe(t, rows, boxes, frame_id)

    @staticmethod
    def observe(t: TrackStore, rows: IntArray, boxes: FloatArray, frame_id: int) -> None:
        """Record ``boxes`` as the observations of tracks ``rows`` at ``frame_id``."""
        t.last_obs[rows] = boxes
        t.last_obs_frame[rows] = frame_id

    @staticmethod
    def freeze(t: TrackStore, rows: IntArray) -> None:
        """Remember the state of tracks ``rows`` at their first miss."""
        if len(rows):
            t.frozen_mean[:, rows] = t.mean[:, rows]
            t.frozen_cov[..., rows] = t.cov[..., rows]


class KalmanTracker(MOTTracker):
    """Base of the trackers by detection with one Kalman filter per track: the per-frame
    template (see the module docstring).

    Subclasses set ``config_class`` (a :class:`LifeCycleConfig`), ``layout`` (the Kalman
    state layout) and implement :meth:`_stages` and :meth:`_detection_pools`.
    """

    layout: ClassVar[Layout] = "xyah"
    #: remove tentative tracks the first time they go unmatched (DeepSORT, ByteTrack)
    drop_tentative: ClassVar[bool] = False
    #: lost tracks keep their size while predicted (ByteTrack)
    hold_lost_size: ClassVar[bool] = False
    config: LifeCycleConfig

    def _reset_state(self) -> None:
        cfg = self.config
        self.kf = KalmanFilter(self.layout)
        self.oru = self._uses_oru()
        fields = dict(self._extra_fields())
        if self.oru:
            fields.update(ObservationMemory.FIELDS)
        self.tracks = TrackStore(fields)
        self._max_age = scaled_age(cfg.max_age, cfg.frame_rate)
        shown = min(cfg.report_lost, cfg.max_age)  # a track is not reported beyond its life
        lost = scaled_age(shown, cfg.frame_rate) if shown else 0
        #: report conditions as Python ints (cheap to test; :meth:`TrackStore.reported`)
        self._report_lost = lost
        # the per-frame comparison constants as 0-d arrays (see :func:`const`)
        self._max_age_c = const(self._max_age)
        self._min_hits_c = const(cfg.min_hits)
        self._streak_c = (int(cfg.report_streak), 1)
        self.stages: list[Matcher] = self._stages()
        self.pools = self._detection_pools()
        #: the association state, one object reset every frame (:meth:`Frame.reset`)
        self._frame: Frame | None = None
        # the hooks a tracker overrides (the others, doing nothing, are not called per frame)
        cls = type(self)
        base = KalmanTracker
        self._hooks = frozenset(
            name
            for name in ("_compensate", "_begin", "_on_matched", "_on_born", "_select_births")
            if getattr(cls, name) is not getattr(base, name)
        )

    # ------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _stages(self) -> list[Matcher]:
        """The association stages, in order."""

    @abc.abstractmethod
    def _detection_pools(self) -> DetectionPools:
        """The detection pools by score (``"high"``, ``"low"``) and the birth threshold."""

    def _uses_oru(self) -> bool:
        """Whether tracks keep an :class:`ObservationMemory` (re-update after a gap)."""
        return False

    def _extra_fields(self) -> dict[str, FieldSpec]:
        """Track-store fields beyond the common ones."""
        return {}

    def _compensate(self, frame: NDArray[np.uint8] | None) -> None:
        """Move the predicted states with the camera motion (BoT-SORT); none here."""

    def _begin(self, f: Frame) -> None:
        """Per-frame preparation after the prediction, before the stages."""

    def _on_matched(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        """Extra updates of the tracks ``rows`` matched (or born) with ``det_rows``."""

    def _on_born(self, f: Frame, rows: IntArray, det_rows: IntArray) -> None:
        """Extra set-up of the tracks ``rows`` born from ``det_rows`` (as if matched)."""
        self._on_matched(f, rows, det_rows)

    def _select_births(self, f: Frame, new: IntArray) -> IntArray:
        """The detections that start tracks among the free ones scoring enough to (``new``)."""
        return new

    def _born_confirmed(self) -> bool:
        """Whether tracks born this frame are confirmed at once (the first ``min_hits``
        frames of the video)."""
        return self.frame_id <= self.config.min_hits

    def _report_boxes(self, rows: IntArray) -> FloatArray:
        """The reported boxes of tracks ``rows``, ``(n, 4)`` xyxy (the Kalman estimate)."""
        return self.kf.to_xyxy(self.tracks.mean.take(rows, 1))

    # ------------------------------------------------------------------ template
    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        t = self.tracks
        kf = self.kf
        hooks = self._hooks
        oru = self.oru
        boxes, scores = dets.xyxy, dets.scores
        n = len(t)
        # 1) predict
        if n:
            if self.hold_lost_size:
                kf.hold_size(t.mean, t.not_lost())
            t.mean, t.cov = kf.predict(t.mean, t.cov)
            t.age()
            if "_compensate" in hooks:
                self._compensate(frame)
            pred = kf.to_xyxy(t.mean)
        else:
            pred = _NO_BOXES
        pools = self.pools
        f = self._frame
        if f is None:
            f = self._frame = Frame()
        f.reset(boxes, scores, pred, pools(scores), dets.embeddings, pools.GROUPS)
        if "_begin" in hooks:
            self._begin(f)
        # 2) association stages (none can match without tracks or detections)
        if n and len(boxes):
            for stage in self.stages:
                stage.run(f)
        # 3) correct the matched tracks
        matched, ti, di = f.matches()
        if len(ti):
            t.mean, t.cov = kf.correct(t.mean, t.cov, boxes, f.det_of_track, matched)
            t.set_scores(ti, scores[di])
            if oru:
                ObservationMemory.reupdate(t, kf, ti, boxes[di], self.frame_id)
            if "_on_matched" in hooks:
                self._on_matched(f, ti, di)
        # 4) life cycle
        if n:
            t.advance_life(matched, self._min_hits_c, self.drop_tentative)
            if oru:
                ObservationMemory.freeze(t, t.first_misses(matched))
        # 5) birth
        new = pools.births(f) if len(boxes) else _NO_ROWS
        if "_select_births" in hooks:
            new = self._select_births(f, new)
        if len(new):
            mean, cov = kf.initiate(boxes[new])
            first = len(t)
            t.add_born(
                self._new_ids(len(new)),
                self.frame_id,
                mean,
                cov,
                scores[new],
                self._class_of(dets, new),
                self._born_confirmed(),
            )
            f.add_tracks(new)
            if oru or "_on_born" in hooks or "_on_matched" in hooks:
                born = np.arange(first, len(t))
                if oru:
                    ObservationMemory.observe(t, born, boxes[new], self.frame_id)
                self._on_born(f, born, new)
        # 6) prune
        alive = t.prune(self._max_age_c)
        if alive is not None:
            f.keep_tracks(alive)
        # 7) report
        streak = self._streak_c[0 if self.frame_id > cfg.min_hits else 1]
        out = t.reported(self._report_lost, streak)
        return t.output(out, self._report_boxes(out), f.det_of_track)


_NO_BOXES = np.zeros((0, 4))
_NO_BOXES.setflags(write=False)
_NO_ROWS = np.zeros(0, np.int64)
_NO_ROWS.setflags(write=False)
