"""GOTURN's issue-20 options: the training augmentations ``gray_prob`` / ``pair_jitter`` and the
tracking options ``max_motion``, ``template_lr``, ``first_weight`` (a tiny random network)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path) -> Any:
    options = dict(epochs=1, steps_per_epoch=1, batch_size=4, lr=1e-3)
    extra = {"size": 64, "width": 8, "backbone": "none"}
    return deep_sot.trainer_on_synthetic("goturn", tmp_path, (2,), 12, extra=extra, **options)


@pytest.mark.timeout(30)
def test_gray_and_pair_jitter_examples(tmp_path: Path) -> None:
    from trackkit.sot.train.goturn import make_example

    trainer = _trainer(tmp_path)
    grey = replace(trainer.cfg, gray_prob=1.0)
    for _ in range(5):
        prev, search, _ = make_example(trainer.pairs, np.random.default_rng(3), grey)
        for crop in (prev, search):
            assert np.array_equal(crop[..., 0], crop[..., 1])
            assert np.array_equal(crop[..., 1], crop[..., 2])
    plain = make_example(trainer.pairs, np.random.default_rng(4), trainer.cfg)
    assert not np.array_equal(plain[0][..., 0], plain[0][..., 2])  # colour by default
    lit_cfg = replace(trainer.cfg, pair_jitter=1.0)
    lit = make_example(trainer.pairs, np.random.default_rng(4), lit_cfg)
    # same draws up to the crops: the previous crop and the target are untouched, the search
    # crop is one brightness gain away (up to uint8 rounding and clipping at 0 / 255)
    assert np.array_equal(plain[0], lit[0]) and np.array_equal(plain[2], lit[2])
    assert not np.array_equal(plain[1], lit[1])
    mid = (plain[1] > 20) & (plain[1] < 120) & (lit[1] > 0) & (lit[1] < 255)
    ratio = lit[1][mid].astype(float) / plain[1][mid]
    assert mid.sum() > 100 and np.ptp(ratio) < 0.15
    assert np.exp(-1) - 0.05 <= np.median(ratio) <= np.exp(1) + 0.05


def _tracker(tmp_path: Path, **options: Any) -> Any:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet
    from trackkit.sot.trackers.goturn import GoturnTracker
    from trackkit.training.weights import make_weights

    torch.manual_seed(0)
    net = GoturnBackboneNet(size=32, reduced=4, fc=16)
    with torch.no_grad():  # a network that always answers "the target moved far right"
        net.regressor[-1].weight.zero_()
        net.regressor[-1].bias.copy_(torch.tensor([8.0, 2.5, 10.0, 7.5]))
    arch = {"backbone": "nanotrack_v3", "layer": 9, "size": 32, "reduced": 4, "fc": 16,
            "train_blocks": 0, "corr": 0}  # fmt: skip
    path = tmp_path / "net.pt"
    torch.save(make_weights("sot", "goturn", arch, net.state_dict()), path)
    return GoturnTracker(weights=str(path), calibrate=False, backend="torch", **options)


@pytest.mark.timeout(30)
def test_max_motion_template_lr_and_first_weight(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 120, 200, 3), dtype=np.uint8)
    box = np.array([60.0, 40.0, 80.0, 70.0])  # 20 x 30, centre x 70

    def moves(**options: Any) -> float:
        tracker = _tracker(tmp_path, **options)
        tracker.init(frames[0], box)
        out = tracker.update(frames[1]).box
        return float((out[0] + out[2]) / 2 - 70.0)

    free = moves()
    # the regressed centre at 0.9 of the crop (2 box widths = 40 px): 0.4 x 40 = 16 px right
    assert free == pytest.approx(16.0, abs=0.5)
    assert moves(max_motion=0.5) == pytest.approx(10.0, abs=1e-6)  # 0.5 box widths
    assert moves(max_motion=5.0) == pytest.approx(free)
    assert moves(first_weight=1.0) == pytest.approx(free)  # the same head: same answer

    tracker = _tracker(tmp_path, template_lr=0.25)
    tracker.init(frames[0], box)
    first = tracker._prev.clone()
    tracker.update(frames[1])
    new = tracker._embed(tracker._crop(frames[1], _region(tracker._box)))
    torch.testing.assert_close(tracker._prev, 0.25 * new + 0.75 * first)
    assert tracker._first is not tracker._prev


def _region(box: np.ndarray) -> tuple[float, float, float, float]:
    from trackkit.sot.ops.crops import crop_pair_region

    return crop_pair_region(box, 2.0)


@pytest.mark.timeout(30)
def test_heads_are_an_ensemble_on_one_backbone(tmp_path: Path) -> None:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet, load_goturn
    from trackkit.sot.trackers.goturn import GoturnTracker
    from trackkit.training.weights import make_weights

    torch.manual_seed(0)
    net = GoturnBackboneNet(size=32, reduced=4, fc=16, heads=3).eval()
    x = torch.rand(2, 3, 32, 32) * 255
    e = net.embed(x)
    assert e.shape == (2, 3 * 4 * 2 * 2)
    outs = net.head_outputs(e, e)
    assert outs.shape == (3, 2, 4) and not torch.allclose(outs[0], outs[1])  # own init
    torch.testing.assert_close(net(x, x), outs.mean(0))
    arch = {"backbone": "nanotrack_v3", "layer": 9, "size": 32, "reduced": 4, "fc": 16,
            "train_blocks": 0, "corr": 0, "heads": 3}  # fmt: skip
    path = tmp_path / "heads.pt"
    torch.save(make_weights("sot", "goturn", arch, net.state_dict()), path)
    loaded = load_goturn(path)
    assert isinstance(loaded, GoturnBackboneNet) and loaded.heads == 3
    torch.testing.assert_close(loaded(x, x), net(x, x))
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker = GoturnTracker(weights=str(path))  # the onnxruntime embedding holds all heads
    tracker.init(frame, np.array([60.0, 40.0, 90.0, 70.0]))
    assert np.all(np.isfinite(tracker.update(frame).box))


@pytest.mark.timeout(30)
def test_heads_train_each_on_its_own_loss(tmp_path: Path) -> None:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet

    trainer = _trainer(tmp_path)
    trainer.model = GoturnBackboneNet(size=64, reduced=4, fc=16, heads=2)
    trainer.cfg = replace(trainer.cfg, heads=2)
    batch = trainer.make_batch(np.random.default_rng(0))
    prev, search, target = batch
    m = trainer.model.eval()
    outs = m.head_outputs(m.embed(prev), m.embed(search))
    per_head = [float(torch.nn.functional.l1_loss(o.detach(), target)) for o in outs]
    assert float(trainer.loss(batch).detach()) == pytest.approx(sum(per_head) / 2, rel=1e-5)
