"""Load MOTChallenge ground truth + tracker results into the metrics' sequence structure.

Layout: ``GT_ROOT/<seq>/gt/gt.txt`` and ``GT_ROOT/<seq>/seqinfo.ini``; ``PRED_DIR/<seq>.txt``.
This module reads files and applies the benchmark's preprocessing
(:func:`trackkit.metrics.mot_preprocess.preprocess_mot`); the metrics themselves never read files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.io.mot_txt import MOTTable, read_mot_txt, read_seqinfo
from trackkit.metrics.mot_data import MOTSequenceData
from trackkit.metrics.mot_preprocess import MOTPreprocessing, preprocess_mot, resolve_benchmark

__all__ = ["discover_sequences", "load_mot_benchmark", "load_mot_sequence"]


def _check_rows(table: MOTTable, num_frames: int) -> None:
    """Frames within ``1..num_frames`` and no id twice in one frame, else a FormatError."""
    if len(table) == 0:
        return
    late = np.flatnonzero(table.frames > num_frames)
    if len(late):
        i = int(late[0])
        raise FormatError(
            table.path,
            f"frame {table.frames[i]} is beyond the sequence's {num_frames} frames (seqinfo.ini)",
            int(table.lines[i]),
            1,
        )
    order = np.lexsort((table.ids, table.frames))
    f, ids = table.frames[order], table.ids[order]
    dup = np.flatnonzero((f[1:] == f[:-1]) & (ids[1:] == ids[:-1]))
    if len(dup):
        i = int(order[dup[0] + 1])
        first = int(order[dup[0]])
        raise FormatError(
            table.path,
            f"id {table.ids[i]} appears twice in frame {table.frames[i]} "
            f"(also on line {table.lines[first]})",
            int(table.lines[i]),
            2,
        )


def load_mot_sequence(
    gt_seq_dir: str | Path,
    pred_file: str | Path,
    benchmark: str | MOTPreprocessing = "MOT17",
    name: str | None = None,
) -> MOTSequenceData:
    """Read one sequence's ground truth and results and preprocess them.

    Args:
        gt_seq_dir: folder with ``gt/gt.txt`` and ``seqinfo.ini``.
        pred_file: tracker results (MOTChallenge format; an empty file is valid).
        benchmark: ``"MOT15"``, ``"MOT16"``, ``"MOT17"``, ``"MOT20"`` or explicit conventions
            (resolve a name once with :func:`~trackkit.metrics.mot_preprocess.resolve_benchmark`
            when loading many sequences).
        name: sequence name (default: the folder's name).
    """
    gt_dir = Path(gt_seq_dir)
    preprocessing = resolve_benchmark(benchmark)
    info = read_seqinfo(gt_dir / "seqinfo.ini")
    gt = read_mot_txt(gt_dir / "gt" / "gt.txt", "gt")
    pred = read_mot_txt(pred_file, "result")
    _check_rows(gt, info.seq_length)
    _check_rows(pred, info.seq_length)
    try:
        return preprocess_mot(name or gt_dir.name, info.seq_length, gt, pred, preprocessing)
    except TrackkitError as exc:
        raise TrackkitError(f"{gt.path}: {exc}") from None


def discover_sequences(
    gt_root: str | Path, pred_dir: str | Path, seqs: Sequence[str] | None = None
) -> list[str]:
    """Names of the sequences to evaluate: ``seqs`` or the result files present.

    Raises :class:`DataNotFoundError` listing the names when a result has no ground-truth
    folder or a requested sequence has no result file.
    """
    gt_root, pred_dir = Path(gt_root), Path(pred_dir)
    for folder, what in ((gt_root, "ground-truth root"), (pred_dir, "results folder")):
        if not folder.is_dir():
            raise DataNotFoundError(f"{folder}: {what} not found")
    if seqs:
        names = list(dict.fromkeys(seqs))
        missing = [n for n in names if not (pred_dir / f"{n}.txt").is_file()]
        if missing:
            raise DataNotFoundError(
                f"{pred_dir}: no result file for {', '.join(missing)} (expected <seq>.txt)"
            )
    else:
        names = sorted(p.stem for p in pred_dir.glob("*.txt"))
        if not names:
            raise DataNotFoundError(f"{pred_dir}: no result files (<seq>.txt) found")
    no_gt = [n for n in names if not (gt_root / n / "gt" / "gt.txt").is_file()]
    if no_gt:
        raise DataNotFoundError(
            f"{gt_root}: no ground truth (<seq>/gt/gt.txt) for {', '.join(no_gt)}"
        )
    return names


def load_mot_benchmark(
    gt_root: str | Path,
    pred_dir: str | Path,
    benchmark: str | MOTPreprocessing = "MOT17",
    seqs: Sequence[str] | None = None,
) -> list[MOTSequenceData]:
    """Load every sequence of :func:`discover_sequences` with :func:`load_mot_sequence`."""
    names = discover_sequences(gt_root, pred_dir, seqs)
    preprocessing = resolve_benchmark(benchmark)
    return [
        load_mot_sequence(Path(gt_root) / n, Path(pred_dir) / f"{n}.txt", preprocessing, name=n)
        for n in names
    ]
