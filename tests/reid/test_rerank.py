"""k-reciprocal re-ranking against a direct dense implementation of the paper's steps."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.errors import TrackkitError
from trackkit.metrics.rank import evaluate_rank
from trackkit.reid.rerank import k_reciprocal_rerank


def dense_reference(q: np.ndarray, g: np.ndarray, k1: int, k2: int, lam: float) -> np.ndarray:
    f = np.concatenate([q, g]).astype(np.float64)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    n, nq = len(f), len(q)
    d = np.maximum(2 - 2 * f @ f.T, 0)
    np.fill_diagonal(d, 0)
    d = d / d.max(axis=1, keepdims=True)
    order = []
    for i in range(n):
        key = [(-1.0 if j == i else d[i, j], j) for j in range(n)]
        order.append([j for _, j in sorted(key)])
    rank = np.array(order)

    def recip(i: int, k: int) -> set[int]:
        return {int(j) for j in rank[i, : k + 1] if i in rank[j, : k + 1]}

    v = np.zeros((n, n))
    for i in range(n):
        r = recip(i, k1)
        expanded = set(r)
        for c in r:
            rc = recip(c, int(np.around(k1 / 2)))
            if len(rc & r) > 2 / 3 * len(rc):
                expanded |= rc
        idx = sorted(expanded)
        w = np.exp(-d[i, idx])
        v[i, idx] = w / w.sum()
    v = np.stack([v[rank[i, :k2]].mean(0) for i in range(n)])
    out = np.zeros((nq, n - nq))
    for i in range(nq):
        for j in range(nq, n):
            mn = np.minimum(v[i], v[j]).sum()
            mx = np.maximum(v[i], v[j]).sum()
            out[i, j - nq] = (1 - lam) * (1 - mn / mx) + lam * d[i, j]
    return out


def clustered(rng: np.random.Generator, ids: np.ndarray, dim: int, noise: float) -> np.ndarray:
    centres = rng.normal(size=(ids.max() + 1, dim))
    return (centres[ids] + noise * rng.normal(size=(ids.size, dim))).astype(np.float32)


def test_matches_dense_reference() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 12, 70)
    f = clustered(rng, ids, 16, 0.9)
    q, g = f[:20], f[20:]
    ours = k_reciprocal_rerank(q, g, k1=6, k2=3, lambda_value=0.3)
    ref = dense_reference(q, g, 6, 3, 0.3)
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_rerank_improves_map_on_clusters() -> None:
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(40), 6)
    f = clustered(rng, ids, 32, 1.4)
    qmask = np.arange(ids.size) % 6 == 0
    q, g, qp, gp = f[qmask], f[~qmask], ids[qmask], ids[~qmask]
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    cams_q, cams_g = np.zeros(qp.size), np.ones(gp.size)
    base = evaluate_rank(1 - qn @ gn.T, qp, gp, cams_q, cams_g)
    rr = evaluate_rank(k_reciprocal_rerank(q, g, 6, 3, 0.3), qp, gp, cams_q, cams_g)
    assert rr.mAP > base.mAP


def test_bad_input() -> None:
    with pytest.raises(TrackkitError, match="empty"):
        k_reciprocal_rerank(np.zeros((0, 4)), np.ones((3, 4)))
    with pytest.raises(TrackkitError):
        k_reciprocal_rerank(np.ones((2, 4)), np.ones((3, 5)))
