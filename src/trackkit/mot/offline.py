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
3. **interpolation, only on strong evidence**: a gap inside a track is filled linearly
   between the boxes on either side (``det_index = -1``, the lower neighbouring score) only
   when it is at most ``max_fill`` long (in thirtieths of a second, so the same time span at
   any frame rate), the video itself shows that gaps of that length are interpolated well
   (``fill_reliability``: hide ``L`` boxes inside this sequence's own unbroken tracklets,
   interpolate across, count how often the middle box keeps IoU >= ``fill_test_iou`` with
   the hidden one — this shortens the filled gaps for low frame rates, a moving camera and
   small or fast boxes, from what the video tells), and optionally the scores, box heights
   and both sides' velocities agree (``fill_min_score``, ``fill_min_height``,
   ``fill_max_shift``, ``fill_max_error``). With ``refill`` the boxes an online tracker
   reported without a detection (a lost track's predictions) are removed first and their
   gaps go through the same gates: an offline pass that adds a box only where it is more
   likely a hit than a false positive;
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
    """Parameters of the offline pass. Durations are frames at 30 fps, scaled by
    ``frame_rate`` (i.e. thirtieths of a second); distances are in box heights. The fill
    defaults (``max_fill``, ``fill_reliability``, ``fill_test_iou``, ``refill``) were chosen
    by leave-one-sequence-out cross-validation on MOT17 train (``benchmarks/mot_cv.py``,
    docs/benchmarks.md): on every held-out sequence, and at 1/2 and 1/3 of its frame rate,
    BoT-SORT's offline HOTA and MOTA are at least its online ones.

    Attributes:
        max_gap: largest gap that is linked.
        fit_frames: boxes at a tracklet's end used to fit its velocity.
        max_error: admissible motion error at gap 0, in box heights.
        error_per_frame: growth of the admissible error per frame of gap.
        min_link_boxes: a tracklet with fewer boxes is neither linked nor extended (its
            velocity is not known well enough).
        min_length: tracks with fewer boxes (after linking, before interpolation) are dropped.
        max_fill: largest gap inside a track that is filled by interpolation.
        fill_min_score: a gap is filled only when the detections on both sides score at least
            this.
        fill_min_height: ... and both boxes are at least this tall, as a fraction of the image
            height (``image_height``; not checked when it is unknown).
        fill_max_shift: ... and the box moves at most this far (centre distance between
            the two sides, box heights) over the gap;
        fill_max_error: ... and the straight path agrees with each side's own velocity: each
            side's extrapolation to the middle of the gap is at most this far (box heights)
            from the straight path's middle.
        fill_reliability: ... and the video itself shows that gaps of this length are
            interpolated well: hiding ``L`` boxes inside this sequence's own unbroken
            tracklets and interpolating across them puts the middle box at IoU >=
            ``fill_test_iou`` with the hidden detection in at least this fraction of the
            cases (0: no test). This adapts the longest filled gap to the frame rate, the
            camera motion and the box sizes of each video.
        fill_test_iou: the IoU of that test.
        drop_tail: remove the boxes a tracker reported after a track's last detection
            (``det_index`` -1: its predictions while lost) when the track never comes back.
        refill: remove every box the tracker reported without a detection (``det_index``
            -1) and fill the gaps they leave under the gates above instead: with the whole
            video known, interpolation replaces the online constant-velocity guesses, and a
            guess where the evidence is weak is dropped.
        frame_rate: frames per second of the video.
        image_height: height of the video in pixels (``None``: unknown).
    """

    RANGES: ClassVar[str] = (
        "max_gap >= 1; fit_frames >= 1; max_error >= 0; error_per_frame >= 0; "
        "min_link_boxes >= 1; min_length >= 0; max_fill >= 0; fill_min_score >= 0; "
        "fill_min_height >= 0; fill_max_shift >= 0; fill_max_error >= 0; "
        "fill_reliability in [0, 1]; fill_test_iou in (0, 1];  frame_rate > 0; image_height > 0"
    )
    SEARCH_SPACE: ClassVar[str] = (
        "max_gap int [10, 150] log; max_error float [0.1, 0.6]; "
        "error_per_frame float [0.002, 0.04] log; min_link_boxes int [1, 10]; "
        "max_fill int [0, 60]; fill_min_score float [0, 0.9]; fill_min_height float [0, 0.2]; "
        "fill_max_error float [0.05, 2] log; drop_tail choice (True, False)"
    )

    max_gap: int = 60
    fit_frames: int = 10
    max_error: float = 0.25
    error_per_frame: float = 0.01
    min_link_boxes: int = 1
    min_length: int = 0
    max_fill: int = 60
    fill_min_score: float = 0.0
    fill_min_height: float = 0.0
    fill_max_shift: float = float("inf")
    fill_max_error: float = float("inf")
    fill_reliability: float = 0.85
    fill_test_iou: float = 0.6
    drop_tail: bool = False
    refill: bool = True
    frame_rate: float = 30.0
    image_height: float | None = None


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
        sizes = np.array([len(tk.frames) for tk in tracklets])
        solid = sizes >= cfg.min_link_boxes
        ok_pair = (gap >= 1) & (gap <= max_gap) & solid[:, None] & solid[None, :]
        cand_i, cand_j = ok_pair.nonzero()
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
        self._reliable_fill = 1 << 30
        if cfg.fill_reliability > 0 and cfg.max_fill > 0:
            n = scaled_age(cfg.max_fill, cfg.frame_rate)
            rate = fill_test(tracklets, n, cfg.fill_test_iou)
            bad = (rate < cfg.fill_reliability).nonzero()[0]
            self._reliable_fill = int(bad[0]) if len(bad) else n
        if cfg.refill:
            tracklets = [t for t in (_detected(t) for t in tracklets) if len(t.frames)]
        elif cfg.drop_tail:
            tracklets = [t for t in (_drop_tail(t) for t in tracklets) if len(t.frames)]
        per_frame: list[list[tuple[int, NDArray[np.float64], float, int]]] = [[] for _ in frames]
        for chain in self.link(tracklets):
            parts = [tracklets[c] for c in chain]
            f = np.concatenate([p.frames for p in parts])
            if len(f) < cfg.min_length:
                continue
            b = np.concatenate([p.xyxy for p in parts])
            s = np.concatenate([p.scores for p in parts])
            d = np.concatenate([p.det_index for p in parts])
            f, b, s, d = self._interpolate(f, b, s, d)
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

    def _fillable(
        self, f: NDArray[np.int64], b: NDArray[np.float64], s: NDArray[np.float64], h: int
    ) -> bool:
        """Whether the evidence for filling the hole after row ``h`` is strong enough."""
        cfg = self.config
        if min(s[h], s[h + 1]) < cfg.fill_min_score:
            return False
        height = min(b[h, 3] - b[h, 1], b[h + 1, 3] - b[h + 1, 1])
        if cfg.image_height is not None and height < cfg.fill_min_height * cfg.image_height:
            return False
        shift = np.hypot(*((b[h + 1, :2] + b[h + 1, 2:]) - (b[h, :2] + b[h, 2:])) / 2.0)
        if shift > cfg.fill_max_shift * height:
            return False
        if not np.isfinite(cfg.fill_max_error):
            return True
        k = cfg.fit_frames
        lo = max(0, h - k + 1)
        left = Tracklet(0, f[lo : h + 1], b[lo : h + 1], s[lo : h + 1], f[lo : h + 1])
        right = Tracklet(
            0,
            f[h + 1 : h + 1 + k],
            b[h + 1 : h + 1 + k],
            s[h + 1 : h + 1 + k],
            f[h + 1 : h + 1 + k],
        )
        (pl, vl), (pr, vr) = left._fit(False, k), right._fit(True, k)
        half = (f[h + 1] - f[h]) / 2.0
        mid = (pl + pr) / 2.0
        scale = max((pl[2] + pr[2]) / 2.0, 1e-6)
        err_l = np.hypot(*(pl[:2] + vl[:2] * half - mid[:2])) / scale
        err_r = np.hypot(*(pr[:2] - vr[:2] * half - mid[:2])) / scale
        return bool(max(err_l, err_r) <= cfg.fill_max_error)

    def _interpolate(
        self,
        f: NDArray[np.int64],
        b: NDArray[np.float64],
        s: NDArray[np.float64],
        d: NDArray[np.int64],
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Fill the holes of one track (frames ascending, unique) that pass the gates."""
        cfg = self.config
        max_fill = scaled_age(cfg.max_fill, cfg.frame_rate) if cfg.max_fill > 0 else 0
        max_fill = min(max_fill, self._reliable_fill)
        steps = np.diff(f)
        holes = ((steps > 1) & (steps <= max_fill + 1)).nonzero()[0]
        holes = np.array([h for h in holes.tolist() if self._fillable(f, b, s, h)], np.int64)
        return _interpolate(f, b, s, d, holes)


def fill_test(tracklets: Sequence[Tracklet], max_len: int, iou: float) -> NDArray[np.float64]:
    """How well linear interpolation bridges gaps in this video: for ``L = 1..max_len``, the
    fraction of windows of ``L`` hidden boxes inside runs of consecutive detection-backed
    boxes whose middle box, interpolated from the boxes on either side, has IoU >= ``iou``
    with the hidden box (``(max_len,)`` array; 0 where no window of that length exists)."""
    from trackkit.core.boxes import iou_pairwise

    runs: list[NDArray[np.float64]] = []
    for tk in tracklets:
        backed = tk.det_index >= 0
        # split into runs of consecutive frames with detection-backed boxes
        brk = (np.diff(tk.frames) != 1) | ~backed[1:] | ~backed[:-1]
        edges = [0, *(brk.nonzero()[0] + 1).tolist(), len(tk.frames)]
        for a, b in zip(edges[:-1], edges[1:]):
            if b - a >= 3 and backed[a]:
                runs.append(tk.xyxy[a:b])
    rate = np.zeros(max_len)
    if not runs:
        return rate
    for n in range(1, max_len + 1):
        left, right, mid = [], [], []
        for r in runs:
            m = len(r) - n - 1  # windows: r[i] and r[i + n + 1] known, n hidden between
            if m <= 0:
                continue
            left.append(r[:m])
            right.append(r[n + 1 : n + 1 + m])
            mid.append(r[1 + n // 2 : 1 + n // 2 + m])
        if not left:
            break
        lb, rb, hb = np.concatenate(left), np.concatenate(right), np.concatenate(mid)
        w = (1 + n // 2) / (n + 1)
        rate[n - 1] = float(np.mean(iou_pairwise(lb + w * (rb - lb), hb) >= iou))
    return rate


def _detected(t: Tracklet) -> Tracklet:
    """``t`` with only its detection-backed boxes (``det_index`` >= 0)."""
    keep = t.det_index >= 0
    if keep.all():
        return t
    return Tracklet(t.track_id, t.frames[keep], t.xyxy[keep], t.scores[keep], t.det_index[keep])


def _drop_tail(t: Tracklet) -> Tracklet:
    """``t`` without the rows after its last detection-backed box (``det_index`` >= 0)."""
    backed = (t.det_index >= 0).nonzero()[0]
    n = int(backed[-1]) + 1 if len(backed) else 0
    if n == len(t.frames):
        return t
    return Tracklet(t.track_id, t.frames[:n], t.xyxy[:n], t.scores[:n], t.det_index[:n])


def _interpolate(
    f: NDArray[np.int64],
    b: NDArray[np.float64],
    s: NDArray[np.float64],
    d: NDArray[np.int64],
    holes: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Fill the gaps after rows ``holes`` linearly (frames ascending, unique)."""
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
