"""CREST: the correlation filter as a convolutional layer with residual learning (Song, Ma,
Gong, Zhang, Lau, Yang: "CREST: Convolutional Residual Learning for Visual Tracking", ICCV
2017).

Per video (the network is :mod:`trackkit.sot.nets.crest_net`):

1. first frame: a square search window of side ``(1 + padding) * sqrt(w * h)`` around the
   target is resampled to ``crop_size`` px (the target then spans about 64 px, the size
   NanoTrack's backbone was trained on); pretrained features of one block of NanoTrack v3's
   MobileNetV3 (:class:`~trackkit.sot.nets.layered.LayeredBackbone`; CREST used VGG-16
   conv4-3) are resampled to a grid of ``cell_size`` px cells (CREST: stride-8 VGG features
   resampled to 4 px cells; here stride 16 to 8 px), reduced to ``pca_channels`` channels by
   PCA fitted on this frame, scaled to unit RMS and tapered by a cosine window. The base layer
   (a convolution with a kernel the size of the target in cells), the spatial residual and the
   temporal residual are trained together to regress a Gaussian label (sigma ``label_sigma``
   times the target's cells) with the L2 loss plus weight decay: ``init_iters`` SGD steps;
   the temporal residual is then frozen;
2. every frame: the window around the last position is searched at ``scales`` (the paper's
   scale pyramid: 1, 0.95, 1.05), one backbone pass per scale; each response, divided by the
   first frame's trained peak (the score), is multiplied by CREST's Gaussian
   motion prior (sigma ``motion_sigma`` times the target's cells); the best scale gives the
   position (peak refined to sub-cell) and, when the scale-1 peak passes
   ``confidence_threshold``, the new size, damped: ``size *= 1 - damping + damping * s``;
3. online update: a frame whose peak passes ``confidence_threshold`` is stored (its features
   and a label centred on the found position); every ``update_interval`` frames the base layer
   and the spatial residual take ``update_iters`` steps on the ``update_frames`` last stored
   frames (paper: every 2 frames, 2 epochs); the temporal residual stays fixed.

Frames ``(H, W, 3)`` uint8 BGR (or gray); boxes ``xyxy`` float64. Deterministic: the network
is initialised from a seeded ``torch.Generator``; every torch operation runs on one torch
thread (``threads`` > 1 runs the backbone passes of the scales side by side in Python threads),
so the output is bit-identical whatever the thread count.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets.layered import torch_threads
from trackkit.sot.ops.crops import REPLICATE, as_bgr, crop_region
from trackkit.sot.ops.dcf import hann2d, subpixel_peak

__all__ = ["CRESTConfig", "CRESTTracker"]


@dataclass(frozen=True)
class CRESTConfig(NetTrackerConfig):
    """Configuration of :class:`CRESTTracker` (Song et al., ICCV 2017); the values follow the
    paper and its authors' release where they carry over (64 PCA channels, label sigma 0.1
    and motion prior 0.6 of the target, SGD with momentum 0.9, update every 2 frames with 2
    epochs, scales 1 / 0.95 / 1.05 with damping 0.6, confidence 0.15); the window (4x the
    target's mean side), the feature grid and the bounded first-frame iterations are this CPU
    port's; ``init_lr`` was chosen by k-fold by video on the shared sequences
    (docs/sot-crest.md).

    Attributes:
        weights: NanoTrack v3 state dict (``None``: the shared folder's).
        threads: backbone passes (one per scale) run side by side, each on one torch thread.
        lost_threshold: a frame whose response peak is below it is reported lost (default
            0.48: Youden's threshold of
            ``benchmarks/sot_lost.py`` on the shared sequences, like every tracker's).
        layer: NanoTrack v3 block read (4..9; 9: the last, 96 channels, stride 16).
        pca_channels: channels kept by the first frame's PCA (0: no reduction).
        padding: the search window's side is ``(1 + padding) * sqrt(w * h)``.
        crop_size: side (px) the window is resampled to.
        cell_size: crop pixels per feature cell (features are resampled to this grid).
        label_sigma: Gaussian label sigma, fraction of the target's size in cells.
        motion_sigma: motion prior sigma, fraction of the target's size in cells (0: none).
        init_lr, init_iters: SGD learning rate and steps in the first frame.
        update_lr, update_iters: SGD learning rate and steps of each online update.
        momentum: SGD momentum (matconvnet's 0.9, as the authors' release).
        update_interval: frames between online updates.
        update_frames: stored confident frames used by an update.
        confidence_threshold: a peak below it is not stored for updates and keeps the scale.
        weight_decay: L2 weight decay of every layer (the paper's regulariser).
        scales: search scale factors (the first must be 1).
        scale_damping: weight of the new scale (``size *= 1 - d + d * s``).
        min_scale, max_scale: bounds of the target size relative to the first frame.
        seed: seed of the network's initialisation.
    """

    RANGES: ClassVar[str] = (
        "layer in [4, 9]; pca_channels >= 0; padding > 0; crop_size >= 32; cell_size >= 1; "
        "label_sigma > 0; motion_sigma >= 0; init_lr > 0; init_iters >= 1; update_lr >= 0; "
        "momentum in [0, 1); update_iters >= 0; update_interval >= 1; update_frames >= 1; "
        "confidence_threshold >= 0; weight_decay >= 0; scale_damping in [0, 1]; "
        "min_scale in (0, 1]; max_scale >= 1"
    )

    lost_threshold: float | None = 0.48
    layer: int = 9
    pca_channels: int = 64
    padding: float = 3.0
    crop_size: int = 256
    cell_size: int = 8
    label_sigma: float = 0.1
    motion_sigma: float = 0.6
    init_lr: float = 3e-5
    init_iters: int = 60
    update_lr: float = 4e-6
    momentum: float = 0.9
    update_iters: int = 2
    update_interval: int = 2
    update_frames: int = 2
    confidence_threshold: float = 0.15
    weight_decay: float = 1e-4
    scales: tuple[float, ...] = (1.0, 0.95, 1.05)
    scale_damping: float = 0.6
    min_scale: float = 0.2
    max_scale: float = 5.0
    seed: int = 0

    def validate(self) -> None:
        from trackkit.sot.nets.layered import layer_channels

        require(
            len(self.scales) >= 1 and self.scales[0] == 1.0 and all(s > 0 for s in self.scales),
            "scales: positive factors, the first 1.0 (e.g. 1.0,0.95,1.05)",
        )
        require(
            self.pca_channels <= layer_channels(self.layer),
            f"pca_channels: at most {layer_channels(self.layer)} (block {self.layer}'s channels)",
        )
        require(
            self.crop_size // self.cell_size >= 5,
            "crop_size / cell_size: at least 5 feature cells",
        )


def _gaussian(n: int, center: tuple[float, float], sigma: tuple[float, float]) -> Any:
    """``(n, n)`` float32 Gaussian with its peak (1) at grid ``center`` ``(y, x)``."""
    idx = np.arange(n, dtype=np.float64)
    gy = np.exp(-0.5 * ((idx - center[0]) / sigma[0]) ** 2)
    gx = np.exp(-0.5 * ((idx - center[1]) / sigma[1]) ** 2)
    return np.outer(gy, gx).astype(np.float32)


@SOT_TRACKERS.register("crest")
class CRESTTracker(SOTTracker):
    """CREST (Song 2017): a convolutional correlation filter with spatial and temporal
    residuals, trained online by gradient descent on NanoTrack v3 features; needs torch."""

    config_class = CRESTConfig
    config: CRESTConfig
    #: the online network (:func:`~trackkit.sot.nets.crest_net.build_crest_net`), per video
    _crest: Any = None
    #: stored confident frames: ``(features (1, C, n, n), label (1, 1, n, n))``
    _memory: deque[tuple[Any, Any]]

    def _load_network(self) -> Any:
        from trackkit.sot.nets.layered import LayeredBackbone

        return LayeredBackbone(
            "nanotrack_v3", layers=(self.config.layer,), weights=self.config.weights, threads=1
        )

    def reset(self) -> None:
        """Forget the target and the online network (the backbone stays loaded)."""
        super().reset()
        self._crest = None
        self._memory = deque()

    # -- features -------------------------------------------------------------------------
    def _raw_features(self, frame: NDArray[np.uint8], factors: list[float]) -> Any:
        """``(S, C_block, n, n)`` block features of the window at each scale factor."""
        torch, cfg = self._torch, self.config
        c = cfg.crop_size
        side = self._window
        crops = np.stack(
            [
                crop_region(frame, self._center, (side * f, side * f), (c, c), border=REPLICATE)
                for f in factors
            ]
        )
        x = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2))).float()
        net = self._network()

        def one(i: int) -> Any:
            with torch.no_grad():
                return net.forward(x[i : i + 1])[0]

        # One crop per pass on one torch thread each, ``threads`` passes at a time: the
        # features do not depend on the thread count (torch's intra-op threading would change
        # the summation order of the convolutions, hence the last bits).
        with torch.no_grad(), torch_threads(1):
            if cfg.threads > 1 and len(x) > 1:
                with ThreadPoolExecutor(max_workers=min(cfg.threads, len(x))) as pool:
                    feat = torch.cat(list(pool.map(one, range(len(x)))))
            else:
                feat = torch.cat([one(i) for i in range(len(x))])
            return torch.nn.functional.interpolate(
                feat, size=(self._n, self._n), mode="bilinear", align_corners=False
            )

    def _reduce(self, feat: Any) -> Any:
        """PCA projection, unit-RMS scaling and cosine window: ``(S, C, n, n)``."""
        torch = self._torch
        with torch.no_grad(), torch_threads(1):
            if self._basis is not None:
                feat = torch.einsum("kc,schw->skhw", self._basis, feat)
            return feat * (self._cos / self._fscale)

    def _label(self, dy: float, dx: float) -> Any:
        c = self._n // 2
        g = _gaussian(self._n, (c + dy, c + dx), self._sigma)
        return self._torch.from_numpy(g)[None, None]

    # -- tracking -------------------------------------------------------------------------
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        from trackkit.sot.nets.crest_net import build_crest_net, pca_basis, train_steps

        self._torch = torch
        cfg = self.config
        img = as_bgr(frame)
        self._network()
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        self._center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        self._size0 = (w, h)
        self._size = (w, h)
        self._window = (1.0 + cfg.padding) * math.sqrt(w * h)
        n = cfg.crop_size // cfg.cell_size
        self._n = n + 1 if n % 2 == 0 else n
        cells = self._n / self._window  # cells per image pixel
        self._cells = (h * cells, w * cells)  # the target's (h, w) in cells
        self._sigma = (
            max(cfg.label_sigma * self._cells[0], 0.5),
            max(cfg.label_sigma * self._cells[1], 0.5),
        )
        self._cos = torch.from_numpy(hann2d((self._n, self._n)))
        if cfg.motion_sigma > 0:
            ms = (cfg.motion_sigma * self._cells[0], cfg.motion_sigma * self._cells[1])
            self._prior = _gaussian(self._n, (self._n // 2, self._n // 2), ms)
        else:
            self._prior = np.ones((self._n, self._n), np.float32)
        self._basis = None
        self._fscale = 1.0
        raw = self._raw_features(img, [1.0])
        with torch_threads(1):
            if cfg.pca_channels:
                self._basis = pca_basis(raw[0], cfg.pca_channels)
            first = self._reduce(raw)
            self._fscale = float(first.pow(2).mean().sqrt().clamp_min(1e-6))
            first = first / self._fscale
            self._crest, self.init_losses = self._first_frame(first, build_crest_net, train_steps)
            self._crest.freeze_temporal()
            with torch.no_grad():
                self._peak0 = max(float(self._crest(first).max()), 1e-6)
            self._opt = torch.optim.SGD(
                self._crest.online_parameters(),
                lr=cfg.update_lr,
                momentum=cfg.momentum,
                weight_decay=cfg.weight_decay,
            )
        self._memory = deque(maxlen=cfg.update_frames)
        self._frame = 0

    def _first_frame(self, first: Any, build: Any, train: Any) -> tuple[Any, list[float]]:
        """Train the three parts on the first frame: ``init_iters`` SGD steps (the paper's
        optimiser; plain gradient descent from zero converges towards the minimum-norm filter,
        which generalises, where Adam's per-weight steps overfit). A diverging run (a loss
        that is not finite or grows tenfold) restarts at half the rate, at most 4 times."""
        from trackkit.sot.nets.crest_net import kernel_size, regression_loss

        torch, cfg = self._torch, self.config
        label = self._label(0.0, 0.0)
        lr = cfg.init_lr
        for _ in range(5):
            net = build(first.shape[1], kernel_size(self._cells), cfg.seed)
            opt = torch.optim.SGD(
                net.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
            losses = train(net, opt, first, label, cfg.init_iters)
            with torch.no_grad():
                last = float(regression_loss(net(first), label))
            if math.isfinite(last) and last <= 10.0 * max(losses[0], 1e-12):
                break
            lr *= 0.5
        return net, losses

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        torch, cfg = self._torch, self.config
        img = as_bgr(frame)
        feats = self._reduce(self._raw_features(img, list(cfg.scales)))
        with torch.no_grad(), torch_threads(1):
            resp = self._crest(feats)[:, 0].numpy() / self._peak0
        weighted = resp * self._prior
        peaks = weighted.reshape(len(resp), -1).max(axis=1)
        best = int(np.argmax(peaks)) if peaks[0] >= cfg.confidence_threshold else 0
        c = self._n // 2
        # subpixel_peak reads a circular map with the origin at [0, 0]: roll the centre there
        dy, dx, _ = subpixel_peak(np.roll(weighted[best], (-c, -c), axis=(0, 1)))
        r, q = divmod(int(np.argmax(weighted[best])), self._n)
        score = float(resp[best, r, q])
        factor = float(cfg.scales[best])
        cell_px = self._window * factor / self._n
        fh, fw = img.shape[:2]
        cx = float(np.clip(self._center[0] + dx * cell_px, 0.0, fw))
        cy = float(np.clip(self._center[1] + dy * cell_px, 0.0, fh))
        self._center = (cx, cy)
        if best != 0:
            change = 1.0 - cfg.scale_damping + cfg.scale_damping * factor
            rel = self._size[0] * change / self._size0[0]
            rel = float(np.clip(rel, cfg.min_scale, cfg.max_scale))
            self._size = (self._size0[0] * rel, self._size0[1] * rel)
            self._window = (1.0 + cfg.padding) * math.sqrt(self._size[0] * self._size[1])
        self._frame += 1
        if score >= cfg.confidence_threshold and cfg.update_iters > 0 and cfg.update_lr > 0:
            self._memory.append((feats[best : best + 1], self._label(dy, dx)))
        if self._frame % cfg.update_interval == 0 and self._memory:
            from trackkit.sot.nets.crest_net import train_steps

            x = torch.cat([m[0] for m in self._memory])
            y = torch.cat([m[1] for m in self._memory])
            with torch_threads(1):
                train_steps(self._crest, self._opt, x, y, cfg.update_iters)
        w, h = self._size
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
        return SOTResult(box, score)
