"""ADNet's network (Yun, Choi, Yoo, Yun & Choi, "Action-Decision Networks for Visual Tracking
with Deep Reinforcement Learning", CVPR 2017), over a frozen pretrained backbone.

The paper's network is VGG-M's conv1-3 (ImageNet-pretrained) on the 112x112 patch of the
current box, then ``fc4`` and ``fc5`` (512 each, ReLU, dropout), the *action dynamics* vector
(the last ``k = 10`` actions, one-hot, concatenated) appended to ``fc5``'s output, and two heads
on it: ``fc6`` (11 action logits) and ``fc7`` (2 confidence logits: background, target).

Here the conv layers are NanoTrack v3's MobileNetV3 (block 9, stride 16, 96 channels: a
``96 x 7 x 7`` map of the 112x112 patch, :class:`~trackkit.sot.nets.layered.LayeredBackbone`),
frozen and not stored: the weights file holds :class:`ADNetHead` (fc4-fc7) only, and records the
backbone file's sha256.

Actions (index: name; ``alpha = 0.03``; a move is ``alpha`` (or ``2 alpha``) of the box's width
(x) or height (y), a scale step multiplies both sides by ``1 +- alpha``), the paper's order:

====== ========== ====== ===========
index  action     index  action
====== ========== ====== ===========
0      left       6      up x2
1      right      7      down x2
2      up         8      stop
3      down       9      scale down
4      left x2    10     scale up
5      right x2
====== ========== ====== ===========

Shapes: features ``(B, D)`` float32 (``D = 96 * 7 * 7`` for 112x112 patches); history
``(B, k * 11)`` float32 (slot 0 is the latest action); boxes ``xyxy`` float64.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

__all__ = [
    "ACTIONS",
    "NUM_ACTIONS",
    "STOP",
    "ADNetHead",
    "PatchFeatures",
    "action_labels",
    "apply_action",
    "apply_actions",
    "examples",
    "load_adnet_head",
    "push_history",
    "random_histories",
    "run_actions",
]

#: the 11 actions, in the network's output order
ACTIONS = (
    "left", "right", "up", "down", "left2", "right2", "up2", "down2", "stop",
    "scale_down", "scale_up",
)  # fmt: skip
NUM_ACTIONS = len(ACTIONS)
#: index of the "stop" action
STOP = 8
# (dx in widths, dy in heights, scale exponent) per action, in units of alpha
_MOVES = np.array(
    [
        [-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0],
        [-2, 0, 0], [2, 0, 0], [0, -2, 0], [0, 2, 0],
        [0, 0, 0], [0, 0, -1], [0, 0, 1],
    ],
    dtype=np.float64,
)  # fmt: skip


def apply_actions(box: NDArray[np.float64], alpha: float = 0.03) -> NDArray[np.float64]:
    """``(11, 4)`` boxes: ``box`` (``xyxy``, ``(4,)``) moved by each action; for boxes
    ``(N, 4)``, ``(N, 11, 4)``."""
    b = np.asarray(box, dtype=np.float64)[..., None, :]
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    cx = (b[..., 0] + b[..., 2]) / 2 + _MOVES[:, 0] * alpha * w
    cy = (b[..., 1] + b[..., 3]) / 2 + _MOVES[:, 1] * alpha * h
    s = 1.0 + _MOVES[:, 2] * alpha
    ww, hh = w * s, h * s
    return np.stack([cx - ww / 2, cy - hh / 2, cx + ww / 2, cy + hh / 2], axis=-1)


def apply_action(box: NDArray[np.float64], action: int, alpha: float = 0.03) -> NDArray[np.float64]:
    """``box`` (``xyxy``) moved by ``action`` (an index of :data:`ACTIONS`)."""
    return apply_actions(box, alpha)[int(action)]


def action_labels(
    boxes: NDArray[np.float64], gt: NDArray[np.float64], alpha: float = 0.03
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The paper's supervised labels of ``boxes (N, 4)`` against the ground truth ``gt (4,)``.

    Returns ``(action, iou)``: ``action (N,)`` int64, the action whose moved box has the highest
    IoU with ``gt`` ("stop" when no move beats staying); ``iou (N,)`` the boxes' own IoU with
    ``gt`` (the confidence label is ``iou > 0.7``).
    """
    from trackkit.core.boxes import iou_matrix

    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    moved = apply_actions(np.asarray(boxes, dtype=np.float64), alpha)  # (N, 11, 4)
    ious = iou_matrix(moved.reshape(-1, 4), gt[None])[:, 0].reshape(len(boxes), NUM_ACTIONS)
    best = np.argmax(ious, axis=1)
    stay = ious[np.arange(len(boxes)), best] <= ious[:, STOP] + 1e-9
    return np.where(stay, STOP, best).astype(np.int64), ious[:, STOP].copy()


def push_history(history: NDArray[np.float32], action: int) -> NDArray[np.float32]:
    """The action dynamics vector ``(k * 11,)`` after ``action``: slot 0 becomes the one-hot
    of ``action``, the older slots shift by one and the oldest falls off."""
    k = history.size // NUM_ACTIONS
    out = np.zeros_like(history)
    out[NUM_ACTIONS:] = history[: (k - 1) * NUM_ACTIONS]
    out[int(action)] = 1.0
    return out


class ADNetHead(nn.Module):
    """ADNet's trainable layers on frozen features: ``fc4 - ReLU - dropout - fc5 - ReLU -
    dropout``, the action history appended, then ``fc6`` (actions) and ``fc7`` (confidence).

    Args:
        feat_dim: ``D``, the flattened backbone features of one patch.
        fc: width of fc4 and fc5 (the paper: 512; 256 here keeps the committed file at 5.1 MB).
        history: ``k``, the number of past actions in the action dynamics vector.
        feat_scale: the features are multiplied by it first (keeps the fc inputs near unit
            scale: NanoTrack's block-9 activations have a standard deviation of ~1.5).
    """

    def __init__(
        self, feat_dim: int = 96 * 7 * 7, fc: int = 256, history: int = 10, feat_scale: float = 0.5
    ) -> None:
        super().__init__()
        self.feat_dim, self.fc_width, self.history = feat_dim, fc, history
        self.feat_scale = feat_scale
        self.fc4 = nn.Linear(feat_dim, fc)
        self.fc5 = nn.Linear(fc, fc)
        self.drop = nn.Dropout(0.5)
        self.fc6 = nn.Linear(fc + history * NUM_ACTIONS, NUM_ACTIONS)
        self.fc7 = nn.Linear(fc + history * NUM_ACTIONS, 2)

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        """fc5's output ``(B, fc)`` of features ``(B, D)``."""
        x = self.drop(torch.relu(self.fc4(feats * self.feat_scale)))
        return self.drop(torch.relu(self.fc5(x)))

    def heads(
        self, trunk: torch.Tensor, history: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(action logits (B, 11), confidence logits (B, 2))`` of fc5's output and the
        history ``(B, k * 11)``."""
        z = torch.cat([trunk, history], dim=1)
        return self.fc6(z), self.fc7(z)

    def forward(
        self, feats: torch.Tensor, history: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(action logits (B, 11), confidence logits (B, 2))``."""
        return self.heads(self.trunk(feats), history)


def load_adnet_head(path: str | Path) -> ADNetHead:
    """An :class:`ADNetHead` from a trackkit ``adnet`` weights file (eval mode).

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold ADNet weights that fit the architecture.
    """
    from trackkit.sot.nets import load_network

    net: ADNetHead = load_network(
        path, "adnet", ADNetHead, feat_dim=96 * 7 * 7, fc=256, history=10, feat_scale=0.5
    )
    return net.eval()


class PatchFeatures:
    """Frozen backbone features of box patches: each box (with MDNet's / ADNet's context
    padding, :func:`trackkit.sot.ops.samples.crop_boxes`) resampled to ``size x size`` and run
    through NanoTrack's MobileNetV3 up to ``layer``.

    Args:
        weights: the NanoTrack state dict (``None``: the shared folder's).
        size: patch side (112 in the paper; a multiple of 16).
        layer: backbone block read (see :mod:`trackkit.sot.nets.layered`).
        threads: torch CPU threads.
        chunk: patches per backbone call.

    Attributes:
        dim: ``D``, features per patch; record: the backbone file's name and sha256.

    Raises:
        DataNotFoundError / FormatError: the backbone's state dict is missing or wrong.
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        size: int = 112,
        layer: int = 9,
        threads: int = 1,
        chunk: int = 64,
        backbone: str = "nanotrack_v3",
    ) -> None:
        from trackkit.sot.nets.layered import LayeredBackbone, layer_channels, layer_stride

        self.backbone = LayeredBackbone(backbone, (layer,), weights, threads)
        self.size, self.threads, self.chunk = size, threads, chunk
        side = -(-size // layer_stride(layer))
        self.dim = layer_channels(layer) * side * side
        self.record = self.backbone.record

    def __call__(self, img: NDArray[np.uint8], boxes: NDArray[np.float64]) -> torch.Tensor:
        """``(N, D)`` float32 features of ``boxes (N, 4)`` (``xyxy``) in the BGR ``img``."""
        from trackkit.sot.ops.samples import crop_boxes

        out = []
        for i in range(0, len(boxes), self.chunk):
            x = torch.from_numpy(crop_boxes(img, boxes[i : i + self.chunk], self.size))
            out.append(self.backbone.features(x, batched=True)[0].flatten(1))
        if not out:
            return torch.zeros((0, self.dim))
        return torch.cat(out)


def run_actions(
    features: Callable[[NDArray[np.uint8], NDArray[np.float64]], torch.Tensor],
    head: ADNetHead,
    img: NDArray[np.uint8],
    box: NDArray[np.float64],
    history: NDArray[np.float32],
    max_steps: int = 20,
    alpha: float = 0.03,
    rng: np.random.Generator | None = None,
) -> tuple[
    NDArray[np.float64], NDArray[np.float32], list[tuple[torch.Tensor, NDArray[np.float32], int]]
]:
    """The paper's per-frame action loop: from ``box``, take the policy's action, move, and
    repeat until "stop", ``max_steps`` actions, or a box visited before in this frame (the
    oscillation rule).

    Args:
        features: ``(img, boxes (N, 4)) -> (N, D)`` features (e.g. :class:`PatchFeatures`).
        head: the network (its mode is left as it is: call ``eval()`` for tracking).
        history: the action dynamics vector ``(k * 11,)`` before this frame.
        rng: ``None`` takes the most probable action (tracking); a generator samples the
            action from the policy (reinforcement learning).

    Returns:
        ``(box, history, steps)``: the final box and history, and per action taken its
        ``(features (D,), history before it (k * 11,), action)``.
    """
    steps: list[tuple[torch.Tensor, NDArray[np.float32], int]] = []
    seen = {tuple(np.round(box, 2))}
    for _ in range(max_steps):
        f = features(img, box[None])
        with torch.no_grad():
            logits, _ = head(f, torch.from_numpy(history[None]))
        if rng is None:
            a = int(torch.argmax(logits[0]))
        else:
            p = torch.softmax(logits[0].double(), 0).numpy()
            a = int(rng.choice(NUM_ACTIONS, p=p / p.sum()))
        steps.append((f[0], history, a))
        history = push_history(history, a)
        if a == STOP:
            break
        box = apply_action(box, a, alpha)
        key = tuple(np.round(box, 2))
        if key in seen:
            break
        seen.add(key)
    return box, history, steps


def random_histories(rng: np.random.Generator, n: int, k: int = 10) -> NDArray[np.float32]:
    """``(n, k * 11)`` random action dynamics vectors (each a random number of filled slots
    with random actions): the histories of the supervised examples, so that the heads do not
    rely on one history."""
    out = np.zeros((n, k, NUM_ACTIONS), dtype=np.float32)
    filled = rng.integers(0, k + 1, size=n)
    acts = rng.integers(0, NUM_ACTIONS, size=(n, k))
    for i in range(n):
        out[i, np.arange(filled[i]), acts[i, : filled[i]]] = 1.0
    return out.reshape(n, k * NUM_ACTIONS)


def examples(
    rng: np.random.Generator,
    gt: NDArray[np.float64],
    n_near: int,
    n_neg: int,
    alpha: float = 0.03,
    trans: float = 1.0,
    scale: float = 2.0,
    neg_iou: float = 0.5,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Supervised state-action examples around a labelled box ``gt`` (the paper's SL stage and
    online adaptation).

    ``n_near`` boxes are Gaussian samples around ``gt`` (half with translation spread
    ``trans / 4``, half ``trans / 2`` box sizes, clipped at ``trans``; scale exponents of
    ``1.05`` up to ``scale``), ``n_neg`` are MDNet-style negatives (IoU < 0.5).

    Returns:
        ``(boxes (N, 4), action (N,), conf (N,), act_mask (N,))``: the action label, the
        confidence label (1: IoU > 0.7, the paper's; 0: IoU < ``neg_iou``; -100, the ignore
        index of ``torch.nn.functional.cross_entropy``, in between: MDNet's rule, which keeps
        the borderline boxes out of the confidence loss) and whether the action label counts
        (IoU > 0.1: a box with almost no overlap says nothing about the direction).
    """
    from trackkit.sot.ops.samples import gaussian_samples, labelled_samples

    half = n_near // 2
    near = np.vstack(
        [
            gaussian_samples(rng, gt, half, trans=trans / 2, scale=scale),
            gaussian_samples(rng, gt, n_near - half, trans=trans, scale=scale),
        ]
    )
    _, neg = labelled_samples(rng, gt, 1, n_neg) if n_neg > 0 else (None, np.zeros((0, 4)))
    boxes = np.vstack([near, neg])
    act, iou = action_labels(boxes, gt, alpha)
    conf = np.where(iou > 0.7, 1, np.where(iou < neg_iou, 0, -100)).astype(np.int64)
    return boxes, act, conf, iou > 0.1
