"""MDNet: sampling, RoIAlign, the pretrained and the from-scratch networks (shapes, one
training step, weights of both architectures), online tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.core.boxes import iou_matrix
from trackkit.errors import ConfigError, FormatError
from trackkit.sot.ops.samples import crop_boxes, labelled_samples
from trackkit.sot.trackers.mdnet import MDNetTracker

torch = pytest.importorskip("torch")

from trackkit.sot.nets.mdnet_net import MDNet, PretrainedMDNet, load_mdnet, roi_align  # noqa: E402

#: a pretrained network small enough for tests: a 64 px region (4x4 map), 3x3 RoIs
TINY = {"region_px": 64, "target_px": 32, "roi": 3, "fc": 16}
#: the trainer's options for it (few samples)
TINY_TRAIN = {**TINY, "pos": 8, "neg": 24, "batch_pos": 8, "batch_neg": 16}


def _trainer(tmp_path: Path, **extra: Any) -> Any:
    options = dict(epochs=1, steps_per_epoch=2, batch_size=2, lr=1e-2)
    return deep_sot.trainer_on_synthetic("mdnet", tmp_path, (3, 4), 8, extra=extra, **options)


@pytest.mark.timeout(10)
def test_labelled_samples_respect_iou() -> None:
    rng = np.random.default_rng(0)
    box = np.array([50.0, 40.0, 90.0, 100.0])
    pos, neg = labelled_samples(rng, box, 50, 200)
    assert len(pos) == 50 and len(neg) == 200
    assert iou_matrix(pos, box[None]).min() >= 0.7
    assert iou_matrix(neg, box[None]).max() < 0.5
    crops = crop_boxes(np.zeros((120, 160, 3), np.uint8), pos[:3], 32)
    assert crops.shape == (3, 3, 32, 32) and crops.dtype == np.float32


@pytest.mark.timeout(10)
def test_roi_align_hand_values() -> None:
    fmap = torch.arange(4, dtype=torch.float32).repeat(4, 1)[None, None]  # value = column
    whole = torch.tensor([[-1.0, -1.0, 1.0, 1.0]])
    # 2 bins x 2 samples per side: samples at columns 0, 1 | 2, 3 (cell centres)
    out = roi_align(fmap, whole, 2, samples=2)
    assert out.shape == (1, 1, 2, 2)
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.5, 2.5], [0.5, 2.5]]))
    # one sample per bin at its centre: columns 0.5 and 2.5 (bilinear)
    torch.testing.assert_close(roi_align(fmap, whole, 2, samples=1), out)
    # the right half of a box outside the map reads zeros; two boxes keep their order
    two = torch.tensor([[-1.0, -1.0, 1.0, 1.0], [0.0, -1.0, 2.0, 1.0]])
    out2 = roi_align(fmap, two, 2, samples=2)
    torch.testing.assert_close(out2[0], out[0])
    torch.testing.assert_close(out2[1, 0, :, 1], torch.zeros(2))
    torch.testing.assert_close(out2[1, 0, :, 0], torch.full((2,), 2.5))


@pytest.mark.timeout(30)
def test_pretrained_network_shapes(shared: Path) -> None:
    torch.manual_seed(0)
    net = PretrainedMDNet(domains=2, **TINY)
    assert net.record["backbone"] == "nanotrack_v3" and len(net.record["sha256"]) == 64
    assert not list(net.tuned.parameters())  # frozen: nothing of the backbone is stored
    assert all(k.startswith(("fc.", "heads.")) for k in net.state_dict())
    img = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    box = np.array([30.0, 20.0, 50.0, 40.0])
    ctx = net.prepare(img, box)
    assert tuple(ctx[0].shape) == (1, 96, 4, 4)
    boxes = np.array([box, box + 3, [0.0, 0.0, 10.0, 10.0]])
    feats = net.box_features(ctx, boxes)
    assert feats.shape == (3, 96 * 9) and feats.dtype == torch.float32
    assert net.feat_shape == (96, 3, 3)
    assert net.classify(feats, 1).shape == (3, 2)
    tuned = PretrainedMDNet(tuned=1, **TINY)
    assert any(k.startswith("tuned.0.") for k in tuned.state_dict())
    assert all(p.requires_grad for p in tuned.tuned.parameters())
    tuned.train()
    assert not tuned.tuned.training  # batch-norm statistics stay the pretrained ones
    # the tuned copy of block 9 starts as the pretrained block: the same features
    torch.testing.assert_close(tuned.box_features(tuned.prepare(img, box), boxes), feats)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("tuned", [0, 1])
def test_training_step_lowers_the_loss(shared: Path, tmp_path: Path, tuned: int) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path, tuned=tuned, **TINY_TRAIN)
    assert len(trainer.model.heads) == 2  # one head per sequence
    batch = trainer.make_batch(np.random.default_rng(0), 1)
    before = [p.detach().clone() for p in trainer.model.tuned.parameters()]
    first, last = deep_sot.train_on_batch(trainer, batch, 15)
    assert last < 0.7 * first
    after = list(trainer.model.tuned.parameters())
    assert len(after) == len(before) and (tuned == 0 or not all(
        torch.equal(a, b) for a, b in zip(before, after, strict=True)))  # fmt: skip


@pytest.mark.timeout(60)
def test_weights_of_both_architectures(shared: Path, tmp_path: Path) -> None:
    from trackkit.training.weights import read_weights

    torch.manual_seed(0)
    trainer = _trainer(tmp_path / "new", tuned=1, **TINY_TRAIN)
    path = tmp_path / "new.pt"
    torch.save(trainer.export(), path)
    w = read_weights(path)
    assert w.config["backbone"] == "nanotrack_v3" and w.config["tuned"] == 1
    assert w.trained_on["pretrained"] == trainer.model.record
    net = load_mdnet(path)
    assert isinstance(net, PretrainedMDNet) and len(net.heads) == 2
    img, box = trainer.pairs.frame(0, 0)
    trainer.model.eval()
    with torch.no_grad():
        ref = trainer.model.classify(trainer.model.box_features(trainer.model.prepare(img, box),
                                                                box[None]), 1)  # fmt: skip
        got = net.classify(net.box_features(net.prepare(img, box), box[None]), 1)
    torch.testing.assert_close(got, ref)
    # another backbone file than the one trained on: one clear error naming the fix
    blob = torch.load(path, weights_only=True)
    blob["trained_on"]["pretrained"]["sha256"] = "0" * 64
    torch.save(blob, tmp_path / "other.pt")
    with pytest.raises(FormatError, match="backbone_weights"):
        load_mdnet(tmp_path / "other.pt")
    # the first trackkit MDNet: old files (no backbone record) load as the scratch network
    scratch = MDNet(domains=2, size=32, width=4, fc=16)
    arch = {"model": "mdnet", "domains": 2, "size": 32, "width": 4, "fc": 16}
    torch.save({"arch": arch, "state_dict": scratch.state_dict()}, tmp_path / "old.pt")
    old = load_mdnet(tmp_path / "old.pt")
    assert type(old) is MDNet and old.feat_shape == (12, 2, 2)
    x = torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        torch.testing.assert_close(old(x, 1), scratch.eval()(x, 1))
    frames, boxes = _moving(12)
    t = MDNetTracker(weights=str(tmp_path / "old.pt"), candidates=16, init_pos=20,
                     init_neg=60, init_iters=2, hard_pool=96, bbreg=False)  # fmt: skip
    t.init(frames[0], boxes[0])
    assert all(np.isfinite(t.update(f).box).all() for f in frames[1:4])


def _moving(n: int) -> tuple[list[Any], Any]:
    from deep_synthetic import moving_target

    return moving_target(n=n)


@pytest.mark.timeout(120)
def test_scratch_trainer_still_trains(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _trainer(tmp_path, backbone="scratch", size=32, width=8, fc=32, pos=8, neg=24,
                       batch_pos=8, batch_neg=16)  # fmt: skip
    assert type(trainer.model) is MDNet and trainer.model.arch()["backbone"] == "scratch"
    batch = trainer.make_batch(np.random.default_rng(0), 1)
    first, last = deep_sot.train_on_batch(trainer, batch, 15)
    assert last < 0.7 * first


@pytest.mark.timeout(120)
def test_follows_synthetic_target(shared: Path) -> None:
    def tracker() -> MDNetTracker:
        # the cheap first-frame training scores the target below the default fail_score (1.5)
        return MDNetTracker(candidates=64, init_pos=100, init_neg=300, init_iters=15,
                            fail_score=0.0)  # fmt: skip

    # 40 frames a lap: at most 14 px per frame
    assert deep_sot.followed_fraction("mdnet.pt", tracker, 40, keep=14) >= 0.8


@pytest.mark.timeout(30)
def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        MDNetTracker(hard_pool=4, batch_neg=96)
    deep_sot.check_bad_weights(MDNetTracker, tmp_path, "siamfc")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fail_move", [False, True])
def test_failure_keeps_or_moves_the_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_move: bool
) -> None:
    """Every candidate scored background (a failure): the box stays by default and moves to the
    top-5 candidates' mean (towards the best-scored place) with ``fail_move``."""
    import trackkit.sot.trackers.mdnet as mod

    torch.manual_seed(0)
    scratch = MDNet(domains=1, size=32, width=4, fc=16)
    arch = {"model": "mdnet", "domains": 1, "size": 32, "width": 4, "fc": 16}
    torch.save({"arch": arch, "state_dict": scratch.state_dict()}, tmp_path / "old.pt")
    frames, boxes = _moving(3)
    t = MDNetTracker(weights=str(tmp_path / "old.pt"), candidates=64, init_pos=20, init_neg=60,
                     init_iters=1, hard_pool=96, update_iters=0, bbreg=False,
                     fail_move=fail_move)  # fmt: skip
    t.init(frames[0], boxes[0])
    start = t._box.copy()
    goal = (start[:2] + start[2:]) / 2 + np.array([6.0, -4.0])
    drawn: list[Any] = []
    real = mod.gaussian_samples
    monkeypatch.setattr(mod, "gaussian_samples", lambda *a, **k: drawn.append(real(*a, **k))
                        or drawn[-1])  # fmt: skip

    def background(feats: Any, k: int = 0) -> Any:  # score -10 - distance to the goal
        c = (drawn[-1][:, :2] + drawn[-1][:, 2:]) / 2
        s = torch.from_numpy(-10.0 - np.linalg.norm(c - goal, axis=1)).float()
        return torch.stack([torch.zeros_like(s), s], dim=1)

    monkeypatch.setattr(t._net, "classify", background)
    r = t.update(frames[1])
    assert r.score < 0
    centre = (r.box[:2] + r.box[2:]) / 2
    if fail_move:
        moved = np.linalg.norm(centre - goal)
        assert moved < np.linalg.norm((start[:2] + start[2:]) / 2 - goal) - 2
    else:
        np.testing.assert_array_equal(r.box, start)


@pytest.mark.timeout(60)
def test_fail_score_makes_every_frame_a_failure(tmp_path: Path) -> None:
    """Above every score, ``fail_score`` turns each frame into a failure: the box stays, no
    samples are stored and the search widens up to ``max_trans``; at the paper's 0 it moves."""
    torch.manual_seed(0)
    scratch = MDNet(domains=1, size=32, width=4, fc=16)
    arch = {"model": "mdnet", "domains": 1, "size": 32, "width": 4, "fc": 16}
    torch.save({"arch": arch, "state_dict": scratch.state_dict()}, tmp_path / "old.pt")
    frames, boxes = _moving(4)
    kept = []
    for fail_score in (0.0, 1e9):
        t = MDNetTracker(weights=str(tmp_path / "old.pt"), candidates=32, init_pos=20,
                         init_neg=60, init_iters=5, hard_pool=96, update_iters=1, bbreg=False,
                         fail_score=fail_score)  # fmt: skip
        t.init(frames[0], boxes[0])
        out = [t.update(f).box for f in frames[1:]]
        kept.append(all(np.array_equal(b, boxes[0]) for b in out))
        if fail_score > 0:
            assert len(t._pos_mem) == 1 and t._trans == t.config.max_trans
    assert kept == [False, True]
