"""Hand-crafted features for correlation-filter trackers: fHOG and colour names.

- :func:`fhog` — the 31-channel HOG variant of Felzenszwalb, Girshick, McAllester and Ramanan
  (Object Detection with Discriminatively Trained Part-Based Models, TPAMI 2010), as used by
  KCF (Henriques et al., TPAMI 2015) and DSST (Danelljan et al., BMVC 2014): 18
  contrast-sensitive and 9 contrast-insensitive orientation channels, each normalised by the
  four 2x2-cell blocks around the cell and truncated at 0.2, plus 4 gradient-energy channels.
  Vectorised over a batch of patches (the 33 scale samples of DSST are one call).
- :func:`color_names` — an 11-channel soft assignment of every pixel to the basic colour
  terms of Berlin and Kay (black, blue, brown, grey, green, orange, pink, purple, red, white,
  yellow), the feature of the adaptive colour-attributes tracker (Danelljan et al., CVPR 2014).
  The learned lookup table of van de Weijer et al. (2009) is not available here, so the
  assignment is a Gaussian soft-max over the distance, in CIE Lab, to one prototype colour per
  term (a documented approximation of the learned table, computed once as a 32^3 table).

Inputs are uint8 or float patches; outputs are float32 ``(..., H // cell, W // cell, C)``.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["CN_PROTOTYPES_RGB", "color_names", "fhog", "gray_feature"]

F32 = NDArray[np.float32]

_NBINS = 9  # contrast-insensitive orientations; 2 * _NBINS sensitive ones
_BGR2GRAY = np.array([0.114, 0.587, 0.299], dtype=np.float32)


def _to_gray_batch(patch: NDArray[np.generic]) -> tuple[F32, bool]:
    """``(N, H, W)`` float32 gray batch from ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``."""
    x = np.asarray(patch)
    if x.ndim == 2:
        return x.astype(np.float32)[None], True
    if x.ndim == 3 and x.shape[-1] in (1, 3):
        single = True
        x = x[None]
    elif x.ndim == 4:
        single = False
    else:
        raise ValueError(f"expected (H, W), (H, W, C) or (N, H, W, C), got {x.shape}")
    n, h, w, c = x.shape
    if c == 1:
        return x[..., 0].astype(np.float32), single
    if x.dtype != np.uint8 and x.dtype != np.float32:
        x = x.astype(np.float32)
    gray = cv2.cvtColor(np.ascontiguousarray(x.reshape(n * h, w, 3)), cv2.COLOR_BGR2GRAY)
    return gray.reshape(n, h, w).astype(np.float32), single


@lru_cache(maxsize=64)
def _vote_maps(h: int, w: int, cell: int) -> tuple[NDArray[np.int64], F32]:
    """For every pixel, the 4 cells it votes into (flat index times 18, on the padded cell
    grid) and the bilinear weights: ``(4, h, w)`` int64 and ``(4, h, w)`` float32."""
    ch, cw = h // cell, w // cell
    py = (np.arange(h, dtype=np.float32) + 0.5) / cell - 0.5
    px = (np.arange(w, dtype=np.float32) + 0.5) / cell - 0.5
    y0 = np.floor(py).astype(np.int64)
    x0 = np.floor(px).astype(np.int64)
    wy1, wx1 = py - y0, px - x0
    idx, wts = [], []
    for oy, wy in ((1, 1.0 - wy1), (2, wy1)):
        for ox, wx in ((1, 1.0 - wx1), (2, wx1)):
            idx.append(((y0 + oy)[:, None] * (cw + 2) + (x0 + ox)[None, :]) * (2 * _NBINS))
            wts.append(wy[:, None] * wx[None, :])
    del ch
    return np.stack(idx), np.stack(wts).astype(np.float32)


def fhog(patch: NDArray[np.generic], cell: int = 4, truncation: float = 0.2) -> F32:
    """Felzenszwalb HOG of one patch or a batch of equally-sized patches.

    Gradients are taken on the gray image (as KCF does); each pixel votes with its gradient
    magnitude for the nearest of 18 directions, bilinearly into the 4 nearest cells.

    Args:
        patch: ``(H, W)``, ``(H, W, C)``, or a batch ``(N, H, W, C)`` (C = 1 or 3, BGR), any
            numeric dtype (values on the 0..255 scale). ``H`` and ``W`` should be multiples
            of ``cell``; extra rows/columns are dropped.
        cell: cell side in pixels.
        truncation: clipping value after block normalisation.

    Returns:
        float32 ``(H // cell, W // cell, 31)`` (or ``(N, ..., 31)`` for a batch).
    """
    x, single = _to_gray_batch(patch)
    n, h, w = x.shape
    ch, cw = h // cell, w // cell
    if ch < 1 or cw < 1:
        raise ValueError(f"patch {h}x{w} is smaller than one {cell}px cell")
    hh, ww = ch * cell, cw * cell
    x = x[:, :hh, :ww]
    dx = np.empty_like(x)
    dy = np.empty_like(x)
    dx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    dx[:, :, 0] = x[:, :, 1] - x[:, :, 0]
    dx[:, :, -1] = x[:, :, -1] - x[:, :, -2]
    dy[:, 1:-1] = x[:, 2:] - x[:, :-2]
    dy[:, 0] = x[:, 1] - x[:, 0]
    dy[:, -1] = x[:, -1] - x[:, -2]
    mag2d, ang2d = cv2.cartToPolar(dx.reshape(n * hh, ww), dy.reshape(n * hh, ww), None, None, True)
    mag = mag2d.reshape(n, hh, ww)
    obin = np.rint(ang2d.reshape(n, hh, ww) * np.float32(_NBINS / 180.0)).astype(np.int64)
    obin %= 2 * _NBINS
    # Bilinear spatial voting into the cells (cell centres at (i + 0.5) * cell), on a grid
    # padded by one cell on each side (dropped afterwards).
    cell_idx, cell_w = _vote_maps(hh, ww, cell)
    nb = 2 * _NBINS
    size = n * (ch + 2) * (cw + 2) * nb
    offsets = (np.arange(n, dtype=np.int64) * ((ch + 2) * (cw + 2) * nb))[:, None, None]
    index = cell_idx[:, None] + (offsets + obin)[None]  # (4, n, hh, ww)
    weight = cell_w[:, None] * mag[None]
    hist = np.bincount(index.ravel(), weight.ravel(), minlength=size)
    hist4 = hist.reshape(n, ch + 2, cw + 2, nb)[:, 1:-1, 1:-1].astype(np.float32)
    insensitive = hist4[..., :_NBINS] + hist4[..., _NBINS:]
    energy = np.sum(insensitive * insensitive, axis=-1)
    e = np.pad(energy, [(0, 0), (1, 1), (1, 1)], mode="edge")
    # Energy of the 2x2 blocks whose top-left cell is (i, j) in the padded grid.
    blocks = e[:, :-1, :-1] + e[:, 1:, :-1] + e[:, :-1, 1:] + e[:, 1:, 1:]
    inv = 1.0 / np.sqrt(blocks + np.float32(1e-4))
    out = np.empty((n, ch, cw, 31), dtype=np.float32)
    sens = np.zeros_like(hist4)
    insens = np.zeros_like(insensitive)
    for k, (oy, ox) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        nrm = inv[:, oy : oy + ch, ox : ox + cw, None]
        hs = np.minimum(hist4 * nrm, truncation)
        sens += hs
        insens += np.minimum(insensitive * nrm, truncation)
        out[..., 27 + k] = 0.2357 * hs.sum(axis=-1)
    out[..., :18] = 0.5 * sens
    out[..., 18:27] = 0.5 * insens
    return out[0] if single else out


def gray_feature(patch: NDArray[np.generic], cell: int = 4) -> F32:
    """Cell-averaged intensity in ``[-0.5, 0.5]``: ``(..., H // cell, W // cell, 1)``."""
    x, _ = _to_gray_batch(patch)
    if np.asarray(patch).ndim != 4:
        x = x[0]
    h, w = x.shape[-2] // cell, x.shape[-1] // cell
    x = x[..., : h * cell, : w * cell]
    x = x.reshape(*x.shape[:-2], h, cell, w, cell).mean(axis=(-3, -1))
    return (x / 255.0 - 0.5)[..., None]


#: RGB prototypes of the 11 basic colour terms (black, blue, brown, grey, green, orange,
#: pink, purple, red, white, yellow).
CN_PROTOTYPES_RGB: NDArray[np.float64] = np.array(
    [
        [0, 0, 0],
        [0, 0, 255],
        [150, 75, 0],
        [128, 128, 128],
        [0, 160, 0],
        [255, 140, 0],
        [255, 170, 200],
        [128, 0, 160],
        [220, 0, 0],
        [255, 255, 255],
        [255, 240, 0],
    ],
    dtype=np.float64,
)


@lru_cache(maxsize=1)
def _cn_table(sigma: float = 20.0) -> F32:
    """``(32768, 11)`` probabilities of the colour terms for the 32^3 BGR bins (8 levels)."""
    levels = np.arange(32, dtype=np.float32) * 8 + 4
    b, g, r = np.meshgrid(levels, levels, levels, indexing="ij")
    bgr = np.stack([b, g, r], axis=-1).reshape(-1, 1, 3).astype(np.uint8)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    protos = CN_PROTOTYPES_RGB[:, ::-1].reshape(-1, 1, 3).astype(np.uint8)
    plab = cv2.cvtColor(protos, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    d2 = ((lab[:, None, :] - plab[None, :, :]) ** 2).sum(axis=-1)
    logits = -d2 / (2.0 * sigma * sigma)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def color_names(patch: NDArray[np.uint8], cell: int = 4) -> F32:
    """Colour-name probabilities of every cell, minus their mean (1/11).

    For speed the cell's mean colour is looked up (the patch is area-averaged to cell
    resolution first) rather than averaging the per-pixel probabilities.

    Args:
        patch: ``(H, W, 3)`` or ``(N, H, W, 3)`` uint8 BGR (gray ``(H, W)`` / ``(..., 1)``
            patches give the probabilities of their grey levels).

    Returns:
        float32 ``(..., H // cell, W // cell, 11)``.
    """
    x = np.asarray(patch)
    if x.dtype != np.uint8:
        x = np.clip(x, 0, 255).astype(np.uint8)
    if x.ndim == 2 or (x.ndim in (3, 4) and x.shape[-1] == 1 and x.ndim != 2):
        x = x.reshape(*x.shape[:2], 1) if x.ndim == 2 else x
        x = np.repeat(x, 3, axis=-1)
    single = x.ndim == 3
    if single:
        x = x[None]
    n, h, w, _ = x.shape
    ch, cw = h // cell, w // cell
    x = np.ascontiguousarray(x[:, : ch * cell, : cw * cell])
    # Stack the batch side by side (cells never straddle two patches), then area-average.
    wide = np.ascontiguousarray(x.transpose(1, 0, 2, 3).reshape(ch * cell, n * cw * cell, 3))
    small = cv2.resize(wide, (n * cw, ch), interpolation=cv2.INTER_AREA)
    small = small.reshape(ch, n, cw, 3).transpose(1, 0, 2, 3)
    q = (small >> 3).astype(np.int32)
    idx = (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]
    probs = _cn_table()[idx] - np.float32(1.0 / 11.0)  # (n, ch, cw, 11)
    return probs[0] if single else probs
