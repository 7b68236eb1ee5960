"""Training SiamFC (Bertinetto et al. 2016) on annotated sequences.

Each training example is an exemplar/search pair from one sequence, frames at most ``max_gap``
apart: the exemplar is the 127x127 crop of the first frame's target (context 0.5), the search
region the 255x255 crop of the second frame around its target, shifted by up to ``max_shift``
crop pixels and stretched by up to ``stretch`` (both frames flipped together at random). The
17x17 response is trained with the logistic loss against labels +1 within ``radius`` pixels
(search-crop pixels, i.e. ``radius / 8`` response cells) of the target's true position and 0
elsewhere, positives and negatives weighted to half of the loss each (class balancing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.crops import context_size, crop_region, crop_square, mean_color
from trackkit.sot.train_common import FramePairs, TrainResult, fit

__all__ = ["SiamFCTrainConfig", "logistic_labels", "make_pair", "train_siamfc"]


@dataclass(frozen=True)
class SiamFCTrainConfig:
    """Options of :func:`train_siamfc` (sized for a shared CPU: ~10 CPU-minutes)."""

    epochs: int = 8
    iters: int = 40
    batch: int = 8
    lr: float = 1e-2
    width: float = 0.25
    max_gap: int = 100
    max_shift: float = 12.0
    stretch: float = 0.05
    radius: float = 16.0
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        require(self.epochs >= 1 and self.iters >= 1 and self.batch >= 1, "need >= 1 steps")
        require(self.lr > 0 and self.width > 0, "lr and width must be > 0")
        require(self.max_gap >= 1, "max_gap must be >= 1")


def logistic_labels(
    shift: NDArray[np.float64], size: int = 17, stride: int = 8, radius: float = 16.0
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Labels and balancing weights ``(size, size)`` for a target ``shift`` (x, y) crop pixels.

    Cell ``(i, j)`` is positive when ``stride * ||(j, i) - centre - shift / stride|| <= radius``.
    """
    idx = np.arange(size) - (size - 1) / 2
    dx = idx[None, :] * stride - shift[0]
    dy = idx[:, None] * stride - shift[1]
    pos = (np.hypot(dx, dy) <= radius).astype(np.float32)
    npos = max(pos.sum(), 1.0)
    nneg = max(pos.size - pos.sum(), 1.0)
    weight = np.where(pos > 0, 0.5 / npos, 0.5 / nneg).astype(np.float32)
    return pos, weight


def make_pair(
    pairs: FramePairs, rng: np.random.Generator, cfg: SiamFCTrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float64]]:
    """One exemplar ``(127, 127, 3)``, search ``(255, 255, 3)`` and target shift (crop px)."""
    s, i, j = pairs.sample(rng)
    img_z, bz = pairs.frame(s, i)
    img_x, bx = pairs.frame(s, j)
    cz = ((bz[0] + bz[2]) / 2, (bz[1] + bz[3]) / 2)
    s_z = context_size(bz[2] - bz[0], bz[3] - bz[1])
    z = crop_square(img_z, cz, s_z, 127, mean_color(img_z))
    s_x = context_size(bx[2] - bx[0], bx[3] - bx[1]) * 255 / 127
    shift = rng.uniform(-cfg.max_shift, cfg.max_shift, size=2)
    st = 1 + rng.uniform(-cfg.stretch, cfg.stretch, size=2)
    size = (s_x * st[0], s_x * st[1])
    # the crop centre moves by -shift so the target appears at +shift (crop pixels)
    cx = (bx[0] + bx[2]) / 2 - shift[0] * size[0] / 255
    cy = (bx[1] + bx[3]) / 2 - shift[1] * size[1] / 255
    x = crop_region(img_x, (cx, cy), size, (255, 255), mean_color(img_x))
    if rng.random() < 0.5:
        z, x, shift = z[:, ::-1], x[:, ::-1], shift * np.array([-1.0, 1.0])
    return np.ascontiguousarray(z), np.ascontiguousarray(x), shift


def train_siamfc(
    data: Sequence[str | Path],
    out: str | Path,
    config: SiamFCTrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
    init: Any = None,
) -> TrainResult:
    """Train SiamFC on the sequences under ``data``; weights go to ``<out>/siamfc.pt``.

    Args:
        data: dataset roots (OTB / VOT / GOT-10k layouts).
        out: output folder (checkpoint every epoch).
        config: training options.
        resume: continue from ``<out>/checkpoint.pt``.
        progress: show a progress bar.
        init: an existing :class:`SiamFCNet` to fine-tune (default: a fresh one).
    """
    import torch
    import torch.nn.functional as F

    from trackkit.sot.nets.siamfc_net import SiamFCNet

    cfg = config or SiamFCTrainConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    pairs = FramePairs(data, max_gap=cfg.max_gap)
    model = init if init is not None else SiamFCNet(width=cfg.width)

    def step(rng: np.random.Generator) -> Any:
        zs, xs, labels, weights = [], [], [], []
        for _ in range(cfg.batch):
            z, x, shift = make_pair(pairs, rng, cfg)
            lab, wt = logistic_labels(shift, radius=cfg.radius)
            zs.append(z)
            xs.append(x)
            labels.append(lab)
            weights.append(wt)
        zt = torch.from_numpy(np.stack(zs).transpose(0, 3, 1, 2).astype(np.float32))
        xt = torch.from_numpy(np.stack(xs).transpose(0, 3, 1, 2).astype(np.float32))
        resp = model(zt, xt)[:, 0]
        lab_t = torch.from_numpy(np.stack(labels))
        w_t = torch.from_numpy(np.stack(weights))
        loss = F.binary_cross_entropy_with_logits(resp, lab_t, weight=w_t, reduction="sum")
        return loss / cfg.batch

    arch = {"model": "siamfc", "width": float(getattr(model, "width", cfg.width))}
    return fit(
        model,
        step,
        out,
        "siamfc",
        arch,
        cfg.epochs,
        cfg.iters,
        cfg.lr,
        resume=resume,
        seed=cfg.seed,
        progress=progress,
    )
