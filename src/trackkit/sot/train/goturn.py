"""Training GOTURN (Held et al. 2016) from annotated sequences (``trackkit sot train --model
goturn``).

A training example is (previous crop, search crop, target box in the search crop):

- the previous crop is frame ``t - d``'s ground-truth box enlarged ``context`` (2) times,
  ``1 <= d <= max_gap`` — or, with probability ``still_prob``, frame ``t`` itself (GOTURN's
  training on still images);
- the search region is centred on a box that is frame ``t``'s ground truth moved by the
  paper's *motion-smoothness* model: centre shifts ``w * dx``, ``h * dy`` with
  ``dx, dy ~ Laplace(0, 1/5)`` and size factors ``~ Laplace(1, 1/15)`` (clipped to
  ``[0.6, 1.4]``), enlarged ``context`` times;
- the regression target is frame ``t``'s box in search-crop coordinates, times 10; the loss
  is L1.

The paper's still-image examples come from ImageNet detection (hundreds of thousands of
objects); with only a few annotated sequences, ``paste_prob`` of the examples are still images
made here instead: an "object" (an annotated target or, half of the time, a random rectangle of
a random frame, each with random colour gains) is pasted at a random place and size onto a
random frame of another sequence, and that composite is the still image (previous frame =
current frame). ``max_shift`` clips the Laplace shifts (in box sides); ``jitter`` applies random
per-channel gains to the whole example (both crops alike). ``reverse_prob`` swaps the two
frames of a real pair (time reversal) and ``flip_prob`` mirrors the example left-right: both
remove the direction priors (targets that mostly shrink, rise or move one way) that a handful
of training sequences would otherwise teach, and that compound frame after frame in tracking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.sot.ops.crops import crop_pair_region, crop_region, mean_color
from trackkit.sot.train.base import SOT_TRAINERS, ConvNetConfig, SOTTrainer
from trackkit.sot.train.pairs import FramePairs, to_tensor

__all__ = ["GoturnTrainConfig", "GoturnTrainer", "make_example", "pasted_still"]


@dataclass(frozen=True)
class GoturnTrainConfig(ConvNetConfig):
    """GOTURN-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.ConvNetConfig`'s (``size``: input side of both crops;
    Adam weight decay default ``1e-5``).

    Attributes:
        max_gap: largest frame distance between the previous and the current frame.
        context: crop = box enlarged this many times.
        shift_scale, size_scale: Laplace scales of the motion-smoothness model.
        still_prob: probability of a still-image example (previous frame = current frame).
        paste_prob: probability of a pasted-object still image (see the module docstring).
        reverse_prob: probability of swapping the previous and the current frame (time
            reversal; without it a few sequences whose targets mostly shrink or rise teach the
            regressor a drift that compounds from frame to frame).
        flip_prob: probability of mirroring an example left-right.
        max_shift: clip of the Laplace centre shifts, in box sides.
        jitter: largest relative per-channel colour gain change of an example.
        loss: the box regression loss, a name of
            :data:`trackkit.training.losses.REGRESSION_LOSSES` (``l1``, GOTURN's; ``l2``,
            ``l3``, ``shrinkage``: Lu et al. ECCV 2018, ``a = 10``, ``c = 0.2``).
    """

    RANGES: ClassVar[str] = (
        "max_gap >= 1; context >= 1; still_prob in [0, 1]; paste_prob in [0, 1]; "
        "reverse_prob in [0, 1]; flip_prob in [0, 1]; max_shift in (0, 1); jitter in [0, 1)"
    )

    max_gap: int = 5
    context: float = 2.0
    shift_scale: float = 1 / 5
    size_scale: float = 1 / 15
    still_prob: float = 0.3
    paste_prob: float = 0.0
    reverse_prob: float = 0.0
    flip_prob: float = 0.0
    max_shift: float = 0.45
    jitter: float = 0.0
    weight_decay: float = 1e-5
    loss: str = "l1"

    def validate(self) -> None:
        from trackkit.training.losses import regression_loss

        super().validate()
        regression_loss(self.loss)


def _gains(rng: np.random.Generator, amount: float) -> NDArray[np.float64]:
    """Per-channel colour gains in ``[1 - amount, 1 + amount]``."""
    return np.asarray(rng.uniform(1 - amount, 1 + amount, size=3), dtype=np.float64)


def pasted_still(
    pairs: FramePairs, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """A still image with a pasted object and the object's ``xyxy`` box.

    The object is an annotated target (or, half of the time, a random rectangle of a random
    frame) with random colour gains, resized to a random side of 6-30 % of the background's
    shorter side (aspect ratio kept within [0.33, 3]) and pasted at a random place onto a
    random frame.
    """
    s, i, _ = pairs.sample(rng)
    src, box = pairs.frame(s, i)
    sh, sw = src.shape[:2]
    if rng.random() < 0.5:
        ow, oh = sw * rng.uniform(0.05, 0.3), sh * rng.uniform(0.05, 0.3)
        ox, oy = rng.uniform(0, sw - ow), rng.uniform(0, sh - oh)
        box = np.array([ox, oy, ox + ow, oy + oh])
    x1, y1 = int(max(box[0], 0)), int(max(box[1], 0))
    x2, y2 = int(min(np.ceil(box[2]), sw)), int(min(np.ceil(box[3]), sh))
    obj = src[y1 : max(y2, y1 + 2), x1 : max(x2, x1 + 2)].astype(np.float64)
    obj = np.clip(obj * _gains(rng, 0.4), 0, 255).astype(np.uint8)
    b, _ = pairs.frame(int(rng.integers(len(pairs.sequences))), 0)
    bg = b.copy()
    bh, bw = bg.shape[:2]
    side = min(bh, bw) * rng.uniform(0.06, 0.3)
    aspect = float(np.clip(obj.shape[1] / obj.shape[0], 0.33, 3.0))
    pw = max(int(round(side * np.sqrt(aspect))), 4)
    ph = max(int(round(side / np.sqrt(aspect))), 4)
    px, py = int(rng.integers(0, bw - pw)), int(rng.integers(0, bh - ph))
    bg[py : py + ph, px : px + pw] = cv2.resize(obj, (pw, ph), interpolation=cv2.INTER_LINEAR)
    return bg, np.array([px, py, px + pw, py + ph], dtype=np.float64)


def make_example(
    pairs: FramePairs, rng: np.random.Generator, cfg: GoturnTrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]:
    """``(previous crop, search crop, target (4,) in [0, 10] units)``."""
    if rng.random() < cfg.paste_prob:
        img_t, box_t = pasted_still(pairs, rng)
        img_p, box_p = img_t, box_t
    else:
        s, i, j = pairs.sample(rng)
        t, prev = max(i, j), min(i, j)
        if rng.random() < cfg.reverse_prob:  # time reversal: no learned drift direction
            t, prev = prev, t
        if rng.random() < cfg.still_prob:
            prev = t
        img_p, box_p = pairs.frame(s, prev)
        img_t, box_t = pairs.frame(s, t)
    w, h = box_t[2] - box_t[0], box_t[3] - box_t[1]
    dx, dy = np.clip(rng.laplace(0.0, cfg.shift_scale, size=2), -cfg.max_shift, cfg.max_shift)
    gw, gh = np.clip(rng.laplace(1.0, cfg.size_scale, size=2), 0.6, 1.4)
    cx = (box_t[0] + box_t[2]) / 2 + w * dx
    cy = (box_t[1] + box_t[3]) / 2 + h * dy
    moved = np.array([cx - w * gw / 2, cy - h * gh / 2, cx + w * gw / 2, cy + h * gh / 2])
    size = (cfg.size, cfg.size)
    rp = crop_pair_region(box_p, cfg.context)
    prev_crop = crop_region(img_p, rp[:2], rp[2:], size, mean_color(img_p))
    rs = crop_pair_region(moved, cfg.context)
    search = crop_region(img_t, rs[:2], rs[2:], size, mean_color(img_t))
    if rng.random() < cfg.flip_prob:  # mirror both crops (and the target below)
        prev_crop, search = prev_crop[:, ::-1].copy(), search[:, ::-1].copy()
        box_t = np.array([2 * rs[0] - box_t[2], box_t[1], 2 * rs[0] - box_t[0], box_t[3]])
    if cfg.jitter > 0:
        g = _gains(rng, cfg.jitter)
        prev_crop = np.clip(prev_crop * g, 0, 255).astype(np.uint8)
        search = np.clip(search * g, 0, 255).astype(np.uint8)
    x0, y0 = rs[0] - rs[2] / 2, rs[1] - rs[3] / 2
    target = np.array(
        [
            (box_t[0] - x0) / rs[2],
            (box_t[1] - y0) / rs[3],
            (box_t[2] - x0) / rs[2],
            (box_t[3] - y0) / rs[3],
        ],
        dtype=np.float32,
    )
    return prev_crop, search, target * 10.0


@SOT_TRAINERS.register("goturn")
class GoturnTrainer(SOTTrainer):
    """GOTURN (Held 2016): L1 box regression from (previous, search) crop pairs (Adam,
    gradients clipped to a norm of 10)."""

    arch = "goturn"
    config_class = GoturnTrainConfig
    cfg: GoturnTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.goturn_net import GoturnNet, load_goturn

        cfg = self.cfg
        self.model = self.start_from(load_goturn, lambda: GoturnNet(size=cfg.size, width=cfg.width))
        self.make_optimizer(adam=True, cfg=cfg)
        self.load_pairs(cfg.max_gap)

    def make_batch(self, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        """``(previous crops, search crops, targets)`` tensors of one batch."""
        import torch

        ex = [make_example(self.pairs, rng, self.cfg) for _ in range(self.opts.batch_size)]
        return (
            to_tensor([e[0] for e in ex]),
            to_tensor([e[1] for e in ex]),
            torch.from_numpy(np.stack([e[2] for e in ex])),
        )

    def loss(self, batch: tuple[Any, Any, Any]) -> Any:
        """The configured loss of a batch (default L1, GOTURN's), mean over coordinates."""
        import torch.nn.functional as F

        from trackkit.training.losses import regression_loss

        prev, search, target = batch
        if self.cfg.loss == "l1":
            return F.l1_loss(self.model(prev, search), target)
        return regression_loss(self.cfg.loss)(self.model(prev, search), target)

    def arch_config(self) -> dict[str, Any]:
        m = self.model
        return {"size": m.size, "width": m.width, "reduced": m.reduced, "fc": m.fc_width}
