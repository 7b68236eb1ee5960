"""DSLT (deep regression + shrinkage loss, Lu et al. ECCV 2018)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, moving_target

torch = pytest.importorskip("torch")

from trackkit.config import parse_overrides  # noqa: E402
from trackkit.errors import ConfigError, DataNotFoundError  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.nets.regression import RegressionHead, fit_steps  # noqa: E402
from trackkit.sot.trackers.dslt import DSLTConfig, gaussian_map  # noqa: E402
from trackkit.training.losses import l2_loss, shrinkage_loss  # noqa: E402

#: quicker: fewer first-frame steps
FAST = {"init_iterations": 50}


def _weights(shared: Path) -> str:
    found = sorted((shared / "weights" / "nanotrack_v3").glob("*state_dict.pt"))
    if not found:
        pytest.skip("no NanoTrack v3 state dict in the shared folder")
    return str(found[0])


@pytest.mark.timeout(10)
def test_config_defaults_and_validation() -> None:
    cfg = DSLTConfig()
    assert (cfg.loss, cfg.shrinkage_a, cfg.shrinkage_c, cfg.label_sigma, cfg.memory) == (
        "shrinkage", 10.0, 0.2, 0.1, 7
    )  # fmt: skip
    assert cfg.target_weight and cfg.layers == (3, 9)
    assert DSLTConfig(**parse_overrides(["layers=3,6,9", "loss=l3"])).layers == (3, 6, 9)
    for bad in ({"loss": "huber"}, {"layers": (9, 3)}, {"layers": (3, 10)}, {"lr": 0.0},
                {"memory": 0}, {"update_interval": 0}, {"backbone": "vgg"}):  # fmt: skip
        with pytest.raises(ConfigError):
            DSLTConfig(**bad)
    with pytest.raises(ConfigError, match="loss"):
        build("dslt", loss="huber")


@pytest.mark.timeout(10)
def test_gaussian_map_and_head() -> None:
    g = gaussian_map((5, 7), (2.0, 3.0), (1.0, 2.0))
    assert g.shape == (5, 7) and g.dtype == np.float32 and g[2, 3] == 1.0
    assert g[2, 5] == pytest.approx(np.exp(-0.5))  # 2 cells at sigma 2
    assert g[3, 3] == pytest.approx(np.exp(-0.5))
    head = RegressionHead(8, 4, (3, 5), seed=1)
    same = RegressionHead(8, 4, (3, 5), seed=1)
    for a, b in zip(head.parameters(), same.parameters(), strict=True):
        assert torch.equal(a, b)  # deterministic initialisation
    x = torch.randn(2, 8, 6, 9)
    assert head(x).shape == (2, 1, 6, 9)
    with pytest.raises(ValueError):
        RegressionHead(8, 4, (2, 3))


@pytest.mark.timeout(20)
def test_regression_layer_learns_a_gaussian_with_the_shrinkage_loss() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 6, 12, 12, generator=gen)
    x_copy = x.clone()
    y = torch.from_numpy(gaussian_map((12, 12), (5.5, 5.5), (1.0, 1.0)))[None, None]
    head = RegressionHead(6, 4, (5, 5))
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses: list[float] = []
    last = fit_steps(head, opt, x, y, shrinkage_loss, 150, lambda s, v: losses.append(v))
    assert len(losses) == 150 and last == losses[-1] and losses[-1] < 0.05 * losses[0]
    assert torch.equal(x, x_copy)  # inputs untouched
    with torch.no_grad():
        r = head(x)[0, 0]
    assert divmod(int(torch.argmax(r)), 12) in {(5, 5), (5, 6), (6, 5), (6, 6)}
    assert float(l2_loss(r, y[0, 0])) < 0.01
    assert np.isnan(fit_steps(head, opt, x, y, shrinkage_loss, 0))


@pytest.mark.timeout(60)
def test_tracks_synthetic_target_deterministically(shared: Path) -> None:
    weights = _weights(shared)
    frames, boxes = moving_target(n=24)
    frames, boxes = frames[:14], boxes[:14]
    before = [f.copy() for f in frames]
    tracker = build("dslt", weights=weights, **FAST)
    ious = follow(tracker, frames, boxes)
    assert np.mean(ious) > 0.6 and min(ious) > 0.3, ious
    assert all(np.array_equal(a, b) for a, b in zip(frames, before, strict=True))
    # reset() + init() again: the same answers (deterministic, no state carried over)
    tracker.reset()
    assert not tracker.initialized
    again = follow(tracker, frames, boxes)
    assert again == ious
    fresh = follow(build("dslt", weights=weights, **FAST), frames, boxes)
    assert fresh == ious
    box0 = boxes[0].copy()
    tracker.init(frames[0], box0)
    assert np.array_equal(box0, boxes[0])
    res = tracker.update(frames[1])
    assert res.box.dtype == np.float64 and res.box.shape == (4,) and np.isfinite(res.score)


@pytest.mark.timeout(60)
def test_losses_and_gray_frames_run(shared: Path) -> None:
    weights = _weights(shared)
    frames, boxes = moving_target(n=30)
    frames, boxes = frames[:6], boxes[:6]
    for loss in ("l2", "l3"):
        ious = follow(build("dslt", weights=weights, loss=loss, **FAST), frames, boxes)
        assert np.mean(ious) > 0.5, (loss, ious)
    gray = [f[..., 1].copy() for f in frames]
    t = build("dslt", weights=weights, scale_estimation=False, **FAST)
    ious = follow(t, gray, boxes)
    assert np.mean(ious) > 0.3
    t = build("dslt", weights=weights, lost_threshold=2.0, **FAST)  # peak < 2: always lost
    t.init(frames[0], boxes[0])
    assert t.update(frames[1]).lost


@pytest.mark.timeout(20)
def test_missing_weights_is_one_line(tmp_path: Path) -> None:
    frames, boxes = moving_target(n=2)
    t = build("dslt", weights=str(tmp_path / "absent.pt"))
    with pytest.raises(DataNotFoundError) as exc:
        t.init(frames[0], boxes[0])
    assert "\n" not in str(exc.value)


@pytest.mark.timeout(60)
def test_update_gate_skips_occluded_frames(shared: Path) -> None:
    weights = _weights(shared)
    frames, boxes = moving_target(n=30, hide=(4, 7))
    counts = {}
    for thr in (0.0, 0.7):
        t = build("dslt", weights=weights, update_threshold=thr, memory=20, **FAST)
        t.init(frames[0], boxes[0])
        for f in frames[1:7]:
            t.update(f)
        counts[thr] = len(t._samples)  # the first frame + the accepted frames
    assert counts[0.0] == 7  # the paper's way: every frame is a sample
    assert counts[0.7] < counts[0.0]  # the frames without the target were refused
