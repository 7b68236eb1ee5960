"""DSLT: deep regression tracking with the shrinkage loss (Lu, Ma, Ni, Yang, Reid, Yang: Deep
Regression Tracking with Shrinkage Loss, ECCV 2018), with DSST scale estimation (Danelljan et
al., BMVC 2014; :mod:`trackkit.sot.ops.dsst`).

A padded window around the target (``1 + padding`` times its size) is resampled to a patch of
about ``input_size**2`` pixels (aspect ratio kept, sides a multiple of 16) and read by a frozen
pretrained backbone at two depths (:class:`~trackkit.sot.nets.layered.LayeredBackbone`:
NanoTrack v3's MobileNetV3 blocks 3 and 9 by default, strides 8 and 16: the last block of its
last two stages, as the paper's VGG-16 conv4-3 and conv5-3). Both maps are resized to one
grid of ``cell``-pixel cells, scaled to a unit mean cell norm (fixed on the first frame) and
concatenated. A regression layer (:class:`~trackkit.sot.nets.regression.RegressionHead`: a
1x1 channel reduction, then a convolution whose kernel covers the target) maps them to a
response that should be a Gaussian label on the target (``label_sigma`` times the target
size in cells). It is trained on the first frame by Adam with the shrinkage loss
``exp(y) l^2 / (1 + exp(a (c - l)))``, ``l = |response - label|`` (paper eq. 6, ``a = 10``,
``c = 0.2``; :func:`trackkit.training.losses.shrinkage_loss`), then every ``update_interval``
accepted frames ``update_iterations`` more steps are taken on the first frame and the last
``memory - 1`` accepted frames (paper: T = 7), with a learning rate ``update_lr`` (the paper's
update rate is a quarter of its first-frame rate). A frame is accepted when its response peak
is at least ``update_threshold`` times the running mean of the accepted peaks (an occlusion
guard; the paper accepts every frame).

Each frame the response on the window around the last position is multiplied by a broad
Gaussian motion prior (``motion_sigma`` times the target size, the authors' released code),
its peak (refined to sub-cell precision) moves the target, the DSST filter estimates the
scale, and the search features with a label at the found position become a training sample
(one backbone pass per frame).

Frames: ``(H, W, 3)`` uint8 BGR (or ``(H, W)`` gray); boxes ``xyxy`` float64 continuous
pixels; the score of a frame is the peak of the raw response (1 on a perfect match). torch is
imported lazily. Deterministic (seeded initialisation, no sampling); inputs are not modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets.layered import check_layers, single_threaded
from trackkit.sot.ops.crops import REPLICATE, as_bgr, crop_region
from trackkit.sot.ops.dcf import subpixel_peak
from trackkit.sot.ops.dsst import DSSTConfig, ScaleFilter

__all__ = ["DSLTConfig", "DSLTTracker"]

#: the stride every patch side is a multiple of (the backbone's deepest stride)
_ALIGN = 16
#: the losses the regression layer can be trained with
_LOSSES = ("shrinkage", "l2", "l3")


@dataclass(frozen=True)
class DSLTConfig(NetTrackerConfig):
    """Hyper-parameters of DSLT (paper defaults where the paper gives them; only
    ``update_threshold`` was chosen on trackkit's shared sequences, by k-fold by sequence).

    Attributes:
        weights: the NanoTrack state dict; ``None`` takes the shared folder's
            ``weights/nanotrack_v3/*state_dict.pt`` (missing: one-line DataNotFoundError).
        threads: unused here (one patch per frame; the tracker runs on one torch thread, so
            its output does not depend on the caller's thread count).
        lost_threshold: frames whose response peak is below it are reported lost; ``None``:
            never (default 0.33: Youden's threshold of
            ``benchmarks/sot_lost.py`` on the shared sequences, like every tracker's).
        backbone: ``nanotrack_v3`` or ``nanotrack_v2``.
        layers: increasing block indices read from the backbone (2 or 3 depths).
        padding: the window is ``1 + padding`` times the target, per axis.
        input_size: the window is resampled to about ``input_size**2`` pixels.
        cell: side (patch pixels) of a cell of the common grid (8: the stride of block 3).
        reduce_channels: channels after the 1x1 reduction (paper: 512 -> 128, a quarter;
            here 24 + 96 = 120 -> 32).
        max_kernel: largest side (cells) of the regression kernel (the target's size in
            cells, made odd).
        label_sigma: Gaussian label width as a fraction of the target's width / height
            (paper: 0.1).
        loss: ``shrinkage`` (paper), ``l2`` or ``l3`` (the paper's comparisons).
        shrinkage_a, shrinkage_c: the shrinkage loss's ``a`` and ``c`` (paper: 10, 0.2).
        target_weight: the shrinkage loss's ``exp(label)`` factor (paper eq. 6).
        lr: Adam learning rate of the first frame (features normalised to unit cell norm;
            the paper's 8e-7 is for raw VGG features).
        init_iterations: first-frame steps (authors' code: at most 100).
        update_lr: Adam learning rate of the online updates (paper: a quarter of ``lr``).
        update_iterations: steps per update (authors' code: 2).
        update_interval: update every this many frames (authors' code: 1; 2 here halves
            the CPU cost, chosen for speed, not on tracking scores).
        memory: training samples kept: the first frame and the last ``memory - 1`` tracked
            frames (paper: T = 7).
        update_threshold: a frame becomes a training sample (and triggers the update) only
            when its response peak is at least this fraction of the running mean of the
            accepted peaks (protects the model during occlusions; as trackkit's DCFNet). 0 is
            the paper's (every frame); 0.7 (default) was chosen over 0 by 3-fold selection by
            sequence on the shared sequences (docs/sot-dslt.md: held-out scores).
        motion_sigma: width of the Gaussian motion prior multiplied into the response, as a
            fraction of the target size (authors' code: 0.65); 0 turns it off.
        scale_estimation: estimate the scale with a DSST scale filter.
        dsst: its hyper-parameters.
        seed: seed of the regression layer's initialisation.
    """

    RANGES: ClassVar[str] = (
        "padding >= 0; input_size >= 64; input_size <= 1024; cell >= 4; cell <= 16; "
        "reduce_channels >= 1; max_kernel >= 1; label_sigma > 0; shrinkage_a > 0; "
        "lr > 0; init_iterations >= 0; update_lr >= 0; update_iterations >= 0; "
        "update_interval >= 1; memory >= 1; motion_sigma >= 0; seed >= 0; "
        "update_threshold in [0, 1)"
    )

    lost_threshold: float | None = 0.33
    backbone: str = "nanotrack_v3"
    layers: tuple[int, ...] = (3, 9)
    padding: float = 2.0
    input_size: int = 256
    cell: int = 8
    reduce_channels: int = 32
    max_kernel: int = 15
    label_sigma: float = 0.1
    loss: str = "shrinkage"
    shrinkage_a: float = 10.0
    shrinkage_c: float = 0.2
    target_weight: bool = True
    lr: float = 1e-3
    init_iterations: int = 100
    update_lr: float = 2.5e-4
    update_iterations: int = 2
    update_interval: int = 2
    memory: int = 7
    update_threshold: float = 0.7
    motion_sigma: float = 0.65
    scale_estimation: bool = True
    dsst: DSSTConfig = field(default_factory=DSSTConfig)
    seed: int = 0

    def validate(self) -> None:
        check_layers(self.backbone, self.layers)
        require(self.loss in _LOSSES, f"loss: one of {', '.join(_LOSSES)}")
        require(isinstance(self.dsst, DSSTConfig), "dsst: a DSSTConfig")


def gaussian_map(
    grid: tuple[int, int], center: tuple[float, float], sigma: tuple[float, float]
) -> NDArray[np.float32]:
    """``(H, W)`` float32 Gaussian with peak 1 at ``center`` = ``(y, x)`` in cell coordinates
    (cell ``i``'s centre is ``i``), widths ``sigma`` = ``(sy, sx)`` in cells."""
    y = (np.arange(grid[0]) - center[0]) / sigma[0]
    x = (np.arange(grid[1]) - center[1]) / sigma[1]
    return np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)


@SOT_TRACKERS.register("dslt")
class DSLTTracker(SOTTracker):
    """Deep regression on multi-layer pretrained features trained with the shrinkage loss
    (Lu 2018), DSST scale; needs torch and the NanoTrack state dict."""

    config_class = DSLTConfig
    config: DSLTConfig

    def _load_network(self) -> Any:
        from trackkit.sot.nets.layered import LayeredBackbone

        cfg = self.config
        return LayeredBackbone(cfg.backbone, cfg.layers, cfg.weights, cfg.threads)

    # -- pieces (also used by benchmarks/shrinkage_loss.py) ----------------------------------
    def loss_function(self) -> Any:
        """``(response, label) -> 0-d tensor``: the configured loss, mean-reduced."""
        from trackkit.training.losses import l2_loss, l3_loss, shrinkage_loss

        cfg = self.config
        if cfg.loss == "l2":
            return l2_loss
        if cfg.loss == "l3":
            return l3_loss
        return lambda p, y: shrinkage_loss(
            p, y, cfg.shrinkage_a, cfg.shrinkage_c, target_weight=cfg.target_weight
        )

    def setup_geometry(self, frame_size: tuple[int, int], box: NDArray[np.float64]) -> None:
        """Window, patch, grid, kernel and label widths for a target ``box`` (``xyxy``)."""
        cfg = self.config
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        self._center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        self._size = (w, h)
        self._scale = 1.0
        self._window = (w * (1.0 + cfg.padding), h * (1.0 + cfg.padding))
        k = cfg.input_size / math.sqrt(self._window[0] * self._window[1])
        pw = max(2, round(self._window[0] * k / _ALIGN)) * _ALIGN
        ph = max(2, round(self._window[1] * k / _ALIGN)) * _ALIGN
        self._patch_size = (pw, ph)
        self._grid = (max(2, ph // cfg.cell), max(2, pw // cfg.cell))
        self._px_per_cell = (self._window[0] / self._grid[1], self._window[1] / self._grid[0])
        cells = (h / self._px_per_cell[1], w / self._px_per_cell[0])  # (y, x)
        ky, kx = (min(cfg.max_kernel | 1, max(1, int(round(c)) // 2 * 2 + 1)) for c in cells)
        self._kernel = (ky, kx)
        self._norms: list[float] | None = None
        self._sigma = (max(cfg.label_sigma * cells[0], 0.25), max(cfg.label_sigma * cells[1], 0.25))
        self._mid = ((self._grid[0] - 1) / 2.0, (self._grid[1] - 1) / 2.0)
        if cfg.motion_sigma > 0:
            s = (cfg.motion_sigma * cells[0], cfg.motion_sigma * cells[1])
            self._prior: NDArray[np.float32] | None = gaussian_map(self._grid, self._mid, s)
        else:
            self._prior = None

    def patch(
        self, frame: NDArray[np.uint8], center: tuple[float, float], scale: float
    ) -> NDArray[np.uint8]:
        """The ``(ph, pw, 3)`` patch of the window at ``center`` and ``scale``."""
        size = (self._window[0] * scale, self._window[1] * scale)
        return crop_region(frame, center, size, self._patch_size, border=REPLICATE)

    def features(self, patch: NDArray[np.uint8]) -> Any:
        """``(1, C, gh, gw)`` float32 tensor: every layer resized to the grid, normalised,
        concatenated (the normalisation is fixed by the first call after geometry)."""
        import torch

        maps = self._network().features(patch, self._grid)
        if self._norms is None:
            self._norms = [float(m.pow(2).sum(1).sqrt().mean().clamp_min(1e-6)) for m in maps]
        return torch.cat([m / n for m, n in zip(maps, self._norms, strict=True)], 1)

    def label(self, center: tuple[float, float]) -> Any:
        """``(1, 1, gh, gw)`` Gaussian label tensor peaking at ``center`` = ``(y, x)`` cells."""
        import torch

        return torch.from_numpy(gaussian_map(self._grid, center, self._sigma))[None, None]

    def new_head(self, in_channels: int) -> Any:
        """A freshly initialised regression layer (seeded) for this target's kernel."""
        from trackkit.sot.nets.regression import RegressionHead

        cfg = self.config
        return RegressionHead(in_channels, cfg.reduce_channels, self._kernel, cfg.seed)

    # -- protocol ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the target (regression layer, samples, scale model); the backbone stays."""
        super().reset()
        self._head: Any = None
        self._dsst: ScaleFilter | None = None
        self._samples: list[tuple[Any, Any]] = []

    def _steps(self, lr: float, iterations: int) -> None:
        import torch

        from trackkit.sot.nets.regression import fit_steps

        if iterations <= 0 or lr <= 0:
            return
        for group in self._optim.param_groups:
            group["lr"] = lr
        feats = torch.cat([s[0] for s in self._samples])
        labels = torch.cat([s[1] for s in self._samples])
        fit_steps(self._head, self._optim, feats, labels, self._loss, iterations)

    @single_threaded
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        cfg = self.config
        frame = as_bgr(frame)
        fh, fw = frame.shape[:2]
        self._network()
        self.setup_geometry((fw, fh), box)
        feats = self.features(self.patch(frame, self._center, 1.0))
        self._head = self.new_head(int(feats.shape[1]))
        self._optim = torch.optim.Adam(self._head.parameters(), lr=cfg.lr)
        self._loss = self.loss_function()
        self._first = (feats, self.label(self._mid))
        self._samples = [self._first]
        self._frame_index = 0
        self._peak_mean, self._peak_count = 0.0, 0
        self._steps(cfg.lr, cfg.init_iterations)
        self._dsst = None
        if cfg.scale_estimation:
            self._dsst = ScaleFilter(cfg.dsst, self._size, (fw, fh))
            self._dsst.update(frame, self._center, 1.0, 1.0)

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        import torch

        cfg = self.config
        frame = as_bgr(frame)
        fh, fw = frame.shape[:2]
        feats = self.features(self.patch(frame, self._center, self._scale))
        with torch.no_grad():
            raw = self._head(feats)[0, 0].numpy()
        response = raw * self._prior if self._prior is not None else raw
        # Peak relative to the window's centre, refined by a parabola (circular neighbours
        # are never used: the prior keeps the peak away from the border).
        gh, gw = self._grid
        dy, dx, _ = subpixel_peak(np.roll(response, (-(gh // 2), -(gw // 2)), axis=(0, 1)))
        dy += gh // 2 - self._mid[0]
        dx += gw // 2 - self._mid[1]
        r, c = np.unravel_index(int(np.argmax(response)), response.shape)
        score = float(raw[r, c])
        cx = self._center[0] + dx * self._px_per_cell[0] * self._scale
        cy = self._center[1] + dy * self._px_per_cell[1] * self._scale
        self._center = (float(np.clip(cx, 0.0, fw)), float(np.clip(cy, 0.0, fh)))
        if self._dsst is not None:
            self._scale = self._dsst.estimate(frame, self._center, self._scale)
            self._dsst.update(frame, self._center, self._scale, cfg.dsst.learning_rate)
        # The search window with a label at the found position is a new training sample.
        if score >= cfg.update_threshold * self._peak_mean:
            self._peak_count += 1
            self._peak_mean += (score - self._peak_mean) / self._peak_count
            self._samples.append((feats, self.label((self._mid[0] + dy, self._mid[1] + dx))))
            if len(self._samples) > cfg.memory:
                del self._samples[1]  # the first frame is always kept
            self._frame_index += 1
            if self._frame_index % cfg.update_interval == 0:
                self._steps(cfg.update_lr, cfg.update_iterations)
        w, h = self._size[0] * self._scale, self._size[1] * self._scale
        cx, cy = self._center
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
        return SOTResult(box, score)
