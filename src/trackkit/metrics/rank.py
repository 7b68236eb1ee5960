"""Retrieval metrics of person re-identification: CMC rank-k, mAP and mINP.

Pure numpy (no torch). Each query ranks the whole gallery by ascending distance; gallery
entries that show the query's identity *in the query's camera* are removed from its ranking
(they are the same view, not a re-identification), and so are junk entries (identity ``-1``,
as in Market-1501). A query whose ranking then holds no true match is skipped and counted in
``num_skipped``.

- CMC (cumulative matching characteristic): ``cmc[k-1]`` is the fraction of queries whose
  first true match is within the top ``k`` (Moon & Phillips 2001; the single-gallery-shot
  variant averaging one random gallery image per identity is not used here: every gallery
  image counts, as in Market-1501, Zheng et al. ICCV 2015).
- AP: mean of the precision at the rank of each true match; mAP is its mean over queries.
- INP (inverse negative penalty, Ye et al. TPAMI 2021): ``num_matches / rank_of_hardest_match``
  (1-based); mINP is its mean over queries.

Ties in distance are broken by gallery order (stable sort), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.errors import TrackkitError

__all__ = ["JUNK_ID", "RankResult", "average_results", "evaluate_rank"]

#: Identity label of junk gallery images (ignored in every ranking).
JUNK_ID = -1


@dataclass(frozen=True)
class RankResult:
    """Retrieval quality of one query/gallery split.

    Attributes:
        cmc: ``(max_rank,)`` float64, ``cmc[k-1]`` = fraction of valid queries whose first true
            match is within the top ``k``.
        mAP: mean average precision over valid queries (fraction in [0, 1]).
        mINP: mean inverse negative penalty over valid queries (fraction in [0, 1]).
        num_queries: number of valid queries (with at least one true match).
        num_skipped: queries skipped because no true match was left in their ranking.
    """

    cmc: NDArray[np.float64]
    mAP: float
    mINP: float
    num_queries: int
    num_skipped: int = 0

    def rank(self, k: int) -> float:
        """The CMC value at rank ``k`` (1-based); beyond ``max_rank`` the last value."""
        if k < 1:
            raise ValueError(f"rank k must be >= 1, got {k}")
        return float(self.cmc[min(k, len(self.cmc)) - 1])

    def as_dict(self, ranks: Sequence[int] = (1, 5, 10, 20)) -> dict[str, float]:
        """``{"rank1": .., "rank5": .., ..., "mAP": .., "mINP": ..}`` as fractions."""
        out = {f"rank{k}": self.rank(k) for k in ranks}
        out["mAP"] = self.mAP
        out["mINP"] = self.mINP
        return out


def _as_labels(x: ArrayLike, name: str, n: int) -> NDArray[np.int64]:
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise TrackkitError(f"{name} must have shape ({n},), got {arr.shape}")
    return arr.astype(np.int64)


def evaluate_rank(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    *,
    max_rank: int = 50,
    exclude_same_camera: bool = True,
) -> RankResult:
    """CMC, mAP and mINP of a query x gallery distance matrix.

    Args:
        distmat: ``(Q, G)`` distances (smaller = more similar), any float dtype.
        q_pids, g_pids: ``(Q,)`` / ``(G,)`` integer identity labels; gallery ``-1`` is junk.
        q_camids, g_camids: ``(Q,)`` / ``(G,)`` integer camera labels.
        max_rank: length of the returned CMC curve.
        exclude_same_camera: drop gallery entries with the query's identity and camera.

    Raises:
        TrackkitError: empty query set, mismatched shapes, or no query with a true match.
    """
    dist = np.asarray(distmat, dtype=np.float64)
    if dist.ndim != 2:
        raise TrackkitError(f"distmat must be 2-D (queries x gallery), got shape {dist.shape}")
    nq, ng = dist.shape
    if nq == 0:
        raise TrackkitError("the query set is empty")
    if ng == 0:
        raise TrackkitError("the gallery is empty")
    if max_rank < 1:
        raise TrackkitError(f"max_rank must be >= 1, got {max_rank}")
    qp = _as_labels(q_pids, "q_pids", nq)
    gp = _as_labels(g_pids, "g_pids", ng)
    qc = _as_labels(q_camids, "q_camids", nq)
    gc = _as_labels(g_camids, "g_camids", ng)

    order = np.argsort(dist, axis=1, kind="stable")
    cmc_sum = np.zeros(max_rank, dtype=np.float64)
    ap_sum = 0.0
    inp_sum = 0.0
    valid = 0
    for i in range(nq):
        idx = order[i]
        keep = gp[idx] != JUNK_ID
        if exclude_same_camera:
            keep &= ~((gp[idx] == qp[i]) & (gc[idx] == qc[i]))
        matches = gp[idx][keep] == qp[i]
        hits = np.flatnonzero(matches)
        if hits.size == 0:
            continue
        valid += 1
        first = hits[0]
        if first < max_rank:
            cmc_sum[first:] += 1.0
        # precision at each hit: (number of hits so far) / (1-based rank)
        ap_sum += float(np.mean(np.arange(1, hits.size + 1) / (hits + 1.0)))
        inp_sum += hits.size / (hits[-1] + 1.0)
    if valid == 0:
        raise TrackkitError("no query has a true match in the gallery (from another camera)")
    return RankResult(
        cmc=cmc_sum / valid,
        mAP=ap_sum / valid,
        mINP=inp_sum / valid,
        num_queries=valid,
        num_skipped=nq - valid,
    )


def average_results(results: Sequence[RankResult]) -> RankResult:
    """The mean of several trials' results (each trial weighs the same)."""
    if not results:
        raise TrackkitError("no results to average")
    n = min(len(r.cmc) for r in results)
    return RankResult(
        cmc=np.mean([r.cmc[:n] for r in results], axis=0),
        mAP=float(np.mean([r.mAP for r in results])),
        mINP=float(np.mean([r.mINP for r in results])),
        num_queries=int(sum(r.num_queries for r in results)),
        num_skipped=int(sum(r.num_skipped for r in results)),
    )
