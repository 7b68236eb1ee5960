"""Multi-domain training of MDNet (Nam & Han 2016) on annotated sequences (``trackkit sot
train --model mdnet``).

Every sequence is a *domain* with its own binary head ``fc6``; the conv layers and ``fc4-fc5``
are shared. Each step takes one domain (in turn), ``frames`` random frames of it, and from each
frame ``pos`` positives (IoU >= 0.7 with the ground truth) and ``neg`` negatives (IoU < 0.5);
the loss is the softmax cross-entropy of that domain's head. The saved weights keep the shared
layers (and the heads, unused by the tracker, which starts a new head per video).

``--set reciprocative=W`` adds reciprocative learning's attention regulariser (Pu et al.,
NeurIPS 2018; :mod:`trackkit.sot.ops.attention`) with weight ``W`` to every step's loss (the
paper uses it online only; 0, the default, is plain MDNet). VITAL's adversarial masks are an
online option of the tracker only (``mdnet --adversarial``), as in the paper, whose offline
stage is MDNet's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trackkit.sot.ops.samples import crop_boxes, labelled_samples
from trackkit.sot.train.base import SOT_TRAINERS, ConvNetConfig, SOTTrainer
from trackkit.training.task import EpochRandom

__all__ = ["MDNetTrainConfig", "MDNetTrainer"]


@dataclass(frozen=True)
class MDNetTrainConfig(ConvNetConfig):
    """MDNet-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.ConvNetConfig`'s (the Adam and network options); the
    batch size is the number of frames per step.

    Attributes:
        pos, neg: positives / negatives per frame.
        fc: fc width.
        reciprocative: weight of the reciprocative attention regulariser (0: off).
    """

    RANGES: ClassVar[str] = "pos >= 1; neg >= 1; reciprocative >= 0"

    pos: int = 8
    neg: int = 24
    size: int = 64
    width: int = 24
    fc: int = 256
    reciprocative: float = 0.0


@SOT_TRAINERS.register("mdnet")
class MDNetTrainer(SOTTrainer):
    """MDNet (Nam 2016): multi-domain binary classification, one head per sequence (Adam)."""

    arch = "mdnet"
    config_class = MDNetTrainConfig
    cfg: MDNetTrainConfig

    def setup(self) -> None:
        from trackkit.sot.nets.mdnet_net import MDNet

        cfg, opts = self.cfg, self.opts
        self.load_pairs(max_gap=1)
        self.domains = len(self.pairs.sequences)
        self.model = MDNet(domains=self.domains, size=cfg.size, width=cfg.width, fc=cfg.fc)
        if opts.init_weights is not None:
            from trackkit.sot.nets.mdnet_net import load_mdnet

            shared = load_mdnet(opts.init_weights).state_dict()
            self.model.load_state_dict(
                {k: v for k, v in shared.items() if not k.startswith("heads.")}, strict=False
            )
        self.make_optimizer(adam=True, cfg=cfg)

    def make_batch(self, rng: np.random.Generator, k: int = 0) -> tuple[Any, Any, int]:
        """``(crops, labels, domain)`` of one batch from domain ``k``."""
        import torch

        cfg = self.cfg
        valid = self.pairs.valid[k]
        n = self.opts.batch_size
        crops, labels = [], []
        for i in rng.choice(valid, size=n, replace=len(valid) < n):
            img, box = self.pairs.frame(k, int(i))
            pos, neg = labelled_samples(rng, box, cfg.pos, cfg.neg)
            crops += [crop_boxes(img, pos, cfg.size), crop_boxes(img, neg, cfg.size)]
            labels += [np.ones(len(pos), dtype=np.int64), np.zeros(len(neg), dtype=np.int64)]
        x = torch.from_numpy(np.concatenate(crops))
        return x, torch.from_numpy(np.concatenate(labels)), k

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """One batch per step, the domains in turn."""
        steps = self.opts.steps_per_epoch
        for s in range(steps):
            yield self.make_batch(rng.numpy, (epoch * steps + s) % self.domains)

    def loss(self, batch: tuple[Any, Any, int]) -> Any:
        """Cross-entropy of the batch's domain head (plus the weighted attention regulariser
        when ``reciprocative > 0``)."""
        import torch.nn.functional as F

        x, y, k = batch
        if self.cfg.reciprocative == 0:
            return F.cross_entropy(self.model(x, k), y)
        from trackkit.sot.ops.attention import attention_maps, reciprocative_loss

        feats = self.model.features(x)
        logits, att = attention_maps(
            lambda f: self.model.classify(f, k), feats, self.model.feat_shape
        )
        return F.cross_entropy(logits, y) + self.cfg.reciprocative * reciprocative_loss(att, y)

    def arch_config(self) -> dict[str, Any]:
        cfg = self.cfg
        return {"domains": self.domains, "size": cfg.size, "width": cfg.width, "fc": cfg.fc}
