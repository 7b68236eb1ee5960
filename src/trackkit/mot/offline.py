"""Offline tracking: link the tracklets of an online tracker across gaps and fill the gaps.

An online tracker must decide at every frame with what it has seen so far; an occlusion longer
than its track buffer, or a detector that misses a person for a while, ends the track and the
person comes back with a new id. Once the whole sequence is known, the pieces can be joined
(the lecture's "offline tracking recovers from occlusions"):

1. **tracklets**: the online output grouped by id (frames, ``xyxy`` boxes, scores);
2. **linking**: a tracklet ``i`` that ends at frame ``e`` may continue as a tracklet ``j`` that
   starts at ``s`` with ``0 < s - e <= max_gap`` (time consistency: no overlap). Motion
   consistency is measured both ways: ``i``'s constant-velocity extrapolation (fitted on its
   last ``fit_frames`` boxes) to frame ``s`` against ``j``'s first box, and ``j``'s backward
   extrapolation to ``e`` against ``i``'s last box, as centre distances in units of box
   height; the error is the larger of the two (both directions must agree) plus the
   absolute log ratio of the heights. A pair is admissible when that error is at most
   ``max_error + error_per_frame * (s - e)`` (a quarter of a body height, plus one percent
   per frame of gap for the uncertainty of the extrapolated velocity); among admissible
   pairs the Hungarian algorithm picks one successor per tracklet at minimum total error,
   and chains of links become one track;
3. **interpolation**: every gap of at most ``max_gap`` frames inside a track is filled
   linearly between the boxes on either side (``det_index = -1``, the lower neighbouring
   score);
4. tracks shorter than ``min_length`` boxes are dropped (0 keeps everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.association.assign import linear_assignment
from trackkit.config import Config, make_config
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.mot.base import MOTTracker, scaled_age

__all__ = ["OfflineConfig", "OfflineLinker", "Tracklet", "track_offline"]


@dataclass(frozen=True)
class OfflineConfig(Config):
    """Parameters of the offline pass.

    Attributes:
        max_gap: largest gap (frames at 30 fps, scaled by ``frame_rate``) that is linked or
            interpolated.
        fit_frames: boxes at a tracklet's end used to fit its velocity.
        max_error: admissible motion error at gap 0, in box heights.
        error_per_frame: growth of the admissible error per frame of gap.
        min_length: tracks with fewer boxes (after linking, before interpolation) are dropped.
        frame_rate: frames per second of the video.
    """

    RANGES: ClassVar[str] = (
        "max_gap >= 1; fit_frames >= 1; max_error >= 0; error_per_frame >= 0; "
        "min_length >= 0; frame_rate > 0"
    )

    max_gap: int = 60
    fit_frames: int = 10
    max_error: float = 0.25
    error_per_frame: float = 0.01
    min_length: int = 0
    frame_rate: float = 30.0


@dataclass
class Tracklet:
    """One identity's boxes over time (frames 0-based indices into the sequence, ascending)."""

    track_id: int
    frames: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    scores: NDArray[np.float64]
    det_index: NDArray[np.int64]

    def _fit(self, head: bool, k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Centre-and-height ``(3,)`` at the end (or head) and its velocity per frame."""
        sl = slice(0, k) if head else slice(-k, None)
        f = self.frames[sl].astype(np.float64)
        b = self.xyxy[sl]
        y = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 3] - b[:, 1]], 1)
        anchor = y[0] if head else y[-1]
        if len(f) < 2 or f[-1] == f[0]:
            return anchor, np.zeros(3)
        fc = f - f.mean()
        vel = (fc[:, None] * (y - y.mean(0))).sum(0) / (fc * fc).sum()
        return anchor, vel


def collect_tracklets(frames: Sequence[Tracks]) -> list[Tracklet]:
    """Group per-frame tracker output by id (ids unique per frame, any order)."""
    ids: list[NDArray[np.int64]] = []
    fr: list[NDArray[np.int64]] = []
    for t, tr in enumerate(frames):
        ids.append(tr.track_ids)
        fr.append(np.full(len(tr), t, np.int64))
    if not ids or sum(len(a) for a in ids) == 0:
        return []
    all_ids = np.concatenate(ids)
    all_fr = np.concatenate(fr)
    boxes = np.concatenate([tr.xyxy for tr in frames])
    scores = np.concatenate([tr.scores for tr in frames])
    det = np.concatenate([tr.det_index for tr in frames])
    order = np.lexsort((all_fr, all_ids))
    uniq, starts = np.unique(all_ids[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    out = []
    for k, tid in enumerate(uniq.tolist()):
        sel = order[bounds[k] : bounds[k + 1]]
        out.append(Tracklet(tid, all_fr[sel], boxes[sel], scores[sel], det[sel]))
    return out


class OfflineLinker:
    """Link tracklets across gaps and interpolate (see the module docstring).

    Args:
        config: an :class:`OfflineConfig`, or keyword overrides of its defaults.
    """

    def __init__(self, config: OfflineConfig | None = None, **overrides: object) -> None:
        self.config = config if config is not None else make_config(OfflineConfig, **overrides)

    def link(self, tracklets: list[Tracklet]) -> list[list[int]]:
        """Chains of tracklet indices, each chain one final track, in time order."""
        cfg = self.config
        n = len(tracklets)
        if n == 0:
            return []
        max_gap = scaled_age(cfg.max_gap, cfg.frame_rate)
        k = cfg.fit_frames
        ends = np.array([tk.frames[-1] for tk in tracklets])
        starts = np.array([tk.frames[0] for tk in tracklets])
        gap = starts[None, :] - ends[:, None]
        cand_i, cand_j = ((gap >= 1) & (gap <= max_gap)).nonzero()
        cost = np.full((n, n), np.inf)
        if len(cand_i):
            tail = [tk._fit(False, k) for tk in tracklets]
            head = [tk._fit(True, k) for tk in tracklets]
            tail_p = np.array([p for p, _ in tail])
            tail_v = np.array([v for _, v in tail])
            head_p = np.array([p for p, _ in head])
            head_v = np.array([v for _, v in head])
            g = gap[cand_i, cand_j].astype(np.float64)[:, None]
            fwd = tail_p[cand_i] + tail_v[cand_i] * g  # i extrapolated to j's start
            bwd = head_p[cand_j] - head_v[cand_j] * g  # j extrapolated back to i's end
            h = (tail_p[cand_i, 2] + head_p[cand_j, 2]) / 2.0
            e_f = np.hypot(*(fwd[:, :2] - head_p[cand_j, :2]).T) / h
            e_b = np.hypot(*(bwd[:, :2] - tail_p[cand_i, :2]).T) / h
            size = np.abs(
                np.log(np.maximum(head_p[cand_j, 2], 1e-6) / np.maximum(tail_p[cand_i, 2], 1e-6))
            )
            err = np.maximum(e_f, e_b) + size
            ok = err <= cfg.max_error + cfg.error_per_frame * g[:, 0]
            cost[cand_i[ok], cand_j[ok]] = err[ok]
        a = linear_assignment(cost)
        succ = np.full(n, -1, np.int64)
        has_pred = np.zeros(n, bool)
        succ[a.matches[:, 0]] = a.matches[:, 1]
        has_pred[a.matches[:, 1]] = True
        chains = []
        for head_idx in (~has_pred).nonzero()[0].tolist():
            chain = [head_idx]
            while succ[chain[-1]] >= 0:
                chain.append(int(succ[chain[-1]]))
            chains.append(chain)
        return chains

    def run(self, frames: Sequence[Tracks]) -> list[Tracks]:
        """Link and interpolate the per-frame output of an online tracker.

        Args:
            frames: one :class:`Tracks` per frame of the whole sequence, in order.

        Returns:
            One :class:`Tracks` per frame; linked tracklets carry the id of their chain's
            first tracklet, interpolated boxes have ``det_index = -1``.
        """
        cfg = self.config
        tracklets = collect_tracklets(frames)
        max_gap = scaled_age(cfg.max_gap, cfg.frame_rate)
        per_frame: list[list[tuple[int, NDArray[np.float64], float, int]]] = [[] for _ in frames]
        for chain in self.link(tracklets):
            parts = [tracklets[c] for c in chain]
            f = np.concatenate([p.frames for p in parts])
            if len(f) < cfg.min_length:
                continue
            b = np.concatenate([p.xyxy for p in parts])
            s = np.concatenate([p.scores for p in parts])
            d = np.concatenate([p.det_index for p in parts])
            f, b, s, d = _interpolate(f, b, s, d, max_gap)
            tid = parts[0].track_id
            for fi, bi, si, di in zip(f.tolist(), b, s.tolist(), d.tolist()):
                per_frame[fi].append((tid, bi, si, di))
        out = []
        for rows in per_frame:
            if not rows:
                out.append(Tracks.empty())
                continue
            out.append(
                Tracks(
                    np.array([r[1] for r in rows]),
                    [r[0] for r in rows],
                    [r[2] for r in rows],
                    [r[3] for r in rows],
                )
            )
        return out


def _interpolate(
    f: NDArray[np.int64],
    b: NDArray[np.float64],
    s: NDArray[np.float64],
    d: NDArray[np.int64],
    max_gap: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Fill gaps of at most ``max_gap`` frames linearly (frames ascending, unique)."""
    steps = np.diff(f)
    holes = ((steps > 1) & (steps <= max_gap + 1)).nonzero()[0]
    if len(holes) == 0:
        return f, b, s, d
    nf, nb, ns = [f], [b], [s]
    for h in holes.tolist():
        new = np.arange(f[h] + 1, f[h + 1], dtype=np.int64)
        w = ((new - f[h]) / (f[h + 1] - f[h]))[:, None]
        nf.append(new)
        nb.append(b[h] + w * (b[h + 1] - b[h]))
        ns.append(np.full(len(new), min(s[h], s[h + 1])))
    fa = np.concatenate(nf)
    order = np.argsort(fa, kind="stable")
    da = np.concatenate([d, np.full(len(fa) - len(f), -1, np.int64)])
    return fa[order], np.concatenate(nb)[order], np.concatenate(ns)[order], da[order]


def track_offline(
    tracker: MOTTracker,
    detections: Iterable[Detections],
    linker: OfflineLinker | None = None,
) -> list[Tracks]:
    """Run ``tracker`` over a whole sequence (after ``reset()``), then the offline pass."""
    tracker.reset()
    online = [tracker.update(d) for d in detections]
    return (linker or OfflineLinker()).run(online)
