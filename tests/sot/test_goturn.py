"""GOTURN: motion-smoothness examples, training on a fixed batch, weights, synthetic tracking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, moving_target, write_otb

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.sot import build
from trackkit.sot.nets import default_weights
from trackkit.sot.nets.goturn_net import load_goturn
from trackkit.sot.trackers.goturn import GoturnTracker

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path) -> object:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    frames, boxes = moving_target(n=12, seed=2)
    data = write_otb(tmp_path / "data" / "Synth", frames, boxes)
    opts = TrainOptions(
        data=(data.parent,),
        out=tmp_path / "out",
        epochs=1,
        steps_per_epoch=1,
        batch_size=8,
        lr=1e-3,
        extra={"size": 64, "width": 8},
    )
    trainer = build_trainer("goturn", opts)
    trainer.setup()
    return trainer


def test_examples_place_the_target_in_the_search_crop(tmp_path: Path) -> None:
    from trackkit.sot.train.goturn import make_example

    trainer = _trainer(tmp_path)
    rng = np.random.default_rng(0)
    targets = np.array([make_example(trainer.pairs, rng, trainer.cfg)[2] for _ in range(200)])  # type: ignore[attr-defined]
    centre = (targets[:, :2] + targets[:, 2:]) / 20  # in [0, 1] crop units
    size = (targets[:, 2:] - targets[:, :2]) / 10
    # context 2: the target is about half the crop; Laplace shifts keep it inside
    assert np.median(size) == pytest.approx(0.5, abs=0.05)
    assert np.all((centre > 0.1) & (centre < 0.9))
    assert np.median(np.abs(centre - 0.5)) < 0.1


def test_pasted_still_images_and_augmented_examples(tmp_path: Path) -> None:
    from dataclasses import replace

    from trackkit.sot.train.goturn import make_example, pasted_still

    trainer = _trainer(tmp_path)
    pairs = trainer.pairs  # type: ignore[attr-defined]
    rng = np.random.default_rng(1)
    for _ in range(20):
        img, box = pasted_still(pairs, rng)
        h, w = img.shape[:2]
        assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h
        side = min(box[2] - box[0], box[3] - box[1])
        assert side >= 4 and max(box[2] - box[0], box[3] - box[1]) <= 0.3 * 3**0.5 * min(h, w) + 1
    cfg = replace(trainer.cfg, paste_prob=1.0, max_shift=0.7, jitter=0.2)  # type: ignore[attr-defined]
    targets = np.array([make_example(pairs, rng, cfg)[2] for _ in range(200)])
    centre = (targets[:, :2] + targets[:, 2:]) / 20
    size = (targets[:, 2:] - targets[:, :2]) / 10
    assert np.median(size) == pytest.approx(0.5, abs=0.05)
    # larger shifts than the paper's 0.45 clip: some targets sit near the crop border
    assert np.all((centre > 0.0) & (centre < 1.0))
    assert np.max(np.abs(centre - 0.5)) > 0.25


def test_training_reduces_loss_and_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    batch = trainer.make_batch(np.random.default_rng(0))  # type: ignore[attr-defined]
    trainer.model.eval()  # type: ignore[attr-defined]
    first = float(trainer.loss(batch).detach())  # type: ignore[attr-defined]
    trainer.model.train()  # type: ignore[attr-defined]
    for _ in range(15):
        trainer.step(batch)  # type: ignore[attr-defined]
    trainer.model.eval()  # type: ignore[attr-defined]
    assert float(trainer.loss(batch).detach()) < 0.7 * first  # type: ignore[attr-defined]
    path = tmp_path / "goturn.pt"
    torch.save(trainer.export(), path)  # type: ignore[attr-defined]
    net = load_goturn(path)
    with torch.no_grad():
        torch.testing.assert_close(trainer.model(batch[0], batch[1]), net(batch[0], batch[1]))  # type: ignore[attr-defined]


def test_follows_synthetic_target() -> None:
    weights = default_weights("goturn.pt")
    if not weights.is_file():
        pytest.skip(f"{weights} not committed")
    frames, boxes = moving_target(n=24)
    ious = follow(build("goturn"), frames, boxes)
    assert np.mean(np.array(ious) > 0.5) >= 0.6


def test_bad_input(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(ConfigError):
        GoturnTracker(context=0.5)
    with pytest.raises(DataNotFoundError):
        GoturnTracker(weights=str(tmp_path / "none.pt")).init(frame, [5, 5, 20, 20])
    other = tmp_path / "other.pt"
    torch.save({"arch": {"model": "mdnet"}, "state_dict": {}}, other)
    with pytest.raises(FormatError):
        GoturnTracker(weights=str(other)).init(frame, [5, 5, 20, 20])
