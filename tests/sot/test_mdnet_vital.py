"""MDNet's VITAL (adversarial masks) and reciprocative-learning (attention regulariser) options:
the mask generator, the hardest-mask targets, the regulariser against hand-computed values,
the options in online fine-tuning, presets and determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError
from trackkit.sot import build
from trackkit.sot.trackers.mdnet import MDNetTracker, OnlineExtras, finetune, focal_loss

torch = pytest.importorskip("torch")

from trackkit.sot.nets.mdnet_net import MDNet  # noqa: E402
from trackkit.sot.nets.vital import (  # noqa: E402
    MaskGenerator,
    adversarial_targets,
    apply_mask,
    generator_step,
)
from trackkit.sot.ops.attention import attention_maps, reciprocative_loss  # noqa: E402

SHAPE = (2, 2, 2)  # (C, h, w)


def _linear(weights: list[float]) -> Any:
    """A classifier on ``(B, 8)`` features: background logit 0, target logit ``x . weights``."""
    w = torch.tensor(weights, dtype=torch.float32)

    def classify(x: Any) -> Any:
        return torch.stack([torch.zeros(len(x)), x @ w], dim=1)

    return classify


@pytest.mark.timeout(10)
def test_mask_generator_shape_and_range() -> None:
    torch.manual_seed(0)
    gen = MaskGenerator(SHAPE, hidden=4)
    m = gen(torch.randn(3, 8))
    assert m.shape == (3, 1, 2, 2) and m.dtype == torch.float32
    assert float(m.detach().min()) > 0.0 and float(m.detach().max()) < 1.0
    masked = apply_mask(torch.ones(3, 8), m, SHAPE)
    assert masked.shape == (3, 8)
    # every channel of a cell gets the same factor: layout (C, h, w) flattened
    torch.testing.assert_close(masked.view(3, 2, 2, 2)[:, 0], m[:, 0])
    torch.testing.assert_close(masked.view(3, 2, 2, 2)[:, 1], m[:, 0])


@pytest.mark.timeout(10)
def test_adversarial_target_drops_the_most_discriminative_cell() -> None:
    # cell (0, 1) carries weight 5 in channel 0: dropping it lowers the target logit most
    weights = [1.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    target = adversarial_targets(_linear(weights), torch.ones(2, 8), SHAPE)
    expected = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert target.shape == (2, 1, 2, 2)
    torch.testing.assert_close(target[:, 0], expected.expand(2, 2, 2))


@pytest.mark.timeout(10)
def test_generator_one_step_lowers_its_loss() -> None:
    torch.manual_seed(0)
    gen = MaskGenerator(SHAPE, hidden=8)
    opt = torch.optim.Adam(gen.parameters(), lr=0.05)
    classify = _linear([1.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    pos = torch.rand(6, 8) + 0.5
    target = adversarial_targets(classify, pos, SHAPE)

    def loss() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(gen(pos), target))

    before = loss()
    assert generator_step(gen, opt, classify, pos) == pytest.approx(before, rel=1e-6)
    assert loss() < before


@pytest.mark.timeout(10)
def test_reciprocative_loss_hand_values() -> None:
    att = torch.tensor(
        [
            [[1.0, 1.0], [1.0, 1.0]],  # positive, flat: sigma/mu = 0
            [[0.0, 2.0], [2.0, 0.0]],  # positive: mu 1, sigma 1 -> 1
            [[1.0, 3.0], [1.0, 3.0]],  # negative: mu 2
        ]
    )
    labels = torch.tensor([1, 1, 0])
    value = reciprocative_loss(att, labels)
    assert float(value) == pytest.approx((0.0 + 1.0) / 2 + 2.0, abs=1e-6)
    assert float(reciprocative_loss(att[:2], labels[:2])) == pytest.approx(0.5, abs=1e-6)
    assert float(reciprocative_loss(att[2:], labels[2:])) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.timeout(10)
def test_attention_maps_are_the_input_gradient() -> None:
    weights = [1.0, -2.0, 0.5, 0.0, 3.0, 1.0, -1.0, 2.0]
    feats = torch.rand(2, 8)
    logits, att = attention_maps(_linear(weights), feats, SHAPE)
    assert logits.shape == (2, 2) and att.shape == (2, 2, 2)
    # |w| of channel 0 + |w| of channel 1, per cell: [[1+3, 2+1], [0.5+1, 0+2]]
    expected = torch.tensor([[4.0, 3.0], [1.5, 2.0]])
    torch.testing.assert_close(att, expected.expand(2, 2, 2))
    assert not feats.requires_grad


@pytest.mark.timeout(10)
def test_regulariser_trains_the_classifier() -> None:
    """The attention term is differentiable w.r.t. the classifier (double backward)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 2)
    feats, labels = torch.rand(6, 8), torch.tensor([1, 1, 1, 0, 0, 0])
    logits, att = attention_maps(lin, feats, SHAPE)
    reciprocative_loss(att, labels).backward()
    assert lin.weight.grad is not None and float(lin.weight.grad.abs().sum()) > 0


@pytest.mark.timeout(10)
def test_focal_loss() -> None:
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    y = torch.tensor([1, 0])
    ce = torch.nn.functional.cross_entropy(logits, y)
    torch.testing.assert_close(focal_loss(logits, y, 0.0), ce)
    p = torch.softmax(logits, dim=1)[[0, 1], [1, 0]]
    expected = -((1 - p) * p.log()).mean()
    torch.testing.assert_close(focal_loss(logits, y, 1.0), expected)


def _finetune(extras: OnlineExtras | None, seed: int = 0) -> tuple[float, Any]:
    torch.manual_seed(seed)
    net = MDNet(size=32, width=4, fc=16)
    rng = np.random.default_rng(seed)
    pos, neg = torch.rand(20, net.feat_dim) + 0.5, torch.rand(40, net.feat_dim)
    params = list(net.fc.parameters()) + list(net.heads.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    loss = finetune(net, pos, neg, 5, opt, rng, 8, 8, 20, extras)
    with torch.no_grad():
        return loss, net.classify(neg[:4])


@pytest.mark.timeout(20)
def test_finetune_options() -> None:
    shape = MDNet(size=32, width=4, fc=16).feat_shape
    assert shape == (12, 2, 2)
    # extras with every term off: exactly plain MDNet
    plain = _finetune(None)
    off = _finetune(OnlineExtras(shape=shape))
    assert plain[0] == off[0]
    torch.testing.assert_close(plain[1], off[1], rtol=0, atol=0)
    torch.manual_seed(1)
    gen = MaskGenerator(shape)
    first = [p.detach().clone() for p in gen.parameters()]
    vital = OnlineExtras(shape, gen, torch.optim.Adam(gen.parameters(), lr=1e-2), focal=1.0)
    _finetune(vital)
    assert any(not torch.equal(a, b) for a, b in zip(first, gen.parameters(), strict=True))
    rl = _finetune(OnlineExtras(shape=shape, recip_weight=1.0))
    assert np.isfinite(rl[0]) and rl[0] != plain[0]


@pytest.mark.timeout(10)
def test_config_and_presets() -> None:
    with pytest.raises(ConfigError):
        MDNetTracker(adv_weight=1.5)
    with pytest.raises(ConfigError):
        MDNetTracker(adv_steps=0)
    with pytest.raises(ConfigError):
        MDNetTracker(recip_weight=-1.0)
    assert build("mdnet-vital").config.adversarial
    assert build("mdnet-rl").config.reciprocative
    assert not MDNetTracker().config.adversarial and not MDNetTracker().config.reciprocative


@pytest.mark.timeout(300)  # ~6 s of CPU; the margin is for a loaded shared machine
def test_options_follow_and_are_deterministic(shared: Any) -> None:
    from deep_synthetic import iou, moving_target

    from trackkit.sot.nets import default_weights

    if not default_weights("mdnet.pt").is_file():
        pytest.skip("mdnet.pt not committed")
    frames, boxes = moving_target(n=40)

    def run(**kw: Any) -> tuple[list[float], list[float]]:
        # the cheap first-frame training scores below the default fail_score (1.5): the paper's 0
        t = MDNetTracker(candidates=64, init_pos=100, init_neg=300, init_iters=15,
                         fail_score=0.0, **kw)  # fmt: skip
        t.init(frames[0], boxes[0])
        out = [t.update(f) for f in frames[1:7]]
        return [iou(r.box, b) for r, b in zip(out, boxes[1:7], strict=True)], [r.score for r in out]

    for kw in ({"adversarial": True, "focal": 1.0}, {"reciprocative": True}):
        ious, scores = run(**kw)
        assert run(**kw)[1] == scores  # same scores on two runs
        assert np.mean(np.array(ious) > 0.5) >= 0.8


@pytest.mark.timeout(60)
def test_trainer_reciprocative_option(tmp_path: Any) -> None:
    torch.manual_seed(0)
    extra = {"backbone": "scratch", "size": 32, "width": 8, "fc": 32, "reciprocative": 1.0,
             "pos": 8, "neg": 24, "batch_pos": 8, "batch_neg": 16}  # fmt: skip
    trainer = deep_sot.trainer_on_synthetic(
        "mdnet", tmp_path, (3, 4), 8, extra=extra, epochs=1, steps_per_epoch=2, batch_size=2,
        lr=1e-2,
    )  # fmt: skip
    batch = trainer.make_batch(np.random.default_rng(0), 1)
    k = batch[1]
    trainer.model.eval()
    feats, y = trainer.select(*trainer.features(batch), k)
    plain = torch.nn.functional.cross_entropy(trainer.model.classify(feats, k), y)
    assert float(trainer.loss(batch).detach()) > float(plain.detach())  # the term is added
    first, last = deep_sot.train_on_batch(trainer, batch, 20)
    assert last < 0.7 * first
