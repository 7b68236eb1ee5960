"""TADT: the two gradient-based channel selections, the ranking loss, tracking, configuration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trackkit.errors import ConfigError, TrackkitError
from trackkit.sot.ops.channel_select import (
    fit_ridge,
    gaussian_map,
    kernel_size,
    rank_pairs,
    ranking_loss,
    ridge_loss,
    scale_sensitive_importance,
    select_top,
    target_active_importance,
)
from trackkit.sot.trackers.tadt import TADTConfig, TADTTracker

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.timeout(60)


def test_ranking_loss_hand_computed() -> None:
    scores = torch.tensor([1.0, 0.5, 0.0])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    want = math.log(1 + math.exp(-0.5) + math.exp(-1.0) + math.exp(-0.5))
    assert float(ranking_loss(scores, pairs)) == pytest.approx(want, rel=1e-6)
    # a wrongly ordered pair costs more; huge score gaps stay finite (log-sum-exp)
    assert float(ranking_loss(torch.tensor([0.0, 1.0]), [[0, 1]])) == pytest.approx(
        math.log(1 + math.e), rel=1e-6
    )
    assert float(ranking_loss(torch.tensor([0.0, 1e4]), [[0, 1]])) == pytest.approx(1e4)
    assert float(ranking_loss(torch.tensor([1e4, 0.0]), [[0, 1]])) == pytest.approx(0.0)


def test_rank_pairs_same_side_closer_first() -> None:
    pairs = {tuple(p) for p in rank_pairs((0.8, 0.9, 1.0, 1.1, 1.25))}
    assert pairs == {(2, 1), (2, 0), (1, 0), (2, 3), (2, 4), (3, 4)}


def test_scale_sensitive_channels() -> None:
    """Channel 0's own score peaks at scale 1, channel 1's grows with scale, channel 2 is flat:
    only channel 0 orders the scales correctly; the plain GAP of the gradient is zero."""
    ratios = (0.8, 0.9, 1.0, 1.1, 1.25)
    z = torch.zeros(3, 4, 4)
    z[:, 1:3, 1:3] = 1.0
    samples = z[None].repeat(len(ratios), 1, 1, 1).clone()
    for k, r in enumerate(ratios):
        samples[k, 0] *= 1 - abs(math.log(r))
        samples[k, 1] *= r
    imp = scale_sensitive_importance(z[0:3], samples, ratios)
    assert imp[0] > 0 and imp[1] <= 0 and abs(float(imp[2])) < 1e-6
    assert list(select_top(imp, 1)) == [0] and 1 not in select_top(imp, 3)
    # the paper's plain pooling: GAP of dL/dx over the shared channel is identically zero
    x = samples.clone().requires_grad_(True)
    scores = (x * z[None]).sum(dim=(1, 2, 3)) / (z * z).sum()
    (g,) = torch.autograd.grad(ranking_loss(scores, rank_pairs(ratios)), x)
    assert float(g.sum(dim=(2, 3)).sum(dim=0).abs().max()) < 1e-6 * float(g.abs().max()) + 1e-9


def _synthetic_features(seed: int = 0) -> tuple[object, object, tuple[int, int]]:
    """16x16 maps, target (5x5 cells) at the centre: channels 0-2 fire on it; 3-4 are noise,
    5 is constant, 6 fires on a distractor far from the target, 7 is a smooth ramp."""
    rng = np.random.default_rng(seed)
    x = np.zeros((8, 16, 16), np.float32)
    blob = np.zeros((16, 16), np.float32)
    blob[5:10, 5:10] = 1.0
    for c, amp in enumerate((1.0, 0.7, 0.5)):
        x[c] = amp * blob + 0.05 * rng.standard_normal((16, 16))
    x[3:5] = 0.5 * rng.standard_normal((2, 16, 16))
    x[5] = 2.0
    x[6, 0:5, 10:15] = 1.5
    x[7] = np.linspace(0, 1, 16)[None, :]
    label = gaussian_map((16, 16), (7.0, 7.0), (0.8, 0.8))
    return torch.from_numpy(x), label, (5, 5)


def test_target_active_channels_are_the_target_ones() -> None:
    feats, label, kernel = _synthetic_features()
    before = feats.clone()
    imp = target_active_importance(feats, label, kernel, reg=1.0)
    assert torch.equal(feats, before)  # not modified
    assert list(select_top(imp, 3)) == [0, 1, 2]
    # a weak ridge (lambda = mean patch energy) interpolates with the noise channels
    weak = target_active_importance(feats, label, kernel, reg=1.0 / 256)
    assert set(select_top(weak, 3).tolist()) & {3, 4}
    # at the ridge solution the gain gradient is 2 lambda ||W_c||^2
    w, b, lam = fit_ridge(feats, label, kernel, 1.0)
    assert torch.allclose(imp, 2 * lam * (w[0] ** 2).sum(dim=(1, 2)), rtol=1e-3, atol=1e-6)
    # and w, b minimise the ridge loss: a perturbation increases it
    base = float(ridge_loss(feats, w, b, label, lam))
    assert float(ridge_loss(feats, w * 1.01, b, label, lam)) > base
    assert float(ridge_loss(feats, w, b + 0.01, label, lam)) > base


def test_kernel_size_and_label() -> None:
    assert kernel_size((4.0, 2.2), (16, 16)) == (5, 5)
    assert kernel_size((30.0, 0.3), (16, 16)) == (15, 3)
    g = gaussian_map((5, 7), (2.0, 3.0), (1.0, 2.0))
    assert (
        g.shape == (5, 7)
        and float(g[2, 3]) == 1.0
        and float(g[2, 5]) == pytest.approx(math.exp(-0.5))
    )


def test_config_validation() -> None:
    assert TADTConfig().layers == (6, 9)
    for bad in (
        {"num_scales": 2},
        {"keep": (0.0, 0.5)},
        {"min_keep": 0.0},
        {"rank_scales": (0.9, 1.1)},
        {"scale_mode": "pyramid"},
        {"layers": (3, 9)},  # strides 8 and 16
        {"layers": (9, 6)},
        {"scale_step": 0.9},
        {"ridge_reg": 0.0},
    ):
        with pytest.raises(ConfigError):
            TADTTracker(**bad)
    with pytest.raises(ConfigError):
        TADTTracker(unknown=1)


def test_missing_weights_and_update_before_init(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(TrackkitError):
        TADTTracker().update(frame)
    with pytest.raises(TrackkitError):
        TADTTracker(weights=str(tmp_path / "absent.pt")).init(frame, [5, 5, 20, 20])


def test_follows_moving_textured_square(shared: Path) -> None:
    from deep_synthetic import follow, moving_target

    frames, boxes = moving_target(n=24, seed=1)
    copies = [f.copy() for f in frames]
    tracker = TADTTracker()
    ious = follow(tracker, frames, boxes)
    assert np.mean(np.array(ious) > 0.5) >= 0.8, ious
    assert all(np.array_equal(a, b) for a, b in zip(frames, copies, strict=True))
    kept = tracker.describe()["selected"]
    assert 0 < kept[0] <= round(40 * 80 / 512) and 0 < kept[1] <= round(96 * 300 / 512)
    assert sum(kept) >= round(136 * 250 / 1024)
    tracker.reset()
    assert not tracker.initialized and tracker.selected == ()
    with pytest.raises(TrackkitError):
        tracker.update(frames[1])
    # the paper's "feature" scale mode (one crop, resampled features) tracks too
    feature = TADTTracker(scale_mode="feature")
    assert np.mean(np.array(follow(feature, frames, boxes)) > 0.5) >= 0.8


def test_shared_sequence(shared: Path) -> None:
    """A real sequence from ../shared (vot15_car1, 15 frames): stays on the car."""
    from trackkit.io.images import read_image
    from trackkit.sot.runner import find_sequences

    seqs = {s.name: s for s in find_sequences(shared / "data")}
    seq = seqs["vot15_car1"]
    tracker = TADTTracker()
    box0 = seq.init_box.copy()
    tracker.init(read_image(seq.frames[0]), box0)
    assert np.array_equal(box0, seq.init_box)
    from deep_synthetic import iou

    ious = [
        iou(tracker.update(read_image(p)).box, b)
        for p, b in zip(seq.frames[1:], seq.boxes[1:], strict=True)
    ]
    assert np.mean(ious) > 0.5, ious
