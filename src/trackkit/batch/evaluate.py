"""Score a batch's finished MOTChallenge results, with the code of ``trackkit eval mot``.

Each tracker's finished sequences that have ground truth (``GT/<name>/gt/gt.txt``) are read
with :func:`trackkit.io.mot_sequence.load_mot_sequence` under the benchmark's conventions and
scored by :func:`trackkit.metrics.mot.evaluate_mot`: the numbers of ``trackkit eval mot
--gt GT --pred OUT[/<tracker>] --seqs ...``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError

__all__ = ["evaluate_batch", "infer_benchmark"]

logger = logging.getLogger(__name__)


def infer_benchmark(names: list[str]) -> str:
    """The benchmark of sequence names that all start with the same ``MOT16-``, ``MOT17-`` or
    ``MOT20-`` (the rule of ``trackkit eval mot``); else a :class:`ConfigError`."""
    found = {m.group(1) for n in names if (m := re.match(r"(MOT1[67]|MOT20)-", n))}
    if len(found) == 1 and all(re.match(r"MOT(1[67]|20)-", n) for n in names):
        return found.pop()
    raise ConfigError(
        f"cannot tell the benchmark from the sequence names ({', '.join(names[:5])}"
        f"{', ...' if len(names) > 5 else ''}); pass --benchmark MOT15|MOT16|MOT17|MOT20"
    )


def evaluate_batch(summary: Any, gt_root: str | Path, benchmark: str | None = None) -> dict:
    """tracker -> :class:`~trackkit.metrics.mot.MOTEvaluation` of a
    :class:`~trackkit.batch.BatchSummary`'s finished sequences with ground truth in
    ``gt_root`` (trackers with none are left out, with a warning)."""
    from trackkit.io.mot_sequence import discover_sequences, load_mot_sequence
    from trackkit.metrics.mot import evaluate_mot
    from trackkit.metrics.mot_preprocess import resolve_benchmark

    root = Path(gt_root)
    if not root.is_dir():
        raise ConfigError(f"--eval {root}: ground-truth root not found")
    scores = {}
    for tracker in dict.fromkeys(r.tracker for r in summary.results):
        finished = [r for r in summary.results
                    if r.tracker == tracker and r.status in ("done", "skipped")]  # fmt: skip
        with_gt = [r for r in finished if (root / r.name / "gt" / "gt.txt").is_file()]
        if len(with_gt) < len(finished):
            logger.warning("%s: %d finished source(s) have no ground truth in %s; not scored",
                           tracker, len(finished) - len(with_gt), root)  # fmt: skip
        if not with_gt:
            continue
        pred = with_gt[0].output.parent
        names = discover_sequences(root, pred, [r.name for r in with_gt])
        preprocessing = resolve_benchmark(benchmark or infer_benchmark(names))
        data = [load_mot_sequence(root / n, pred / f"{n}.txt", preprocessing, name=n)
                for n in names]  # fmt: skip
        scores[tracker] = evaluate_mot(data)
    return scores
