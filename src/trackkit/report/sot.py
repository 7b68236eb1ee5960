"""The SOT section of a report: OTB success/precision, per-sequence AUC, per-frame IoU and the
moments the tracker lost the target.

Scores are :func:`trackkit.metrics.otb.evaluate_sequence` / :func:`~trackkit.metrics.otb.
summarize` on the tracker's boxes, exactly as ``trackkit eval sot`` computes them; the per-frame
IoU is :func:`~trackkit.metrics.otb.overlaps` with the same (continuous) convention. A **loss**
is the first frame of a run of frames with a valid ground-truth box and IoU 0 (the VOT
failure criterion); its thumbnail shows the ground truth (green) and the tracker's box.

Results come from ``trackkit eval sot --report`` (the boxes in memory) or from a folder of
``<Seq>.txt`` OTB boxes (``trackkit eval sot --results DIR``, ``trackkit sot``) read with
:func:`trackkit.io.otb.read_reference_results` (these hold 2 decimals, so AUCs can differ
from the printed ones in the last digits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError
from trackkit.io.images import SOTSequence
from trackkit.metrics.otb import (
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    evaluate_sequence,
    overlaps,
    summarize,
)
from trackkit.report.thumbs import Box, Thumbnails

__all__ = ["lost_frames", "read_sot_results", "sot_section", "write_sot_report"]

#: Losses listed per sequence and tracker.
MAX_LOST = 100


def lost_frames(ious: NDArray[np.float64], valid: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(first_frame, length)`` (0-based) of each run of frames with valid ground truth and
    IoU 0 (frames without valid ground truth neither start nor end a run)."""
    out: list[tuple[int, int]] = []
    start, count = -1, 0
    for f in range(len(ious)):
        if not valid[f]:
            continue
        if ious[f] <= 0.0:
            if start < 0:
                start, count = f, 0
            count += 1
        elif start >= 0:
            out.append((start, count))
            start = -1
    if start >= 0:
        out.append((start, count))
    return out


def read_sot_results(
    results_dir: str | Path, sequences: Sequence[SOTSequence]
) -> dict[str, NDArray[np.float64]]:
    """``<Seq>.txt`` (or ``.json``) OTB boxes of a results folder as ``xyxy`` arrays, for the
    sequences that have one; raises :class:`DataNotFoundError` when none has."""
    from trackkit.io.otb import read_reference_results

    folder = Path(results_dir)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: results folder not found")
    out = {}
    for seq in sequences:
        for ext in (".txt", ".json"):
            path = folder / f"{seq.name}{ext}"
            if path.is_file():
                out[seq.name] = read_reference_results(path)
                break
    if not out:
        names = ", ".join(s.name for s in sequences[:5])
        raise DataNotFoundError(f"{folder}: no <Seq>.txt results for the sequences ({names}...)")
    return out


def _xyxy(row: NDArray[np.float64]) -> tuple[float, float, float, float]:
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def sot_section(
    runs: Mapping[str, Mapping[str, NDArray[np.float64]]],
    sequences: Sequence[SOTSequence],
    thumbs: Thumbnails | None = None,
) -> dict[str, Any]:
    """The JSON-ready SOT section.

    Args:
        runs: tracker name -> sequence name -> ``(N, 4)`` ``xyxy`` boxes (one per frame;
            longer or shorter than the sequence: the common frames are scored).
        sequences: the annotated sequences (:func:`trackkit.sot.runner.find_sequences`).
        thumbs: where thumbnails go (a new collection by default).
    """
    thumbs = thumbs if thumbs is not None else Thumbnails()
    by_name = {s.name: s for s in sequences}
    seq_rows: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    for tracker, boxes_of in runs.items():
        results = {}
        for name, boxes in boxes_of.items():
            seq = by_name[name]
            n = min(len(boxes), len(seq))
            pred, gt = np.asarray(boxes[:n], np.float64), seq.boxes[:n]
            res = evaluate_sequence(pred, gt)
            results[name] = res
            valid = np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > gt[:, 0]) & (gt[:, 3] > gt[:, 1])
            ious = overlaps(pred, gt)
            lost = []
            for k, (f, length) in enumerate(lost_frames(ious, valid)[:MAX_LOST]):
                shown = [Box(_xyxy(gt[f]), "gt", "gt")]
                if np.all(np.isfinite(pred[f])):
                    shown.append(Box(_xyxy(pred[f]), "pred", tracker))
                key = thumbs.request(
                    f"sot/{tracker}", f"sot/{tracker}/{name}/{k}", seq.frames[f], shown
                )
                lost.append([f + 1, key, length])
            iou_list = [round(float(v), 3) if ok else None for v, ok in zip(ious, valid)]
            row = seq_rows.setdefault(name, {"name": name, "frames": len(seq), "runs": {}})
            row["runs"][tracker] = {
                "success_auc": res.success_auc,
                "precision_20px": res.precision_20px,
                "norm_precision_auc": res.norm_precision_auc,
                "frames": res.frames,
                "iou": iou_list,
                "lost": lost,
            }
        if results:
            s = summarize(results)
            summary[tracker] = {
                "success": s.success.tolist(),
                "precision": s.precision.tolist(),
                "success_auc": s.success_auc,
                "precision_20px": s.precision_20px,
                "norm_precision_auc": s.norm_precision_auc,
                "sequences": s.sequences,
            }
    thumbs.render()  # each tracker gets its fair part of the thumbnail cap
    for row in seq_rows.values():
        for run in row["runs"].values():
            run["lost"] = [[f, thumbs.get(key), n] for f, key, n in run["lost"]]
    return {
        "kind": "sot",
        "trackers": [t for t in runs if t in summary],
        "success_thresholds": SUCCESS_THRESHOLDS.tolist(),
        "precision_thresholds": PRECISION_THRESHOLDS.tolist(),
        "summary": summary,
        "sequences": [seq_rows[s.name] for s in sequences if s.name in seq_rows],
    }


def write_sot_report(
    path: str | Path,
    runs: Mapping[str, Mapping[str, NDArray[np.float64]]],
    sequences: Sequence[SOTSequence],
    title: str | None = None,
) -> int:
    """Write the page of :func:`sot_section` (``trackkit eval sot --report``); returns its
    size in bytes."""
    from trackkit.report.page import write_page

    thumbs = Thumbnails()
    section = sot_section(runs, sequences, thumbs)
    return write_page(path, [section], thumbs.images, title or f"SOT report: {', '.join(runs)}")
