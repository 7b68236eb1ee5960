"""DSST scale estimation (Danelljan, Häger, Khan, Felsberg: Accurate Scale Estimation for
Robust Visual Tracking, BMVC 2014).

A one-dimensional discriminative correlation filter over a pyramid of ``S`` (33) samples of
the target at scales ``a^n``, ``n = -(S-1)/2 .. (S-1)/2`` (``a`` = 1.02). Each sample is
resized to a fixed small model size (area <= 512 px), described by fHOG and flattened into
one ``d``-dimensional column; the filter is learned in the Fourier domain along the scale
axis with a Gaussian label peaking at the current scale:

    A = conj(G) * F   (d x S),   B = sum_d conj(F) * F   (S),
    y = IFFT( sum_d conj(A) * Z / (B + lambda) ),

and both ``A`` and ``B`` are updated with a running average. The scale of the maximum of
``y`` multiplies the current scale. Translation is left to the caller (KCF, DCFNet), so the
filter is usable by every correlation-filter tracker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, require
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.features import fhog

__all__ = ["DSSTConfig", "ScaleFilter"]


@dataclass(frozen=True)
class DSSTConfig(Config):
    """Hyper-parameters of the DSST scale filter (defaults from the paper).

    Attributes:
        num_scales: number of scale samples ``S`` (odd).
        scale_step: ratio ``a`` between neighbouring scales.
        sigma_factor: label width as a fraction of ``sqrt(S)``.
        learning_rate: running-average rate of the filter.
        reg: regularisation ``lambda``.
        model_max_area: maximum area (px) of the resized scale samples.
        cell: fHOG cell size of the scale features.
        reuse_samples: update the filter from the detection samples, re-indexed to the new
            scale (one feature extraction per frame instead of two).
    """

    RANGES: ClassVar[str] = "scale_step > 1; learning_rate in (0, 1]; reg > 0; model_max_area >= 64"

    num_scales: int = 33
    scale_step: float = 1.02
    sigma_factor: float = 0.25
    learning_rate: float = 0.025
    reg: float = 1e-2
    model_max_area: float = 512.0
    cell: int = 4
    reuse_samples: bool = True

    def validate(self) -> None:
        require(self.num_scales >= 3 and self.num_scales % 2 == 1, "num_scales: odd, >= 3")


class ScaleFilter:
    """The DSST scale filter for one target.

    Args:
        cfg: hyper-parameters.
        base_size: ``(w, h)`` of the target at scale 1 (the first-frame size), pixels.
        frame_size: ``(W, H)`` of the frames (bounds the scale).
    """

    def __init__(
        self, cfg: DSSTConfig, base_size: tuple[float, float], frame_size: tuple[int, int]
    ) -> None:
        self.cfg = cfg
        s = cfg.num_scales
        self.base_size = (float(base_size[0]), float(base_size[1]))
        exps = np.arange(s) - (s - 1) / 2.0
        self.factors = cfg.scale_step**exps  # ascending
        sigma = math.sqrt(s) * cfg.sigma_factor
        self._label_f = np.fft.fft(np.exp(-0.5 * exps**2 / sigma**2))
        self._window = np.hanning(s + 2)[1:-1].astype(np.float32)
        bw, bh = self.base_size
        fac = math.sqrt(cfg.model_max_area / (bw * bh)) if bw * bh > cfg.model_max_area else 1.0
        c = cfg.cell
        self.model_size = (max(2 * c, int(bw * fac) // c * c), max(2 * c, int(bh * fac) // c * c))
        step = cfg.scale_step
        self.min_scale = step ** math.ceil(math.log(max(5.0 / bw, 5.0 / bh)) / math.log(step))
        fw, fh = frame_size
        self.max_scale = step ** math.floor(math.log(min(fw / bw, fh / bh)) / math.log(step))
        self.max_scale = max(self.max_scale, 1.0)
        self._num: NDArray[np.complex128] | None = None
        self._den: NDArray[np.float64] | None = None
        self._last: tuple[NDArray[np.float32], int] | None = None

    def _samples(
        self, frame: NDArray[np.uint8], center: tuple[float, float], scale: float
    ) -> NDArray[np.float32]:
        """``(S, d)`` flattened fHOG of the scale samples (not windowed)."""
        bw, bh = self.base_size
        samples = np.stack(
            [
                crop_region(
                    frame,
                    center,
                    (bw * scale * f, bh * scale * f),
                    self.model_size,
                    border=REPLICATE,
                )
                for f in self.factors
            ]
        )
        feats = fhog(samples if samples.ndim == 4 else samples[..., None], self.cfg.cell)
        return feats.reshape(len(self.factors), -1)

    def _fft(self, flat: NDArray[np.float32]) -> NDArray[np.complex128]:
        return np.fft.fft(flat * self._window[:, None], axis=0)

    def update(
        self, frame: NDArray[np.uint8], center: tuple[float, float], scale: float, rate: float
    ) -> None:
        """Learn (``rate`` = 1) or update the filter from samples around ``scale``.

        With ``cfg.reuse_samples`` the samples of the last :meth:`estimate` (taken at the
        same centre) are re-indexed to the new scale instead of being extracted again.
        """
        if self.cfg.reuse_samples and self._last is not None:
            flat, best = self._last
            flat = np.roll(flat, -(best - (len(self.factors) - 1) // 2), axis=0)
        else:
            flat = self._samples(frame, center, scale)
        self._last = None
        xf = self._fft(flat)
        num = np.conj(self._label_f)[:, None] * xf
        den = np.sum((xf * np.conj(xf)).real, axis=1)
        if self._num is None or self._den is None or rate >= 1.0:
            self._num, self._den = num, den
        else:
            self._num = (1 - rate) * self._num + rate * num
            self._den = (1 - rate) * self._den + rate * den

    def estimate(
        self, frame: NDArray[np.uint8], center: tuple[float, float], scale: float
    ) -> float:
        """The new scale (relative to ``base_size``) found around ``scale``, clamped to
        ``[min_scale, max_scale]``."""
        if self._num is None or self._den is None:
            raise RuntimeError("ScaleFilter.estimate() before update()")
        flat = self._samples(frame, center, scale)
        zf = self._fft(flat)
        resp = np.fft.ifft(np.sum(np.conj(self._num) * zf, axis=1) / (self._den + self.cfg.reg))
        best = int(np.argmax(resp.real))
        if (
            scale * self.factors[best] < self.min_scale
            or scale * self.factors[best] > self.max_scale
        ):
            self._last = None
        else:
            self._last = (flat, best)
        return float(np.clip(scale * self.factors[best], self.min_scale, self.max_scale))
