"""HOTA: Higher Order Tracking Accuracy (Luiten et al., IJCV 2021), as the official kit.

For each localisation threshold ``alpha`` in 0.05, 0.10, ..., 0.95, boxes are matched per
frame by an optimal assignment maximising ``A_global(gt_id, tr_id) * IoU`` (the global
alignment score favours pairs of trajectories that overlap over the whole sequence); matches
need ``IoU >= alpha``. Then

- ``DetA = TP / (TP + FN + FP)``, ``DetRe = TP / (TP + FN)``, ``DetPr = TP / (TP + FP)``;
- ``AssA`` = mean over true positives ``c`` of ``TPA(c) / (TPA(c) + FNA(c) + FPA(c))``
  (likewise ``AssRe``, ``AssPr``);
- ``HOTA = sqrt(DetA * AssA)``, ``LocA`` = mean IoU of matches.

Scalars are means over the 19 alphas; ``HOTA(0)``/``LocA(0)`` are the values at alpha 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trackkit.metrics.lsap import linear_sum_assignment
from trackkit.metrics.mot_data import EPS, MOTSequenceData, matching_frames

__all__ = ["ALPHAS", "HOTAResult", "combine_hota", "hota_metrics"]

#: The localisation thresholds, exactly as the official kit builds them.
ALPHAS: NDArray[np.float64] = np.arange(0.05, 0.99, 0.05)

FloatArray = NDArray[np.float64]
_ARRAY_FIELDS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA")


@dataclass(frozen=True, eq=False)
class HOTAResult:
    """HOTA per alpha (arrays of shape ``(19,)``, one value per entry of :data:`ALPHAS`).

    ``HOTA_TP``/``HOTA_FN``/``HOTA_FP`` are detection counts per alpha; ``AssA``/``AssRe``/
    ``AssPr``/``LocA`` are stored, the other fields derived.
    """

    HOTA_TP: FloatArray
    HOTA_FN: FloatArray
    HOTA_FP: FloatArray
    AssA: FloatArray
    AssRe: FloatArray
    AssPr: FloatArray
    LocA: FloatArray

    @property
    def DetRe(self) -> FloatArray:
        return self.HOTA_TP / np.maximum(1, self.HOTA_TP + self.HOTA_FN)

    @property
    def DetPr(self) -> FloatArray:
        return self.HOTA_TP / np.maximum(1, self.HOTA_TP + self.HOTA_FP)

    @property
    def DetA(self) -> FloatArray:
        return self.HOTA_TP / np.maximum(1, self.HOTA_TP + self.HOTA_FN + self.HOTA_FP)

    @property
    def HOTA(self) -> FloatArray:
        return np.sqrt(self.DetA * self.AssA)

    @property
    def OWTA(self) -> FloatArray:
        return np.sqrt(self.DetRe * self.AssA)

    def per_alpha(self) -> dict[str, list[float]]:
        """Every array field as a list over :data:`ALPHAS`."""
        names = _ARRAY_FIELDS + ("HOTA_TP", "HOTA_FN", "HOTA_FP")
        return {name: np.asarray(getattr(self, name)).tolist() for name in names}

    def as_dict(self) -> dict[str, float]:
        """Official field names -> values (means over alpha, plus the alpha=0.05 values)."""
        out = {name: float(np.mean(getattr(self, name))) for name in _ARRAY_FIELDS}
        for name in ("HOTA_TP", "HOTA_FN", "HOTA_FP"):
            out[name] = float(np.mean(getattr(self, name)))
        out["HOTA(0)"] = float(self.HOTA[0])
        out["LocA(0)"] = float(self.LocA[0])
        out["HOTALocA(0)"] = float(self.HOTA[0] * self.LocA[0])
        return out


def _empty(n_fn: int, n_fp: int) -> HOTAResult:
    z = np.zeros(len(ALPHAS))
    return HOTAResult(
        HOTA_TP=z.copy(),
        HOTA_FN=np.full(len(ALPHAS), float(n_fn)),
        HOTA_FP=np.full(len(ALPHAS), float(n_fp)),
        AssA=z.copy(),
        AssRe=z.copy(),
        AssPr=z.copy(),
        LocA=np.ones(len(ALPHAS)),
    )


def hota_metrics(data: MOTSequenceData) -> HOTAResult:
    """HOTA of one sequence (similarities are IoUs)."""
    if data.num_tracker_dets == 0:
        return _empty(data.num_gt_dets, 0)
    if data.num_gt_dets == 0:
        return _empty(0, data.num_tracker_dets)
    n_g, n_t = data.num_gt_ids, data.num_tracker_ids
    flat = data.flat
    sim = flat.sim
    # 1. Global alignment: soft overlap of every pair of trajectories, accumulated frame by
    #    frame (per frame: sim / (row sum + column sum - sim)).
    row_sum = np.bincount(flat.row, weights=sim)
    col_sum = np.bincount(flat.col, weights=sim)
    denom = col_sum[flat.col] + row_sum[flat.row] - sim
    sim_iou = np.zeros_like(sim)
    ok = denom > EPS
    sim_iou[ok] = sim[ok] / denom[ok]
    pair = flat.gt_id * n_t + flat.tr_id
    potential = np.bincount(pair, weights=sim_iou, minlength=n_g * n_t).reshape(n_g, n_t)
    gt_count = np.bincount(np.concatenate(data.gt_ids), minlength=n_g).astype(np.float64)
    tr_count = np.bincount(np.concatenate(data.tracker_ids), minlength=n_t).astype(np.float64)
    global_score = potential / (gt_count[:, None] + tr_count[None, :] - potential)
    # 2. Per-frame matching maximising global score x similarity. Frames whose overlapping
    #    pairs already form a matching need no solver (see matching_frames); elsewhere the
    #    solver gets the frame's full matrix (zero where boxes do not overlap), as the kit.
    score = global_score.ravel()[pair] * sim
    easy = matching_frames(flat, np.ones(len(sim), bool), data.num_frames)
    frame_of_pair = np.repeat(np.arange(data.num_frames), np.diff(flat.frame_start))
    take = easy[frame_of_pair]
    pair_parts, sim_parts = [pair[take]], [sim[take]]
    starts = flat.frame_start.tolist()
    for f in np.flatnonzero(~easy).tolist():
        a, b = starts[f], starts[f + 1]
        gt_ids, tr_ids = data.gt_ids[f], data.tracker_ids[f]
        dense = np.zeros((len(gt_ids), len(tr_ids)))
        dense[flat.lrow[a:b], flat.lcol[a:b]] = score[a:b]
        rows, cols = linear_sum_assignment(-dense)
        pair_parts.append(gt_ids[rows] * n_t + tr_ids[cols])
        sim_parts.append(data.similarity[f][rows, cols])
    pairs = np.concatenate(pair_parts)
    sims = np.concatenate(sim_parts)
    # 3. Per alpha: which of those matches count, and the association scores.
    n = len(ALPHAS)
    tp, ass_a, ass_re, ass_pr, loc = (np.zeros(n) for _ in range(5))
    order = np.argsort(-sims, kind="stable")
    pairs, sims = pairs[order], sims[order]
    for a, alpha in enumerate(ALPHAS):
        k = int(np.searchsorted(-sims, -(alpha - EPS), side="right"))
        tp[a] = k
        loc[a] = sims[:k].sum()
        matches = np.bincount(pairs[:k], minlength=n_g * n_t).reshape(n_g, n_t)
        matches = matches.astype(np.float64)
        denom_a = np.maximum(1, gt_count[:, None] + tr_count[None, :] - matches)
        tp_a = max(1.0, tp[a])
        ass_a[a] = np.sum(matches * (matches / denom_a)) / tp_a
        ass_re[a] = np.sum(matches * (matches / np.maximum(1, gt_count)[:, None])) / tp_a
        ass_pr[a] = np.sum(matches * (matches / np.maximum(1, tr_count)[None, :])) / tp_a
    return HOTAResult(
        HOTA_TP=tp,
        HOTA_FN=data.num_gt_dets - tp,
        HOTA_FP=data.num_tracker_dets - tp,
        AssA=ass_a,
        AssRe=ass_re,
        AssPr=ass_pr,
        LocA=np.maximum(1e-10, loc) / np.maximum(1e-10, tp),
    )


def combine_hota(results: list[HOTAResult]) -> HOTAResult:
    """Combine sequences as the official kit: sum counts; association scores weighted by TP."""
    tp = np.sum([r.HOTA_TP for r in results], axis=0)

    def weighted(name: str) -> FloatArray:
        total = np.sum([getattr(r, name) * r.HOTA_TP for r in results], axis=0)
        return np.asarray(total / np.maximum(1.0, tp))

    loc = np.sum([r.LocA * r.HOTA_TP for r in results], axis=0)
    return HOTAResult(
        HOTA_TP=tp,
        HOTA_FN=np.sum([r.HOTA_FN for r in results], axis=0),
        HOTA_FP=np.sum([r.HOTA_FP for r in results], axis=0),
        AssA=weighted("AssA"),
        AssRe=weighted("AssRe"),
        AssPr=weighted("AssPr"),
        LocA=np.maximum(1e-10, loc) / np.maximum(1e-10, tp),
    )
