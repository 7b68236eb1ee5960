"""Where a MOT tracker fails, frame by frame: the events behind the CLEAR counts.

Everything here is read off CLEAR's own per-frame matching
(:func:`trackkit.metrics.clear.clear_matches`, the matching :func:`~trackkit.metrics.clear.
clear_metrics` counts from), so the lists agree with the printed numbers: there are exactly
``IDSW`` identity switches and ``Frag`` fragmentations, and the unmatched tracker boxes of all
tracks add up to ``CLR_FP``.

- **identity switch**: a ground-truth identity matched to another tracker id than at its
  previous match (the frame of the new match);
- **fragmentation**: a tracked span of a ground-truth identity beyond its first (the frame
  where tracking resumes, and the last frame it was matched before);
- **false-positive track**: a tracker id with unmatched boxes (how many, in which frames);
- **timeline**: for each ground-truth identity, the runs of frames where it was matched to
  one tracker id or missed.

Ids are the relabelled ``0..n-1`` ids of :class:`~trackkit.metrics.mot_data.MOTSequenceData`;
frames are 0-based here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trackkit.metrics.clear import clear_matches
from trackkit.metrics.mot_data import MOTSequenceData

__all__ = ["IDSwitch", "Fragmentation", "FalsePositiveTrack", "MOTEvents", "mot_events"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class IDSwitch:
    """Ground truth ``gt_id`` matched to ``to_track`` at ``frame``; its previous match (at
    ``prev_frame``) was ``from_track``."""

    frame: int
    gt_id: int
    from_track: int
    to_track: int
    prev_frame: int


@dataclass(frozen=True)
class Fragmentation:
    """Ground truth ``gt_id`` tracked again (by ``track``) at ``frame`` after its last match at
    ``last_frame`` (by ``last_track``)."""

    frame: int
    gt_id: int
    track: int
    last_frame: int
    last_track: int


@dataclass(frozen=True)
class FalsePositiveTrack:
    """Tracker id ``track``: ``count`` unmatched boxes of its ``boxes``, at ``frames``
    (``(count,)`` int64, increasing)."""

    track: int
    count: int
    boxes: int
    frames: IntArray


@dataclass(frozen=True)
class MOTEvents:
    """The failure events of one sequence (see the module docstring).

    Attributes:
        timelines: per ground-truth id, ``(R, 3)`` int64 runs ``[first_frame, last_frame,
            track]`` over the frames where the identity is annotated (``track`` -1: missed);
            a run ends where the track changes or a frame without the identity intervenes.
        false_positive_tracks: the tracks with unmatched boxes, most unmatched boxes first.
    """

    id_switches: tuple[IDSwitch, ...]
    fragmentations: tuple[Fragmentation, ...]
    false_positive_tracks: tuple[FalsePositiveTrack, ...]
    timelines: tuple[IntArray, ...]


def _runs(frames: IntArray, tracks: IntArray) -> IntArray:
    """``(R, 3)`` runs of equal ``tracks`` over consecutive ``frames`` (both ``(N,)``)."""
    if len(frames) == 0:
        return np.zeros((0, 3), np.int64)
    start = np.ones(len(frames), bool)
    start[1:] = (frames[1:] != frames[:-1] + 1) | (tracks[1:] != tracks[:-1])
    first = np.flatnonzero(start)
    last = np.concatenate((first[1:] - 1, [len(frames) - 1]))
    return np.stack((frames[first], frames[last], tracks[first]), axis=1).astype(np.int64)


def mot_events(data: MOTSequenceData, threshold: float = 0.5) -> MOTEvents:
    """The events of one sequence under CLEAR's matching at IoU ``threshold`` (0.5 as
    ``trackkit eval mot``)."""
    processed, m_gt, m_tr, _ = clear_matches(data, threshold)
    n_g, n_t = data.num_gt_ids, data.num_tracker_ids
    counts = np.array([len(m) for m in m_gt], np.int64)
    gts = np.concatenate(m_gt) if m_gt else np.zeros(0, np.int64)
    trs = np.concatenate(m_tr) if m_tr else np.zeros(0, np.int64)
    step = np.repeat(np.arange(len(processed)), counts)
    frame_of_step = np.asarray(processed, np.int64)
    frame = frame_of_step[step] if len(step) else np.zeros(0, np.int64)
    # Matches of each ground-truth id in time order (as clear_metrics counts them).
    order = np.lexsort((step, gts))
    g, t, s, f = gts[order], trs[order], step[order], frame[order]
    same = g[1:] == g[:-1]
    sw = np.flatnonzero(same & (t[1:] != t[:-1])) + 1
    switches = tuple(
        IDSwitch(int(f[i]), int(g[i]), int(t[i - 1]), int(t[i]), int(f[i - 1])) for i in sw
    )
    resumed = np.flatnonzero(same & (s[1:] != s[:-1] + 1)) + 1
    frags = tuple(
        Fragmentation(int(f[i]), int(g[i]), int(t[i]), int(f[i - 1]), int(t[i - 1]))
        for i in resumed
    )
    # Every annotated (frame, gt id): its matched track or -1.
    all_g = np.concatenate(data.gt_ids) if data.gt_ids else np.zeros(0, np.int64)
    all_f = np.repeat(np.arange(data.num_frames), [len(x) for x in data.gt_ids])
    track_of = np.full(len(all_g), -1, np.int64)
    if len(g):
        key_all = all_f * max(n_g, 1) + all_g
        key_m = f * max(n_g, 1) + g
        pos = np.searchsorted(key_all, key_m, sorter=np.argsort(key_all, kind="stable"))
        track_of[np.argsort(key_all, kind="stable")[pos]] = t
    by_gt = np.lexsort((all_f, all_g))
    bounds = np.searchsorted(all_g[by_gt], np.arange(n_g + 1))
    timelines = tuple(
        _runs(all_f[by_gt[bounds[i] : bounds[i + 1]]], track_of[by_gt[bounds[i] : bounds[i + 1]]])
        for i in range(n_g)
    )
    # Unmatched tracker boxes per track.
    all_t = np.concatenate(data.tracker_ids) if data.tracker_ids else np.zeros(0, np.int64)
    all_tf = np.repeat(np.arange(data.num_frames), [len(x) for x in data.tracker_ids])
    matched = np.zeros(len(all_t), bool)
    if len(t):
        key_all = all_tf * max(n_t, 1) + all_t
        sorter = np.argsort(key_all, kind="stable")
        matched[sorter[np.searchsorted(key_all, f * max(n_t, 1) + t, sorter=sorter)]] = True
    boxes = np.bincount(all_t, minlength=n_t)
    fp_t, fp_f = all_t[~matched], all_tf[~matched]
    fp_order = np.lexsort((fp_f, fp_t))
    fp_t, fp_f = fp_t[fp_order], fp_f[fp_order]
    fp_bounds = np.searchsorted(fp_t, np.arange(n_t + 1))
    fp_counts = np.diff(fp_bounds)
    ranked = sorted(np.flatnonzero(fp_counts).tolist(), key=lambda k: (-fp_counts[k], k))
    fp_tracks = tuple(
        FalsePositiveTrack(
            int(k), int(fp_counts[k]), int(boxes[k]), fp_f[fp_bounds[k] : fp_bounds[k + 1]]
        )
        for k in ranked
    )
    return MOTEvents(switches, frags, fp_tracks, timelines)
