"""One checkpoint/resume rule for every task: a run killed mid-way and resumed ends with the
same weights, bit for bit, as a run straight through (ReID and every SOT trainer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from conftest import REID_SIZE, SOT_TINY, reid_identities  # noqa: E402
from trackkit.reid.training import TrainConfig, Trainer  # noqa: E402
from trackkit.sot.train.base import TrainOptions, build_trainer, fit  # noqa: E402
from trackkit.training.weights import read_weights  # noqa: E402


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _sot_opts(name: str, data: Path, out: Path, resume: bool = False) -> tuple[str, TrainOptions]:
    model, extra = SOT_TINY[name]
    opts = TrainOptions(
        data=(data,), out=out, epochs=2, steps_per_epoch=2, batch_size=2, lr=1e-3, seed=3,
        resume=resume, extra=dict(extra),
    )  # fmt: skip
    return model, opts


@pytest.mark.parametrize("name", sorted(SOT_TINY))
def test_sot_trainer_killed_and_resumed_matches_straight_run(
    name: str, sot_data: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    model, opts = _sot_opts(name, sot_data, tmp_path / "straight")
    straight = read_weights(fit(build_trainer(model, opts), progress=False))
    model, opts = _sot_opts(name, sot_data, tmp_path / "killed")
    with pytest.raises(KeyboardInterrupt):
        fit(build_trainer(model, opts), progress=False, stop_after=3)  # in epoch 2
    assert (tmp_path / "killed" / "checkpoint.pt").is_file()
    model, opts = _sot_opts(name, sot_data, tmp_path / "killed", resume=True)
    resumed = read_weights(fit(build_trainer(model, opts), progress=False))
    _assert_same(straight.state_dict, resumed.state_dict)
    rows = (tmp_path / "killed" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,steps,loss")
    assert rows[1:] == [r for r in rows[1:] if r.count(",") == rows[0].count(",")]


def _reid_cfg() -> TrainConfig:
    return TrainConfig(
        epochs=3, p=3, k=2, warmup_epochs=1, input_size=REID_SIZE, max_batches=2, threads=1,
        loss="triplet-hard+0.5*center+ce+dml-kl",
    )  # fmt: skip


def test_reid_task_killed_and_resumed_matches_straight_run(tmp_path: Path) -> None:
    images, crops = reid_identities()
    full = Trainer(_reid_cfg(), images, tmp_path / "a", crops, progress=False)
    full.run()
    killed = Trainer(_reid_cfg(), images, tmp_path / "b", crops, progress=False)
    with pytest.raises(KeyboardInterrupt):
        killed.run(stop_after=3)  # mid-epoch 2
    resumed = Trainer(_reid_cfg(), images, tmp_path / "b", crops, progress=False)
    resumed.run(resume=True)
    # every module the task owns: model, head, loss modules (center), mutual-learning peer
    assert set(full.modules()) == {"model", "head", "loss_modules", "peer"}
    for key, module in full.modules().items():
        _assert_same(module.state_dict(), resumed.modules()[key].state_dict())
    _assert_same(
        read_weights(tmp_path / "a" / "model.pt").state_dict,
        read_weights(tmp_path / "b" / "model.pt").state_dict,
    )
    a = (tmp_path / "a" / "log.csv").read_text().splitlines()
    b = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert len(a) == len(b) == 4 and a[0] == b[0]
    assert a[0].startswith("epoch,lr,loss_triplet-hard,loss_center,loss_ce,loss_dml-kl,loss,")


def test_resume_without_checkpoint_is_an_error(sot_data: Path, tmp_path: Path) -> None:
    from trackkit.errors import DataNotFoundError

    model, opts = _sot_opts("siamfc", sot_data, tmp_path / "none", resume=True)
    with pytest.raises(DataNotFoundError, match="no checkpoint"):
        fit(build_trainer(model, opts), progress=False)


def test_resume_with_other_settings_is_refused(sot_data: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from trackkit.errors import ConfigError

    model, opts = _sot_opts("siamfc", sot_data, tmp_path / "o")
    fit(build_trainer(model, replace(opts, epochs=1)), progress=False)
    with pytest.raises(ConfigError, match="different settings"):
        fit(build_trainer(model, replace(opts, lr=0.5, resume=True)), progress=False)
    # more epochs is fine
    fit(build_trainer(model, replace(opts, resume=True)), progress=False)
    assert len((tmp_path / "o" / "log.csv").read_text().splitlines()) == 3
