"""KISSME metric learning on hand-crafted features: the classic non-deep ReID baseline.

KISSME ("Keep It Simple and Straightforward MEtric", Köstinger et al., CVPR 2012) models the
difference ``x_i - x_j`` of two feature vectors as a zero-mean Gaussian, with covariance
``S`` over pairs of the same identity and ``D`` over pairs of different identities. The
log-likelihood ratio of the two hypotheses is a Mahalanobis distance

    d(x_i, x_j) = (x_i - x_j)^T (S^-1 - D^-1) (x_i - x_j),

learned in closed form from two covariance estimates (no iterations). As in the paper, the
features are first reduced by PCA and ``M = S^-1 - D^-1`` is projected onto the positive
semi-definite cone (negative eigenvalues clipped to 0), so ``M = L L^T`` and the distance is
the squared Euclidean distance of ``L^T x``.

The features (:func:`handcrafted_features`) are the usual colour-and-texture descriptors of
that era: per horizontal stripe, HSV and Lab colour histograms and a histogram of uniform
local binary patterns (LBP, Ojala et al., TPAMI 2002) of the grey image, square-rooted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import ConfigError

__all__ = ["Kissme", "handcrafted_features", "lbp_codes"]

FloatArray = NDArray[np.float64]


def _uniform_lbp_table() -> NDArray[np.int64]:
    """Map 8-bit LBP codes to 59 bins: the 58 uniform patterns (at most two 0/1 transitions
    around the circle) get one bin each, every other pattern shares bin 58."""
    table = np.full(256, 58, np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> k) & 1 for k in range(8)]
        transitions = sum(bits[k] != bits[(k + 1) % 8] for k in range(8))
        if transitions <= 2:
            table[code] = nxt
            nxt += 1
    return table


_LBP_TABLE = _uniform_lbp_table()


def lbp_codes(gray: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Uniform LBP bin (0..58) of every interior pixel of a ``(H, W)`` uint8 image:
    ``(H - 2, W - 2)`` int64. Each of the 8 neighbours (radius 1) sets its bit when it is
    ``>=`` the centre."""
    g = gray.astype(np.int16)
    c = g[1:-1, 1:-1]
    h, w = g.shape
    code = np.zeros(c.shape, np.int64)
    offsets = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
    for bit, (dy, dx) in enumerate(offsets):
        n = g[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
        code |= (n >= c).astype(np.int64) << bit
    return _LBP_TABLE[code]


def handcrafted_features(
    crops: NDArray[np.uint8], stripes: int = 6, bins: int = 8
) -> NDArray[np.float64]:
    """Colour and texture histograms of ``(N, H, W, 3)`` uint8 BGR crops (all one size).

    Per horizontal stripe: a joint H x S histogram (``bins`` x ``bins``) and a V histogram
    (``bins``) in HSV, one histogram per Lab channel (``bins`` each) and the 59-bin uniform
    LBP histogram of the grey image; each L1-normalised and square-rooted (Hellinger).

    Returns:
        ``(N, stripes * (bins**2 + 4 * bins + 59))`` float64.
    """
    if crops.ndim != 4 or crops.shape[3] != 3:
        raise ConfigError(f"expected (N, H, W, 3) crops, got shape {crops.shape}")
    dim = stripes * (bins * bins + 4 * bins + 59)
    out = np.empty((crops.shape[0], dim))
    bounds = np.linspace(0, crops.shape[1], stripes + 1).astype(int)

    def norm(h: NDArray[np.float32]) -> NDArray[np.float64]:
        h = h.ravel().astype(np.float64)
        return np.sqrt(h / max(float(h.sum()), 1.0))

    for i, crop in enumerate(crops):
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
        lbp = np.pad(lbp_codes(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)), 1, mode="edge")
        feats = []
        for s in range(stripes):
            rows = slice(bounds[s], bounds[s + 1])
            band, lband = hsv[rows], lab[rows]
            feats.append(norm(cv2.calcHist([band], [0, 1], None, [bins, bins], [0, 180, 0, 256])))
            feats.append(norm(cv2.calcHist([band], [2], None, [bins], [0, 256])))
            for ch in range(3):
                feats.append(norm(cv2.calcHist([lband], [ch], None, [bins], [0, 256])))
            feats.append(norm(np.bincount(lbp[rows].ravel(), minlength=59).astype(np.float32)))
        out[i] = np.concatenate(feats)
    return out


@dataclass
class Kissme:
    """PCA + KISSME, fitted with :meth:`fit`; :meth:`transform` maps features to ``L^T x``.

    Args:
        pca_dim: dimensions kept by PCA before the metric is learned.
        ridge: added to the diagonals of both covariance estimates (numerical safety).
        seed: seed of the random dissimilar pairs.
    """

    pca_dim: int = 100
    ridge: float = 1e-6
    seed: int = 0

    def fit(
        self, features: FloatArray, labels: NDArray[np.int64], cams: NDArray[np.int64]
    ) -> Kissme:
        """Learn the metric from ``(N, D)`` features with identity ``labels`` and cameras.

        Similar pairs: every pair of one identity seen by two different cameras. Dissimilar
        pairs: as many random pairs of different identities (the paper's sampling).
        """
        x = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        cams = np.asarray(cams)
        if x.ndim != 2 or len(x) != len(labels) or len(x) != len(cams):
            raise ConfigError("features, labels and cams must have the same number of rows")
        self.mean_ = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        self.pca_ = vt[: min(self.pca_dim, len(vt))].T  # (D, d)
        z = (x - self.mean_) @ self.pca_
        si, sj = _cross_camera_pairs(labels, cams)
        if len(si) == 0:
            raise ConfigError("KISSME needs identities seen by at least two cameras")
        rng = np.random.default_rng(self.seed)
        di = rng.integers(0, len(z), 4 * len(si))
        dj = rng.integers(0, len(z), 4 * len(si))
        diff = labels[di] != labels[dj]
        di, dj = di[diff][: len(si)], dj[diff][: len(si)]
        d = z.shape[1]
        cov_s = _pair_cov(z, si, sj) + self.ridge * np.eye(d)
        cov_d = _pair_cov(z, di, dj) + self.ridge * np.eye(d)
        m = np.linalg.inv(cov_s) - np.linalg.inv(cov_d)
        m = (m + m.T) / 2.0
        w, v = np.linalg.eigh(m)
        self.transform_ = v * np.sqrt(np.maximum(w, 0.0))  # PSD projection: M = T T^T
        return self

    @property
    def metric_(self) -> FloatArray:
        """The learned ``(d, d)`` positive semi-definite matrix ``M = T T^T`` (PCA space)."""
        out: FloatArray = self.transform_ @ self.transform_.T
        return out

    def transform(self, features: FloatArray) -> FloatArray:
        """``(N, D)`` features -> ``(N, d)``; squared Euclidean distances there are the
        learned Mahalanobis distances."""
        if not hasattr(self, "transform_"):
            raise ConfigError("Kissme.transform before fit")
        z = (np.asarray(features, dtype=np.float64) - self.mean_) @ self.pca_
        out: FloatArray = z @ self.transform_
        return out

    def distance(self, query: FloatArray, gallery: FloatArray) -> FloatArray:
        """``(Nq, Ng)`` learned distances between two sets of raw features."""
        a, b = self.transform(query), self.transform(gallery)
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        out: FloatArray = np.maximum(d2, 0.0)
        return out


def _cross_camera_pairs(
    labels: NDArray[np.int64], cams: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Index pairs ``(i, j)``, ``i < j``, of one identity seen by two different cameras."""
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    ends = np.r_[starts[1:], len(order)]
    out_i: list[NDArray[np.int64]] = []
    out_j: list[NDArray[np.int64]] = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        idx = np.sort(order[a:b])
        i, j = np.triu_indices(len(idx), k=1)
        keep = cams[idx[i]] != cams[idx[j]]
        out_i.append(idx[i[keep]])
        out_j.append(idx[j[keep]])
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def _pair_cov(z: FloatArray, i: NDArray[np.int64], j: NDArray[np.int64]) -> FloatArray:
    """Covariance ``mean((z_i - z_j)(z_i - z_j)^T)`` of pair differences (zero mean)."""
    diff = z[i] - z[j]
    out: FloatArray = diff.T @ diff / max(len(diff), 1)
    return out
