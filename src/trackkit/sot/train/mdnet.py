"""Multi-domain training of MDNet (Nam & Han 2016) on annotated sequences (``trackkit sot
train --model mdnet``), on a pretrained backbone with RT-MDNet's pooled features.

Every sequence is a *domain* with its own binary head ``fc6``; ``fc4-fc5`` (and the backbone's
last ``tuned`` blocks) are shared. Each step takes one domain (in turn) and ``--batch-size``
random frames of it; per frame the backbone runs once on a search region centred on a
jittered copy of the ground truth (as the previous frame's box would be, :class:`~trackkit.sot.
nets.mdnet_net.PretrainedMDNet`) and the features of ``pos`` positives (IoU >= 0.7) and ``neg``
negatives (IoU < 0.5, centre inside the region) are RoIAlign-pooled from it. The loss is the
softmax cross-entropy of that domain's head on ``batch_pos`` random positives and the
``batch_neg`` highest-scoring negatives of the step (*hard negative mining*, MDNet's online
rule, here offline too). The weights file keeps fc4-fc6 and the tuned blocks, records the
backbone's sha256 (``trained_on["pretrained"]``) and the architecture (``backbone``, ...).

``--set backbone=scratch`` trains the first trackkit MDNet instead (a conv tower from random
initialisation on ``size x size`` crops of every sample, ``width`` channels).

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

from trackkit.config import require
from trackkit.sot.ops.samples import gaussian_samples, labelled_samples
from trackkit.sot.train.base import SOT_TRAINERS, ConvNetConfig, SOTTrainer
from trackkit.training.task import EpochRandom

__all__ = ["MDNetTrainConfig", "MDNetTrainer"]


@dataclass(frozen=True)
class MDNetTrainConfig(ConvNetConfig):
    """MDNet-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.ConvNetConfig`'s (the Adam options; ``size`` / ``width``
    shape the ``scratch`` network only); the batch size is the number of frames per step.

    Attributes:
        backbone: ``nanotrack_v3`` (default), ``nanotrack_v2`` or ``scratch``.
        backbone_weights: the NanoTrack state dict ("" = the shared folder's).
        layer, tuned, roi, target_px, region_px, feat_scale: the pretrained network's options
            (:class:`~trackkit.sot.nets.mdnet_net.PretrainedMDNet`).
        pos, neg: positives / negatives drawn per frame (the paper: 50 / 200).
        batch_pos, batch_neg: positives (random) and negatives (hardest) in a step's loss
            (the paper: 32 / 96).
        jitter: spread of the region centre around the ground truth (``trans`` of
            :func:`~trackkit.sot.ops.samples.gaussian_samples`, in box sizes).
        fc: fc4 / fc5 width.
        reciprocative: weight of the reciprocative attention regulariser (0: off).
    """

    RANGES: ClassVar[str] = (
        "pos >= 1; neg >= 1; batch_pos >= 1; batch_neg >= 1; reciprocative >= 0; "
        "tuned >= 0; roi >= 1; jitter >= 0; feat_scale > 0"
    )

    backbone: str = "nanotrack_v3"
    backbone_weights: str = ""
    layer: int = 9
    tuned: int = 0
    roi: int = 5
    target_px: int = 80
    region_px: int = 320
    feat_scale: float = 0.5
    pos: int = 50
    neg: int = 200
    batch_pos: int = 32
    batch_neg: int = 96
    jitter: float = 0.6
    size: int = 64
    width: int = 24
    fc: int = 256
    reciprocative: float = 0.0

    def validate(self) -> None:
        super().validate()
        require(self.region_px % 16 == 0, "region_px must be a multiple of 16")
        require(self.target_px < self.region_px, "target_px must be below region_px")
        require(self.tuned <= self.layer, "tuned must be at most layer")


@SOT_TRAINERS.register("mdnet")
class MDNetTrainer(SOTTrainer):
    """MDNet (Nam 2016): multi-domain binary classification, one head per sequence (Adam)."""

    arch = "mdnet"
    config_class = MDNetTrainConfig
    cfg: MDNetTrainConfig

    def setup(self) -> None:
        from trackkit.sot.nets.mdnet_net import MDNet, PretrainedMDNet, load_mdnet

        cfg = self.cfg
        self.load_pairs(max_gap=1)
        self.domains = len(self.pairs.sequences)
        bw = cfg.backbone_weights or None

        def build() -> Any:
            if cfg.backbone == "scratch":
                return MDNet(domains=self.domains, size=cfg.size, width=cfg.width, fc=cfg.fc)
            return PretrainedMDNet(
                self.domains, cfg.backbone, cfg.layer, cfg.tuned, cfg.roi, cfg.fc,
                cfg.target_px, cfg.region_px, cfg.feat_scale, bw,
            )  # fmt: skip

        self.model = self.start_from(lambda p: load_mdnet(p, bw), build)
        self.model.reset_heads(self.domains)
        self.model.train()
        self.pretrained = dict(getattr(self.model, "record", {}))
        self.make_optimizer(adam=True, cfg=cfg)

    def make_batch(self, rng: np.random.Generator, k: int = 0) -> tuple[list[Any], int]:
        """``(frames, domain)``: per frame of domain ``k``, ``(image, region box, sample
        boxes (P + N, 4), labels (P + N,) int64)``."""
        cfg = self.cfg
        valid = self.pairs.valid[k]
        n = self.opts.batch_size
        frames = []
        for i in rng.choice(valid, size=n, replace=len(valid) < n):
            img, box = self.pairs.frame(k, int(i))
            ref = gaussian_samples(rng, box, 1, trans=cfg.jitter, scale=1.0)[0]
            pos, neg = labelled_samples(rng, box, cfg.pos, 2 * cfg.neg)
            if self.model.backbone != "scratch":
                neg = neg[self.model.region(ref).inside(neg, margin=0.9)]
            neg = neg[: cfg.neg]
            labels = np.r_[np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)]
            frames.append((img, ref, np.vstack([pos, neg]), labels))
        return frames, k

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """One batch per step, the domains in turn."""
        steps = self.opts.steps_per_epoch
        for s in range(steps):
            yield self.make_batch(rng.numpy, (epoch * steps + s) % self.domains)

    def features(self, batch: tuple[list[Any], int]) -> tuple[Any, Any]:
        """``(features (B, D), labels (B,))`` of a batch's samples (with gradients)."""
        import torch

        frames, _ = batch
        feats, labels = [], []
        for img, ref, boxes, y in frames:
            feats.append(self.model.box_features(self.model.prepare(img, ref), boxes))
            labels.append(torch.from_numpy(y))
        return torch.cat(feats), torch.cat(labels)

    def select(self, feats: Any, y: Any, k: int) -> tuple[Any, Any]:
        """``batch_pos`` positives (evenly spread over the batch's, deterministic) and the
        ``batch_neg`` negatives the head ``k`` scores highest."""
        import torch

        cfg = self.cfg
        pos = torch.nonzero(y == 1)[:, 0]
        neg = torch.nonzero(y == 0)[:, 0]
        if len(pos) > cfg.batch_pos:
            pos = pos[torch.linspace(0, len(pos) - 1, cfg.batch_pos).round().long()]
        if len(neg) > cfg.batch_neg:
            training = self.model.fc.training
            self.model.fc.eval()  # scores without dropout
            with torch.no_grad():
                s = self.model.classify(feats[neg].detach(), k)
            self.model.fc.train(training)
            neg = neg[torch.argsort(s[:, 1] - s[:, 0], descending=True)[: cfg.batch_neg]]
        idx = torch.cat([pos, neg])
        return feats[idx], y[idx]

    def loss(self, batch: tuple[list[Any], int]) -> Any:
        """Cross-entropy of the batch's domain head on its positives and hard negatives (plus
        the weighted attention regulariser when ``reciprocative > 0``)."""
        import torch.nn.functional as F

        k = batch[1]
        feats, y = self.select(*self.features(batch), k)
        if self.cfg.reciprocative == 0:
            return F.cross_entropy(self.model.classify(feats, k), y)
        from trackkit.sot.ops.attention import attention_maps, reciprocative_loss

        logits, att = attention_maps(
            lambda f: self.model.classify(f, k), feats, self.model.feat_shape
        )
        return F.cross_entropy(logits, y) + self.cfg.reciprocative * reciprocative_loss(att, y)

    def arch_config(self) -> dict[str, Any]:
        arch: dict[str, Any] = self.model.arch()
        return arch
