"""ADNet (Yun et al. CVPR 2017): network shapes, action geometry and labels, one supervised
step, and the reinforcement-learning stage on a synthetic clip whose best action is known."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.core.boxes import iou_matrix  # noqa: E402
from trackkit.sot.nets.adnet_net import (  # noqa: E402
    ACTIONS,
    NUM_ACTIONS,
    STOP,
    ADNetHead,
    action_labels,
    apply_action,
    apply_actions,
    examples,
    push_history,
    random_histories,
    run_actions,
)
from trackkit.sot.train.policy import Episode, play_clip, reinforce_loss  # noqa: E402

RIGHT, RIGHT2 = ACTIONS.index("right"), ACTIONS.index("right2")


@pytest.mark.timeout(20)
def test_head_shapes_on_tiny_input() -> None:
    head = ADNetHead(feat_dim=24, fc=16, history=3)
    a, c = head(torch.randn(5, 24), torch.zeros(5, 3 * NUM_ACTIONS))
    assert a.shape == (5, NUM_ACTIONS) and c.shape == (5, 2)
    assert head.trunk(torch.randn(2, 24)).shape == (2, 16)


def test_actions_move_by_alpha_of_the_box() -> None:
    box = np.array([100.0, 50.0, 150.0, 90.0])  # 50 x 40
    moved = apply_actions(box, 0.03)
    assert moved.shape == (NUM_ACTIONS, 4)
    np.testing.assert_allclose(apply_action(box, RIGHT) - box, [1.5, 0, 1.5, 0])
    np.testing.assert_allclose(apply_action(box, ACTIONS.index("up2")) - box, [0, -2.4, 0, -2.4])
    np.testing.assert_allclose(moved[STOP], box)
    up = moved[ACTIONS.index("scale_up")]
    assert up[2] - up[0] == pytest.approx(51.5) and up[3] - up[1] == pytest.approx(41.2)
    assert apply_actions(np.stack([box, box])).shape == (2, NUM_ACTIONS, 4)


def test_action_labels_maximise_iou() -> None:
    gt = np.array([100.0, 100.0, 150.0, 140.0])
    boxes = np.array(
        [
            gt - [10, 0, 10, 0],  # left of the target: move right (by two steps)
            gt,  # on it: stop
            gt + [0, 6, 0, 6],  # below it: move up
            [102.0, 102.0, 148.0, 138.0],  # inside and smaller: grow
        ]
    )
    act, iou = action_labels(boxes, gt)
    assert [ACTIONS[a] for a in act] == ["right2", "stop", "up2", "scale_up"]
    assert iou[1] == pytest.approx(1.0) and iou[0] < 1


def test_examples_and_history() -> None:
    rng = np.random.default_rng(0)
    gt = np.array([40.0, 30.0, 80.0, 60.0])
    boxes, act, conf, mask = examples(rng, gt, 20, 6)
    assert boxes.shape == (26, 4) and act.shape == conf.shape == mask.shape == (26,)
    assert (conf[:20] == 1).any() and (conf[20:] == 0).all()  # negatives: IoU < 0.5
    iou = iou_matrix(boxes, gt[None])[:, 0]
    between = (iou >= 0.5) & (iou <= 0.7)
    assert between.any() and (conf[between] == -100).all()  # MDNet's rule: left out
    # the paper's labels (neg_iou=0.7): every box that is not a positive is a negative
    rng = np.random.default_rng(0)
    _, _, conf7, _ = examples(rng, gt, 20, 6, neg_iou=0.7)
    np.testing.assert_array_equal(conf7, np.where(iou > 0.7, 1, 0))
    h = np.zeros(3 * NUM_ACTIONS, dtype=np.float32)
    h = push_history(push_history(h, 1), 8)
    assert h[8] == 1 and h[NUM_ACTIONS + 1] == 1 and h.sum() == 2
    r = random_histories(rng, 50, 3)
    assert r.shape == (50, 3 * NUM_ACTIONS) and set(np.unique(r.reshape(50, 3, -1).sum(2))) <= {
        0,
        1,
    }


@pytest.mark.timeout(20)
def test_one_supervised_step_lowers_the_loss() -> None:
    import torch.nn.functional as F

    torch.manual_seed(0)
    head = ADNetHead(feat_dim=32, fc=16, history=2).eval()  # no dropout: the same loss twice
    x = torch.randn(64, 32)
    hist = torch.from_numpy(random_histories(np.random.default_rng(0), 64, 2))
    act = torch.randint(0, NUM_ACTIONS, (64,))
    conf = torch.randint(0, 2, (64,))

    def loss() -> torch.Tensor:
        a, c = head(x, hist)
        return F.cross_entropy(a, act) + F.cross_entropy(c, conf)

    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert float(loss().detach()) < float(before.detach())


def _rightward_clip(n: int = 6, step: float = 1.2) -> tuple[list[np.ndarray], np.ndarray]:
    """A 20x20 textured target moving right by ``step`` px per frame (one "right2" action of
    its 20-px width) over noise."""
    rng = np.random.default_rng(1)
    bg = rng.integers(60, 120, size=(80, 140, 3), dtype=np.uint8)
    tex = rng.integers(150, 256, size=(20, 20, 3), dtype=np.uint8)
    frames, boxes = [], []
    for t in range(n):
        x = 30.0 + step * t
        img = bg.copy()
        xi = int(round(x))
        img[30:50, xi : xi + 20] = tex
        frames.append(img)
        boxes.append([x, 30.0, x + 20.0, 50.0])
    return frames, np.array(boxes)


def _pixels(img: np.ndarray, boxes: np.ndarray) -> torch.Tensor:
    """A tiny fixed feature: the 8x8 gray patch of each box (no backbone needed)."""
    from trackkit.sot.ops.samples import crop_boxes

    crops = crop_boxes(img, boxes, 8).mean(axis=1)  # (N, 8, 8)
    return torch.from_numpy(crops.reshape(len(boxes), -1) / 255.0 - 0.5)


@pytest.mark.timeout(45)
def test_reinforce_learns_to_follow_a_target_moving_right() -> None:
    """One action per frame; the target moves one "right2" step per frame, so the reward
    (+1 when the last box overlaps the last ground truth by IoU > 0.7) needs rightward moves."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames, boxes = _rightward_clip()
    head = ADNetHead(feat_dim=64, fc=16, history=2, feat_scale=1.0)
    opt = torch.optim.Adam(head.parameters(), lr=0.02)

    def greedy() -> tuple[list[int], float]:
        head.eval()
        hist, box, acts = np.zeros(2 * NUM_ACTIONS, np.float32), boxes[0].copy(), []
        for f in frames[1:]:
            box, hist, steps = run_actions(_pixels, head, f, box, hist, max_steps=1)
            acts += [a for _, _, a in steps]
        return acts, float(iou_matrix(box[None], boxes[-1][None])[0, 0])

    def p_right() -> float:
        head.eval()
        with torch.no_grad():
            p = torch.softmax(head(_pixels(frames[1], boxes[:1]), torch.zeros(1, 22))[0][0], 0)
        return float(p[RIGHT] + p[RIGHT2])

    before = p_right()
    wins = []
    for _ in range(60):
        eps = [play_clip(_pixels, head, frames, boxes[0], boxes[-1], rng, 1) for _ in range(12)]
        wins.append(np.mean([e.reward > 0 for e in eps]))
        loss = reinforce_loss(head, eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before < 0.3  # about 2 of 11 at the start
    assert p_right() > 0.7
    assert np.mean(wins[-10:]) > 0.8 > np.mean(wins[:10])
    acts, final_iou = greedy()  # the greedy action loop of tracking
    assert set(acts) <= {RIGHT, RIGHT2} and final_iou > 0.7, (acts, final_iou)


def test_reinforce_loss_sign() -> None:
    """A rewarded action becomes more probable, a punished one less."""
    torch.manual_seed(0)
    head = ADNetHead(feat_dim=8, fc=8, history=1).eval()
    x, h = torch.randn(1, 8), torch.zeros(1, NUM_ACTIONS)
    for reward, sign in ((1.0, 1), (-1.0, -1)):
        ep = Episode(x, h.numpy(), np.array([RIGHT]), np.zeros(4), 0.0, reward)
        p0 = float(torch.softmax(head(x, h)[0][0].detach(), 0)[RIGHT])
        head.zero_grad()
        reinforce_loss(head, [ep]).backward()
        with torch.no_grad():
            for prm in head.parameters():
                if prm.grad is not None:  # fc7 (confidence) gets no policy gradient
                    prm -= 0.1 * prm.grad
        assert sign * (float(torch.softmax(head(x, h)[0][0].detach(), 0)[RIGHT]) - p0) > 0


def test_config_confidence_labels_option() -> None:
    from trackkit.errors import ConfigError
    from trackkit.sot.trackers.adnet import ADNetConfig

    assert ADNetConfig(conf_neg_iou=0.7).conf_neg_iou == 0.7
    for bad in (0.0, 0.8):
        with pytest.raises(ConfigError):
            ADNetConfig(conf_neg_iou=bad)
