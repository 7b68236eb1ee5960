"""Training the learned-feature DCF (registered as ``dcfnet`` in :data:`SOT_TRAINERS`).

Two modes share the network and the differentiable correlation-filter layer
(:func:`dcf_response`):

- ``supervised`` (DCFNet, Wang et al. 2017): template/search pairs from annotated sequences
  (any layout :func:`trackkit.sot.runner.find_sequences` reads); the filter learned on the
  template must answer the search crop with a Gaussian on the target; squared-error loss.
- ``udt`` (Unsupervised Deep Tracking, Wang et al. CVPR 2019), on unlabelled video, no
  annotation used: folders of frames (any depth under ``--data``), video files (``.mp4``,
  ``.avi``, ... decoded once, kept in memory as JPEG) and, with ``--set unlabelled=shared``,
  the shared folder's ``data/videos`` and MOT17 ``img1`` frames (the clips:
  :mod:`trackkit.sot.train.clips`). A random square region of
  frame ``T`` (the random initial box of UDT) is tracked **forward** through
  ``forward_frames`` later frames ``S1, S2, ...`` (each step's response peak becomes a
  Gaussian pseudo label for the next filter), then **backward** from the last one to ``T``
  (multiple-frame validation, Sec. 3.3); the loss is the consistency of the backward
  response with the initial Gaussian label. It is **cost-sensitive**
  (:func:`cost_sensitive_weights`): the ``drop_fraction`` (10%) samples with the largest loss
  in a batch are dropped as noisy, and the others are weighted by their motion
  ``sum_k ||R_Sk - Y_S(k-1)||^2`` (the forward responses against the labels that made them;
  paper Eq. 8), normalised to mean 1, so pairs with motion teach more.

The features (``--set features=...``, :func:`~trackkit.sot.nets.dcfnet_net.build_dcf_features`)
are the DCFNet/UDT conv net from scratch (``conv``) or NanoTrack's frozen pretrained shallow
blocks (``nanotrack_v3``, blocks ``layers``) with a learned adaptation (a ``kernel`` x
``kernel`` convolution to ``channels`` + LRN): only the adaptation is trained, and the weights
file records the backbone file's sha256 (``trained_on["pretrained"]``).

Crops are ``crop_size`` px squares of ``(1 + padding)`` times the target (BGR 0..255; the conv
net subtracts :data:`trackkit.sot.nets.dcfnet_net.MEAN_BGR` itself); ``model.pt`` (a
:mod:`trackkit.training.weights` file) holds the learned tensors and the feature options and
loads with ``trackkit sot SOURCE --tracker dcfnet --weights model.pt``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trackkit.config import require
from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.images import SOTSequence, read_image
from trackkit.sot.nets.dcfnet_net import FEATURE_KINDS, build_dcf_features, load_dcf_features
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.dcf import DCFGeometry, gaussian_label, hann2d
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer, TrainOptions
from trackkit.sot.train.clips import (
    VIDEO_SUFFIXES,
    Clip,
    expand_unlabelled,
    find_clips,
    find_frame_folders,
)
from trackkit.training.task import EpochRandom

__all__ = [
    "VIDEO_SUFFIXES",
    "Clip",
    "DCFNetTrainConfig",
    "DCFNetTrainer",
    "cost_sensitive_weights",
    "dcf_response",
    "find_clips",
    "find_frame_folders",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DCFNetTrainConfig(OptimConfig, DCFGeometry):
    """Options of the DCFNet/UDT trainer (``--set key=value``), with
    :class:`~trackkit.sot.train.base.OptimConfig`'s (for SGD) and the crop and filter options
    of :class:`~trackkit.sot.ops.dcf.DCFGeometry`.

    Attributes:
        mode: ``"udt"`` (unsupervised) or ``"supervised"``.
        features: ``conv`` (the DCFNet/UDT net from scratch) or ``nanotrack_v3`` /
            ``nanotrack_v2`` (frozen pretrained blocks + a learned adaptation).
        layers: the NanoTrack blocks read (an int or a tuple; the first sets the stride).
        channels, kernel: output channels and kernel side of the adaptation convolution.
        backbone_weights: the NanoTrack state dict (``None``: the shared folder's).
        max_gap: the later frames are at most this many frames after the first.
        forward_frames: UDT: frames tracked forward before tracking back (2: the paper's
            multiple-frame validation T -> S1 -> S2 -> T; 1: plain forward-backward).
        unlabelled: UDT: extra comma-separated folders / video files of unlabelled video;
            the word ``shared`` stands for the shared folder's ``data/videos`` and
            ``data/MOT17/train`` (their ``img1`` frames; no annotation is read).
        video_side: decoded video frames are shrunk to at most this shorter side (px).
        shift: supervised: maximum random shift of the search crop (fraction of the target).
        drop_fraction: UDT: fraction of highest-loss samples dropped per batch.
        motion_weight: UDT: weight samples by their motion (paper Eq. 8); ``False``: equal.
        min_target, max_target: UDT: random target side as a fraction of the frame's shorter
            side.
        momentum: SGD momentum.
        loss: the response-map regression loss, a name of
            :data:`trackkit.training.losses.REGRESSION_LOSSES`: ``l2`` (the papers' squared
            error), ``l1``, ``l3``, ``shrinkage`` (Lu et al. ECCV 2018, ``a = 10``,
            ``c = 0.2``); summed over the map, as the squared error is.
    """

    RANGES: ClassVar[str] = (
        "max_gap >= 1; forward_frames >= 1; drop_fraction in [0, 1); min_target > 0; "
        "max_target in [min_target, 1]; channels >= 1; video_side >= 32"
    )

    mode: str = "udt"
    features: str = "conv"
    layers: Any = (1, 3)
    channels: int = 32
    kernel: int = 1
    backbone_weights: str | None = None
    max_gap: int = 10
    forward_frames: int = 2
    unlabelled: str = ""
    video_side: int = 360
    shift: float = 0.3
    drop_fraction: float = 0.1
    motion_weight: bool = True
    min_target: float = 0.1
    max_target: float = 0.35
    momentum: float = 0.9
    weight_decay: float = 5e-5
    loss: str = "l2"

    def validate(self) -> None:
        from trackkit.training.losses import regression_loss

        require(self.mode in ("udt", "supervised"), "mode: udt or supervised")
        require(self.features in FEATURE_KINDS, f"features: one of {', '.join(FEATURE_KINDS)}")
        require(self.kernel in (1, 3), "kernel: 1 or 3")
        layers = self.layer_indices()
        require(len(layers) >= 1 and all(0 < i < 10 for i in layers), "layers: blocks 1..9")
        regression_loss(self.loss)

    def layer_indices(self) -> tuple[int, ...]:
        """``layers`` as a tuple of ints (``--set layers=1`` gives an int)."""
        raw = self.layers if isinstance(self.layers, (tuple, list)) else (self.layers,)
        try:
            return tuple(int(i) for i in raw)
        except (TypeError, ValueError):
            raise ConfigError(f"layers: block indices, e.g. 1,3 (got {self.layers!r})") from None


def cost_sensitive_weights(losses: Any, motion: Any, drop_fraction: float) -> Any:
    """UDT's cost-sensitive sample weights (Wang et al. CVPR 2019, Sec. 3.4).

    Args:
        losses: ``(N,)`` per-sample consistency losses.
        motion: ``(N,)`` per-sample motion ``A_motion`` (``None``: all equal).
        drop_fraction: the ``floor(drop_fraction * N)`` samples with the largest loss get
            weight 0 (noisy pairs: the forward tracking failed).

    Returns:
        ``(N,)`` weights, 0 for the dropped samples, the others ``motion / mean(kept
        motion)`` (mean 1 over the kept samples; all 1 when there is no motion), so
        ``sum(w * losses) / n_kept`` is the plain mean of the kept losses when motion is
        uniform.
    """
    import torch

    n = int(losses.shape[0])
    keep = torch.ones(n, dtype=losses.dtype)
    n_drop = int(drop_fraction * n)
    if n_drop:
        keep[torch.argsort(losses.detach(), descending=True)[:n_drop]] = 0.0
    if motion is None:
        return keep
    m = motion.detach().to(losses.dtype) * keep
    total = float(m.sum())
    if total <= 0.0:
        return keep
    return m * (float(keep.sum()) / total)


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
        self._clips: list[Clip] = []

    # -- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        cfg, opts = self.cfg, self.opts
        self.model = build_dcf_features(
            cfg.features,
            layers=cfg.layer_indices(),
            channels=cfg.channels,
            kernel=cfg.kernel,
            backbone_weights=cfg.backbone_weights,
        )
        self.pretrained = dict(self.model.record)
        if opts.init_weights is not None:
            start = load_dcf_features(opts.init_weights, cfg.backbone_weights)
            self.model.head.load_state_dict(start.head.state_dict())
        self.make_optimizer(adam=False, cfg=cfg, momentum=cfg.momentum)
        roots = list(opts.data)
        if cfg.mode == "supervised":
            from trackkit.sot.runner import find_sequences

            self._seqs = [s for r in roots for s in find_sequences(r) if len(s) >= 2]
            if not self._seqs:
                raise DataNotFoundError(
                    f"{', '.join(map(str, roots))}: no annotated sequence with 2+ frames"
                )
            self.sequence_names = [s.name for s in self._seqs]
        else:
            roots += expand_unlabelled(cfg.unlabelled)
            self._clips = find_clips(roots, cfg.forward_frames + 1, cfg.video_side)
            if not self._clips:
                raise DataNotFoundError(
                    f"{', '.join(map(str, roots))}: no folder with "
                    f"{cfg.forward_frames + 1}+ frames (and no video file)"
                )
            self.sequence_names = [c.name for c in self._clips]
        n = cfg.crop_size
        with torch.no_grad():
            shape = tuple(self.model(torch.zeros(1, 3, n, n)).shape[-2:])
        sigma = n / (1 + cfg.padding) * cfg.output_sigma_factor / self.model.stride
        self._label = torch.from_numpy(gaussian_label(shape, sigma))
        self._label_f = torch.fft.rfft2(self._label)[None, None]
        self._cos = torch.from_numpy(hann2d(shape))
        log.info(
            "dcfnet %s (%s features) training on %d %s",
            cfg.mode,
            cfg.features,
            len(self._seqs) or len(self._clips),
            "sequences" if self._seqs else "clips",
        )

    def arch_config(self) -> dict[str, Any]:
        cfg = self.cfg
        out: dict[str, Any] = {"features": cfg.features, "conv_padding": 1}
        if cfg.features != "conv":
            out.update(layers=list(cfg.layer_indices()), channels=cfg.channels, kernel=cfg.kernel)
        out.update(crop_size=cfg.crop_size, padding=cfg.padding)
        return out

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
        # The target sits at -shift in the search crop (feature cells).
        k = self.cfg.crop_size / side_b / self.model.stride
        return z, x, np.array([-dy * k, -dx * k])

    def _udt_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Crops of one random box (UDT's random initialisation) in ``forward_frames + 1``
        frames of one clip: the first, then later ones within ``max_gap`` frames of it, in
        order (the same box in every frame: the network does not know where it went)."""
        cfg = self.cfg
        clip = self._clips[int(rng.integers(len(self._clips)))]
        k = cfg.forward_frames
        span = min(len(clip) - 1, max(cfg.max_gap, k))
        i = int(rng.integers(len(clip) - span))
        later = np.sort(rng.choice(np.arange(i + 1, i + span + 1), size=k, replace=False))
        imgs = [clip.frame(t) for t in (i, *later.tolist())]
        h, w = imgs[0].shape[:2]
        tgt = rng.uniform(cfg.min_target, cfg.max_target) * min(h, w)
        cx = rng.uniform(tgt / 2, max(w - tgt / 2, tgt / 2 + 1))
        cy = rng.uniform(tgt / 2, max(h - tgt / 2, tgt / 2 + 1))
        side = tgt * (1 + cfg.padding)
        return tuple(self._crop(im, (cx, cy), side) for im in imgs)

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """Supervised: ``(templates, searches, shifts)``; UDT: ``(T, S1, ..., Sk)`` crops,
        each ``(B, 3, n, n)`` float32 BGR 0..255."""
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
                m = self.cfg.forward_frames + 1
                yield tuple(self._tensor(np.stack([t[j] for t in trip])) for j in range(m))

    def _tensor(self, crops: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(crops).permute(0, 3, 1, 2).float()

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

    def udt_loss(self, crops: Sequence[Any]) -> tuple[Any, Any, Any]:
        """UDT's forward-backward consistency on ``crops = (T, S1, ..., Sk)``.

        Returns:
            ``(per, motion, backward)``: per-sample losses ``(B,)`` (differentiable),
            motion ``(B,)`` (``sum_k ||R_Sk - Y_S(k-1)||^2``, no gradient) and the backward
            response on ``T`` ``(B, 1, h, w)``.
        """
        import torch

        cfg, net, cos = self.cfg, self.model, self._cos
        feats = [net(c) for c in crops]
        label = self._label.expand(len(crops[0]), 1, *self._label.shape)
        motion = torch.zeros(len(crops[0]))
        with torch.no_grad():  # forward tracking: pseudo labels from the response peaks
            for k in range(1, len(feats)):
                resp = dcf_response(feats[k - 1], feats[k], torch.fft.rfft2(label), cos, cfg.reg)
                motion += torch.sum((resp - label) ** 2, dim=(1, 2, 3))
                label = self._shifted_labels(self._peaks(resp))
        back = dcf_response(feats[-1], feats[0], torch.fft.rfft2(label), cos, cfg.reg)
        per = torch.sum(self._map_loss(back, self._label), dim=(1, 2, 3))
        return per, motion, back

    def step(self, batch: Any, epoch: int = 0, index: int = 0) -> dict[str, float]:
        """One SGD step on the DCF (supervised) or UDT consistency loss."""
        import torch

        cfg = self.cfg
        if cfg.mode == "supervised":
            z, x, shifts = batch
            net = self.model
            label = self._shifted_labels(torch.round(shifts).long())
            resp = dcf_response(net(z), net(x), self._label_f, self._cos, cfg.reg)
            loss = torch.sum(self._map_loss(resp, label)) / z.shape[0]
            return {"loss": self.descend(loss)}
        per, motion, _ = self.udt_loss(batch)
        weight = cost_sensitive_weights(per, motion if cfg.motion_weight else None,
                                        cfg.drop_fraction)  # fmt: skip
        kept = len(per) - int(cfg.drop_fraction * len(per))
        loss = torch.sum(weight * per) / max(kept, 1)
        return {"loss": self.descend(loss), "consistency": float(per.detach().mean())}

    def export_state(self) -> dict[str, Any]:
        """The learned tensors (the ``head``: the conv net, or the adaptation layer)."""
        return dict(self.model.head.state_dict())
