"""k-reciprocal re-ranking (Zhong, Zheng, Cao & Li, "Re-ranking Person Re-identification with
k-reciprocal Encoding", CVPR 2017), with sparse matrices so large problems fit in memory.

With all ``N = Q + G`` images and squared Euclidean distances ``d`` of L2-normalised
features, each row scaled by its maximum (``d'(i, j) = d(i, j) / max_k d(i, k)``):

1. ``N(i, k)``: the ``k`` nearest neighbours of ``i`` plus ``i`` itself (``k + 1`` items);
   ``R(i, k) = {j in N(i, k) : i in N(j, k)}`` (k-reciprocal neighbours).
2. Expansion: ``R*(i) = R(i, k1)`` united with every ``R(c, round(k1 / 2))``, ``c in R(i, k1)``,
   that shares more than 2/3 of its members with ``R(i, k1)``.
3. ``V[i, j] = exp(-d'(i, j)) / sum_{j' in R*(i)} exp(-d'(i, j'))`` for ``j in R*(i)``, else 0.
4. Local query expansion: ``V[i] <- mean of V[j]`` over the ``k2`` nearest ``j`` (``i``
   included).
5. Jaccard distance ``d_J(i, j) = 1 - sum_k min(V_ik, V_jk) / sum_k max(V_ik, V_jk)``; as
   rows sum to 1, ``sum max = 2 - sum min``.
6. ``d*(i, j) = (1 - lambda) d_J(i, j) + lambda d'(i, j)`` for query ``i``, gallery ``j``.

Memory and time: similarities are computed once per pair of 2048-row tiles (the matrix is
symmetric) and streamed into per-row top-k lists, so only the query x gallery block is kept
dense; ``V`` is a sparse matrix and the Jaccard sums are a join over its non-zero columns,
one block of queries at a time. A 3,000 x 15,000 problem with 256-d features takes < 0.5 GB
(``benchmarks/reid.py`` measures it).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from trackkit.errors import TrackkitError

__all__ = ["k_reciprocal_rerank"]

_BLOCK = 2048

log = logging.getLogger(__name__)


def _normalize(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _tiles(n: int, nq: int, size: int) -> list[tuple[int, int]]:
    """Index ranges covering ``0..n`` with ``nq`` as a boundary."""
    bounds = sorted({*range(0, nq, size), *range(nq, n, size), n})
    return list(zip(bounds[:-1], bounds[1:]))


def _merge_topk(
    top_v: NDArray[np.float32],
    top_i: NDArray[np.int64],
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    vals: NDArray[np.float32],
) -> None:
    """Merge candidate ``(row, col, similarity)`` triples into each row's running top list
    (descending similarity, ties by ascending index), in place."""
    if rows.size == 0:
        return
    k = top_v.shape[1]
    urows = np.unique(rows)
    all_r = np.concatenate([np.repeat(urows, k), rows])
    all_v = np.concatenate([top_v[urows].ravel(), vals])
    all_i = np.concatenate([top_i[urows].ravel(), cols])
    order = np.lexsort((all_i, -all_v, all_r))
    all_r, all_v, all_i = all_r[order], all_v[order], all_i[order]
    first = np.searchsorted(all_r, urows)
    pos = np.arange(all_r.size) - np.repeat(first, np.diff(np.append(first, all_r.size)))
    keep = pos < k
    top_v[all_r[keep], pos[keep]] = all_v[keep]
    top_i[all_r[keep], pos[keep]] = all_i[keep]


def _neighbours(
    feats: NDArray[np.float32], nq: int, k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
    """Per row: the ``k`` nearest (self first, ties by index), row maxima of ``d``, and the
    row-normalised query x gallery block.

    Similarities ``s = f_i . f_j`` are computed once per unordered tile pair (the matrix is
    symmetric) and streamed into per-row top-``k`` lists: a candidate enters only if it beats
    the row's current ``k``-th similarity, itself seeded from a random column sample.
    """
    n = feats.shape[0]
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(n, max(8 * k, _BLOCK)), replace=False))
    # a lower bound of each row's k-th similarity (minus a margin for rounding differences)
    kth = np.empty(n, dtype=np.float32)
    for r0 in range(0, n, _BLOCK):
        seed_s = feats[r0 : r0 + _BLOCK] @ feats[sample].T
        kth[r0 : r0 + _BLOCK] = np.partition(seed_s, sample.size - k, axis=1)[:, sample.size - k]
    kth -= 1e-3
    top_v = np.full((n, k), -np.inf, dtype=np.float32)
    top_i = np.full((n, k), -1, dtype=np.int64)
    min_s = np.full(n, np.inf, dtype=np.float32)
    qg = np.empty((nq, n - nq), dtype=np.float32)
    tiles = _tiles(n, nq, _BLOCK)
    for a, (r0, r1) in enumerate(tiles):
        for c0, c1 in tiles[a:]:
            s = feats[r0:r1] @ feats[c0:c1].T
            if r0 == c0:
                np.fill_diagonal(s, 2.0)  # each image is its own nearest neighbour
            np.minimum(min_s[r0:r1], s.min(axis=1), out=min_s[r0:r1])
            if r0 != c0:
                np.minimum(min_s[c0:c1], s.min(axis=0), out=min_s[c0:c1])
            thr = np.maximum(kth[r0:r1], top_v[r0:r1, -1])
            rr, cc = np.nonzero(s >= thr[:, None])
            _merge_topk(top_v, top_i, rr + r0, cc + c0, s[rr, cc])
            if r0 != c0:  # the same tile seen from the column images
                thr = np.maximum(kth[c0:c1], top_v[c0:c1, -1])
                rr, cc = np.nonzero(s >= thr[None, :])
                _merge_topk(top_v, top_i, cc + c0, rr + r0, s[rr, cc])
            if r1 <= nq and c0 >= nq:
                qg[r0:r1, c0 - nq : c1 - nq] = s
    row_max = np.maximum(2.0 - 2.0 * min_s, 1e-12).astype(np.float32)
    qg *= -2.0  # in place: d = max(2 - 2 s, 0) / row max
    qg += 2.0
    np.maximum(qg, 0.0, out=qg)
    qg /= row_max[:nq, None]
    return top_i, row_max, qg


def _reciprocal(ranks: NDArray[np.int64], k: int) -> sp.csr_matrix:
    """0/1 sparse ``(N, N)``: ``[i, j] = 1`` iff ``j in R(i, k)``."""
    n = ranks.shape[0]
    cols = ranks[:, : k + 1].ravel()
    rows = np.repeat(np.arange(n), k + 1)
    a = sp.csr_matrix((np.ones(cols.size, dtype=np.float32), (rows, cols)), shape=(n, n))
    return a.multiply(a.T).tocsr()


def _jaccard_into(
    vq: sp.csr_matrix, vg: sp.csr_matrix, out: NDArray[np.float32], lambda_value: float
) -> None:
    """``out <- (1 - lambda) d_J + lambda out`` with ``d_J = 1 - m / (2 - m)`` and
    ``m[i, j] = sum_k min(vq[i, k], vg[j, k])``, one block of queries at a time (a join of
    each query's non-zero columns with the gallery entries of those columns; temporaries stay
    small, which matters more than flops on a loaded machine)."""
    nq, ng = vq.shape[0], vg.shape[0]
    cg = sp.csc_matrix(vg)  # per column k of V: the gallery rows where it is non-zero
    col_ptr, col_rows, col_vals = cg.indptr, cg.indices, cg.data
    count = np.diff(col_ptr)
    block = max(1, 2_000_000 // max(ng, 1))
    for b0 in range(0, nq, block):
        sub = vq[b0 : b0 + block].tocoo()
        reps = count[sub.col]
        total = int(reps.sum())
        m = np.zeros(sub.shape[0] * ng, dtype=np.float64)
        if total:
            starts = np.repeat(col_ptr[sub.col], reps)
            offset = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
            pos = starts + offset
            vals = np.minimum(np.repeat(sub.data, reps), col_vals[pos])
            lin = np.repeat(sub.row.astype(np.int64) * ng, reps) + col_rows[pos]
            m = np.bincount(lin, weights=vals, minlength=sub.shape[0] * ng)
        m2 = m.reshape(sub.shape[0], ng)
        rows = out[b0 : b0 + sub.shape[0]]
        rows *= lambda_value
        rows += ((1.0 - lambda_value) * (1.0 - m2 / (2.0 - m2))).astype(np.float32)


def k_reciprocal_rerank(
    query: ArrayLike,
    gallery: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> NDArray[np.float32]:
    """Re-ranked ``(Q, G)`` float32 distances of query and gallery features.

    Args:
        query: ``(Q, D)`` features; gallery: ``(G, D)`` (both L2-normalised here).
        k1: neighbourhood size of the k-reciprocal sets; k2: of the query expansion.
        lambda_value: weight of the original distance in the final distance.
    """
    q = np.asarray(query, dtype=np.float32)
    g = np.asarray(gallery, dtype=np.float32)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise TrackkitError(f"features must be (Q, D) and (G, D), got {q.shape} and {g.shape}")
    if q.shape[0] == 0:
        raise TrackkitError("the query set is empty")
    if g.shape[0] == 0:
        raise TrackkitError("the gallery is empty")
    if k1 < 1 or k2 < 1 or not 0.0 <= lambda_value <= 1.0:
        raise TrackkitError(
            f"need k1, k2 >= 1 and 0 <= lambda <= 1, got {k1}, {k2}, {lambda_value}"
        )
    feats = _normalize(np.concatenate([q, g]))
    n, nq = feats.shape[0], q.shape[0]
    k1 = min(k1, n - 1)
    k2 = min(k2, n)
    half = int(np.around(k1 / 2.0))
    t0 = time.perf_counter()
    ranks, row_max, qg = _neighbours(feats, nq, max(k1 + 1, k2))
    t1 = time.perf_counter()

    recip = _reciprocal(ranks, k1)
    recip_half = _reciprocal(ranks, half)
    size_half = np.asarray(recip_half.sum(axis=1)).ravel()
    overlap = (recip @ recip_half.T).multiply(recip).tocoo()  # [i, c]: |R(c,k1/2) & R(i,k1)|
    keep = overlap.data > (2.0 / 3.0) * size_half[overlap.col]
    select = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (overlap.row[keep], overlap.col[keep])),
        shape=(n, n),
    )
    expanded = (recip + select @ recip_half).tocoo()
    rows, cols = expanded.row, expanded.col
    weights = np.empty(rows.size, dtype=np.float32)
    for s in range(0, rows.size, 8192):
        r, c = rows[s : s + 8192], cols[s : s + 8192]
        d = np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", feats[r], feats[c]), 0.0)
        d[r == c] = 0.0
        weights[s : s + r.size] = np.exp(-d / row_max[r])
    v = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    v = sp.diags(1.0 / np.asarray(v.sum(axis=1)).ravel()) @ v
    if k2 > 1:
        qe_rows = np.repeat(np.arange(n), k2)
        qe = sp.csr_matrix(
            (np.full(n * k2, 1.0 / k2, dtype=np.float32), (qe_rows, ranks[:, :k2].ravel())),
            shape=(n, n),
        )
        v = qe @ v
    v = sp.csr_matrix(v, dtype=np.float32)
    t2 = time.perf_counter()
    _jaccard_into(v[:nq], v[nq:], qg, lambda_value)
    log.debug(
        "re-ranking %d x %d: neighbours %.1fs, encoding %.1fs (nnz %d), jaccard %.1fs",
        nq,
        n - nq,
        t1 - t0,
        t2 - t1,
        v.nnz,
        time.perf_counter() - t2,
    )
    return qg
