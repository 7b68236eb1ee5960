"""SiamFC: labels, training on a fixed batch, weights round trip, tracking a synthetic target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError, FormatError, TrackkitError
from trackkit.sot import build
from trackkit.sot.nets.siamfc_net import load_siamfc
from trackkit.sot.trackers.siamfc import SiamFCTracker
from trackkit.sot.train.siamfc import logistic_labels

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path, **extra: object) -> Any:
    options = dict(epochs=2, steps_per_epoch=1, batch_size=4, lr=1e-2)
    return deep_sot.trainer_on_synthetic("siamfc", tmp_path, (1,), 12, extra=extra, **options)


def test_logistic_labels_balanced() -> None:
    lab, w = logistic_labels(np.zeros(2))
    assert lab.shape == (17, 17) and lab[8, 8] == 1 and lab[0, 0] == 0
    assert lab.sum() == 13  # cells within 2 cells (16 px / stride 8) of the centre
    assert w[lab > 0].sum() == pytest.approx(0.5) and w[lab == 0].sum() == pytest.approx(0.5)
    moved, _ = logistic_labels(np.array([16.0, -8.0]))
    assert moved[7, 10] == 1 and moved[8, 8] == 0


def test_training_reduces_loss_and_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path, width=0.125)
    batch = trainer.make_batch(np.random.default_rng(0))
    first, last = deep_sot.train_on_batch(trainer, batch, 20, eval_loss=False)
    assert last < 0.8 * first
    deep_sot.assert_round_trip(trainer, tmp_path / "siamfc.pt", load_siamfc, batch[0], batch[1])
    # the CLI's fit loop writes checkpoint + model and resumes
    from trackkit.sot.train.base import fit

    out = fit(trainer, progress=False)
    assert out.is_file() and (tmp_path / "out" / "checkpoint.pt").is_file()
    assert load_siamfc(out).width == 0.125


def test_follows_synthetic_target() -> None:
    assert deep_sot.followed_fraction("siamfc.pt", lambda: build("siamfc"), 24) >= 0.8


def test_bad_input(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(ConfigError):
        SiamFCTracker(num_scales=2)
    deep_sot.check_bad_weights(SiamFCTracker, tmp_path, "goturn")
    wrong = tmp_path / "wrong.pt"
    torch.save({"arch": {"model": "siamfc"}, "state_dict": {"x": torch.zeros(1)}}, wrong)
    with pytest.raises(FormatError):
        SiamFCTracker(weights=str(wrong)).init(frame, [5, 5, 20, 20])
    with pytest.raises(TrackkitError):
        SiamFCTracker().update(frame)
