"""Candidate-box sampling around a target (MDNet, Nam & Han 2016) and crop batches.

Boxes are ``xyxy`` float64, continuous pixels. A sample is drawn in ``(cx, cy, scale)``:
``cx += dx * r``, ``cy += dy * r`` with ``r = (w + h) / 2``, and ``w, h *= scale_step ** ds``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import iou_matrix
from trackkit.sot.ops.crops import crop_region

__all__ = ["crop_boxes", "fit_box", "gaussian_samples", "labelled_samples", "uniform_samples"]


def fit_box(
    box: NDArray[np.float64], width: int, height: int, min_size: float
) -> NDArray[np.float64]:
    """``box`` (``(4,)`` xyxy float64) with its width / height clipped to ``[min_size, frame
    side]`` and its centre to the ``width x height`` frame (a tracker's box never leaves the
    frame or vanishes)."""
    w = float(np.clip(box[2] - box[0], min_size, width))
    h = float(np.clip(box[3] - box[1], min_size, height))
    cx = float(np.clip((box[0] + box[2]) / 2, 0, width))
    cy = float(np.clip((box[1] + box[3]) / 2, 0, height))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _from_offsets(
    box: NDArray[np.float64], d: NDArray[np.float64], scale_step: float, aspect: NDArray[np.float64]
) -> NDArray[np.float64]:
    w, h = box[2] - box[0], box[3] - box[1]
    r = (w + h) / 2
    cx = (box[0] + box[2]) / 2 + d[:, 0] * r
    cy = (box[1] + box[3]) / 2 + d[:, 1] * r
    s = scale_step ** d[:, 2]
    ww = w * s * aspect
    hh = h * s / aspect
    return np.stack([cx - ww / 2, cy - hh / 2, cx + ww / 2, cy + hh / 2], axis=1)


def gaussian_samples(
    rng: np.random.Generator,
    box: NDArray[np.float64],
    n: int,
    trans: float = 0.6,
    scale: float = 1.0,
    scale_step: float = 1.05,
) -> NDArray[np.float64]:
    """``(n, 4)`` boxes: centre offsets ``~ N(0, (trans/2)^2) * r`` (clipped to +-trans),
    scale exponents ``~ N(0, (scale/2)^2)`` (clipped to +-scale)."""
    d = rng.normal(size=(n, 3)) * np.array([trans / 2, trans / 2, scale / 2])
    d = np.clip(d, [-trans, -trans, -scale], [trans, trans, scale])
    return _from_offsets(box, d, scale_step, np.ones(n))


def uniform_samples(
    rng: np.random.Generator,
    box: NDArray[np.float64],
    n: int,
    trans: float = 1.0,
    scale: float = 1.0,
    scale_step: float = 1.05,
    aspect: float = 1.0,
) -> NDArray[np.float64]:
    """``(n, 4)`` boxes with uniform offsets in ``+-trans``, ``+-scale`` and aspect jitter."""
    d = rng.uniform(-1, 1, size=(n, 3)) * np.array([trans, trans, scale])
    a = np.exp(rng.uniform(-np.log(aspect), np.log(aspect), size=n)) if aspect > 1 else np.ones(n)
    return _from_offsets(box, d, scale_step, a)


def labelled_samples(
    rng: np.random.Generator,
    box: NDArray[np.float64],
    n_pos: int,
    n_neg: int,
    pos_iou: float = 0.7,
    neg_iou: float = 0.5,
    neg_trans: float = 1.5,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Positives (IoU >= ``pos_iou`` with ``box``) and negatives (IoU < ``neg_iou``).

    Positives are Gaussian samples of small spread; negatives half uniform near the box, half
    uniform over a wider area (MDNet's "uniform" and "whole" negatives).
    """
    pos = np.zeros((0, 4))
    for _ in range(20):
        cand = gaussian_samples(rng, box, max(2 * n_pos, 16), trans=0.2, scale=1.0)
        pos = np.vstack([pos, cand[iou_matrix(cand, box[None])[:, 0] >= pos_iou]])
        if len(pos) >= n_pos:
            break
    if len(pos) == 0:
        pos = box[None].copy()
    pos = pos[rng.permutation(len(pos))[:n_pos]] if len(pos) > n_pos else pos
    neg = np.zeros((0, 4))
    for _ in range(20):
        near = uniform_samples(rng, box, n_neg, trans=neg_trans / 2, scale=1.5, aspect=1.1)
        far = uniform_samples(rng, box, n_neg, trans=neg_trans * 2, scale=2.0, aspect=1.1)
        cand = np.vstack([near, far])
        neg = np.vstack([neg, cand[iou_matrix(cand, box[None])[:, 0] < neg_iou]])
        if len(neg) >= n_neg:
            break
    neg = neg[rng.permutation(len(neg))[:n_neg]]
    return pos, neg


def crop_boxes(
    img: NDArray[np.uint8], boxes: NDArray[np.float64], size: int, padding: float = 16 / 107
) -> NDArray[np.float32]:
    """``(N, 3, size, size)`` float32 BGR crops of ``boxes`` with MDNet's context padding
    (each side enlarged by ``padding`` of the crop, 16 px of 107 in the paper)."""
    out = np.empty((len(boxes), 3, size, size), dtype=np.float32)
    grow = 1.0 / (1.0 - 2 * padding)
    for i, b in enumerate(boxes):
        c = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        s = (max(b[2] - b[0], 1.0) * grow, max(b[3] - b[1], 1.0) * grow)
        out[i] = crop_region(img, c, s, (size, size), 128.0).transpose(2, 0, 1)
    return out
