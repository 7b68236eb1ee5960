"""Identity metrics IDF1 / IDP / IDR (Ristani et al., ECCV 2016 workshops), as the official kit.

Ground-truth and tracker *trajectories* are matched one-to-one by a global optimal
assignment that minimises identity false negatives plus false positives, where a pair of
trajectories agrees on each frame in which their boxes overlap with IoU >= ``threshold``.
Unmatched trajectories count entirely as misses (IDFN) or false alarms (IDFP).
``IDF1 = IDTP / (IDTP + (IDFP + IDFN) / 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trackkit.metrics.lsap import linear_sum_assignment
from trackkit.metrics.mot_data import MOTSequenceData

__all__ = ["IdentityResult", "combine_identity", "identity_metrics"]


@dataclass(frozen=True)
class IdentityResult:
    """Identity counts and rates of one sequence (or several combined)."""

    IDTP: int = 0
    IDFN: int = 0
    IDFP: int = 0

    @property
    def IDR(self) -> float:
        return self.IDTP / max(1.0, self.IDTP + self.IDFN)

    @property
    def IDP(self) -> float:
        return self.IDTP / max(1.0, self.IDTP + self.IDFP)

    @property
    def IDF1(self) -> float:
        return self.IDTP / max(1.0, self.IDTP + 0.5 * self.IDFP + 0.5 * self.IDFN)

    def as_dict(self) -> dict[str, float | int]:
        """Official field names -> values."""
        return {
            "IDF1": self.IDF1,
            "IDR": self.IDR,
            "IDP": self.IDP,
            "IDTP": self.IDTP,
            "IDFN": self.IDFN,
            "IDFP": self.IDFP,
        }


def identity_metrics(data: MOTSequenceData, threshold: float = 0.5) -> IdentityResult:
    """Identity metrics of one sequence (frames agree where IoU >= ``threshold``)."""
    if data.num_tracker_dets == 0:
        return IdentityResult(IDFN=data.num_gt_dets)
    if data.num_gt_dets == 0:
        return IdentityResult(IDFP=data.num_tracker_dets)
    n_g, n_t = data.num_gt_ids, data.num_tracker_ids
    flat = data.flat
    agree = flat.sim >= threshold
    pair = flat.gt_id[agree] * n_t + flat.tr_id[agree]
    matches = np.bincount(pair, minlength=n_g * n_t).reshape(n_g, n_t).astype(np.float64)
    gt_count = np.bincount(np.concatenate(data.gt_ids), minlength=n_g).astype(np.float64)
    tr_count = np.bincount(np.concatenate(data.tracker_ids), minlength=n_t).astype(np.float64)
    # Square problem: ground-truth rows + one dummy row per tracker id, tracker columns + one
    # dummy column per ground-truth id; a trajectory assigned to a dummy is unmatched.
    size = n_g + n_t
    fn_mat = np.zeros((size, size))
    fp_mat = np.zeros((size, size))
    fp_mat[n_g:, :n_t] = 1e10
    fn_mat[:n_g, n_t:] = 1e10
    fn_mat[:n_g, :n_t] = gt_count[:, None] - matches
    fn_mat[np.arange(n_g), n_t + np.arange(n_g)] = gt_count
    fp_mat[:n_g, :n_t] = tr_count[None, :] - matches
    fp_mat[n_g + np.arange(n_t), np.arange(n_t)] = tr_count
    rows, cols = linear_sum_assignment(fn_mat + fp_mat)
    idfn = int(fn_mat[rows, cols].sum())
    idfp = int(fp_mat[rows, cols].sum())
    return IdentityResult(IDTP=int(gt_count.sum()) - idfn, IDFN=idfn, IDFP=idfp)


def combine_identity(results: list[IdentityResult]) -> IdentityResult:
    """Combine sequences: sum the counts, recompute the rates."""
    return IdentityResult(
        IDTP=sum(r.IDTP for r in results),
        IDFN=sum(r.IDFN for r in results),
        IDFP=sum(r.IDFP for r in results),
    )
