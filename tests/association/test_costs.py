"""Cost matrices: values, shapes and no mutation of inputs."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.association.costs import (
    center_distance,
    cosine_distance,
    fuse_score,
    gate,
    giou_cost,
    iou_cost,
    iou_similarity,
    weighted_sum,
)
from trackkit.core.boxes import giou_matrix, iou_matrix


def _boxes(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0, 40, (n, 2))], axis=1)


def test_iou_and_giou_match_core() -> None:
    a, b = _boxes(0, 7), _boxes(1, 5)
    a[0, 2] = a[0, 0]  # zero width: overlaps nothing
    np.testing.assert_allclose(iou_similarity(a, b), iou_matrix(a, b), atol=1e-12)
    np.testing.assert_allclose(iou_cost(a, b), 1 - iou_matrix(a, b), atol=1e-12)
    np.testing.assert_allclose(giou_cost(a, b), (1 - giou_matrix(a, b)) / 2, atol=1e-12)
    assert iou_cost(a[:0], b).shape == (0, 5) and iou_cost(a, b[:0]).shape == (7, 0)


def test_center_and_cosine() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[3.0, 4.0, 13.0, 14.0], [0.0, 0.0, 10.0, 10.0]])
    np.testing.assert_allclose(center_distance(a, b), [[5.0, 0.0]])
    np.testing.assert_allclose(center_distance(a, b, normalize=True), [[5 / np.hypot(10, 10), 0]])
    f = np.array([[1.0, 0.0], [0.0, 2.0]])
    g = np.array([[3.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(cosine_distance(f, g), [[0, 2, 1], [1, 1, 1]])
    with pytest.raises(ValueError):
        cosine_distance(f, np.zeros((1, 3)))


def test_gate_fuse_weighted_do_not_mutate() -> None:
    c = np.array([[0.2, 0.4], [0.9, 0.1]])
    before = c.copy()
    g = gate(c, c > 0.5)
    assert np.isinf(g[1, 0]) and g[0, 0] == 0.2
    np.testing.assert_allclose(fuse_score(c, [1.0, 0.5]), [[0.2, 0.7], [0.9, 0.55]])
    np.testing.assert_allclose(weighted_sum([c, g], [0.5, 0.5])[0], [0.2, 0.4])
    np.testing.assert_array_equal(c, before)
    with pytest.raises(ValueError):
        weighted_sum([c], [1.0, 2.0])
