"""Learned-feature DCF: DCFNet (Wang, Gao, Xing, Zhang, Hu: DCFNet: Discriminant Correlation
Filters Network for Visual Tracking, arXiv 1704.04057, 2017) and UDT (Wang, Song, Zhou, Li,
Li: Unsupervised Deep Tracking, CVPR 2019).

A tiny convolutional network ``phi`` (Conv3x3 3->32, ReLU, Conv3x3 32->32, local response
normalisation) gives 32 feature channels; a correlation filter with the closed-form ridge
solution in the Fourier domain (linear kernel) sits on top:

    alpha_f = y_f / (sum_c |z_c,f|^2 + lambda)         (template z, label y)
    response(x) = IFFT( alpha_f * sum_c x_c,f * conj(z_c,f) )

Tracking searches ``num_scales`` (3) scales of a padded window (``1 + padding`` times the
target) resampled to ``crop_size`` px, takes the highest (scale-penalised) peak, and updates
``(z_f, alpha_f)`` with a running average. Both published models (DCFNet supervised, UDT
unsupervised) share this architecture; weights trained with ``trackkit sot train --model
dcfnet`` load the same way, including trackkit's own UDT (preset ``udt-own``,
``trackkit/assets/udt.pt``) whose features are NanoTrack v3's frozen pretrained blocks (stride
4) and a learned adaptation: the response map is then on a grid of ``crop_size / 4`` cells
and displacements are scaled by the stride. ``udt`` keeps the published UDT weights
(``../shared/weights/udt``). torch is imported lazily (``import trackkit.sot`` works without).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, SOTResult, SOTTracker
from trackkit.sot.nets import resolve_weights
from trackkit.sot.nets.dcfnet_net import load_dcf_features
from trackkit.sot.nets.layered import single_threaded
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.dcf import DCFGeometry, gaussian_label, hann2d, subpixel_peak

__all__ = ["OWN_WEIGHTS", "DCFNetConfig", "DCFNetTracker"]

#: trackkit's own UDT weights (``trackkit/assets/udt.pt``: NanoTrack v3 blocks 1 and 3 and an
#: adaptation trained the UDT way on unlabelled video; docs/sot-udt.md has the command).
OWN_WEIGHTS = str(resources.files("trackkit") / "assets" / "udt.pt")


@dataclass(frozen=True)
class DCFNetConfig(DCFGeometry):
    """Hyper-parameters of the learned-feature DCF tracker (defaults of DCFNet/UDT).

    Attributes:
        weights: state-dict path; ``None`` takes the shared pretrained ``model`` weights.
        model: ``"udt"`` or ``"dcfnet"`` — which shared weights ``weights=None`` means.
        crop_size, padding, reg, output_sigma_factor: see
            :class:`~trackkit.sot.ops.dcf.DCFGeometry` (``crop_size`` defaults to 128 here:
            DCFNet used 125; 128 makes the FFTs about twice as fast).
        interp_factor: model update rate.
        num_scales: scales searched per frame (odd).
        scale_step: ratio between neighbouring scales.
        scale_penalty: response multiplier ``penalty^|k|`` of scale ``k`` steps away.
        scale_lr: scale learning rate: the size moves ``scale_lr`` of the way to the best
            scale's (1 = all the way, as DCFNet/UDT do; below 1 damps the scale noise of a
            coarse feature grid; frames whose size changes then train on a freshly cropped
            sample).
        min_scale, max_scale: bounds of the target size relative to the first frame.
        conv_padding: zero padding of the two convolutions (1 keeps the crop size).
        reuse_features: train on the best search sample shifted to the new position (no
            second network pass per frame).
        update_threshold: skip the model update on frames whose response peak is below this
            fraction of the running mean of the peaks (0 = always update, as the papers do);
            protects the model during occlusions (a confidence-gated update in the spirit of
            LMCF, Wang et al. CVPR 2017).
        hold_threshold: on frames whose response peak is below this fraction of the running
            mean of the peaks the target is taken as occluded: the box stays where it was (no
            move, no scale change, no update) so the target is searched again around its last
            position when it reappears (0 = off, the papers' behaviour).
        scale_features: ``"resample"`` — one network pass per frame, the scales resampled
            from one feature map; ``"recompute"`` — one pass per scale (the papers' way).
        lost_threshold: frames whose response peak is below it are reported as lost
            (:attr:`~trackkit.sot.base.SOTResult.lost`); ``None``: never. Default 0.23
            (DCFNet weights; the ``udt`` preset: 0.25), chosen on the shared sequences
            (``benchmarks/sot_lost.py``).
        backbone_weights: weights whose features sit on a pretrained NanoTrack backbone
            (``udt-own``): its state dict (``None``: the shared folder's); the sha256 the
            weights file recorded must match.
    """

    RANGES: ClassVar[str] = (
        "reg > 0; interp_factor in (0, 1]; scale_step >= 1; scale_penalty in (0, 1]; "
        "scale_lr in (0, 1]; update_threshold in [0, 1); hold_threshold in [0, 1)"
    )

    weights: str | None = None
    model: str = "dcfnet"
    crop_size: int = 128
    interp_factor: float = 0.01
    num_scales: int = 3
    scale_step: float = 1.0275
    scale_penalty: float = 0.9925
    scale_lr: float = 1.0
    min_scale: float = 0.2
    max_scale: float = 5.0
    conv_padding: int = 1
    reuse_features: bool = True
    update_threshold: float = 0.7
    hold_threshold: float = 0.0
    scale_features: str = "resample"
    lost_threshold: float | None = 0.23
    backbone_weights: str | None = None

    def validate(self) -> None:
        require(self.model in ("dcfnet", "udt"), "model: one of dcfnet, udt")
        require(self.num_scales >= 1 and self.num_scales % 2 == 1, "num_scales: odd, >= 1")
        require(0 < self.min_scale <= 1 <= self.max_scale, "need min_scale <= 1 <= max_scale")
        require(self.conv_padding in (0, 1), "conv_padding: 0 or 1")
        require(
            self.scale_features in ("resample", "recompute"),
            "scale_features: resample or recompute",
        )


@SOT_TRACKERS.register("dcfnet")
class DCFNetTracker(SOTTracker):
    """Learned-feature correlation filter (DCFNet/UDT, Wang 2017/2019); needs torch."""

    config_class = DCFNetConfig
    config: DCFNetConfig

    def _load_network(self) -> Any:
        import torch

        cfg = self.config
        path = resolve_weights(cfg.weights, cfg.model)
        net = load_dcf_features(path, cfg.backbone_weights)
        if net.backbone is None and cfg.conv_padding != 1:  # published conv nets: padding 1
            from torch import nn

            for layer in net.head:
                if isinstance(layer, nn.Conv2d):
                    layer.padding = (cfg.conv_padding, cfg.conv_padding)
        self._torch = torch
        self._stride = int(net.stride)
        return net

    def _features(self, patches: NDArray[np.uint8]) -> Any:
        """``(S, C, h, w)`` features (not windowed) of ``(S, crop, crop, 3)`` BGR patches."""
        torch = self._torch
        x = torch.from_numpy(patches).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            return self._net(x)

    def _crops(self, frame: NDArray[np.uint8], sizes: list[float]) -> NDArray[np.uint8]:
        c = self.config.crop_size
        out = [
            crop_region(
                frame,
                self._center,
                (self._window[0] * s, self._window[1] * s),
                (c, c),
                border=REPLICATE,
            )
            for s in sizes
        ]
        return np.stack(out)

    def _search_features(self, frame: NDArray[np.uint8]) -> Any:
        """``(S, 32, h, w)`` features of the search window at every scale factor.

        ``"recompute"``: one network pass per scale. ``"resample"``: one pass over a crop
        that covers the largest scale at the base scale's pixel density; the other scales
        are bilinear resamplings of that feature map (features computed once per frame).
        """
        cfg = self.config
        if cfg.scale_features == "recompute" or len(self._factors) == 1:
            return self._features(self._crops(frame, list(self._factors)))
        torch = self._torch
        c = cfg.crop_size
        st = 2 * self._stride  # the big crop's margin: whole feature cells on each side
        big = c + st * math.ceil(c * (float(self._factors.max()) - 1.0) / st)
        size = (self._window[0] * big / c, self._window[1] * big / c)
        feat = self._features(
            crop_region(frame, self._center, size, (big, big), border=REPLICATE)[None]
        )
        big_out = feat.shape[-1]
        s = len(self._factors)
        mid = (s - 1) // 2  # factor 1: the exact central region, no resampling
        others = [i for i in range(s) if i != mid]
        theta = torch.zeros(len(others), 2, 3)
        rel = torch.from_numpy(self._factors[others] * self._shape[0] / big_out).float()
        theta[:, 0, 0] = rel
        theta[:, 1, 1] = rel
        grid = torch.nn.functional.affine_grid(
            theta, [len(others), feat.shape[1], *self._shape], align_corners=False
        )
        resampled = torch.nn.functional.grid_sample(
            feat.expand(len(others), -1, -1, -1), grid, mode="bilinear", align_corners=False
        )
        out = torch.empty(s, feat.shape[1], *self._shape)
        out[others] = resampled
        off = (big_out - self._shape[0]) // 2
        out[mid] = feat[0, :, off : off + self._shape[0], off : off + self._shape[1]]
        return out

    def _train(self, feat: Any, rate: float) -> None:
        self._train_f(self._torch.fft.rfft2(feat * self._cos), rate)

    def _train_f(self, zf: Any, rate: float) -> None:
        """Update the model from the spectrum ``(1, 32, h, w // 2 + 1)`` of a windowed sample."""
        torch = self._torch
        kzzf = torch.sum(zf.real**2 + zf.imag**2, dim=1, keepdim=True)
        alphaf = self._yf / (kzzf + self.config.reg)
        if rate >= 1.0:
            self._zf, self._alphaf = zf, alphaf
        else:
            self._zf = (1 - rate) * self._zf + rate * zf
            self._alphaf = (1 - rate) * self._alphaf + rate * alphaf

    @single_threaded  # the same boxes whatever the caller's torch thread count
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        net = self._network()
        torch = self._torch
        cfg = self.config
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        self._center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        self._base = (w * (1 + cfg.padding), h * (1 + cfg.padding))
        self._window = self._base
        fh, fw = frame.shape[:2]
        self._min_scale = max(cfg.min_scale, 4.0 / min(w, h)) if min(w, h) > 4 else 1.0
        self._max_scale = max(1.0, min(cfg.max_scale, max(fw / w, fh / h)))
        self._scale = 1.0
        first = self._features(self._crops(frame, [1.0]))
        self._shape = (int(first.shape[-2]), int(first.shape[-1]))
        sigma = cfg.crop_size / (1 + cfg.padding) * cfg.output_sigma_factor / self._stride
        self._yf = torch.fft.rfft2(torch.from_numpy(gaussian_label(self._shape, sigma)))
        self._cos = torch.from_numpy(hann2d(self._shape))
        two_pi_i = 2j * np.pi
        ky = np.fft.fftfreq(self._shape[0])[:, None] * two_pi_i
        kx = np.fft.rfftfreq(self._shape[1])[None, :] * two_pi_i
        self._ky = torch.from_numpy(ky.astype(np.complex64))
        self._kx = torch.from_numpy(kx.astype(np.complex64))
        exps = np.arange(cfg.num_scales) - (cfg.num_scales - 1) / 2.0
        self._factors = cfg.scale_step**exps
        self._penalties = cfg.scale_penalty ** np.abs(exps)
        del net
        self._peak_mean = 0.0
        self._peak_count = 0
        self._train(first, 1.0)

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        torch = self._torch
        cfg = self.config
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        feats = self._search_features(frame)
        xf = torch.fft.rfft2(feats * self._cos)
        kxzf = torch.sum(xf * torch.conj(self._zf), dim=1)
        resp = torch.fft.irfft2(kxzf * self._alphaf[:, 0], s=self._shape).numpy()
        peaks = resp.reshape(len(resp), -1).max(axis=1) * self._penalties
        best = int(np.argmax(peaks))
        dy, dx, value = subpixel_peak(resp[best])
        if cfg.hold_threshold > 0 and value < cfg.hold_threshold * self._peak_mean:
            # occluded: stay where it was, learn nothing
            return SOTResult(self._box(), float(value))
        factor = float(self._factors[best])
        moved = factor if cfg.scale_lr == 1.0 else 1.0 + cfg.scale_lr * (factor - 1.0)
        new_scale = float(np.clip(self._scale * moved, self._min_scale, self._max_scale))
        px_x = self._window[0] * factor / cfg.crop_size * self._stride
        px_y = self._window[1] * factor / cfg.crop_size * self._stride
        fh, fw = frame.shape[:2]
        cx = float(np.clip(self._center[0] + dx * px_x, 0.0, fw))
        cy = float(np.clip(self._center[1] + dy * px_y, 0.0, fh))
        self._center = (cx, cy)
        exact = math.isclose(new_scale, self._scale * factor)
        self._scale = new_scale
        self._window = (self._base[0] * new_scale, self._base[1] * new_scale)
        confident = value >= cfg.update_threshold * self._peak_mean
        if confident:
            self._peak_count += 1
            self._peak_mean += (value - self._peak_mean) / self._peak_count
            if cfg.reuse_features and exact:
                # The best search sample moved by (dy, dx) is the new training sample: the
                # Fourier shift theorem turns the move into a phase ramp (no new features, no
                # new FFT; the cosine window stays where it was, a negligible difference).
                ramp = torch.exp(self._ky * dy + self._kx * dx)
                self._train_f(xf[best : best + 1] * ramp, cfg.interp_factor)
            else:
                self._train(self._features(self._crops(frame, [1.0])), cfg.interp_factor)
        return SOTResult(self._box(), float(value))

    def _box(self) -> NDArray[np.float64]:
        """The current target box, xyxy float64."""
        cx, cy = self._center
        w = self._window[0] / (1 + self.config.padding)
        h = self._window[1] / (1 + self.config.padding)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


SOT_TRACKERS.register_preset(
    "udt",
    "dcfnet",
    "DCFNet tracker with the unsupervised UDT weights (Wang 2019); needs torch.",
    model="udt",
    lost_threshold=0.25,
)

SOT_TRACKERS.register_preset(
    "udt-own",
    "dcfnet",
    "UDT trained by trackkit (trackkit/assets/udt.pt: pretrained NanoTrack v3 blocks + an "
    "adaptation trained without labels, docs/sot-udt.md); needs torch and the NanoTrack v3 "
    "state dict.",
    weights=OWN_WEIGHTS,
    crop_size=192,  # chosen in nested 3-fold selection (docs/sot-udt.md); the papers': 125
)
