"""MemTrack's two-stage training (``--set embedding=siamfc``, issue 22): the embedding is
SiamFC's own (trained first by SiamFC's trainer on the same data, or read from a file), frozen
(batch norms in eval mode too), and only the memory controller learns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError, DataNotFoundError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.timeout(60)

_EXTRA = {
    "backbone": "", "width": 0.125, "seq_len": 2, "residual_bias": -3.0,
    "embedding": "siamfc", "embedding_epochs": 1, "embedding_steps": 1,
}  # fmt: skip


def _trainer(tmp_path: Path, **extra: Any) -> Any:
    opts = {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2, "lr": 1e-2}
    return deep_sot.trainer_on_synthetic(
        "memtrack", tmp_path, (1,), 12, extra={**_EXTRA, **extra}, **opts
    )


def test_stage_one_embedding_is_copied_frozen_and_kept(tmp_path: Path) -> None:
    from trackkit.sot.nets.siamfc_net import load_siamfc

    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    stage1 = tmp_path / "out" / "siamfc" / "model.pt"
    assert stage1.is_file()  # SiamFC's trainer ran first, into <out>/siamfc
    siam = load_siamfc(stage1).state_dict()
    mine = trainer.model.siam.state_dict()
    assert siam.keys() == mine.keys()
    for k in siam:
        torch.testing.assert_close(mine[k], siam[k], rtol=0, atol=0)
    assert not any(p.requires_grad for p in trainer.model.siam.parameters())
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    assert len(trainable) == len(list(trainer.model.memory.parameters()))
    trainer.model.train()
    assert trainer.model.memory.training and not trainer.model.siam.training
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.make_batch(np.random.default_rng(0))
    first, last = deep_sot.train_on_batch(trainer, batch, 3, eval_loss=False)
    assert last < first  # the controller alone lowers the loss
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("memory.") for k in changed)  # BN statistics too


def test_embedding_from_a_file_and_bad_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    first = _trainer(tmp_path / "a")
    path = tmp_path / "a" / "out" / "siamfc" / "model.pt"
    second = _trainer(tmp_path / "b", embedding=str(path))
    assert not (tmp_path / "b" / "out" / "siamfc").exists()  # no stage 1: the file is used
    for k, v in first.model.siam.state_dict().items():
        torch.testing.assert_close(second.model.siam.state_dict()[k], v, rtol=0, atol=0)
    with pytest.raises(DataNotFoundError, match="embedding="):
        _trainer(tmp_path / "c", embedding=str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="width"):
        _trainer(tmp_path / "d", embedding=str(path), width=0.25)


def test_read_below_uses_the_first_exemplar_when_it_is_sure(tmp_path: Path) -> None:
    """``read_below=0``: ``T_0`` alone on every frame (the boxes of a memory whose residual
    gate is shut), while the controller still steps and writes; ``read_below=1``: the paper's
    read on every frame (other boxes once the gate is open)."""
    from deep_synthetic import moving_target

    from trackkit.errors import ConfigError as Bad
    from trackkit.sot import build

    torch.manual_seed(0)
    trainer = _trainer(tmp_path, residual_bias=3.0)  # gate open: r ~ 0.95
    path = tmp_path / "m.pt"
    torch.save(trainer.export(), path)
    frames, boxes = moving_target(n=6)

    def run(shut: bool = False, **opts: float) -> np.ndarray:
        t = build("memtrack", weights=str(path), **opts)
        if shut:
            with torch.no_grad():
                t._network().memory.residual.bias.fill_(-1e4)
        t.init(frames[0], boxes[0])
        out = np.array([t.update(f).box for f in frames[1:]])
        assert float(t._state.usage[0].sum()) > 1.0  # written every frame either way
        return out

    never = run(read_below=0.0)
    np.testing.assert_allclose(never, run(shut=True), atol=1e-9)
    always = run(read_below=1.0)
    assert not np.allclose(always, never)
    with pytest.raises(Bad, match="read_below"):
        build("memtrack", weights=str(path), read_below=1.5)
