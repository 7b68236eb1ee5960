"""SiamFC: labels, training on a fixed batch, weights round trip, tracking a synthetic target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, moving_target, write_otb

from trackkit.errors import ConfigError, DataNotFoundError, FormatError, TrackkitError
from trackkit.sot import build
from trackkit.sot.nets import default_weights
from trackkit.sot.nets.siamfc_net import load_siamfc
from trackkit.sot.trackers.siamfc import SiamFCTracker
from trackkit.sot.train.siamfc import logistic_labels

torch = pytest.importorskip("torch")


def _trainer(tmp_path: Path, **extra: object) -> object:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    frames, boxes = moving_target(n=12, seed=1)
    data = write_otb(tmp_path / "data" / "Synth", frames, boxes)
    opts = TrainOptions(
        data=(data.parent,),
        out=tmp_path / "out",
        epochs=2,
        steps_per_epoch=1,
        batch_size=4,
        lr=1e-2,
        extra=dict(extra),
    )
    trainer = build_trainer("siamfc", opts)
    trainer.setup()
    return trainer


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
    batch = trainer.make_batch(np.random.default_rng(0))  # type: ignore[attr-defined]
    trainer.model.train()  # type: ignore[attr-defined]
    first = float(trainer.loss(batch).detach())  # type: ignore[attr-defined]
    for _ in range(20):
        trainer.step(batch)  # type: ignore[attr-defined]
    assert float(trainer.loss(batch).detach()) < 0.8 * first  # type: ignore[attr-defined]
    path = tmp_path / "siamfc.pt"
    torch.save(trainer.export(), path)  # type: ignore[attr-defined]
    net = load_siamfc(path)
    trainer.model.eval()  # type: ignore[attr-defined]
    with torch.no_grad():
        a = trainer.model(batch[0], batch[1])  # type: ignore[attr-defined]
        b = net(batch[0], batch[1])
    torch.testing.assert_close(a, b)
    # the CLI's fit loop writes checkpoint + model and resumes
    from trackkit.sot.train.base import fit

    out = fit(trainer, progress=False)  # type: ignore[arg-type]
    assert out.is_file() and (tmp_path / "out" / "checkpoint.pt").is_file()
    assert load_siamfc(out).width == 0.125


def test_follows_synthetic_target() -> None:
    weights = default_weights("siamfc.pt")
    if not weights.is_file():
        pytest.skip(f"{weights} not committed")
    frames, boxes = moving_target(n=24)
    ious = follow(build("siamfc"), frames, boxes)
    assert np.mean(np.array(ious) > 0.5) >= 0.8


def test_bad_input(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(ConfigError):
        SiamFCTracker(num_scales=2)
    with pytest.raises(DataNotFoundError):
        SiamFCTracker(weights=str(tmp_path / "none.pt")).init(frame, [5, 5, 20, 20])
    other = tmp_path / "other.pt"
    torch.save({"arch": {"model": "goturn"}, "state_dict": {}}, other)
    with pytest.raises(FormatError, match="goturn"):
        SiamFCTracker(weights=str(other)).init(frame, [5, 5, 20, 20])
    wrong = tmp_path / "wrong.pt"
    torch.save({"arch": {"model": "siamfc"}, "state_dict": {"x": torch.zeros(1)}}, wrong)
    with pytest.raises(FormatError):
        SiamFCTracker(weights=str(wrong)).init(frame, [5, 5, 20, 20])
    with pytest.raises(TrackkitError):
        SiamFCTracker().update(frame)
