"""Training the learned-feature DCF (registered as ``dcfnet`` in :data:`SOT_TRAINERS`).

Two modes share the network and the differentiable correlation-filter layer
(:func:`dcf_response`):

- ``supervised`` (DCFNet, Wang et al. 2017): template/search pairs from annotated sequences
  (any layout :func:`trackkit.sot.runner.find_sequences` reads); the filter learned on the
  template must answer the search crop with a Gaussian on the target; squared-error loss.
- ``udt`` (Unsupervised Deep Tracking, Wang et al. CVPR 2019), on any folders of frames, no
  annotation: a random region of frame ``T`` is tracked **forward** through two later frames
  ``S1``, ``S2`` (each step's response peak becomes a Gaussian pseudo label), then
  **backward** from ``S2`` to ``T`` (multiple-frame validation); the loss is the consistency of
  the backward response with the initial label. It is **cost-sensitive**: the 10% of samples
  with the largest loss in a batch are dropped as noisy, and the others are weighted by how far
  the pseudo labels moved (samples with motion teach more).

Crops are ``crop_size`` px squares of ``(1 + padding)`` times the target, BGR minus
:data:`trackkit.sot.nets.dcfnet_net.MEAN_BGR`; ``model.pt`` (a :mod:`trackkit.training.weights`
file) holds the feature network's state dict and loads with
``trackkit sot SOURCE --tracker dcfnet --weights model.pt``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trackkit.config import require
from trackkit.errors import DataNotFoundError
from trackkit.io.images import IMAGE_SUFFIXES, SOTSequence, natural_key, read_image
from trackkit.sot.nets.dcfnet_net import MEAN_BGR, build_feature_net, load_feature_weights
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.dcf import DCFGeometry, gaussian_label, hann2d
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer, TrainOptions
from trackkit.training.task import EpochRandom

__all__ = ["DCFNetTrainConfig", "DCFNetTrainer", "dcf_response", "find_frame_folders"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DCFNetTrainConfig(OptimConfig, DCFGeometry):
    """Options of the DCFNet/UDT trainer (``--set key=value``), with
    :class:`~trackkit.sot.train.base.OptimConfig`'s (for SGD) and the crop and filter options
    of :class:`~trackkit.sot.ops.dcf.DCFGeometry`.

    Attributes:
        mode: ``"udt"`` (unsupervised) or ``"supervised"``.
        max_gap: the later frames are at most this many frames after the first.
        shift: supervised: maximum random shift of the search crop (fraction of the target).
        drop_fraction: UDT: fraction of highest-loss samples dropped per batch.
        min_target, max_target: UDT: random target side as a fraction of the frame's shorter
            side.
        momentum: SGD momentum.
        loss: the response-map regression loss, a name of
            :data:`trackkit.training.losses.REGRESSION_LOSSES`: ``l2`` (the papers' squared
            error), ``l1``, ``l3``, ``shrinkage`` (Lu et al. ECCV 2018, ``a = 10``,
            ``c = 0.2``); summed over the map, as the squared error is.
    """

    RANGES: ClassVar[str] = (
        "max_gap >= 1; drop_fraction in [0, 1); min_target > 0; max_target in [min_target, 1]"
    )

    mode: str = "udt"
    max_gap: int = 10
    shift: float = 0.3
    drop_fraction: float = 0.1
    min_target: float = 0.1
    max_target: float = 0.35
    momentum: float = 0.9
    weight_decay: float = 5e-5
    loss: str = "l2"

    def validate(self) -> None:
        from trackkit.training.losses import regression_loss

        require(self.mode in ("udt", "supervised"), "mode: udt or supervised")
        regression_loss(self.loss)


def find_frame_folders(root: Path, min_frames: int = 3, max_depth: int = 4) -> list[list[Path]]:
    """Folders holding at least ``min_frames`` images, each as its sorted frame list."""
    out: list[list[Path]] = []

    def walk(folder: Path, depth: int) -> None:
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if len(files) >= min_frames:
            out.append(sorted(files, key=lambda p: natural_key(p.name)))
        if depth < max_depth:
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                walk(child, depth + 1)

    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    walk(root, 0)
    return out


def dcf_response(template: Any, search: Any, label_f: Any, cos: Any, reg: float) -> Any:
    """Differentiable DCF layer: the filter learned on ``template`` features with the label
    spectrum ``label_f`` answers ``search`` features.

    Args:
        template, search: ``(B, C, H, W)`` features.
        label_f: ``(B or 1, 1, H, W // 2 + 1)`` complex rFFT of the desired response.
        cos: ``(H, W)`` cosine window.

    Returns:
        ``(B, 1, H, W)`` response.
    """
    import torch

    zf = torch.fft.rfft2(template * cos)
    xf = torch.fft.rfft2(search * cos)
    kzzf = torch.sum(zf.real**2 + zf.imag**2, dim=1, keepdim=True)
    kxzf = torch.sum(xf * torch.conj(zf), dim=1, keepdim=True)
    return torch.fft.irfft2(kxzf * label_f / (kzzf + reg), s=template.shape[-2:])


@SOT_TRAINERS.register("dcfnet")
class DCFNetTrainer(SOTTrainer):
    """DCFNet feature network: supervised (Wang 2017) or unsupervised UDT (Wang 2019)."""

    arch = "dcfnet"
    config_class = DCFNetTrainConfig
    cfg: DCFNetTrainConfig

    def __init__(self, opts: TrainOptions) -> None:
        super().__init__(opts)
        self._seqs: list[SOTSequence] = []
        self._folders: list[list[Path]] = []

    # -- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        cfg, opts = self.cfg, self.opts
        self.model = build_feature_net(conv_padding=1)
        if opts.init_weights is not None:
            self.model.load_state_dict(load_feature_weights(opts.init_weights))
        self.make_optimizer(adam=False, cfg=cfg, momentum=cfg.momentum)
        roots = list(opts.data)
        if cfg.mode == "supervised":
            from trackkit.sot.runner import find_sequences

            self._seqs = [s for r in roots for s in find_sequences(r) if len(s) >= 2]
            if not self._seqs:
                raise DataNotFoundError(
                    f"{', '.join(map(str, roots))}: no annotated sequence with 2+ frames"
                )
        else:
            self._folders = [f for r in roots for f in find_frame_folders(r)]
            if not self._folders:
                raise DataNotFoundError(f"{', '.join(map(str, roots))}: no folder with 3+ frames")
        self.sequence_names = [s.name for s in self._seqs] or [
            "/".join(f[0].parent.parts[-2:]) for f in self._folders
        ]
        n = cfg.crop_size
        sigma = n / (1 + cfg.padding) * cfg.output_sigma_factor
        self._label = torch.from_numpy(gaussian_label((n, n), sigma))
        self._label_f = torch.fft.rfft2(self._label)[None, None]
        self._cos = torch.from_numpy(hann2d((n, n)))
        self._mean = torch.tensor(MEAN_BGR).view(1, 3, 1, 1)
        log.info(
            "dcfnet %s training on %d sequences",
            cfg.mode,
            len(self._seqs) if self._seqs else len(self._folders),
        )

    # -- data -----------------------------------------------------------------------------
    def _crop(self, frame: np.ndarray, center: tuple[float, float], size: float) -> np.ndarray:
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        n = self.cfg.crop_size
        return crop_region(frame, center, (size, size), (n, n), border=REPLICATE)

    def _supervised_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        cfg = self.cfg
        while True:
            seq = self._seqs[int(rng.integers(len(self._seqs)))]
            i = int(rng.integers(len(seq) - 1))
            j = min(len(seq) - 1, i + int(rng.integers(1, cfg.max_gap + 1)))
            a, b = seq.boxes[i], seq.boxes[j]
            if np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
                break
        side_a = math.sqrt((a[2] - a[0]) * (a[3] - a[1])) * (1 + cfg.padding)
        side_b = math.sqrt((b[2] - b[0]) * (b[3] - b[1])) * (1 + cfg.padding)
        tgt = side_b / (1 + cfg.padding)
        dx, dy = rng.uniform(-cfg.shift, cfg.shift, size=2) * tgt
        ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
        cb = ((b[0] + b[2]) / 2 + dx, (b[1] + b[3]) / 2 + dy)
        z = self._crop(read_image(seq.frames[i]), ca, side_a)
        x = self._crop(read_image(seq.frames[j]), cb, side_b)
        # The target sits at -shift in the search crop (crop pixels).
        k = self.cfg.crop_size / side_b
        return z, x, np.array([-dy * k, -dx * k])

    def _udt_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        cfg = self.cfg
        frames = self._folders[int(rng.integers(len(self._folders)))]
        i = int(rng.integers(len(frames) - 2))
        j = min(len(frames) - 2, i + int(rng.integers(1, cfg.max_gap)))
        k = min(len(frames) - 1, j + 1 + int(rng.integers(0, cfg.max_gap)))
        imgs = [read_image(frames[t]) for t in (i, j, k)]
        h, w = imgs[0].shape[:2]
        tgt = rng.uniform(cfg.min_target, cfg.max_target) * min(h, w)
        cx = rng.uniform(tgt / 2, max(w - tgt / 2, tgt / 2 + 1))
        cy = rng.uniform(tgt / 2, max(h - tgt / 2, tgt / 2 + 1))
        side = tgt * (1 + cfg.padding)
        return tuple(self._crop(im, (cx, cy), side) for im in imgs)

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """Supervised: ``(templates, searches, shifts)``; UDT: ``(T, S1, S2)`` crops."""
        import torch

        gen = rng.numpy
        for _ in range(self.opts.steps_per_epoch):
            if self.cfg.mode == "supervised":
                samples = [self._supervised_sample(gen) for _ in range(self.opts.batch_size)]
                z = np.stack([s[0] for s in samples])
                x = np.stack([s[1] for s in samples])
                shifts = np.stack([s[2] for s in samples])
                yield self._tensor(z), self._tensor(x), torch.from_numpy(shifts)
            else:
                trip = [self._udt_sample(gen) for _ in range(self.opts.batch_size)]
                yield tuple(self._tensor(np.stack([t[m] for t in trip])) for m in range(3))

    def _tensor(self, crops: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(crops).permute(0, 3, 1, 2).float() - self._mean

    # -- optimisation ---------------------------------------------------------------------
    def _shifted_labels(self, shifts: Any) -> Any:
        """Gaussian labels rolled by integer ``(dy, dx)`` shifts: ``(B, 1, H, W)``."""
        import torch

        out = [torch.roll(self._label, (int(s[0]), int(s[1])), dims=(0, 1)) for s in shifts]
        return torch.stack(out)[:, None]

    def _peaks(self, response: Any) -> Any:
        import torch

        b, _, h, w = response.shape
        idx = torch.argmax(response.reshape(b, -1), dim=1)
        return torch.stack([idx // w, idx % w], dim=1)

    def _map_loss(self, response: Any, label: Any) -> Any:
        """Element-wise loss ``(B, 1, H, W)`` of a response against its label (``cfg.loss``)."""
        if self.cfg.loss == "l2":
            return (response - label) ** 2
        from trackkit.training.losses import regression_loss

        return regression_loss(self.cfg.loss)(response, label, reduction="none")

    def step(self, batch: Any, epoch: int = 0, index: int = 0) -> dict[str, float]:
        """One SGD step on the DCF (supervised) or UDT consistency loss."""
        import torch

        cfg = self.cfg
        net, cos = self.model, self._cos
        if cfg.mode == "supervised":
            z, x, shifts = batch
            label = self._shifted_labels(torch.round(shifts).long())
            resp = dcf_response(net(z), net(x), self._label_f, cos, cfg.reg)
            loss = torch.sum(self._map_loss(resp, label)) / z.shape[0]
            return {"loss": self.descend(loss)}
        else:
            t, s1, s2 = batch
            ft, f1, f2 = net(t), net(s1), net(s2)
            with torch.no_grad():  # forward tracking: pseudo labels from the response peaks
                p1 = self._peaks(dcf_response(ft, f1, self._label_f, cos, cfg.reg))
                y1 = self._shifted_labels(p1)
                p2 = self._peaks(dcf_response(f1, f2, torch.fft.rfft2(y1), cos, cfg.reg))
                y2 = self._shifted_labels(p2)
            back = dcf_response(f2, ft, torch.fft.rfft2(y2), cos, cfg.reg)  # S2 -> T
            per = torch.sum(self._map_loss(back, self._label), dim=(1, 2, 3))
            with torch.no_grad():
                y0 = self._label.expand_as(y1)
                motion = torch.sum((y1 - y0) ** 2, dim=(1, 2, 3))
                motion = motion + torch.sum((y2 - y1) ** 2, dim=(1, 2, 3))
                weight = motion / motion.sum() * len(motion) if motion.sum() > 0 else None
                if weight is None:
                    weight = torch.ones_like(per)
                n_drop = int(cfg.drop_fraction * len(per))
                if n_drop:
                    weight[torch.argsort(per, descending=True)[:n_drop]] = 0.0
            loss = torch.sum(weight * per) / max(len(per) - n_drop, 1)
            consistency = float(per.detach().mean())
        return {"loss": self.descend(loss), "consistency": consistency}

    def export_state(self) -> dict[str, Any]:
        """The feature layers (the tracker's network has no layer ``3``)."""
        state = self.model.state_dict()
        return {k: v for k, v in state.items() if not k.startswith("3.")}
