"""OTB one-pass evaluation: success and precision curves (Wu, Lim, Yang, TPAMI 2015).

- **Success**: the fraction of frames whose IoU with the ground truth exceeds a threshold,
  for thresholds ``0, 0.05, ..., 1`` (21 points); its mean over the thresholds is the
  area under the curve (AUC, the OTB ranking measure).
- **Precision**: the fraction of frames whose centre distance to the ground truth is within
  a threshold, ``0..50`` px (51 points); the value at 20 px is the classic precision.
- **Normalised precision** (Müller et al., TrackingNet, ECCV 2018): centre error divided by
  the ground-truth width/height, thresholds ``0..0.5`` (51 points), summarised by its AUC.

Conventions are explicit keyword arguments. Defaults: continuous IoU (``area = w * h``),
success when ``IoU > t`` (strict), every frame scored including the first, and frames with
no valid ground truth (NaN rows) skipped. A predicted box that is missing (NaN) or has zero
size counts as a failure at every threshold (IoU 0, infinite centre error).

All functions take ``xyxy`` arrays and never read files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes

__all__ = [
    "PRECISION_THRESHOLDS",
    "SUCCESS_THRESHOLDS",
    "OTBResult",
    "OTBSummary",
    "center_errors",
    "evaluate_sequence",
    "overlaps",
    "precision_curve",
    "success_curve",
    "summarize",
]

FloatArray = NDArray[np.float64]

#: IoU thresholds of the success plot (21 points, 0..1).
SUCCESS_THRESHOLDS: FloatArray = np.linspace(0.0, 1.0, 21)
#: Centre-distance thresholds of the precision plot in pixels (51 points, 0..50).
PRECISION_THRESHOLDS: FloatArray = np.arange(0.0, 51.0)
#: Normalised centre-distance thresholds (51 points, 0..0.5).
NORM_PRECISION_THRESHOLDS: FloatArray = np.linspace(0.0, 0.5, 51)


def _valid(boxes: FloatArray) -> NDArray[np.bool_]:
    return (
        np.all(np.isfinite(boxes), axis=1)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )


def _pair(pred: ArrayLike, gt: ArrayLike) -> tuple[FloatArray, FloatArray]:
    p, g = as_boxes(pred), as_boxes(gt)
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    return p, g


def overlaps(pred: ArrayLike, gt: ArrayLike, pixel_inclusive: bool = False) -> FloatArray:
    """Per-frame IoU of ``(N, 4)`` ``xyxy`` predictions and ground truth.

    Args:
        pixel_inclusive: add 1 to widths and heights (the OTB toolkit's pixel-index areas).

    Returns:
        ``(N,)`` float64; 0 where either box is missing (NaN) or has zero size.
    """
    p, g = _pair(pred, gt)
    ok = _valid(p) & _valid(g)
    add = 1.0 if pixel_inclusive else 0.0
    out = np.zeros(len(p))
    if not ok.any():
        return out
    a, b = p[ok], g[ok]
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + add, 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + add, 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0] + add) * (a[:, 3] - a[:, 1] + add)
    area_b = (b[:, 2] - b[:, 0] + add) * (b[:, 3] - b[:, 1] + add)
    out[ok] = inter / (area_a + area_b - inter)
    return out


def center_errors(pred: ArrayLike, gt: ArrayLike, normalized: bool = False) -> FloatArray:
    """Per-frame distance between box centres (pixels, or normalised by the gt size).

    Returns:
        ``(N,)`` float64; ``inf`` where either box is missing or has zero size.
    """
    p, g = _pair(pred, gt)
    ok = _valid(p) & _valid(g)
    out = np.full(len(p), np.inf)
    d = (p[ok, :2] + p[ok, 2:]) / 2.0 - (g[ok, :2] + g[ok, 2:]) / 2.0
    if normalized:
        d = d / (g[ok, 2:] - g[ok, :2])
    out[ok] = np.hypot(d[:, 0], d[:, 1])
    return out


def success_curve(
    ious: ArrayLike, thresholds: ArrayLike = SUCCESS_THRESHOLDS, strict: bool = True
) -> FloatArray:
    """Fraction of frames with ``IoU > t`` (``>=`` when not ``strict``) for each threshold."""
    o = np.asarray(ious, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    if o.size == 0:
        return np.zeros(len(t))
    hits = o[None, :] > t[:, None] if strict else o[None, :] >= t[:, None]
    return hits.mean(axis=1)


def precision_curve(errors: ArrayLike, thresholds: ArrayLike = PRECISION_THRESHOLDS) -> FloatArray:
    """Fraction of frames with centre error ``<= t`` for each threshold."""
    e = np.asarray(errors, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    if e.size == 0:
        return np.zeros(len(t))
    return (e[None, :] <= t[:, None]).mean(axis=1)


@dataclass(frozen=True)
class _OTBScores:
    """Curves and their summary numbers (fractions in ``[0, 1]``).

    Attributes:
        success: ``(21,)`` success curve over :data:`SUCCESS_THRESHOLDS`.
        precision: ``(51,)`` precision curve over :data:`PRECISION_THRESHOLDS`.
        norm_precision: ``(51,)`` normalised precision curve.
        success_auc: mean of ``success``.
        precision_20px: precision at 20 px.
        norm_precision_auc: mean of ``norm_precision``.
    """

    success: FloatArray
    precision: FloatArray
    norm_precision: FloatArray
    success_auc: float
    precision_20px: float
    norm_precision_auc: float


@dataclass(frozen=True)
class OTBResult(_OTBScores):
    """One-pass evaluation of one sequence: the curves and numbers of :class:`_OTBScores`.

    Attributes:
        frames: number of frames scored.
    """

    frames: int


def evaluate_sequence(
    pred: ArrayLike,
    gt: ArrayLike,
    *,
    first_frame: bool = True,
    skip_invalid_gt: bool = True,
    strict: bool = True,
    pixel_inclusive: bool = False,
    precision_at: float = 20.0,
) -> OTBResult:
    """Success/precision evaluation of one sequence.

    Args:
        pred: ``(N, 4)`` ``xyxy`` tracker boxes (NaN rows = no answer, a failure).
        gt: ``(N, 4)`` ``xyxy`` ground truth (NaN rows = no valid annotation).
        first_frame: score frame 0 (the initialisation frame) too.
        skip_invalid_gt: leave out frames without valid ground truth (else they are failures).
        strict: success when ``IoU > t`` (else ``>=``).
        pixel_inclusive: OTB toolkit areas (``w + 1``) instead of continuous ones.
        precision_at: the distance threshold reported as ``precision_20px``.
    """
    p, g = _pair(pred, gt)
    keep = np.ones(len(g), dtype=bool)
    if not first_frame and len(keep):
        keep[0] = False
    if skip_invalid_gt:
        keep &= _valid(g)
    p, g = p[keep], g[keep]
    ious = overlaps(p, g, pixel_inclusive=pixel_inclusive)
    err = center_errors(p, g)
    nerr = center_errors(p, g, normalized=True)
    succ = success_curve(ious, SUCCESS_THRESHOLDS, strict=strict)
    prec = precision_curve(err, PRECISION_THRESHOLDS)
    nprec = precision_curve(nerr, NORM_PRECISION_THRESHOLDS)
    p20 = float(np.mean(err <= precision_at)) if len(err) else 0.0
    return OTBResult(
        success=succ,
        precision=prec,
        norm_precision=nprec,
        success_auc=float(succ.mean()),
        precision_20px=p20,
        norm_precision_auc=float(nprec.mean()),
        frames=len(ious),
    )


@dataclass(frozen=True)
class OTBSummary(_OTBScores):
    """Mean over sequences (each sequence weighs the same, as in the OTB plots): the mean
    curves and the means of the per-sequence numbers.

    Attributes:
        sequences: number of sequences averaged.
    """

    sequences: int


def summarize(results: Mapping[str, OTBResult]) -> OTBSummary:
    """Average per-sequence results (raises ``ValueError`` when there are none)."""
    if not results:
        raise ValueError("no sequence results to summarise")
    rs = list(results.values())
    return OTBSummary(
        success=np.mean([r.success for r in rs], axis=0),
        precision=np.mean([r.precision for r in rs], axis=0),
        norm_precision=np.mean([r.norm_precision for r in rs], axis=0),
        success_auc=float(np.mean([r.success_auc for r in rs])),
        precision_20px=float(np.mean([r.precision_20px for r in rs])),
        norm_precision_auc=float(np.mean([r.norm_precision_auc for r in rs])),
        sequences=len(rs),
    )
