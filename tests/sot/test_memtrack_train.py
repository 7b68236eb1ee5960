"""MemTrack training options (issue 22): imperfect writes (``write_shift`` / ``write_scale``),
the residual gate's initial bias, one step lowering the loss with them, and a resumed run
ending with the same weights as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError

torch = pytest.importorskip("torch")

from trackkit.sot.train.memtrack import jitter_box  # noqa: E402

pytestmark = pytest.mark.timeout(60)

_EXTRA = {
    "backbone": "", "width": 0.125, "seq_len": 2,
    "write_shift": 0.2, "write_scale": 0.1, "residual_bias": -3.0,
}  # fmt: skip


def _trainer(tmp_path: Path, **options: Any) -> Any:
    opts = {"epochs": 2, "steps_per_epoch": 1, "batch_size": 2, "lr": 1e-2, **options}
    return deep_sot.trainer_on_synthetic("memtrack", tmp_path, (1,), 12, extra=_EXTRA, **opts)


def test_jitter_box_bounds() -> None:
    rng = np.random.default_rng(0)
    box = np.array([10.0, 20.0, 50.0, 100.0])  # 40 x 80, centre (30, 60)
    assert jitter_box(box, rng, 0.0, 0.0) is box  # no draw, the exact box
    for _ in range(200):
        b = jitter_box(box, rng, 0.2, 0.1)
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        assert abs(cx - 30) <= 0.2 * 40 + 1e-9 and abs(cy - 60) <= 0.2 * 80 + 1e-9
        f = (b[2] - b[0]) / 40
        assert 0.9 - 1e-9 <= f <= 1.1 + 1e-9 and (b[3] - b[1]) / 80 == pytest.approx(f)


def test_residual_gate_starts_closed_and_one_step_lowers_the_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    bias = trainer.model.memory.residual.bias
    assert torch.all(bias == -3.0)
    batch = trainer.make_batch(np.random.default_rng(0))
    assert batch[2].shape == (2, 2, 3, 127, 127)
    first, last = deep_sot.train_on_batch(trainer, batch, 1, eval_loss=False)
    assert last < first
    from trackkit.sot.train.base import TrainOptions, build_trainer

    with pytest.raises(ConfigError, match="write_shift"):
        build_trainer("memtrack", TrainOptions(data=(Path("."),), out=Path("o"),
                                               extra={"write_shift": 2.0}))  # fmt: skip


def test_resumed_training_gives_the_same_weights(tmp_path: Path) -> None:
    from trackkit.sot.train.base import fit
    from trackkit.training.weights import read_weights

    torch.manual_seed(0)
    whole = fit(_trainer(tmp_path / "a"), progress=False)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):  # killed in epoch 2, after epoch 1's checkpoint
        fit(_trainer(tmp_path / "b"), progress=False, stop_after=1)
    resumed = fit(_trainer(tmp_path / "b", resume=True), progress=False)
    a = read_weights(whole, arch="memtrack").state_dict
    b = read_weights(resumed, arch="memtrack").state_dict
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
