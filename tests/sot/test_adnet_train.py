"""ADNet's trainer (both stages, weights record, exact resume) and tracker (first-frame
adaptation, following a synthetic target with the packaged head, bad weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot

torch = pytest.importorskip("torch")

_EXTRA = {
    "samples": 8, "negatives": 4, "sl_epochs": 1, "rl_clips": 2, "clip_len": 3, "rl_steps": 3,
    "fc": 32,
}  # fmt: skip


def _trainer(tmp_path: Path, **options: Any) -> Any:
    opts = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "lr": 1e-3, **options}
    return deep_sot.trainer_on_synthetic("adnet", tmp_path, (3, 4), 8, extra=_EXTRA, **opts)


@pytest.mark.timeout(60)
def test_supervised_step_lowers_loss_and_weights_round_trip(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot.nets.adnet_net import load_adnet_head
    from trackkit.training.weights import read_weights

    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    kind, batch = trainer.sl_batch(np.random.default_rng(0))
    assert kind == "sl" and batch[0].shape == (2 * 12, trainer.features.dim)
    first, last = deep_sot.train_on_batch(trainer, (kind, batch), 10)
    assert last < first
    path = tmp_path / "adnet.pt"
    deep_sot.assert_round_trip(trainer, path, load_adnet_head, batch[0], batch[1])
    w = read_weights(path)
    assert w.arch == "adnet" and not any(k.startswith("backbone") for k in w.state_dict)
    assert w.trained_on["sequences"] == ["S3", "S4"]
    assert len(w.trained_on["pretrained"]["sha256"]) == 64
    # the RL stage: episodes played by the policy, a finite REINFORCE step
    assert trainer.stage(0) == "sl" and trainer.stage(1) == "rl"
    kind, episodes = trainer.rl_batch(np.random.default_rng(1))
    assert kind == "rl" and len(episodes) == 2 and {e.reward for e in episodes} <= {-1.0, 1.0}
    out = trainer.step((kind, episodes))
    assert np.isfinite(out["loss"]) and 0 <= out["rl_success"] <= 1


@pytest.mark.timeout(90)
def test_both_stages_resume_exactly(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot.train.base import fit

    whole = _trainer(tmp_path / "a")
    fit(whole, progress=False)
    cut = _trainer(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        fit(cut, progress=False, stop_after=3)  # inside the RL epoch
    resumed = deep_sot.trainer_on_synthetic(
        "adnet", tmp_path / "b", (3, 4), 8, extra=_EXTRA, epochs=2, steps_per_epoch=2,
        batch_size=2, lr=1e-3, resume=True,
    )  # fmt: skip
    fit(resumed, progress=False)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.timeout(60)
def test_tracker_follows_synthetic_target(shared: Path) -> None:
    from trackkit.sot.trackers.adnet import ADNetTracker

    def tracker() -> ADNetTracker:
        return ADNetTracker(init_samples=128, init_iters=15)

    assert deep_sot.followed_fraction("adnet.pt", tracker, 40, keep=14) >= 0.8


@pytest.mark.timeout(30)
def test_bad_weights(shared: Path, tmp_path: Path) -> None:
    from trackkit.errors import ConfigError
    from trackkit.sot.trackers.adnet import ADNetTracker

    with pytest.raises(ConfigError):
        ADNetTracker(alpha=0.0)
    deep_sot.check_bad_weights(ADNetTracker, tmp_path, "mdnet")
