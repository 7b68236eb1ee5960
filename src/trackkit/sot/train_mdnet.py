"""Multi-domain training of MDNet (Nam & Han 2016) on annotated sequences.

Every sequence is a *domain* with its own binary head ``fc6``; the conv layers and ``fc4-fc5``
are shared. Each step takes one domain (in turn), ``frames`` random frames of it, and from each
frame ``pos`` positives (IoU >= 0.7 with the ground truth) and ``neg`` negatives (IoU < 0.5);
the loss is the softmax cross-entropy of that domain's head. The saved weights keep the shared
layers (and the heads, unused by the tracker, which starts a new head per video).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.config import require
from trackkit.sot.samples import crop_boxes, labelled_samples
from trackkit.sot.train_common import FramePairs, TrainResult, fit

__all__ = ["MDNetTrainConfig", "train_mdnet"]


@dataclass(frozen=True)
class MDNetTrainConfig:
    """Options of :func:`train_mdnet` (sized for a shared CPU: ~10 CPU-minutes)."""

    epochs: int = 8
    iters: int = 40
    frames: int = 4
    pos: int = 8
    neg: int = 24
    lr: float = 1e-3
    size: int = 64
    width: int = 24
    fc: int = 256
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        require(self.epochs >= 1 and self.iters >= 1, "need >= 1 steps")
        require(self.frames >= 1 and self.pos >= 1 and self.neg >= 1, "need samples")
        require(self.lr > 0, "lr must be > 0")


def train_mdnet(
    data: Sequence[str | Path],
    out: str | Path,
    config: MDNetTrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train MDNet's shared layers on the sequences under ``data`` (``<out>/mdnet.pt``)."""
    import torch
    import torch.nn.functional as F

    from trackkit.sot.nets.mdnet_net import MDNet

    cfg = config or MDNetTrainConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    pairs = FramePairs(data, max_gap=1)
    domains = len(pairs.sequences)
    model = MDNet(domains=domains, size=cfg.size, width=cfg.width, fc=cfg.fc)
    counter = {"step": 0}

    def step(rng: np.random.Generator) -> Any:
        k = counter["step"] % domains
        counter["step"] += 1
        valid = pairs.valid[k]
        crops, labels = [], []
        for i in rng.choice(valid, size=cfg.frames, replace=len(valid) < cfg.frames):
            img, box = pairs.frame(k, int(i))
            pos, neg = labelled_samples(rng, box, cfg.pos, cfg.neg)
            crops += [crop_boxes(img, pos, cfg.size), crop_boxes(img, neg, cfg.size)]
            labels += [np.ones(len(pos), dtype=np.int64), np.zeros(len(neg), dtype=np.int64)]
        x = torch.from_numpy(np.concatenate(crops))
        y = torch.from_numpy(np.concatenate(labels))
        return F.cross_entropy(model(x, k), y)

    arch = {
        "model": "mdnet",
        "domains": domains,
        "size": cfg.size,
        "width": cfg.width,
        "fc": cfg.fc,
    }
    return fit(
        model,
        step,
        out,
        "mdnet",
        arch,
        cfg.epochs,
        cfg.iters,
        cfg.lr,
        weight_decay=5e-4,
        resume=resume,
        seed=cfg.seed,
        progress=progress,
        optimizer="adam",
    )
