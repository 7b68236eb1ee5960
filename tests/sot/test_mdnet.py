"""MDNet: sampling, multi-domain training on a fixed batch, weights, online tracking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, moving_target, write_otb

from trackkit.core.boxes import iou_matrix
from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.sot.nets import default_weights
from trackkit.sot.nets.mdnet_net import load_mdnet
from trackkit.sot.ops.samples import crop_boxes, labelled_samples
from trackkit.sot.trackers.mdnet import MDNetTracker

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path) -> object:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    root = tmp_path / "data"
    for seed in (3, 4):
        frames, boxes = moving_target(n=8, seed=seed)
        write_otb(root / f"S{seed}", frames, boxes)
    opts = TrainOptions(
        data=(root,),
        out=tmp_path / "out",
        epochs=1,
        steps_per_epoch=2,
        batch_size=2,
        lr=1e-2,
        extra={"size": 32, "width": 8, "fc": 32},
    )
    trainer = build_trainer("mdnet", opts)
    trainer.setup()
    return trainer


def test_labelled_samples_respect_iou() -> None:
    rng = np.random.default_rng(0)
    box = np.array([50.0, 40.0, 90.0, 100.0])
    pos, neg = labelled_samples(rng, box, 50, 200)
    assert len(pos) == 50 and len(neg) == 200
    assert iou_matrix(pos, box[None]).min() >= 0.7
    assert iou_matrix(neg, box[None]).max() < 0.5
    crops = crop_boxes(np.zeros((120, 160, 3), np.uint8), pos[:3], 32)
    assert crops.shape == (3, 3, 32, 32) and crops.dtype == np.float32


def test_multidomain_training_reduces_loss_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    assert len(trainer.model.heads) == 2  # type: ignore[attr-defined]
    batch = trainer.make_batch(np.random.default_rng(0), 1)  # type: ignore[attr-defined]
    trainer.model.eval()  # type: ignore[attr-defined]
    first = float(trainer.loss(batch).detach())  # type: ignore[attr-defined]
    trainer.model.train()  # type: ignore[attr-defined]
    for _ in range(20):
        trainer.step(batch)  # type: ignore[attr-defined]
    trainer.model.eval()  # type: ignore[attr-defined]
    assert float(trainer.loss(batch).detach()) < 0.7 * first  # type: ignore[attr-defined]
    path = tmp_path / "mdnet.pt"
    torch.save(trainer.export(), path)  # type: ignore[attr-defined]
    net = load_mdnet(path).eval()
    with torch.no_grad():
        torch.testing.assert_close(net(batch[0], 1), trainer.model(batch[0], 1))  # type: ignore[attr-defined]


def test_follows_synthetic_target() -> None:
    weights = default_weights("mdnet.pt")
    if not weights.is_file():
        pytest.skip(f"{weights} not committed")
    frames, boxes = moving_target(n=40)  # at most 14 px per frame
    tracker = MDNetTracker(candidates=64, init_pos=100, init_neg=300, init_iters=15)
    ious = follow(tracker, frames[:14], boxes[:14])
    assert np.mean(np.array(ious) > 0.5) >= 0.8


def test_bad_input(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(ConfigError):
        MDNetTracker(hard_pool=4, batch_neg=96)
    with pytest.raises(DataNotFoundError):
        MDNetTracker(weights=str(tmp_path / "none.pt")).init(frame, [5, 5, 20, 20])
    other = tmp_path / "other.pt"
    torch.save({"arch": {"model": "siamfc"}, "state_dict": {}}, other)
    with pytest.raises(FormatError):
        MDNetTracker(weights=str(other)).init(frame, [5, 5, 20, 20])
