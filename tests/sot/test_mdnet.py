"""MDNet: sampling, multi-domain training on a fixed batch, weights, online tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.core.boxes import iou_matrix
from trackkit.errors import ConfigError
from trackkit.sot.nets.mdnet_net import load_mdnet
from trackkit.sot.ops.samples import crop_boxes, labelled_samples
from trackkit.sot.trackers.mdnet import MDNetTracker

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path) -> Any:
    options = dict(epochs=1, steps_per_epoch=2, batch_size=2, lr=1e-2)
    extra = {"size": 32, "width": 8, "fc": 32}
    return deep_sot.trainer_on_synthetic("mdnet", tmp_path, (3, 4), 8, extra=extra, **options)


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
    assert len(trainer.model.heads) == 2
    batch = trainer.make_batch(np.random.default_rng(0), 1)
    first, last = deep_sot.train_on_batch(trainer, batch, 20)
    assert last < 0.7 * first
    deep_sot.assert_round_trip(trainer, tmp_path / "mdnet.pt", load_mdnet, batch[0], 1)


def test_follows_synthetic_target() -> None:
    def tracker() -> MDNetTracker:
        return MDNetTracker(candidates=64, init_pos=100, init_neg=300, init_iters=15)

    # 40 frames a lap: at most 14 px per frame
    assert deep_sot.followed_fraction("mdnet.pt", tracker, 40, keep=14) >= 0.8


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        MDNetTracker(hard_pool=4, batch_neg=96)
    deep_sot.check_bad_weights(MDNetTracker, tmp_path, "siamfc")
