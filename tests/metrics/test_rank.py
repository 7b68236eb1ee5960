"""CMC / mAP / mINP against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.errors import TrackkitError
from trackkit.metrics.rank import average_results, evaluate_rank


def test_hand_computed_two_queries() -> None:
    # query 0 (id 1, cam 0): gallery sorted by distance -> ids [2, 1, 3, 1]
    # true matches at ranks 2 and 4: AP = (1/2 + 2/4) / 2 = 0.5, INP = 2/4 = 0.5
    # query 1 (id 2, cam 0): sorted ids [2, 1, 3, 1] -> first hit at rank 1: AP 1, INP 1
    g_pids = [2, 1, 3, 1]
    dist = np.array([[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]])
    r = evaluate_rank(dist, [1, 2], g_pids, [0, 0], [1, 1, 1, 1], max_rank=4)
    np.testing.assert_allclose(r.cmc, [0.5, 1.0, 1.0, 1.0])
    assert r.mAP == pytest.approx(0.75)
    assert r.mINP == pytest.approx(0.75)
    assert r.num_queries == 2
    assert r.as_dict(ranks=(1, 2))["rank2"] == 1.0


def test_same_camera_same_id_and_junk_excluded() -> None:
    # gallery: id 1 cam 0 (excluded: same view), junk -1 (excluded), id 5, id 1 cam 1
    dist = np.array([[0.0, 0.05, 0.2, 0.3]])
    r = evaluate_rank(dist, [1], [1, -1, 5, 1], [0], [0, 1, 1, 1], max_rank=3)
    # ranking after exclusion: [5, 1] -> first hit at rank 2
    np.testing.assert_allclose(r.cmc, [0.0, 1.0, 1.0])
    assert r.mAP == pytest.approx(0.5)
    # without the camera rule, the same-view entry is a rank-1 hit
    r2 = evaluate_rank(dist, [1], [1, -1, 5, 1], [0], [0, 1, 1, 1], exclude_same_camera=False)
    assert r2.rank(1) == 1.0
    assert r2.mAP == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_query_without_match_is_skipped() -> None:
    dist = np.array([[0.1, 0.2], [0.3, 0.1]])
    r = evaluate_rank(dist, [1, 9], [1, 2], [0, 0], [1, 1])
    assert r.num_queries == 1 and r.num_skipped == 1
    assert r.rank(1) == 1.0


def test_ties_broken_by_gallery_order() -> None:
    r = evaluate_rank(np.zeros((1, 2)), [1], [2, 1], [0], [1, 1])
    assert r.rank(1) == 0.0 and r.rank(2) == 1.0


def test_bad_inputs() -> None:
    with pytest.raises(TrackkitError, match="query set is empty"):
        evaluate_rank(np.zeros((0, 3)), [], [1, 2, 3], [], [0, 0, 0])
    with pytest.raises(TrackkitError, match="no query has a true match"):
        evaluate_rank(np.zeros((1, 1)), [1], [2], [0], [1])
    with pytest.raises(TrackkitError, match="shape"):
        evaluate_rank(np.zeros((2, 2)), [1], [2, 1], [0], [1, 1])


def test_random_matches_bruteforce() -> None:
    rng = np.random.default_rng(0)
    q, g = 20, 60
    dist = rng.random((q, g))
    qp, gp = rng.integers(0, 8, q), rng.integers(0, 8, g)
    qc, gc = rng.integers(0, 3, q), rng.integers(0, 3, g)
    r = evaluate_rank(dist, qp, gp, qc, gc, max_rank=g)
    aps, firsts = [], []
    for i in range(q):
        order = sorted(range(g), key=lambda j: dist[i, j])
        order = [j for j in order if not (gp[j] == qp[i] and gc[j] == qc[i])]
        hits = [n for n, j in enumerate(order) if gp[j] == qp[i]]
        if not hits:
            continue
        firsts.append(hits[0])
        aps.append(np.mean([(m + 1) / (h + 1) for m, h in enumerate(hits)]))
    assert r.mAP == pytest.approx(np.mean(aps))
    assert r.rank(1) == pytest.approx(np.mean(np.array(firsts) == 0))
    assert r.rank(5) == pytest.approx(np.mean(np.array(firsts) < 5))


def test_average_results() -> None:
    a = evaluate_rank(np.array([[0.1, 0.2]]), [1], [1, 2], [0], [1, 1], max_rank=2)
    b = evaluate_rank(np.array([[0.1, 0.2]]), [1], [2, 1], [0], [1, 1], max_rank=2)
    m = average_results([a, b])
    np.testing.assert_allclose(m.cmc, [0.5, 1.0])
    assert m.mAP == pytest.approx(0.75)
