"""HCF: correlation filters on hierarchical convolutional features (Ma, Huang, Yang, Yang:
Hierarchical Convolutional Features for Visual Tracking, ICCV 2015), with DSST scale
estimation (Danelljan et al., BMVC 2014; :mod:`trackkit.sot.ops.dsst`).

Each frame a padded window around the target (``1 + padding`` times its size; the authors'
code narrows it for tall targets and for targets larger than a fraction of the frame) is
resampled to a patch of about ``input_size**2`` pixels that keeps the window's aspect ratio
(sides a multiple of 16, the deepest stride), read by a pretrained backbone at three depths
(:class:`~trackkit.sot.nets.layered.LayeredBackbone`: NanoTrack v3's MobileNetV3 blocks 3, 6,
9 by default: strides 8, 16, 16, channels 24, 40, 96, the last block of each stage as VGG's
conv3-4 / conv4-4 / conv5-4 in the paper). Every layer's features are resized (bilinear) to
one common grid of ``cell``-pixel cells, and one linear multi-channel correlation filter per
layer (:class:`~trackkit.sot.ops.hierarchical.LayerFilters`) gives a response; the responses
are fused with weights 1, 0.5, 0.25 from deep to shallow (the authors' released code), the
peak (refined to sub-cell precision) is the target's displacement, the DSST filter then
estimates the scale, and the filters are updated at the new position with rate 0.01.

Frames: ``(H, W, 3)`` uint8 BGR (or ``(H, W)`` gray); boxes ``xyxy`` float64 continuous
pixels. The score of a frame is the deepest layer's own response peak (before the fusion's
normalisation: 1 when its filter matches as on the training frame, lower as the target
leaves; the fused, normalised peak is close to 1 whether the target is there or not).
torch is imported lazily (the backbone), the filters are numpy.
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
from trackkit.sot.ops.hierarchical import LayerFilters

__all__ = ["HCFConfig", "HCFTracker"]

#: the stride every patch side is a multiple of (the backbone's deepest stride)
_ALIGN = 16


@dataclass(frozen=True)
class HCFConfig(NetTrackerConfig):
    """Hyper-parameters of HCF (defaults: the paper's and the authors' released code's; none
    was chosen on trackkit's shared sequences).

    Attributes:
        weights: the NanoTrack state dict; ``None`` takes the shared folder's
            ``weights/nanotrack_v3/*state_dict.pt`` (a missing file is a one-line
            DataNotFoundError).
        threads: unused here (one patch per frame; the tracker runs on one torch thread, so
            its output does not depend on the caller's thread count).
        lost_threshold: frames whose score (the deepest layer's response peak) is below it
            are reported lost; ``None``: never (default 0.26: Youden's threshold of
            ``benchmarks/sot_lost.py`` on the shared sequences, like every tracker's).
        backbone: ``nanotrack_v3`` or ``nanotrack_v2``.
        layers: increasing block indices read from the backbone (shallow to deep).
        layer_weights: fusion weight of each layer, same order as ``layers`` (paper: 1 for
            the deepest, then 0.5, 0.25).
        normalize_layers: divide each layer's response by its maximum before fusing (the
            authors' code).
        padding: the window is ``1 + padding`` times the target (paper: 1.8).
        padding_tall: vertical padding of targets more than twice as tall as wide (authors'
            code: 0.4); ``padding`` stays horizontal.
        padding_large: padding of targets covering more than ``large_fraction`` of the frame
            (authors' code: 1.0 above 5 %).
        large_fraction: see ``padding_large``.
        reg: ridge regularisation ``lambda`` (paper: 1e-4).
        learning_rate: interpolation rate ``eta`` of the numerators / denominators (0.01).
        output_sigma_factor: label width as a fraction of ``sqrt(w h)`` of the target in cells
            (0.1).
        input_size: the window is resampled to about ``input_size**2`` pixels (keeping its
            aspect ratio; the paper: 224 x 224 for VGG-19).
        cell: side (patch pixels) of a cell of the common feature grid (paper: 4).
        scale_estimation: estimate the scale with a DSST scale filter.
        dsst: its hyper-parameters.
        reuse_features: train on the search features shifted by the integer cell
            displacement instead of a second backbone pass at the new position (the paper's
            way, default ``False``).
    """

    RANGES: ClassVar[str] = (
        "padding >= 0; padding_tall >= 0; padding_large >= 0; large_fraction in (0, 1]; "
        "reg > 0; learning_rate in (0, 1]; output_sigma_factor > 0; input_size in [32, 1024]; "
        "cell in [1, 16]"
    )

    lost_threshold: float | None = 0.26
    backbone: str = "nanotrack_v3"
    layers: tuple[int, ...] = (3, 6, 9)
    layer_weights: tuple[float, ...] = (0.25, 0.5, 1.0)
    normalize_layers: bool = True
    padding: float = 1.8
    padding_tall: float = 0.4
    padding_large: float = 1.0
    large_fraction: float = 0.05
    reg: float = 1e-4
    learning_rate: float = 0.01
    output_sigma_factor: float = 0.1
    input_size: int = 224
    cell: int = 4
    scale_estimation: bool = True
    dsst: DSSTConfig = field(default_factory=DSSTConfig)
    reuse_features: bool = False

    def validate(self) -> None:
        layers = list(check_layers(self.backbone, self.layers))
        require(
            len(self.layer_weights) == len(layers)
            and all(isinstance(g, (int, float)) and math.isfinite(g) and g >= 0
                    for g in self.layer_weights)
            and sum(self.layer_weights) > 0,
            f"layer_weights: {len(layers)} numbers >= 0 (one per layer), not all 0",
        )  # fmt: skip
        require(isinstance(self.dsst, DSSTConfig), "dsst: a DSSTConfig")


@SOT_TRACKERS.register("hcf")
class HCFTracker(SOTTracker):
    """Hierarchical convolutional features, one correlation filter per layer (Ma 2015); torch.

    Translation from the fused per-layer responses, scale from a DSST filter; the backbone
    is NanoTrack v3's pretrained MobileNetV3 (see :class:`HCFConfig`)."""

    config_class = HCFConfig
    config: HCFConfig
    _filters: LayerFilters | None = None
    _dsst: ScaleFilter | None = None

    def _load_network(self) -> Any:
        from trackkit.sot.nets.layered import LayeredBackbone

        cfg = self.config
        return LayeredBackbone(cfg.backbone, cfg.layers, cfg.weights, cfg.threads)

    # -- features --------------------------------------------------------------------------
    def _features(self, patch: NDArray[np.uint8]) -> list[NDArray[np.float32]]:
        """``(C_l, h, w)`` float32 features of each layer of one ``(ph, pw, 3)`` BGR patch,
        resized (bilinear) to the common grid."""
        return [f[0].numpy() for f in self._network().features(patch, self._grid)]

    def _patch(self, frame: NDArray[np.uint8], center: tuple[float, float]) -> NDArray[np.uint8]:
        size = (self._window[0] * self._scale, self._window[1] * self._scale)
        return crop_region(frame, center, size, self._patch_size, border=REPLICATE)

    # -- protocol --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the target (filters and scale model); the backbone stays loaded."""
        super().reset()
        self._filters = None
        self._dsst = None

    @single_threaded
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        cfg = self.config
        self._network()
        frame = as_bgr(frame)
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        fh, fw = frame.shape[:2]
        self._center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        self._size = (w, h)
        self._scale = 1.0
        if h / w > 2.0:
            pad_x, pad_y = cfg.padding, cfg.padding_tall
        elif w * h / (fw * fh) > cfg.large_fraction:
            pad_x = pad_y = cfg.padding_large
        else:
            pad_x = pad_y = cfg.padding
        self._window = (w * (1.0 + pad_x), h * (1.0 + pad_y))
        # A patch of about input_size**2 pixels with the window's aspect ratio.
        k = cfg.input_size / math.sqrt(self._window[0] * self._window[1])
        pw = max(2, round(self._window[0] * k / _ALIGN)) * _ALIGN
        ph = max(2, round(self._window[1] * k / _ALIGN)) * _ALIGN
        self._patch_size = (pw, ph)
        self._grid = (max(2, ph // cfg.cell), max(2, pw // cfg.cell))
        # Image pixels per grid cell (at scale 1), per axis.
        self._px_per_cell = (self._window[0] / self._grid[1], self._window[1] / self._grid[0])
        target_cells = math.sqrt(w / self._px_per_cell[0] * h / self._px_per_cell[1])
        sigma = cfg.output_sigma_factor * target_cells
        filters = LayerFilters(self._grid, sigma, cfg.reg, cfg.layer_weights, cfg.normalize_layers)
        filters.train(filters.spectra(self._features(self._patch(frame, self._center))), 1.0)
        self._filters = filters
        self._dsst = None
        if cfg.scale_estimation:
            dsst = ScaleFilter(cfg.dsst, (w, h), (fw, fh))
            dsst.update(frame, self._center, 1.0, 1.0)
            self._dsst = dsst

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        cfg = self.config
        frame = as_bgr(frame)
        filters = self._filters
        if filters is None:  # unreachable: update() checks init()
            raise RuntimeError("HCFTracker._update() before _init()")
        feats = self._features(self._patch(frame, self._center))
        response = filters.response(filters.spectra(feats))
        dy, dx, _ = subpixel_peak(response)
        fh, fw = frame.shape[:2]
        cx = self._center[0] + dx * self._px_per_cell[0] * self._scale
        cy = self._center[1] + dy * self._px_per_cell[1] * self._scale
        self._center = (float(np.clip(cx, 0.0, fw)), float(np.clip(cy, 0.0, fh)))
        old_scale = self._scale
        if self._dsst is not None:
            self._scale = self._dsst.estimate(frame, self._center, self._scale)
        if cfg.reuse_features and math.isclose(old_scale, self._scale):
            shift = (-int(round(dy)), -int(round(dx)))
            xf = filters.spectra([np.roll(f, shift, axis=(1, 2)) for f in feats])
        else:
            xf = filters.spectra(self._features(self._patch(frame, self._center)))
        filters.train(xf, cfg.learning_rate)
        if self._dsst is not None:
            self._dsst.update(frame, self._center, self._scale, cfg.dsst.learning_rate)
        w, h = self._size[0] * self._scale, self._size[1] * self._scale
        cx, cy = self._center
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
        return SOTResult(box, filters.peaks[-1])
