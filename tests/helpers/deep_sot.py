"""Checks shared by the tests of the deep single-object trackers (GOTURN, MDNet, SiamFC):
a trainer on synthetic sequences, training on one batch, the weights round trip, following a
synthetic target and the errors of bad weights. For the tests in ``tests/sot`` (it imports
their ``deep_synthetic``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deep_synthetic import follow, moving_target, write_otb

from trackkit.errors import DataNotFoundError, FormatError
from trackkit.sot.nets import default_weights


def trainer_on_synthetic(
    name: str, tmp_path: Path, seeds: Sequence[int], frames: int, **options: Any
) -> Any:
    """The set-up trainer ``name`` on one synthetic OTB sequence of ``frames`` frames per
    seed (``tmp_path/data/S<seed>``), writing to ``tmp_path/out``; ``options`` are the other
    :class:`~trackkit.sot.train.base.TrainOptions`."""
    from trackkit.sot.train.base import TrainOptions, build_trainer

    root = tmp_path / "data"
    for seed in seeds:
        images, boxes = moving_target(n=frames, seed=seed)
        write_otb(root / f"S{seed}", images, boxes)
    trainer = build_trainer(name, TrainOptions(data=(root,), out=tmp_path / "out", **options))
    trainer.setup()
    return trainer


def train_on_batch(
    trainer: Any, batch: Any, steps: int, eval_loss: bool = True
) -> tuple[float, float]:
    """Take ``steps`` optimiser steps on ``batch``: its loss (before, after) them, measured
    with the model in eval mode when ``eval_loss``, else in train mode."""

    def loss() -> float:
        trainer.model.train(not eval_loss)
        return float(trainer.loss(batch).detach())

    first = loss()
    trainer.model.train()
    for _ in range(steps):
        trainer.step(batch)
    return first, loss()


def assert_round_trip(trainer: Any, path: Path, load: Callable[[Path], Any], *inputs: Any) -> Any:
    """Save the trainer's export to ``path``: ``load(path)`` gives a network answering
    ``inputs`` as the trained model does (both in eval mode). Returns that network."""
    import torch

    torch.save(trainer.export(), path)
    net = load(path).eval()
    trainer.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(*inputs), trainer.model(*inputs))
    return net


def followed_fraction(
    weights: str, tracker: Callable[[], Any], frames: int, keep: int | None = None
) -> float:
    """The fraction of a ``frames``-frame synthetic target's frames (the first ``keep``) that
    ``tracker()`` follows (IoU > 0.5); skips when the weights file is not committed."""
    path = default_weights(weights)
    if not path.is_file():
        pytest.skip(f"{path} not committed")
    images, boxes = moving_target(n=frames)
    ious = follow(tracker(), images[:keep], boxes[:keep])
    return float(np.mean(np.array(ious) > 0.5))


def check_bad_weights(tracker: Callable[..., Any], tmp_path: Path, other: str) -> None:
    """``tracker(weights=...)`` refuses, on init, a missing file (:class:`DataNotFoundError`)
    and another model's weights (:class:`FormatError` naming it)."""
    import torch

    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(DataNotFoundError):
        tracker(weights=str(tmp_path / "none.pt")).init(frame, [5, 5, 20, 20])
    path = tmp_path / "other.pt"
    torch.save({"arch": {"model": other}, "state_dict": {}}, path)
    with pytest.raises(FormatError, match=other):
        tracker(weights=str(path)).init(frame, [5, 5, 20, 20])
