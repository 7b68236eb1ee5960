"""MemTrack (issue 22, item 4): the memory's read / write / allocation, the network's shapes,
training on a fixed batch, resumable training that records its sequences, tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.sot import build
from trackkit.sot.trackers.memtrack import MemTrackTracker

torch = pytest.importorskip("torch")

from trackkit.sot.nets.memory import (  # noqa: E402
    Control,
    MemoryController,
    MemTrackNet,
    allocation_weights,
    load_memtrack,
    read,
    read_weights,
    slot_keys,
)

pytestmark = pytest.mark.timeout(60)


def _trainer(tmp_path: Path, **extra: object) -> Any:
    options = dict(epochs=2, steps_per_epoch=1, batch_size=2, lr=1e-2)
    extra = {"backbone": "", "width": 0.125, "seq_len": 2, **extra}
    return deep_sot.trainer_on_synthetic("memtrack", tmp_path, (1,), 12, extra=extra, **options)


def test_read_with_a_slot_key_returns_that_slot() -> None:
    torch.manual_seed(0)
    slots = torch.randn(2, 6, 8, 3, 3)
    keys = slot_keys(slots)
    for j in range(6):
        w = read_weights(keys[:, j], keys, torch.full((2, 1), 50.0))
        assert torch.all(w.argmax(dim=1) == j) and torch.all(w[:, j] > 0.9)
        got = read(slots, w)
        err = (got - slots[:, j]).flatten(1).norm(dim=1) / slots[:, j].flatten(1).norm(dim=1)
        assert torch.all(err < 0.2)
    # a weak strength spreads the weights out
    flat = read_weights(keys[:, 0], keys, torch.ones(2, 1))
    assert float(flat[0, 0]) < 0.5


def test_writes_go_to_the_least_used_slot() -> None:
    torch.manual_seed(0)
    mem = MemoryController(channels=8, slots=4, hidden=16)
    first = torch.randn(1, 8, 3, 3)
    state = mem.start(first)
    assert torch.equal(allocation_weights(state.usage), torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    # the allocation gate only, full erase: each write replaces the least-used slot
    for step in range(3):
        read_w = torch.zeros(1, 4)
        read_w[0, 0] = 1.0  # the reads go to slot 0 only
        ctl = Control(
            h=state.h, c=state.c, read_w=read_w,
            gates=torch.tensor([[0.0, 0.0, 1.0]]), erase=torch.ones(1, 1),
            residual=torch.zeros(1, 8),
        )  # fmt: skip
        least = int(state.usage.argmin())
        new = torch.full((1, 8, 3, 3), float(step + 1))
        state = mem.write(state, ctl, new)
        assert least == step + 1  # 1, 2, 3: never slot 0 (used) or a slot just written
        assert torch.equal(state.slots[0, least], new[0])
        others = [j for j in range(4) if j != least and j > step + 1]
        for j in others:
            assert torch.equal(state.slots[0, j], first[0])  # untouched
    assert torch.equal(state.slots[0, 0], first[0])


@pytest.mark.parametrize(("backbone", "channels"), [("", 32), ("nanotrack_v3", 16)])
def test_shapes_on_tiny_input(backbone: str, channels: int) -> None:
    torch.manual_seed(0)
    net = MemTrackNet(width=0.125, backbone=backbone, neck=16, slots=3, hidden=8).eval()
    z0 = torch.rand(2, 3, 127, 127) * 255
    xs = torch.rand(2, 2, 3, 255, 255) * 255
    zs = torch.rand(2, 2, 3, 127, 127) * 255
    with torch.no_grad():
        resp = net(z0, xs, zs)
        zf = net.embed(z0)
        state = net.memory.start(zf)
        ctl = net.memory.control(state, net.embed(xs[:, 0]))
    assert resp.shape == (2, 2, 17, 17) and torch.isfinite(resp).all()
    assert zf.shape[1] == channels and state.slots.shape == (2, 3, *zf.shape[1:])
    assert ctl.read_w.shape == (2, 3) and torch.allclose(ctl.read_w.sum(1), torch.ones(2))
    assert ctl.gates.shape == (2, 3) and ctl.residual.shape == (2, channels)
    # every slot starts as the first exemplar: the first read is T_0 whatever the weights
    torch.testing.assert_close(read(state.slots, ctl.read_w), zf)


def test_one_step_lowers_the_loss_and_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    batch = trainer.make_batch(np.random.default_rng(0))
    assert batch[1].shape == (2, 2, 3, 255, 255) and batch[3].shape == (2, 2, 17, 17)
    first, last = deep_sot.train_on_batch(trainer, batch, 1, eval_loss=False)
    assert last < first
    deep_sot.assert_round_trip(trainer, tmp_path / "memtrack.pt", load_memtrack, *batch[:3])
    # the memory controller gets gradients through the clip
    trainer.model.train()
    trainer.optimizer.zero_grad()
    trainer.loss(batch).backward()
    grads = [p.grad for p in trainer.model.memory.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_resumable_training_records_its_sequences(tmp_path: Path) -> None:
    from trackkit.sot.train.base import fit
    from trackkit.training.weights import read_weights

    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    with pytest.raises(KeyboardInterrupt):  # interrupted in epoch 2, after 1's checkpoint
        fit(trainer, progress=False, stop_after=1)
    assert (tmp_path / "out" / "checkpoint.pt").is_file()
    resumed = deep_sot.trainer_on_synthetic(
        "memtrack", tmp_path, (1,), 12, epochs=2, steps_per_epoch=1, batch_size=2, resume=True,
        extra={"backbone": "", "width": 0.125, "seq_len": 2},
    )  # fmt: skip
    out = fit(resumed, progress=False)
    w = read_weights(out, arch="memtrack")
    assert w.trained_on["sequences"] == ["S1"]
    assert w.config["slots"] == 8 and "backbone" not in w.config
    lines = (tmp_path / "out" / "log.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # header + 2 epochs: the second ran after the resume


def test_tracker_writes_its_memory(tmp_path: Path) -> None:
    from deep_synthetic import moving_target

    torch.manual_seed(0)
    trainer = _trainer(tmp_path)
    path = tmp_path / "m.pt"
    torch.save(trainer.export(), path)
    frames, boxes = moving_target(n=6)
    t = build("memtrack", weights=str(path))
    t.init(frames[0], boxes[0])
    for f in frames[1:]:
        r = t.update(f)
        assert np.all(np.isfinite(r.box)) and 0 <= r.score <= 1
    assert isinstance(t, MemTrackTracker)
    usage = t._state.usage[0].numpy()
    assert np.all(usage > 0)  # five writes spread over the least-used slots
    w = t.read_weights()
    assert w.shape == (8,) and w.sum() == pytest.approx(1.0, abs=1e-5)


def test_follows_synthetic_target() -> None:
    assert deep_sot.followed_fraction("memtrack.pt", lambda: build("memtrack"), 24) >= 0.8


def test_bad_input(tmp_path: Path) -> None:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    deep_sot.check_bad_weights(MemTrackTracker, tmp_path, "siamfc")
    with pytest.raises(ConfigError, match="seq_len"):
        build_trainer("memtrack", TrainOptions(data=(Path("."),), out=Path("o"),
                                               extra={"seq_len": 0}))  # fmt: skip
    with pytest.raises(DataNotFoundError):
        MemTrackTracker(weights=str(tmp_path / "none.pt")).init(
            np.zeros((40, 40, 3), np.uint8), [5, 5, 20, 20]
        )
