"""CLEAR MOT metrics (Bernardin & Stiefelhagen, 2008), as the official MOTChallenge kit.

Per frame, ground truth and tracker boxes are matched by an optimal assignment over IoU
(pairs below ``threshold`` cannot match) that keeps last frame's matches when possible (a
bonus of 1000 on the score). Counts: true positives, misses, false positives, identity
switches (a ground-truth id matched to a different tracker id than at its previous match) and
fragmentations (a ground-truth trajectory's tracked spans beyond its first), mostly/partly/
mostly lost trajectories (> 80 %, 20–80 %, < 20 % of frames tracked).

Rates are fractions: ``MOTA = (TP - FP - IDSW) / max(1, TP + FN)``, ``MOTP`` mean IoU of
matches, ``sMOTA = (sum IoU - FP - IDSW) / max(1, TP + FN)``, ``MODA = (TP - FP) / max(1, TP+FN)``.

One faithful detail of the official kit: a frame with no ground truth or no tracker boxes
does not reset the "matched in the previous frame" state used for fragmentation and the
continuity bonus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from trackkit.metrics.lsap import linear_sum_assignment
from trackkit.metrics.mot_data import EPS, MOTSequenceData, matching_frames

__all__ = ["CLEARMatches", "CLEARResult", "clear_matches", "clear_metrics", "combine_clear"]

#: :func:`clear_matches`' result: processed frames, matched gt ids, tracker ids, IoUs per frame.
CLEARMatches = tuple[
    list[int], list[NDArray[np.int64]], list[NDArray[np.int64]], list[NDArray[np.float64]]
]


@dataclass(frozen=True)
class CLEARResult:
    """CLEAR counts of one sequence (or several combined) and the rates derived from them.

    Counts are integers; ``MOTP_sum`` is the summed IoU of all matches.
    """

    CLR_TP: int = 0
    CLR_FN: int = 0
    CLR_FP: int = 0
    IDSW: int = 0
    MT: int = 0
    PT: int = 0
    ML: int = 0
    Frag: int = 0
    CLR_Frames: int = 0
    MOTP_sum: float = 0.0
    #: Set for the official kit's early return (no tracker or no ground-truth boxes), where
    #: rates stay 0 and MLR is 1.
    empty: bool = False

    @property
    def num_gt_ids(self) -> int:
        return self.MT + self.PT + self.ML

    def _rate(self, num: float, den: float) -> float:
        return 0.0 if self.empty else num / max(1.0, den)

    @property
    def MOTA(self) -> float:
        return self._rate(self.CLR_TP - self.CLR_FP - self.IDSW, self.CLR_TP + self.CLR_FN)

    @property
    def MODA(self) -> float:
        return self._rate(self.CLR_TP - self.CLR_FP, self.CLR_TP + self.CLR_FN)

    @property
    def MOTP(self) -> float:
        return self._rate(self.MOTP_sum, self.CLR_TP)

    @property
    def sMOTA(self) -> float:
        return self._rate(self.MOTP_sum - self.CLR_FP - self.IDSW, self.CLR_TP + self.CLR_FN)

    @property
    def CLR_Re(self) -> float:
        return self._rate(self.CLR_TP, self.CLR_TP + self.CLR_FN)

    @property
    def CLR_Pr(self) -> float:
        return self._rate(self.CLR_TP, self.CLR_TP + self.CLR_FP)

    @property
    def CLR_F1(self) -> float:
        return self._rate(self.CLR_TP, self.CLR_TP + 0.5 * self.CLR_FN + 0.5 * self.CLR_FP)

    @property
    def FP_per_frame(self) -> float:
        return self._rate(self.CLR_FP, self.CLR_Frames)

    @property
    def MOTAL(self) -> float:
        log_idsw = math.log10(self.IDSW) if self.IDSW > 0 else float(self.IDSW)
        return self._rate(self.CLR_TP - self.CLR_FP - log_idsw, self.CLR_TP + self.CLR_FN)

    @property
    def MTR(self) -> float:
        return self._rate(self.MT, self.num_gt_ids)

    @property
    def PTR(self) -> float:
        return self._rate(self.PT, self.num_gt_ids)

    @property
    def MLR(self) -> float:
        return 1.0 if self.empty else self.ML / max(1.0, self.num_gt_ids)

    def as_dict(self) -> dict[str, float | int]:
        """Official field names -> values (counts as ints, rates as fractions)."""
        out: dict[str, float | int] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "empty"
        }
        for name in (
            "MOTA",
            "MOTP",
            "MODA",
            "CLR_Re",
            "CLR_Pr",
            "MTR",
            "PTR",
            "MLR",
            "sMOTA",
            "CLR_F1",
            "FP_per_frame",
            "MOTAL",
        ):
            out[name] = getattr(self, name)
        return out


def clear_metrics(data: MOTSequenceData, threshold: float = 0.5) -> CLEARResult:
    """CLEAR metrics of one sequence.

    Args:
        data: per-frame ids and IoU similarities.
        threshold: minimum similarity of a match (compared with machine-epsilon tolerance).
    """
    n_frames = data.num_frames
    if data.num_tracker_dets == 0:
        return CLEARResult(
            CLR_FN=data.num_gt_dets, ML=data.num_gt_ids, CLR_Frames=n_frames, empty=True
        )
    if data.num_gt_dets == 0:
        return CLEARResult(CLR_FP=data.num_tracker_dets, CLR_Frames=n_frames, empty=True)
    n_gt = data.num_gt_ids
    processed, m_gt, m_tr, m_sim = clear_matches(data, threshold)
    counts = np.array([len(m) for m in m_gt], np.int64)
    gts = np.concatenate(m_gt) if m_gt else np.zeros(0, np.int64)
    trs = np.concatenate(m_tr) if m_tr else np.zeros(0, np.int64)
    step = np.repeat(np.arange(len(processed)), counts)
    tp = len(gts)
    motp_sum = float(np.concatenate(m_sim).sum()) if m_sim else 0.0
    # Each ground-truth id's matches in time order: a different tracker id than at its
    # previous match is an identity switch; a match not in the previous processed frame
    # starts a tracked span (spans beyond the first are fragmentations).
    order = np.lexsort((step, gts))
    g, t, s = gts[order], trs[order], step[order]
    same = g[1:] == g[:-1]
    idsw = int(np.count_nonzero(same & (t[1:] != t[:-1])))
    new_span = np.ones(len(g), bool)
    new_span[1:] = ~(same & (s[1:] == s[:-1] + 1))
    spans = np.bincount(g[new_span], minlength=n_gt)
    frag = int(np.sum(spans[spans > 0] - 1))
    gt_id_count = np.bincount(np.concatenate(data.gt_ids), minlength=n_gt).astype(np.float64)
    gt_matched_count = np.bincount(gts, minlength=n_gt)
    seen = gt_id_count > 0
    ratio = gt_matched_count[seen] / gt_id_count[seen]
    mt = int(np.sum(ratio > 0.8))
    pt = int(np.sum(ratio >= 0.2)) - mt
    return CLEARResult(
        CLR_TP=tp,
        CLR_FN=data.num_gt_dets - tp,
        CLR_FP=data.num_tracker_dets - tp,
        IDSW=idsw,
        MT=mt,
        PT=pt,
        ML=n_gt - mt - pt,
        Frag=frag,
        CLR_Frames=n_frames,
        MOTP_sum=motp_sum,
    )


def clear_matches(data: MOTSequenceData, threshold: float = 0.5) -> CLEARMatches:
    """CLEAR's per-frame matching, the one :func:`clear_metrics` counts from.

    Returns:
        ``(processed, gt, tr, sim)``: the frames (0-based) with ground truth and tracker
        boxes, and for each of them the matched ground-truth ids ``(M,)``, tracker ids
        ``(M,)`` and IoUs ``(M,)`` (relabelled ids of ``data``). Empty when ``data`` has no
        tracker or no ground-truth boxes.
    """
    n_frames = data.num_frames
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return [], [], [], []
    flat = data.flat
    n_gt = data.num_gt_ids
    # Frames with ground truth and tracker boxes are "processed"; the others leave the
    # "matched in the previous frame" state untouched, as in the official kit.
    processed = [f for f in range(n_frames) if len(data.gt_ids[f]) and len(data.tracker_ids[f])]
    candidate = flat.sim >= threshold - EPS
    # Where candidates form a matching, the assignment is the candidates themselves whatever
    # the continuity bonus (it only reorders positive scores); elsewhere solve as the kit,
    # with the bonus for pairs matched in the previous processed frame.
    easy = matching_frames(flat, candidate, n_frames)
    cand_pos = np.flatnonzero(candidate)
    cand_frame = np.searchsorted(flat.frame_start, cand_pos, side="right") - 1
    cand_bounds = np.searchsorted(cand_frame, np.arange(n_frames + 1))
    m_gt: list[NDArray[np.int64]] = []
    m_tr: list[NDArray[np.int64]] = []
    m_sim: list[NDArray[np.float64]] = []
    for p, f in enumerate(processed):
        if easy[f]:
            pos = cand_pos[cand_bounds[f] : cand_bounds[f + 1]]
            m_gt.append(flat.gt_id[pos])
            m_tr.append(flat.tr_id[pos])
            m_sim.append(flat.sim[pos])
            continue
        gt_ids, tr_ids, sim = data.gt_ids[f], data.tracker_ids[f], data.similarity[f]
        previous = np.full(n_gt, -1, np.int64)
        if p:
            previous[m_gt[p - 1]] = m_tr[p - 1]
        score = 1000.0 * (tr_ids[None, :] == previous[gt_ids][:, None]) + sim
        score[sim < threshold - EPS] = 0.0
        rows, cols = linear_sum_assignment(-score)
        ok = score[rows, cols] > EPS
        rows, cols = rows[ok], cols[ok]
        m_gt.append(gt_ids[rows])
        m_tr.append(tr_ids[cols])
        m_sim.append(sim[rows, cols])
    return processed, m_gt, m_tr, m_sim


def combine_clear(results: list[CLEARResult]) -> CLEARResult:
    """Combine sequences as the official kit does: sum the counts, recompute the rates."""
    total = {
        f.name: sum(getattr(r, f.name) for r in results)
        for f in fields(CLEARResult)
        if f.name != "empty"
    }
    return CLEARResult(**total)  # type: ignore[arg-type]
