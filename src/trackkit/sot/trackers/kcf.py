"""KCF: kernelized correlation filters (Henriques, Caseiro, Martins, Batista: High-Speed
Tracking with Kernelized Correlation Filters, TPAMI 2015), with DSST scale estimation
(Danelljan et al., BMVC 2014; :mod:`trackkit.sot.ops.dsst`).

Translation: a kernel ridge regression over all cyclic shifts of a padded window around the
target, solved in the Fourier domain. With features ``x`` (fHOG on 4-px cells by default;
colour names and gray can be added; times a cosine window) and a Gaussian label ``y``
peaking on the target,

    alpha_f = y_f / (k^{xx}_f + lambda),
    k^{xz} = exp(-(|x|^2 + |z|^2 - 2 IFFT(sum_c z_c,f * conj(x_c,f))) / (sigma^2 N)),
    response(z) = IFFT(alpha_f * k^{xz}_f),

and the peak of the response (refined to sub-cell precision) is the target's displacement.
The model ``(x_f, alpha_f)`` is a running average with rate ``interp_factor``.

Speed: the window is resampled to a fixed template area (``template_area`` px), so every
frame costs the same small real FFTs whatever the target's size; the training sample is the
detection sample shifted by the integer cell displacement (``reuse_features``) and the DSST
update reuses its detection samples, so features are computed once per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, require
from trackkit.sot.base import SOT_TRACKERS, SOTResult, SOTTracker
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.dcf import gaussian_label, hann2d, subpixel_peak
from trackkit.sot.ops.dsst import DSSTConfig, ScaleFilter
from trackkit.sot.ops.features import color_names, fhog, gray_feature

__all__ = ["KCFConfig", "KCFTracker"]

_FEATURES = ("hog", "cn", "gray")


@dataclass(frozen=True)
class KCFConfig(Config):
    """Hyper-parameters of KCF (defaults: the paper's HOG setting).

    Attributes:
        padding: the window is ``(1 + padding)`` times the target size.
        reg: ridge regularisation ``lambda``.
        output_sigma_factor: label width as a fraction of ``sqrt(w h)`` of the target.
        interp_factor: model update rate.
        kernel: ``"gaussian"`` or ``"linear"``.
        kernel_sigma: bandwidth of the Gaussian kernel.
        cell: feature cell size (pixels of the resampled template).
        features: any of ``"hog"``, ``"cn"`` (colour names), ``"gray"``.
        template_area: area (px) the padded window is resampled to.
        scale_estimation: estimate the scale with a DSST scale filter.
        dsst: the scale filter's hyper-parameters.
        reuse_features: train on the detection sample shifted to the new position instead
            of extracting a second sample (features computed once per frame).
        lost_threshold: frames whose response peak is below it are reported as lost
            (:attr:`~trackkit.sot.base.SOTResult.lost`); ``None``: never. Default 0.27:
            flags 89 % of target-absent and 6 % of tracked frames on the shared sequences
            (``benchmarks/sot_lost.py``).
    """

    RANGES: ClassVar[str] = (
        "padding >= 0; reg > 0; interp_factor in (0, 1]; kernel_sigma > 0; "
        "output_sigma_factor > 0; cell >= 1"
    )

    padding: float = 1.5
    reg: float = 1e-4
    output_sigma_factor: float = 0.1
    interp_factor: float = 0.02
    kernel: str = "gaussian"
    kernel_sigma: float = 0.5
    cell: int = 4
    features: tuple[str, ...] = ("hog",)
    template_area: float = 96.0 * 96.0
    scale_estimation: bool = True
    dsst: DSSTConfig = field(default_factory=DSSTConfig)
    reuse_features: bool = True
    lost_threshold: float | None = 0.27

    def validate(self) -> None:
        require(self.kernel in ("gaussian", "linear"), "kernel: gaussian or linear")
        feats = tuple(self.features)
        require(
            bool(feats) and all(f in _FEATURES for f in feats),
            f"features: a non-empty subset of {', '.join(_FEATURES)}",
        )
        require(self.template_area >= 16 * self.cell**2, "template_area too small")


@SOT_TRACKERS.register("kcf")
class KCFTracker(SOTTracker):
    """KCF on fHOG (optionally + colour names) with DSST scale estimation (Henriques 2015)."""

    config_class = KCFConfig
    config: KCFConfig

    # -- features --------------------------------------------------------------------------
    def _features(self, patch: NDArray[np.uint8]) -> NDArray[np.float32]:
        c = self.config.cell
        parts = []
        for name in self.config.features:
            if name == "hog":
                parts.append(fhog(patch, c))
            elif name == "cn":
                parts.append(color_names(patch, c))
            else:
                parts.append(gray_feature(patch, c))
        feats = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
        return feats

    def _sample(self, frame: NDArray[np.uint8], center: tuple[float, float]) -> NDArray[Any]:
        """Un-windowed features ``(h, w, C)`` of the window at ``center`` and current scale."""
        size = (self._window[0] * self._scale, self._window[1] * self._scale)
        return self._features(crop_region(frame, center, size, self._tmpl, border=REPLICATE))

    def _kernel_f(self, af: NDArray[Any], bf: NDArray[Any], aa: float, bb: float) -> NDArray[Any]:
        """Fourier transform of the kernel correlation ``k^{ab}`` of ``(h, w/2+1, C)`` spectra."""
        h, w = self._fshape
        cross = np.fft.irfft2(np.sum(af * np.conj(bf), axis=-1), s=(h, w))
        n = float(h * w * af.shape[-1])
        if self.config.kernel == "linear":
            return np.fft.rfft2(cross / n)
        d = np.maximum(aa + bb - 2.0 * cross, 0.0) / n
        return np.fft.rfft2(np.exp(-d / self.config.kernel_sigma**2))

    def _train(self, x: NDArray[np.float32], rate: float) -> None:
        xw = x * self._cos[..., None]
        xf = np.fft.rfft2(xw, axes=(0, 1))
        xx = float(np.sum(xw * xw))
        alphaf = self._yf / (self._kernel_f(xf, xf, xx, xx) + self.config.reg)
        if rate >= 1.0:
            self._xf, self._xx, self._alphaf = xf, xx, alphaf
        else:
            self._xf = (1 - rate) * self._xf + rate * xf
            self._alphaf = (1 - rate) * self._alphaf + rate * alphaf
            self._xx = float(np.sum(np.abs(self._xf) ** 2 * self._rfft_weights[..., None]))
            self._xx /= self._fshape[0] * self._fshape[1]

    # -- protocol --------------------------------------------------------------------------
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        cfg = self.config
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        self._center = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        self._size = (w, h)
        self._scale = 1.0
        self._window = (w * (1 + cfg.padding), h * (1 + cfg.padding))
        # Resample the window to a fixed area, an even number of cells per side.
        k = math.sqrt(cfg.template_area / (self._window[0] * self._window[1]))
        c = cfg.cell
        tw = max(4, 2 * round(self._window[0] * k / (2 * c))) * c
        th = max(4, 2 * round(self._window[1] * k / (2 * c))) * c
        self._tmpl = (tw, th)
        self._fshape = (th // c, tw // c)
        self._px_per_cell = (self._window[0] / tw * c, self._window[1] / th * c)
        sigma = math.sqrt(w * h) * cfg.output_sigma_factor / (self._window[0] / tw * c)
        self._yf = np.fft.rfft2(gaussian_label(self._fshape, sigma))
        self._cos = hann2d(self._fshape)
        # Weights turning sum(|rfft|^2) into sum(|fft|^2) (Parseval over half spectra).
        wts = np.full(self._fshape[1] // 2 + 1, 2.0)
        wts[0] = 1.0
        if self._fshape[1] % 2 == 0:
            wts[-1] = 1.0
        self._rfft_weights = np.broadcast_to(wts, (self._fshape[0], len(wts)))
        self._train(self._sample(frame, self._center), 1.0)
        self._dsst: ScaleFilter | None = None
        if cfg.scale_estimation:
            fh, fw = frame.shape[:2]
            self._dsst = ScaleFilter(cfg.dsst, (w, h), (fw, fh))
            self._dsst.update(frame, self._center, 1.0, 1.0)

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        cfg = self.config
        z = self._sample(frame, self._center)
        zw = z * self._cos[..., None]
        zf = np.fft.rfft2(zw, axes=(0, 1))
        kzf = self._kernel_f(zf, self._xf, float(np.sum(zw * zw)), self._xx)
        response = np.fft.irfft2(self._alphaf * kzf, s=self._fshape)
        dy, dx, peak = subpixel_peak(response)
        fh, fw = frame.shape[:2]
        cx = self._center[0] + dx * self._px_per_cell[0] * self._scale
        cy = self._center[1] + dy * self._px_per_cell[1] * self._scale
        self._center = (float(np.clip(cx, 0.0, fw)), float(np.clip(cy, 0.0, fh)))
        if self._dsst is not None:
            self._scale = self._dsst.estimate(frame, self._center, self._scale)
        if cfg.reuse_features:
            x = np.roll(z, (-int(round(dy)), -int(round(dx))), axis=(0, 1))
        else:
            x = self._sample(frame, self._center)
        self._train(x, cfg.interp_factor)
        if self._dsst is not None:
            self._dsst.update(frame, self._center, self._scale, cfg.dsst.learning_rate)
        w, h = self._size[0] * self._scale, self._size[1] * self._scale
        cx, cy = self._center
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
        return SOTResult(box, float(peak))
