"""Policy-gradient (REINFORCE) training of ADNet's action policy over short clips (Yun et al.,
CVPR 2017, section 4.2).

An *episode* starts from the labelled box of a clip's first frame and runs the policy through
the clip's next frames, sampling one action at a time from the softmax of ``fc6``
(:func:`~trackkit.sot.nets.adnet_net.run_actions`); the frames between the first and the last
are *unlabelled* (their ground truth is never read, as in the paper's semi-supervised RL). The
reward comes from the clip's last, labelled frame only: ``+1`` when the final box's IoU with
the ground truth is above ``threshold`` (0.7), ``-1`` otherwise, and is given to every action of
the episode. The loss is REINFORCE's ``-mean_t z log pi(a_t | s_t)``; the gradient reaches
``fc4-fc6`` (the backbone is frozen and the features are recomputed without it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Episode", "play_clip", "reinforce_loss"]


@dataclass
class Episode:
    """One clip played by the policy.

    Attributes:
        feats: ``(T, D)`` float32 tensor, the features of the ``T`` states acted on.
        hists: ``(T, k * 11)`` float32, the action dynamics vector of each state.
        actions: ``(T,)`` int64, the actions taken.
        box: the final ``xyxy`` box; iou: its IoU with the last frame's ground truth.
        reward: ``+1`` or ``-1``.
    """

    feats: Any
    hists: NDArray[np.float32]
    actions: NDArray[np.int64]
    box: NDArray[np.float64]
    iou: float
    reward: float


def play_clip(
    features: Callable[[NDArray[np.uint8], NDArray[np.float64]], Any],
    head: Any,
    frames: Sequence[NDArray[np.uint8]],
    start: NDArray[np.float64],
    gt_last: NDArray[np.float64],
    rng: np.random.Generator,
    max_steps: int = 10,
    alpha: float = 0.03,
    threshold: float = 0.7,
) -> Episode:
    """Play the policy (sampled actions) from ``start`` (the box in ``frames[0]``) through
    ``frames[1:]``; the reward is from ``gt_last`` (the last frame's ``xyxy`` ground truth).

    The head is put in eval mode (no dropout) while it acts; the caller restores its mode.
    """
    import torch

    from trackkit.core.boxes import iou_matrix
    from trackkit.sot.nets.adnet_net import NUM_ACTIONS, run_actions

    head.eval()
    history = np.zeros(head.history * NUM_ACTIONS, dtype=np.float32)
    box = np.asarray(start, dtype=np.float64).copy()
    feats, hists, acts = [], [], []
    for img in frames[1:]:
        box, history, steps = run_actions(features, head, img, box, history, max_steps, alpha, rng)
        for f, h, a in steps:
            feats.append(f)
            hists.append(h)
            acts.append(a)
    iou = float(iou_matrix(box[None], np.asarray(gt_last, dtype=np.float64)[None])[0, 0])
    return Episode(
        feats=torch.stack(feats) if feats else torch.zeros((0, 0)),
        hists=np.stack(hists) if hists else np.zeros((0, head.history * NUM_ACTIONS), np.float32),
        actions=np.asarray(acts, dtype=np.int64),
        box=box,
        iou=iou,
        reward=1.0 if iou > threshold else -1.0,
    )


def reinforce_loss(head: Any, episodes: Sequence[Episode]) -> Any:
    """REINFORCE's loss ``-mean over every action of z * log pi(a | s)`` of ``episodes`` (each
    action weighted by its episode's reward ``z``); a zero tensor when no action was taken."""
    import torch

    used = [e for e in episodes if len(e.actions)]
    if not used:
        return torch.zeros((), requires_grad=True)
    feats = torch.cat([e.feats for e in used])
    hists = torch.from_numpy(np.concatenate([e.hists for e in used]))
    acts = torch.from_numpy(np.concatenate([e.actions for e in used]))
    z = torch.cat([torch.full((len(e.actions),), e.reward) for e in used])
    logits, _ = head(feats, hists)
    logp = torch.log_softmax(logits, dim=1).gather(1, acts[:, None])[:, 0]
    return -(z * logp).mean()
