"""KISSME metric learning and the hand-crafted features."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.errors import ConfigError
from trackkit.metrics.rank import evaluate_rank
from trackkit.reid.kissme import Kissme, handcrafted_features, lbp_codes


def test_lbp_uniform_patterns() -> None:
    flat = np.full((5, 5), 7, np.uint8)
    # every neighbour equals the centre: code 255 (no transition) is uniform, not bin 58
    assert set(np.unique(lbp_codes(flat)).tolist()) == {int(lbp_codes(flat)[0, 0])}
    assert lbp_codes(flat)[0, 0] != 58
    rng = np.random.default_rng(0)
    codes = lbp_codes(rng.integers(0, 256, (40, 40), dtype=np.uint8))
    assert codes.shape == (38, 38)
    assert codes.min() >= 0 and codes.max() <= 58
    # a vertical step edge: left neighbours darker than the centre -> a uniform pattern
    edge = np.zeros((3, 3), np.uint8)
    edge[:, 1:] = 100
    assert lbp_codes(edge)[0, 0] != 58


def test_handcrafted_features_shape_and_range() -> None:
    crops = np.random.default_rng(1).integers(0, 256, (3, 48, 24, 3), dtype=np.uint8)
    f = handcrafted_features(crops, stripes=4, bins=4)
    assert f.shape == (3, 4 * (16 + 16 + 59))
    assert np.all(f >= 0)
    # six square-rooted L1-normalised histograms of unit L2 norm per stripe (HS, V, L, a, b, LBP)
    assert np.allclose((f**2).sum(axis=1), 4 * 6)
    with pytest.raises(ConfigError):
        handcrafted_features(crops[..., 0])


def _synthetic(rng: np.random.Generator, ids: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identity lives in 3 low-variance dimensions; 17 others carry large per-image noise."""
    centre = rng.normal(size=(ids, 3))
    labels = np.repeat(np.arange(ids), 4)
    cams = np.tile([0, 0, 1, 1], ids)
    x = np.concatenate(
        [
            centre[labels] + 0.1 * rng.normal(size=(len(labels), 3)),
            3.0 * rng.normal(size=(len(labels), 17)),
        ],
        axis=1,
    )
    return x, labels, cams


def test_kissme_learns_the_discriminative_subspace() -> None:
    rng = np.random.default_rng(0)
    x, labels, cams = _synthetic(rng, 60)
    model = Kissme(pca_dim=20).fit(x, labels, cams)
    xt, lt, ct = _synthetic(np.random.default_rng(1), 30)
    q, g = ct == 0, ct == 1
    learned = evaluate_rank(model.distance(xt[q], xt[g]), lt[q], lt[g], ct[q], ct[g])
    d = ((xt[q][:, None] - xt[g][None]) ** 2).sum(-1)
    euclid = evaluate_rank(d, lt[q], lt[g], ct[q], ct[g])
    assert learned.rank(1) > 0.8
    assert learned.rank(1) > euclid.rank(1) + 0.3
    # the learned metric is PSD and the transform reproduces it
    assert np.linalg.eigvalsh(model.metric_).min() > -1e-9
    a, b = xt[:1], xt[1:2]
    za = (a - model.mean_) @ model.pca_
    zb = (b - model.mean_) @ model.pca_
    diff = za - zb
    assert model.distance(a, b)[0, 0] == pytest.approx(float((diff @ model.metric_ @ diff.T)[0, 0]))


def test_kissme_needs_cross_camera_pairs() -> None:
    x = np.random.default_rng(0).normal(size=(6, 4))
    with pytest.raises(ConfigError, match="two cameras"):
        Kissme(pca_dim=4).fit(x, np.arange(6), np.zeros(6, np.int64))
    with pytest.raises(ConfigError, match="before fit"):
        Kissme().transform(x)
