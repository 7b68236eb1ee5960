"""GOTURN on NanoTrack v3's pretrained backbone: tiny-input shapes, frozen / tuned blocks, a
training step on real frames and still images lowers the loss, the weights' record, exact
resume after a kill, and both architectures behind one loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot

torch = pytest.importorskip("torch")


@pytest.mark.timeout(30)
def test_tiny_input_shapes_and_frozen_or_tuned_blocks() -> None:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet

    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 255
    plain = GoturnBackboneNet(size=32, reduced=4, fc=16, corr=0)  # random: no shared file
    assert plain.embed(x).shape == (3, 4 * 2 * 2) and plain(x, x).shape == (3, 4)
    net = GoturnBackboneNet(size=64, reduced=4, fc=16, corr=8)
    assert len(net.backbone.features) == 10  # stem + blocks 1..9
    x = torch.rand(3, 3, 64, 64) * 255
    assert net.embed(x).shape == (3, (4 + 8) * 4 * 4) and net(x, x).shape == (3, 4)
    # the correlation: the previous crop's central 2x2 cells against all 4x4 search cells
    assert net.regressor[0].in_features == 2 * 4 * 16 + 4 * 16
    assert not any(p.requires_grad for p in net.backbone.parameters())
    net.train()
    assert not any(m.training for m in net.backbone.features)  # frozen BN statistics
    net(x, x).sum().backward()
    assert all(p.grad is None for p in net.backbone.parameters())
    assert net.regressor[0].weight.grad is not None

    x = x[:, :, :32, :32]
    tuned = GoturnBackboneNet(layer=6, size=32, reduced=4, fc=16, train_blocks=1).train()
    last, before = tuned.backbone.features[6], tuned.backbone.features[5]
    assert len(tuned.backbone.features) == 7 and last.training and not before.training
    tuned(x, x).sum().backward()
    assert all(p.grad is not None for p in last.parameters())
    assert all(p.grad is None for p in before.parameters())
    with pytest.raises(ValueError):
        GoturnBackboneNet(size=40)
    with pytest.raises(ValueError):
        GoturnBackboneNet(layer=3)  # stride 8


def _trainer(root: Path, out: Path, **options: Any) -> Any:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    extra = {"size": 64, "reduced": 8, "fc": 32, "still_ratio": 0.5, "still_sources": "sot,mot17"}
    opts = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 4, "lr": 1e-3, **options}
    trainer = build_trainer(
        "goturn",
        TrainOptions(data=(root / "data" / "sot-extra" / "Gull2",), out=out, extra=extra, **opts),
    )
    trainer.setup()
    return trainer


@pytest.mark.timeout(60)
def test_step_on_real_frames_lowers_loss_and_records(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet, load_goturn
    from trackkit.training.weights import read_weights

    torch.manual_seed(0)
    trainer = _trainer(shared, tmp_path / "out", batch_size=8, lr=3e-3)
    assert isinstance(trainer.model, GoturnBackboneNet)
    batch = trainer.make_batch(np.random.default_rng(0))
    assert batch[0].shape == batch[1].shape == (8, 3, 64, 64) and batch[2].shape == (8, 4)
    first, last = deep_sot.train_on_batch(trainer, batch, 12)
    assert last < 0.9 * first
    path = tmp_path / "goturn.pt"
    net = deep_sot.assert_round_trip(trainer, path, load_goturn, batch[0], batch[1])
    assert isinstance(net, GoturnBackboneNet) and net.size == 64 and net.reduced == 8
    w = read_weights(path)
    assert w.arch == "goturn" and w.config["backbone"] == "nanotrack_v3"
    assert w.trained_on["sequences"] == ["Gull2"]
    assert len(w.trained_on["pretrained"]["sha256"]) == 64
    assert [s.split(":")[0] for s in w.trained_on["still_images"]] == ["sot", "mot17"]


@pytest.mark.timeout(60)
def test_resume_after_a_kill_gives_the_same_weights(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot.train.base import fit

    whole = _trainer(shared, tmp_path / "a")
    fit(whole, progress=False)
    cut = _trainer(shared, tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        fit(cut, progress=False, stop_after=3)  # killed inside the second epoch
    resumed = _trainer(shared, tmp_path / "b", resume=True)
    fit(resumed, progress=False)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.timeout(30)
def test_tracker_runs_both_architectures(tmp_path: Path) -> None:
    from trackkit.sot.nets.goturn_net import GoturnBackboneNet, GoturnNet, load_goturn
    from trackkit.sot.trackers.goturn import GoturnTracker
    from trackkit.training.weights import make_weights

    torch.manual_seed(0)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    nets = {
        "new": (GoturnBackboneNet(size=32, reduced=4, fc=16, corr=4), {"backbone": "nanotrack_v3",
                "layer": 9, "size": 32, "reduced": 4, "fc": 16, "train_blocks": 0, "corr": 4}),
        "old": (GoturnNet(size=32, width=4, reduced=4, fc=16),
                {"size": 32, "width": 4, "reduced": 4, "fc": 16}),
    }  # fmt: skip
    for name, (net, arch) in nets.items():
        path = tmp_path / f"{name}.pt"
        torch.save(make_weights("sot", "goturn", arch, net.state_dict()), path)
        assert type(load_goturn(path)) is type(net)
        tracker = GoturnTracker(weights=str(path))
        tracker.init(frame, np.array([60.0, 40.0, 90.0, 70.0]))
        box = tracker.update(frame).box
        assert box.shape == (4,) and np.all(np.isfinite(box)) and box[2] > box[0]
