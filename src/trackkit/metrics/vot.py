"""VOT supervised (reset-based) evaluation (Kristan et al., VOT2015-VOT2019 challenges).

The tracker starts from the ground truth; on a **failure** — a frame whose predicted region
does not overlap the ground truth at all — it is re-initialised ``skip`` (5) frames later.
From such runs:

- **Accuracy**: mean overlap over the tracked frames, leaving out ``burnin`` (10) frames after
  every (re-)initialisation.
- **Robustness**: the number of failures (and failures per 100 frames).
- **EAO** (expected average overlap, VOT2015): cut every run into fragments, each from an
  initialisation to the next failure (then padded with zeros — the tracker is lost for good)
  or to the end of the sequence (its later values are unknown). For a length ``Ns`` the
  expected average overlap is the mean, over the fragments long enough or ending in a failure,
  of the mean overlap of their first ``Ns`` frames; EAO averages it over
  ``Ns in [lo, hi]`` (VOT2016: 108..371).

Conventions: the initialisation frame scores the overlap of the box the tracker was given;
frames without valid ground truth are never failures and are left out of the accuracy.
Functions take per-frame arrays and never read files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes

__all__ = [
    "SupervisedRun",
    "VOTResult",
    "eao_curve",
    "evaluate_vot",
    "polygon_overlaps",
    "vot_accuracy",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SupervisedRun:
    """One reset-based run on one sequence.

    Attributes:
        overlaps: ``(N,)`` float64 per-frame overlap with the ground truth; NaN on frames the
            tracker skipped after a failure and on frames without valid ground truth.
        init_frames: 0-based frames where the tracker was (re-)initialised, increasing.
        failure_frames: 0-based frames where it failed (overlap 0), increasing.
    """

    overlaps: FloatArray
    init_frames: tuple[int, ...]
    failure_frames: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.overlaps)


def polygon_overlaps(boxes: ArrayLike, polygons: ArrayLike) -> FloatArray:
    """IoU of axis-aligned ``xyxy`` boxes with (rotated) 4-corner ground-truth polygons.

    Args:
        boxes: ``(N, 4)`` ``xyxy``.
        polygons: ``(N, 8)`` corners ``x1,y1,...,x4,y4``.

    Returns:
        ``(N,)`` float64; 0 where a box is missing or degenerate, NaN where the polygon is.
    """
    b = as_boxes(boxes)
    p = np.asarray(polygons, dtype=np.float64).reshape(-1, 8)
    if len(p) != len(b):
        raise ValueError(f"{len(b)} boxes but {len(p)} polygons")
    out = np.zeros(len(b))
    for i in range(len(b)):
        poly = p[i].reshape(4, 2).astype(np.float32)
        if not np.all(np.isfinite(poly)):
            out[i] = np.nan
            continue
        poly_area = abs(float(cv2.contourArea(poly)))
        x1, y1, x2, y2 = b[i]
        if not np.all(np.isfinite(b[i])) or x2 <= x1 or y2 <= y1 or poly_area <= 0:
            continue
        rect = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
        if cv2.contourArea(poly, oriented=True) < 0:
            poly = poly[::-1].copy()
        inter, _ = cv2.intersectConvexConvex(rect, poly)
        union = (x2 - x1) * (y2 - y1) + poly_area - inter
        out[i] = max(float(inter), 0.0) / union if union > 0 else 0.0
    return out


def vot_accuracy(run: SupervisedRun, burnin: int = 10) -> tuple[float, int]:
    """Mean overlap of one run without the ``burnin`` frames after each initialisation.

    Returns:
        ``(accuracy, frames)``: mean overlap (NaN when no frame counts) and frames counted.
    """
    o = np.asarray(run.overlaps, dtype=np.float64).copy()
    for s in run.init_frames:
        o[s : s + burnin] = np.nan
    counted = o[np.isfinite(o)]
    return (float(counted.mean()) if counted.size else float("nan"), int(counted.size))


def _fragments(run: SupervisedRun, max_len: int) -> list[FloatArray]:
    """Fragments of a run, each of length ``max_len``: zeros after a failure, NaN when the
    sequence ends before ``max_len``."""
    o = np.nan_to_num(np.asarray(run.overlaps, dtype=np.float64), nan=0.0)
    n = len(o)
    failures = sorted(run.failure_frames)
    frags = []
    for start in run.init_frames:
        frag = np.full(max_len, np.nan)
        fail = next((f for f in failures if f >= start), None)
        if fail is not None:
            seg = o[start : fail + 1][:max_len]
            frag[:] = 0.0
        else:
            seg = o[start:n][:max_len]
        frag[: len(seg)] = seg
        frags.append(frag)
    return frags


def eao_curve(runs: Sequence[SupervisedRun], max_len: int) -> FloatArray:
    """Expected average overlap for every length ``1..max_len``.

    Returns:
        ``(max_len,)`` float64; entry ``Ns - 1`` is the mean over qualifying fragments of
        their average overlap over the first ``Ns`` frames (NaN when none qualifies).
    """
    frags = [f for r in runs for f in _fragments(r, max_len)]
    if not frags:
        return np.full(max_len, np.nan)
    f = np.stack(frags)  # (F, max_len)
    known = np.isfinite(f)
    csum = np.cumsum(np.nan_to_num(f, nan=0.0), axis=1)
    lengths = np.arange(1, max_len + 1)
    avg = csum / lengths[None, :]
    curve = np.full(max_len, np.nan)
    for k in range(max_len):
        ok = known[:, k]
        if ok.any():
            curve[k] = avg[ok, k].mean()
    return curve


@dataclass(frozen=True)
class VOTResult:
    """Supervised-protocol summary over sequences.

    Attributes:
        accuracy: mean over sequences of the per-sequence accuracy.
        failures: total number of failures.
        robustness: failures per 100 frames (all sequences together).
        eao: expected average overlap over ``Ns in eao_range``.
        eao_curve: ``(hi,)`` expected average overlap for lengths ``1..hi``.
        per_sequence: name -> ``(accuracy, failures, frames)``.
    """

    accuracy: float
    failures: int
    robustness: float
    eao: float
    eao_curve: FloatArray
    per_sequence: dict[str, tuple[float, int, int]]


def evaluate_vot(
    runs: Mapping[str, SupervisedRun],
    *,
    burnin: int = 10,
    eao_range: tuple[int, int] = (108, 371),
) -> VOTResult:
    """Accuracy, robustness and EAO of reset-based runs (one per sequence).

    Args:
        runs: sequence name -> run.
        burnin: frames after each (re-)initialisation left out of the accuracy.
        eao_range: ``(lo, hi)`` sequence lengths averaged by the EAO, inclusive (VOT2016).
    """
    if not runs:
        raise ValueError("no runs to evaluate")
    lo, hi = eao_range
    if not 1 <= lo <= hi:
        raise ValueError(f"bad eao_range {eao_range}")
    per: dict[str, tuple[float, int, int]] = {}
    for name, run in runs.items():
        acc, _ = vot_accuracy(run, burnin)
        per[name] = (acc, len(run.failure_frames), len(run))
    accs = [a for a, _, _ in per.values() if np.isfinite(a)]
    failures = sum(f for _, f, _ in per.values())
    frames = sum(n for _, _, n in per.values())
    curve = eao_curve(list(runs.values()), hi)
    window = curve[lo - 1 : hi]
    eao = float(np.nanmean(window)) if np.isfinite(window).any() else float("nan")
    return VOTResult(
        accuracy=float(np.mean(accs)) if accs else float("nan"),
        failures=failures,
        robustness=100.0 * failures / max(frames, 1),
        eao=eao,
        eao_curve=curve,
        per_sequence=per,
    )
