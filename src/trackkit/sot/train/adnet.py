"""Training ADNet (Yun et al., CVPR 2017) on annotated sequences (``trackkit sot train --model
adnet``): the paper's two offline stages as phases of one run.

1. **Supervised learning** (epochs ``0 .. sl_epochs - 1``): each step takes ``--batch-size``
   labelled frames and around each ground-truth box ``samples`` Gaussian boxes and
   ``negatives`` MDNet-style negatives (:func:`~trackkit.sot.nets.adnet_net.examples`); the
   action label of a box is the action whose moved box has the highest IoU with the ground
   truth, its confidence label ``IoU > 0.7``; the loss is the softmax cross-entropy of ``fc6``
   (boxes with IoU > 0.1) plus that of ``fc7``. The action dynamics vectors are random.
2. **Reinforcement learning** (the remaining epochs): each step plays ``rl_clips`` clips of
   2..``clip_len`` frames (``1..max_gap`` frames apart) with actions sampled from the policy
   and descends REINFORCE's loss with reward +-1 by the last frame's IoU > 0.7
   (:mod:`trackkit.sot.train.policy`; the clip's middle frames are used unlabelled), at
   ``lr * rl_lr_ratio``.

The backbone (NanoTrack v3's MobileNetV3, :class:`~trackkit.sot.nets.adnet_net.PatchFeatures`)
is frozen; the weights file holds fc4-fc7 only and records the backbone's file and sha256
(``trained_on["pretrained"]``). The phase of an epoch is a function of its index, so
``--resume`` continues either stage exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trackkit.config import require
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer
from trackkit.training.task import EpochRandom

__all__ = ["ADNetTrainConfig", "ADNetTrainer"]


@dataclass(frozen=True)
class ADNetTrainConfig(OptimConfig):
    """ADNet-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.OptimConfig`'s; ``--batch-size`` is the number of frames
    of a supervised step.

    Attributes:
        sl_epochs: epochs of the supervised stage; the later epochs are reinforcement learning
            (``sl_epochs >= --epochs``: supervised only; 0: RL only, e.g. from
            ``--init-weights``).
        samples, negatives: Gaussian samples and negatives per supervised frame.
        trans, scale: spread of the Gaussian samples (box sizes; 1.05 scale-step exponent).
        rl_clips: episodes per RL step; clip_len: most frames of a clip (>= 2);
        max_gap: most frames between two frames of a clip; rl_steps: most actions per frame.
        rl_lr_ratio: the RL stage's learning rate relative to the schedule's.
        alpha: the action step (fraction of the box side).
        fc, history: fc4/fc5 width and action-history length ``k``.
        size: patch side; backbone_weights: NanoTrack v3 state dict ("" = the shared one).
    """

    RANGES: ClassVar[str] = (
        "sl_epochs >= 0; samples >= 2; negatives >= 0; trans > 0; scale >= 0; rl_clips >= 1; "
        "clip_len >= 2; max_gap >= 1; rl_steps >= 1; rl_lr_ratio > 0; alpha in (0, 0.5); "
        "fc >= 8; history >= 1"
    )

    sl_epochs: int = 4
    samples: int = 24
    negatives: int = 8
    trans: float = 1.0
    scale: float = 2.0
    rl_clips: int = 4
    clip_len: int = 6
    max_gap: int = 2
    rl_steps: int = 10
    rl_lr_ratio: float = 0.1
    alpha: float = 0.03
    fc: int = 256
    history: int = 10
    size: int = 112
    backbone_weights: str = ""

    def validate(self) -> None:
        require(self.size % 16 == 0, "size must be a multiple of 16")


#: The documented recipe of the packaged ``adnet.pt`` (docs/sot-adnet.md): 6 epochs of 20
#: steps of 4 frames, the first 4 epochs supervised, the last 2 reinforcement learning.


@SOT_TRAINERS.register("adnet")
class ADNetTrainer(SOTTrainer):
    """ADNet (Yun 2017): supervised state-action pairs, then REINFORCE on clips (Adam)."""

    arch = "adnet"
    config_class = ADNetTrainConfig
    cfg: ADNetTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.adnet_net import ADNetHead, PatchFeatures, load_adnet_head

        cfg = self.cfg
        self.features = PatchFeatures(cfg.backbone_weights or None, size=cfg.size)
        self.pretrained = dict(self.features.record)
        self.model = self.start_from(
            load_adnet_head,
            lambda: ADNetHead(self.features.dim, fc=cfg.fc, history=cfg.history),
        )
        if self.model.feat_dim != self.features.dim:
            from trackkit.errors import ConfigError

            raise ConfigError(
                f"--init-weights: a head for {self.model.feat_dim} features, the backbone "
                f"gives {self.features.dim} (size={cfg.size})"
            )
        self.make_optimizer(adam=True, cfg=cfg)
        self.load_pairs(max_gap=cfg.max_gap)

    # -- the two stages -------------------------------------------------------------------
    def sl_batch(self, rng: np.random.Generator) -> tuple[str, Any]:
        """``("sl", (features, histories, actions, confidences, action mask))``."""
        import torch

        from trackkit.sot.nets.adnet_net import examples, random_histories

        cfg = self.cfg
        feats, acts, confs, masks = [], [], [], []
        for _ in range(self.opts.batch_size):
            s, i, _ = self.pairs.sample(rng)
            img, gt = self.pairs.frame(s, i)
            boxes, act, conf, mask = examples(
                rng, gt, cfg.samples, cfg.negatives, cfg.alpha, cfg.trans, cfg.scale
            )
            feats.append(self.features(img, boxes))
            acts.append(act)
            confs.append(conf)
            masks.append(mask)
        n = sum(len(a) for a in acts)
        hist = random_histories(rng, n, cfg.history)
        return "sl", (
            torch.cat(feats),
            torch.from_numpy(hist),
            torch.from_numpy(np.concatenate(acts)),
            torch.from_numpy(np.concatenate(confs)),
            torch.from_numpy(np.concatenate(masks)),
        )

    def clip(self, rng: np.random.Generator) -> tuple[int, list[int]]:
        """A random clip: ``(sequence, frame indices)``, 2..clip_len frames with valid boxes
        at the two ends, 1..max_gap apart."""
        cfg = self.cfg
        s, _, _ = self.pairs.sample(rng)
        valid = self.pairs.valid[s]
        n = len(self.pairs.sequences[s].frames)
        length = int(rng.integers(2, cfg.clip_len + 1))
        gap = int(rng.integers(1, cfg.max_gap + 1))
        span = (length - 1) * gap
        starts = valid[(valid + span < n) & np.isin(valid + span, valid)]
        if len(starts) == 0:  # a short sequence: two consecutive valid frames
            i = int(valid[0])
            return s, [i, int(valid[1])]
        i = int(starts[rng.integers(len(starts))])
        return s, list(range(i, i + span + 1, gap))

    def rl_batch(self, rng: np.random.Generator) -> tuple[str, Any]:
        """``("rl", episodes)``: ``rl_clips`` clips played by the current policy."""
        from trackkit.sot.train.policy import play_clip

        cfg = self.cfg
        episodes = []
        for _ in range(cfg.rl_clips):
            s, idx = self.clip(rng)
            frames = [self.pairs.frame(s, i)[0] for i in idx]
            _, start = self.pairs.frame(s, idx[0])
            _, last = self.pairs.frame(s, idx[-1])
            episodes.append(
                play_clip(
                    self.features, self.model, frames, start, last, rng, cfg.rl_steps, cfg.alpha
                )
            )
        return "rl", episodes

    def stage(self, epoch: int) -> str:
        """``"sl"`` or ``"rl"``: the stage of epoch ``epoch`` (0-based)."""
        return "sl" if epoch < self.cfg.sl_epochs else "rl"

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        make = self.sl_batch if self.stage(epoch) == "sl" else self.rl_batch
        for _ in range(self.opts.steps_per_epoch):
            yield make(rng.numpy)

    def loss(self, batch: tuple[str, Any]) -> Any:
        """The supervised loss (action + confidence cross-entropy) or REINFORCE's."""
        import torch.nn.functional as F

        from trackkit.sot.train.policy import reinforce_loss

        kind, data = batch
        if kind == "rl":
            self.model.eval()  # the policy that acted: no dropout
            return reinforce_loss(self.model, data)
        feats, hist, act, conf, mask = data
        a_logits, c_logits = self.model(feats, hist)
        loss = F.cross_entropy(c_logits, conf) if bool((conf >= 0).any()) else c_logits.sum() * 0
        if bool(mask.any()):
            loss = loss + F.cross_entropy(a_logits[mask], act[mask])
        return loss

    def step(self, batch: Any, epoch: int = 0, index: int = 0) -> dict[str, float]:
        kind, data = batch
        if kind == "sl":
            return {"loss": self.descend(self.loss(batch), self.model.parameters(), 10.0)}
        groups = self.optimizer.param_groups
        lrs = [g["lr"] for g in groups]
        for g in groups:
            g["lr"] *= self.cfg.rl_lr_ratio
        try:
            value = self.descend(self.loss(batch), self.model.parameters(), 10.0)
        finally:
            for g, lr in zip(groups, lrs, strict=True):
                g["lr"] = lr
        wins = float(np.mean([e.reward > 0 for e in data]))
        return {"loss": value, "rl_success": wins}

    def arch_config(self) -> dict[str, Any]:
        m = self.model
        return {
            "feat_dim": int(m.feat_dim),
            "fc": int(m.fc_width),
            "history": int(m.history),
            "feat_scale": float(m.feat_scale),
            "size": int(self.cfg.size),
            "alpha": float(self.cfg.alpha),
        }
