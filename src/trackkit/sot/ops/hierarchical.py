"""Correlation filters over hierarchical features: one filter per layer on one common grid
(Ma, Huang, Yang, Yang: Hierarchical Convolutional Features for Visual Tracking, ICCV 2015).

Every layer ``l`` has its own multi-channel linear correlation filter learned by ridge
regression in the Fourier domain (the paper's Eq. 3-4), written as a numerator and a
denominator that are updated by linear interpolation with rate ``eta`` (Eq. 6):

    A_l^d = Y * conj(X_l^d) / N_l,          B_l = sum_d X_l^d * conj(X_l^d) / N_l,
    A_l <- (1 - eta) A_l + eta A_l(new),     B_l <- (1 - eta) B_l + eta B_l(new),
    f_l(z) = IFFT( sum_d A_l^d * Z_l^d / (B_l + lambda) ),

with ``X`` the spectrum of the cosine-windowed features, ``Y`` that of the Gaussian label
peaking at the origin, and ``N_l = C_l * h * w`` (the authors' code divides the linear kernel
by the number of elements, which makes ``lambda`` relative to the mean feature energy). The
per-layer responses are fused by a weighted sum (Eq. 5; the authors' code first divides each
layer's response by its maximum): ``f = sum_l gamma_l f_l / max f_l``.

Arrays: features ``(C_l, h, w)`` float32 on the common ``(h, w)`` grid; spectra are real-FFT
half spectra ``(C_l, h, w // 2 + 1)`` complex64; responses ``(h, w)`` float32 with the origin
(zero displacement) at index ``[0, 0]`` (see :func:`trackkit.sot.ops.dcf.subpixel_peak`).
numpy and ``scipy.fft`` (several times faster than ``numpy.fft`` on these many-channel
float32 maps), no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft as sfft
from numpy.typing import NDArray

from trackkit.sot.ops.dcf import gaussian_label, hann2d

__all__ = ["LayerFilters"]


class LayerFilters:
    """The per-layer correlation filters of one target and their fused response.

    Args:
        grid: ``(h, w)`` cells of the common feature grid.
        sigma: width (cells) of the Gaussian label.
        reg: ridge regularisation ``lambda``.
        weights: fusion weight ``gamma_l`` of each layer (in the order of the features).
        normalize: divide each layer's response by its maximum before fusing (authors' code).
    """

    def __init__(
        self,
        grid: tuple[int, int],
        sigma: float,
        reg: float,
        weights: Sequence[float],
        normalize: bool = True,
    ) -> None:
        self.grid = (int(grid[0]), int(grid[1]))
        self.reg = float(reg)
        self.weights = tuple(float(g) for g in weights)
        self.normalize = bool(normalize)
        self.window = hann2d(self.grid)
        self.label_f = sfft.rfft2(gaussian_label(self.grid, sigma)).astype(np.complex64)
        self._num: list[NDArray[np.complex64]] = []
        self._den: list[NDArray[np.float32]] = []

    @property
    def trained(self) -> bool:
        """Whether :meth:`train` has been called."""
        return bool(self._num)

    def spectra(self, feats: Sequence[NDArray[np.float32]]) -> list[NDArray[np.complex64]]:
        """Half spectra of the cosine-windowed features (one ``(C_l, h, w)`` array per layer;
        the inputs are not modified)."""
        out = []
        for f in feats:
            if f.shape[1:] != self.grid:
                raise ValueError(f"features of shape {f.shape}: need (C, {self.grid[0]}, "
                                 f"{self.grid[1]})")  # fmt: skip
            out.append(sfft.rfft2(f * self.window).astype(np.complex64, copy=False))
        return out

    def train(self, spectra: Sequence[NDArray[np.complex64]], rate: float) -> None:
        """Learn (``rate >= 1`` or the first call) or interpolate the numerators and
        denominators towards those of ``spectra`` (from :meth:`spectra`)."""
        if len(spectra) != len(self.weights):
            raise ValueError(f"{len(spectra)} layers for {len(self.weights)} weights")
        fresh = rate >= 1.0 or not self._num
        for i, xf in enumerate(spectra):
            n = float(xf.shape[0] * self.grid[0] * self.grid[1])
            num = np.conj(xf).astype(np.complex64, copy=False)
            num *= (self.label_f / np.float32(n))[None]
            den = np.sum(np.square(xf.real) + np.square(xf.imag), axis=0) / np.float32(n)
            den = den.astype(np.float32, copy=False)
            if fresh:
                if i == 0:
                    self._num, self._den = [], []
                self._num.append(num)
                self._den.append(den)
            else:  # in place: the arrays are this object's own
                self._num[i] *= np.float32(1.0 - rate)
                self._num[i] += np.float32(rate) * num
                self._den[i] *= np.float32(1.0 - rate)
                self._den[i] += np.float32(rate) * den

    def layer_responses(
        self, spectra: Sequence[NDArray[np.complex64]]
    ) -> list[NDArray[np.float32]]:
        """Each layer's response ``f_l`` ``(h, w)`` to the search spectra (not normalised)."""
        if not self._num:
            raise RuntimeError("LayerFilters.layer_responses() before train()")
        out = []
        for zf, num, den in zip(spectra, self._num, self._den, strict=True):
            rf = np.sum(num * zf, axis=0) / (den + self.reg)
            out.append(sfft.irfft2(rf, s=self.grid).astype(np.float32, copy=False))
        return out

    def response(self, spectra: Sequence[NDArray[np.complex64]]) -> NDArray[np.float32]:
        """The fused response ``sum_l gamma_l f_l`` (each ``f_l / max f_l`` when
        ``normalize``), ``(h, w)`` float32; :attr:`peaks` keeps each layer's own peak
        ``max f_l`` (before normalising: how well the layer's filter still matches)."""
        fused = np.zeros(self.grid, dtype=np.float32)
        self.peaks: list[float] = []
        for g, r in zip(self.weights, self.layer_responses(spectra), strict=True):
            peak = float(r.max())
            self.peaks.append(peak)
            if self.normalize:
                r = r / peak if peak > 0 else r
            fused += np.float32(g) * r
        return fused
