"""Training GOTURN (Held et al. 2016) from annotated sequences.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.crops import crop_region, mean_color
from trackkit.sot.goturn import crop_pair_region
from trackkit.sot.train_common import FramePairs, TrainResult, fit

__all__ = ["GoturnTrainConfig", "make_example", "train_goturn"]


@dataclass(frozen=True)
class GoturnTrainConfig:
    """Options of :func:`train_goturn` (sized for a shared CPU: ~10 CPU-minutes)."""

    epochs: int = 8
    iters: int = 50
    batch: int = 8
    lr: float = 1e-3
    size: int = 128
    width: int = 32
    max_gap: int = 5
    context: float = 2.0
    shift_scale: float = 1 / 5
    size_scale: float = 1 / 15
    still_prob: float = 0.3
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        require(self.epochs >= 1 and self.iters >= 1 and self.batch >= 1, "need >= 1 steps")
        require(self.lr > 0, "lr must be > 0")
        require(self.size % 16 == 0, "size must be a multiple of 16")
        require(0 <= self.still_prob <= 1, "still_prob must be in [0, 1]")


def make_example(
    pairs: FramePairs, rng: np.random.Generator, cfg: GoturnTrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]:
    """``(previous crop, search crop, target (4,) in [0, 10] units)``."""
    s, i, j = pairs.sample(rng)
    t, prev = max(i, j), min(i, j)
    if rng.random() < cfg.still_prob:
        prev = t
    img_p, box_p = pairs.frame(s, prev)
    img_t, box_t = pairs.frame(s, t)
    w, h = box_t[2] - box_t[0], box_t[3] - box_t[1]
    dx, dy = np.clip(rng.laplace(0.0, cfg.shift_scale, size=2), -0.45, 0.45)
    gw, gh = np.clip(rng.laplace(1.0, cfg.size_scale, size=2), 0.6, 1.4)
    cx = (box_t[0] + box_t[2]) / 2 + w * dx
    cy = (box_t[1] + box_t[3]) / 2 + h * dy
    moved = np.array([cx - w * gw / 2, cy - h * gh / 2, cx + w * gw / 2, cy + h * gh / 2])
    size = (cfg.size, cfg.size)
    rp = crop_pair_region(box_p, cfg.context)
    prev_crop = crop_region(img_p, rp[:2], rp[2:], size, mean_color(img_p))
    rs = crop_pair_region(moved, cfg.context)
    search = crop_region(img_t, rs[:2], rs[2:], size, mean_color(img_t))
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


def train_goturn(
    data: Sequence[str | Path],
    out: str | Path,
    config: GoturnTrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train GOTURN on the sequences under ``data``; weights go to ``<out>/goturn.pt``."""
    import torch
    import torch.nn.functional as F

    from trackkit.sot.nets.goturn_net import GoturnNet

    cfg = config or GoturnTrainConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    pairs = FramePairs(data, max_gap=cfg.max_gap)
    model = GoturnNet(size=cfg.size, width=cfg.width)

    def step(rng: np.random.Generator) -> Any:
        ex = [make_example(pairs, rng, cfg) for _ in range(cfg.batch)]
        prev = torch.from_numpy(np.stack([e[0] for e in ex]).transpose(0, 3, 1, 2).astype(np.float32))
        search = torch.from_numpy(
            np.stack([e[1] for e in ex]).transpose(0, 3, 1, 2).astype(np.float32)
        )
        target = torch.from_numpy(np.stack([e[2] for e in ex]))
        return F.l1_loss(model(prev, search), target)

    arch = {
        "model": "goturn",
        "size": model.size,
        "width": model.width,
        "reduced": model.reduced,
        "fc": model.fc_width,
    }
    return fit(
        model,
        step,
        out,
        "goturn",
        arch,
        cfg.epochs,
        cfg.iters,
        cfg.lr,
        weight_decay=1e-5,
        resume=resume,
        seed=cfg.seed,
        progress=progress,
        optimizer="adam",
    )
