"""ByteTrack: multi-object tracking by associating every detection box (Zhang et al., ECCV 2022).

Detections are split by score. Confident ones are matched first with all confirmed and lost
tracks (IoU cost with the detection score fused in); the tracks still unmatched that were
tracked in the previous frame then get a second chance with the low-score detections, which
are mostly occluded objects — this recovers them instead of throwing them away as
background. Tentative tracks (born in the previous frame) are matched last with the
confident detections left; the confident detections left after that start new tracks.

The Kalman filter uses the ``(cx, cy, a, h)`` layout of DeepSORT. :class:`ByteTrack` is also
the base of BoT-SORT (:mod:`trackkit.mot.botsort`), which changes the layout and adds camera
motion compensation and appearance through the hooks below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import gated_matches
from trackkit.association.costs import iou_similarity
from trackkit.config import make_config, require
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import (
    CONFIRMED,
    LOST,
    MOT_TRACKERS,
    TENTATIVE,
    FieldSpec,
    MOTTracker,
    TrackStore,
    advance_life,
    const,
    new_track_rows,
    prune,
    scaled_age,
)
from trackkit.motion.kalman import KalmanFilter, Layout

__all__ = ["ByteTrack", "ByteTrackConfig"]


@dataclass(frozen=True)
class ByteTrackConfig:
    """ByteTrack parameters (defaults from the paper's MOT17 code, except ``track_buffer``
    and ``report_lost``: trackkit's choices for all its trackers, see below).

    Attributes:
        track_thresh: detections scoring at least this are "high" (first association).
        low_thresh: detections scoring above this and below ``track_thresh`` are "low".
        new_track_thresh: minimum score of a detection that starts a track
            (``track_thresh + 0.1`` in the paper's code).
        match_thresh: maximum cost (``1 - IoU * score``) of a first-association match.
        second_match_thresh: maximum ``1 - IoU`` with a low-score detection.
        unconfirmed_match_thresh: maximum cost for matching tentative tracks.
        fuse_score: multiply IoU by the detection score in the first and third association.
        track_buffer: frames a lost track is kept, at 30 fps (scaled by ``frame_rate``);
            2 seconds as in all trackkit trackers (paper: 30).
        duplicate_iou: tracked and lost tracks overlapping more than this are duplicates;
            the younger one is removed.
        reupdate: when a lost track is found again, re-run its Kalman filter along the
            virtual trajectory between its last and new observation (OC-SORT's ORU) instead
            of keeping the drifted state (not in ByteTrack).
        report_lost: also report a lost track, with its predicted box and ``det_index`` -1,
            during its first ``report_lost`` unmatched frames (at 30 fps) — bridging short
            detector misses where the constant-velocity prediction is still reliable
            (trackkit: 3, a tenth of a second; ByteTrack: 0).
        frame_rate: frames per second of the video.
    """

    track_thresh: float = 0.5
    low_thresh: float = 0.1
    new_track_thresh: float = 0.6
    match_thresh: float = 0.8
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    fuse_score: bool = True
    track_buffer: int = 60
    duplicate_iou: float = 0.85
    reupdate: bool = False
    report_lost: int = 3
    frame_rate: float = 30.0

    def __post_init__(self) -> None:
        require(0.0 <= self.low_thresh <= self.track_thresh, "need 0 <= low_thresh <= track_thresh")
        require(self.new_track_thresh >= 0.0, "new_track_thresh must be >= 0")
        for name in ("match_thresh", "second_match_thresh", "unconfirmed_match_thresh"):
            require(0.0 < getattr(self, name) <= 1.0, f"{name} must be in (0, 1]")
        require(self.track_buffer >= 0, "track_buffer must be >= 0")
        require(0.0 < self.duplicate_iou <= 1.0, "duplicate_iou must be in (0, 1]")
        require(0 <= self.report_lost <= self.track_buffer, "need 0 <= report_lost <= track_buffer")
        require(self.frame_rate > 0, "frame_rate must be > 0")


@MOT_TRACKERS.register("bytetrack")
class ByteTrack(MOTTracker):
    """ByteTrack (Zhang 2022): high- then low-score association, Kalman (cx,cy,a,h)."""

    layout: Layout = "xyah"
    config_class: type[ByteTrackConfig] = ByteTrackConfig
    config: Any

    def __init__(self, config: ByteTrackConfig | None = None, **overrides: object) -> None:
        if config is None:
            config = make_config(self.config_class, **overrides)
        self.config = config
        super().__init__()

    # ------------------------------------------------------------------ hooks
    def _extra_fields(self) -> dict[str, FieldSpec]:
        if not self.config.reupdate:
            return {}
        return {
            "last_obs": ((4,), float),
            "last_obs_frame": ((), int),
            "frozen_mean": ((8,), float, "last"),
            "frozen_cov": ((3, 4), float, "last"),
        }

    def _observation_centric(self, rows: NDArray[np.int64], boxes: NDArray[np.float64]) -> None:
        """ORU for re-found tracks (OC-SORT), then record the observations."""
        t = self.tracks
        gaps = self.frame_id - t["last_obs_frame"][rows]
        for k in (gaps > 1).nonzero()[0].tolist():
            r = int(rows[k])
            mean, cov = self.kf.reupdate(
                t["frozen_mean"][:, r : r + 1],
                t["frozen_cov"][..., r : r + 1],
                t["last_obs"][r],
                boxes[k],
                int(gaps[k]),
            )
            t["mean"][:, r] = mean[:, 0]
            t["cov"][..., r] = cov[..., 0]
        t["last_obs"][rows] = boxes
        t["last_obs_frame"][rows] = self.frame_id

    def _compensate(self, frame: NDArray[np.uint8] | None) -> None:
        """Camera-motion compensation of all track states (BoT-SORT); none here."""

    def _cost(
        self, rows: NDArray[np.int64], dets: Detections, det_rows: NDArray[np.int64], stage: int
    ) -> NDArray[np.float64]:
        """Cost of tracks ``rows`` against detections ``det_rows`` in association ``stage``
        (1: confident detections, 2: low-score ones, 3: tentative tracks)."""
        iou = self._iou
        # ``rows`` and ``det_rows`` are sorted and unique: as long as the matrix, they are all
        if len(rows) != len(iou):
            iou = iou.take(rows, 0)
        if len(det_rows) != iou.shape[1]:
            iou = iou.take(det_rows, 1)
        if stage != 2 and self.config.fuse_score:
            s = dets.scores
            iou = iou * (s if len(det_rows) == len(s) else s.take(det_rows))
        return 1.0 - iou

    def _on_matched(
        self, rows: NDArray[np.int64], dets: Detections, det_rows: NDArray[np.int64]
    ) -> None:
        """Extra per-track updates after a match or birth (appearance in BoT-SORT)."""

    # ------------------------------------------------------------------ core
    def _reset_state(self) -> None:
        self.kf = KalmanFilter(self.layout)
        self.tracks = TrackStore(self._extra_fields())
        cfg = self.config
        self._max_age = scaled_age(cfg.track_buffer, cfg.frame_rate)
        self._report_lost = scaled_age(cfg.report_lost, cfg.frame_rate) if cfg.report_lost else 0
        # the per-frame comparison constants as 0-d arrays (see ``trackkit.mot.base.const``)
        self._limits = {
            name: const(value)
            for name, value in (
                ("track", cfg.track_thresh),
                ("low", cfg.low_thresh),
                ("new", cfg.new_track_thresh),
                ("dup", cfg.duplicate_iou),
                ("max_age", self._max_age),
                ("report_lost", self._report_lost),
                ("zero", 0),
                ("one", 1),
            )
        }

    def _match(
        self,
        rows: NDArray[np.int64],
        dets: Detections,
        det_rows: NDArray[np.int64],
        stage: int,
        thresh: float,
        det_of_track: NDArray[np.int64],
        det_used: NDArray[np.bool_],
    ) -> bool:
        """Assign tracks ``rows`` to detections ``det_rows`` with the cost of ``stage``;
        record the matches in ``det_of_track`` (track -> detection) and ``det_used``.

        Returns:
            Whether anything was matched.
        """
        if len(rows) == 0 or len(det_rows) == 0:
            return False
        r, c = gated_matches(self._cost(rows, dets, det_rows, stage), thresh)
        if len(r) == 0:
            return False
        d = det_rows[c]
        det_of_track[rows[r]] = d
        det_used[d] = True
        return True

    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        cfg = self.config
        t = self.tracks
        kf = self.kf
        col = t.col
        scores = dets.scores
        boxes = dets.xyxy
        lim = self._limits
        confident = scores >= lim["track"]
        high = confident.nonzero()[0]
        # above low_thresh and not confident (``a > b`` on booleans is ``a & ~b``)
        low = ((scores > lim["low"]) > confident).nonzero()[0]
        n = len(t)
        arrays = t.arrays
        state = t.i[:, col["state"]]
        if n:
            mean = arrays["mean"]
            tracked = state != LOST  # a lost track keeps its size (its size velocity is 0)
            for k in kf._size_cols:
                mean[k + 4] *= tracked
            arrays["mean"], arrays["cov"] = kf.predict(mean, arrays["cov"])
            t.i[:, col["since_update"]] += lim["one"]
            self._compensate(frame)
        self._pred = kf.to_xyxy(arrays["mean"])
        # IoU of every predicted track box with every detection, sliced by each stage
        self._iou = iou_similarity(self._pred, boxes)
        det_of_track = np.empty(n, np.int64)
        det_of_track.fill(-1)
        det_used = np.zeros(len(boxes), bool)
        # 1) confirmed + lost tracks with confident detections
        pool = (state != TENTATIVE).nonzero()[0]
        matched1 = self._match(pool, dets, high, 1, cfg.match_thresh, det_of_track, det_used)
        if matched1:
            high = high[~det_used[high]]
        # 2) tracks tracked in the previous frame (confirmed, not lost) with the low-score
        # detections
        if len(low) and n:
            tracked_rows = ((state == CONFIRMED) & (det_of_track < lim["zero"])).nonzero()[0]
            self._match(tracked_rows, dets, low, 2, cfg.second_match_thresh, det_of_track, det_used)
        # 3) tentative tracks with the confident detections left
        if len(high) and n:
            unconfirmed = (state == TENTATIVE).nonzero()[0]
            if self._match(
                unconfirmed, dets, high, 3, cfg.unconfirmed_match_thresh, det_of_track, det_used
            ):
                high = high[~det_used[high]]
        matched = det_of_track >= lim["zero"]
        ti = matched.nonzero()[0]
        if len(ti):  # (matches exist only when tracks do)
            di = det_of_track[ti]
            # each track's detection as a measurement; unmatched tracks (-1) get the last
            # detection's, a finite value that ``mask`` ignores
            z = kf.from_xyxy(boxes).take(det_of_track, 1, mode="wrap")
            arrays["mean"], arrays["cov"] = kf.update_measurement(
                arrays["mean"], arrays["cov"], z, mask=matched
            )
            t.f[ti, col["score"]] = scores[di]
            if cfg.reupdate:
                self._observation_centric(ti, boxes[di])
            self._on_matched(ti, dets, di)
        advance_life(t, matched, 2, drop_tentative=True)
        if cfg.reupdate and n:  # remember the state at the first miss (for the re-update)
            first_miss = ((t["since_update"] == 1) & ~matched).nonzero()[0]
            t["frozen_mean"][:, first_miss] = t["mean"][:, first_miss]
            t["frozen_cov"][..., first_miss] = t["cov"][..., first_miss]
        # 4) new tracks from the confident detections nobody claimed
        new = high[scores[high] >= lim["new"]]
        keep, new = self._remove_duplicates(det_of_track, new)
        if keep is not None:
            t.keep(keep)
            det_of_track = det_of_track[keep]
        if len(new):
            mean, cov = kf.initiate(boxes[new])
            first = len(t)
            t.append(
                new_track_rows(
                    self, mean, cov, scores[new], self._class_of(dets, new), self.frame_id == 1
                )
            )
            det_of_track = np.concatenate([det_of_track, new])
            if cfg.reupdate:
                t["last_obs"][first:] = boxes[new]
                t["last_obs_frame"][first:] = self.frame_id
            self._on_matched(np.arange(first, len(t)), dets, new)
        alive = prune(t, self._max_age)
        if alive is not None:
            det_of_track = det_of_track[alive]
        ints = t.i
        state = ints[:, col["state"]]
        # after the life cycle, confirmed tracks are exactly those matched (or born
        # confirmed) this frame, with ``since_update`` 0; lost ones have ``since_update >= 1``
        if self._report_lost:
            report = state != TENTATIVE
            report &= ints[:, col["since_update"]] <= lim["report_lost"]
        else:
            report = state == CONFIRMED
        out = report.nonzero()[0]
        sel = ints.take(out, 0)
        return self._make_tracks(
            kf.to_xyxy(t.arrays["mean"].take(out, 1)),
            sel[:, col["id"]],
            t.f.take(out, 0)[:, col["score"]],
            det_of_track.take(out),
            sel[:, col["class_id"]],
        )

    def _remove_duplicates(
        self, det_of_track: NDArray[np.int64], new: NDArray[np.int64]
    ) -> tuple[NDArray[np.bool_] | None, NDArray[np.int64]]:
        """ByteTrack's duplicate removal: a track matched (or born) this frame and a lost
        track overlapping by more than ``duplicate_iou`` are one object; the younger goes.

        Active tracks are represented by their detection box (exact for new tracks, the
        measurement of the corrected state for matched ones) and lost tracks by their
        prediction, so the IoUs come from this frame's track-detection IoU matrix.

        Returns:
            A mask of existing tracks to keep (``None``: all) and the new detections left.
        """
        t = self.tracks
        ints, col = t.i, t.col
        lim = self._limits
        lost = (
            (ints[:, col["state"]] == LOST) & (ints[:, col["since_update"]] <= lim["max_age"])
        ).nonzero()[0]
        if len(lost) == 0:
            return None, new
        close = self._iou.take(lost, 0) > lim["dup"]
        if not np.count_nonzero(close):  # the usual frame: no lost track overlaps anything
            return None, new
        act = (det_of_track >= 0).nonzero()[0]
        cols = np.concatenate([det_of_track[act], new])
        pl, pa = close.take(cols, 1).nonzero()
        if len(pl) == 0:
            return None, new
        start = np.concatenate([ints[act, col["start"]], np.full(len(new), self.frame_id)])
        older_active = start[pa] < ints[lost[pl], col["start"]]
        keep = np.ones(len(t), bool)
        keep[lost[pl[older_active]]] = False
        young = pa[~older_active]
        keep[act[young[young < len(act)]]] = False
        drop_new = np.zeros(len(new), bool)
        drop_new[young[young >= len(act)] - len(act)] = True
        return keep, new[~drop_new]
