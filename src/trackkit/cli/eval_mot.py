"""``trackkit eval mot``: MOTChallenge evaluation (HOTA, CLEAR, Identity) like the official kit."""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_verb
from trackkit.errors import TrackkitError
from trackkit.io.atomic import atomic_open, write_text

BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")

HELP = "MOTChallenge evaluation: HOTA, CLEAR (MOTA...), Identity (IDF1...)"
DESCRIPTION = (
    "Evaluate multi-object tracking results against MOTChallenge ground truth, "
    "with the same numbers as the official TrackEval kit."
)


EPILOG = """\
layout:
  GT_ROOT/<seq>/gt/gt.txt, GT_ROOT/<seq>/seqinfo.ini   ground truth (MOTChallenge)
  PRED_DIR/<seq>.txt                                   your tracker's results
  Sequences are the result files present (or --seqs).

benchmark conventions (as the official TrackEval kit):
  MOT16/MOT17/MOT20  tracker boxes matched (IoU >= 0.5) to distractor ground truth
                     (classes 2, 7, 8, 12; MOT20 also 6) are removed, then only class 1
                     with flag != 0 is scored
  MOT15              only ground truth with flag == 0 is dropped; no classes
  default: taken from the sequence names (MOT16-/MOT17-/MOT20-), else required

output: the table shows percentages; --json/--csv hold fractions in [0, 1] and integer counts,
under the official field names (HOTA, DetA, AssA, MOTA, IDF1, IDSW, CLR_FP, IDTP, ...).

example:
  trackkit eval mot --gt data/MOT17/train --pred results/ --json scores.json
"""

#: Column headers that differ from the metric's official name.
HEADERS = {"CLR_FP": "FP", "CLR_FN": "FN"}


def add_eval_parser(sub: Any) -> None:
    parser = add_verb(sub, "mot", HELP, DESCRIPTION, EPILOG)
    parser.add_argument(
        "--gt",
        required=True,
        type=Path,
        metavar="GT_ROOT",
        help="folder of <seq>/gt/gt.txt + <seq>/seqinfo.ini",
    )
    parser.add_argument(
        "--pred",
        required=True,
        type=Path,
        metavar="PRED_DIR",
        help="folder of <seq>.txt result files",
    )
    parser.add_argument(
        "--benchmark",
        type=str.upper,
        choices=BENCHMARKS,
        help="preprocessing conventions (default: from the sequence names)",
    )
    parser.add_argument("--seqs", nargs="+", metavar="NAME", help="evaluate only these sequences")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write all metrics as JSON")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write all metrics as CSV")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (shown only on a terminal)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="processes reading and scoring sequences in parallel (default: 2, or 1 on a "
        "single core); the values do not depend on it",
    )
    parser.set_defaults(func=run)


def _infer_benchmark(names: list[str]) -> str:
    found = {m.group(1) for n in names if (m := re.match(r"(MOT1[67]|MOT20)-", n))}
    if len(found) == 1 and all(re.match(r"MOT(1[67]|20)-", n) for n in names):
        return found.pop()
    raise TrackkitError(
        "cannot tell the benchmark from the sequence names "
        f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}); "
        f"pass --benchmark {'|'.join(BENCHMARKS)} (MOT15 = no class filtering)"
    )


def format_table(rows: dict[str, dict[str, float | int]]) -> str:
    """A fixed-width table of :data:`trackkit.metrics.mot.SUMMARY_FIELDS`: one line per
    sequence, rates in percent, counts as integers."""
    from trackkit.metrics.mot import SUMMARY_FIELDS

    width = max(12, *(len(n) for n in rows)) + 2
    head = "".join(f"{HEADERS.get(k, k):>8}" for k in SUMMARY_FIELDS)
    lines = [f"{'sequence':<{width}}{head}"]
    for name, metrics in rows.items():
        cells = []
        for key in SUMMARY_FIELDS:
            v = metrics[key]
            cells.append(f"{int(v):>8d}" if isinstance(v, int) else f"{100 * float(v):>8.3f}")
        lines.append(f"{name:<{width}}" + "".join(cells))
    return "\n".join(lines)


def _load(gt_dir: Path, pred_file: Path, preprocessing: Any, name: str) -> Any:
    """One sequence read once (the same steps as ``trackkit.io.mot_sequence.load_mot_sequence``),
    with a warning (stderr) when its result boxes do not fit the image size: x1, y1, x2, y2
    written instead of x, y, w, h scores as nonsense without any error."""
    from trackkit.io.export import box_format_problem
    from trackkit.io.mot_sequence import _check_rows
    from trackkit.io.mot_txt import read_mot_txt, read_seqinfo
    from trackkit.metrics.mot_preprocess import preprocess_mot

    info = read_seqinfo(gt_dir / "seqinfo.ini")
    gt = read_mot_txt(gt_dir / "gt" / "gt.txt", "gt")
    pred = read_mot_txt(pred_file, "result")
    _check_rows(gt, info.seq_length)
    _check_rows(pred, info.seq_length)
    problem = box_format_problem(pred.xyxy, info.im_width, info.im_height)
    if problem is not None:
        print(f"warning: {pred_file}: {problem}", file=sys.stderr)
    try:
        return preprocess_mot(name, info.seq_length, gt, pred, preprocessing)
    except TrackkitError as exc:
        raise TrackkitError(f"{gt.path}: {exc}") from None


def _size(gt: Path, pred: Path, name: str) -> int:
    """Bytes to read for a sequence (its share of the work)."""
    return sum(p.stat().st_size for p in (gt / name / "gt" / "gt.txt", pred / f"{name}.txt"))


def _balance(names: list[str], sizes: list[int], workers: int) -> list[list[str]]:
    """``names`` in ``workers`` groups of similar total size (largest first, greedily)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(names))))]
    load = [0] * len(groups)
    for size, name in sorted(zip(sizes, names), reverse=True):
        k = load.index(min(load))
        groups[k].append(name)
        load[k] += size
    return groups


def _evaluate_group(job: tuple[Path, Path, Any, list[str]]) -> dict[str, Any]:
    """Read and evaluate some sequences: ``{name: MOTMetrics}``."""
    from trackkit.metrics.mot import evaluate_mot_sequence

    gt, pred, preprocessing, names = job
    return {
        n: evaluate_mot_sequence(_load(gt / n, pred / f"{n}.txt", preprocessing, n)) for n in names
    }


def _map_forked(fn: Any, jobs: list[Any]) -> list[Any]:
    """``[fn(job) for job in jobs]``, the jobs after the first in forked child processes
    (POSIX; elsewhere, or with one job, in this process). An error of a child is raised here."""
    if len(jobs) <= 1 or not hasattr(os, "fork"):
        return [fn(job) for job in jobs]
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    children = []
    for job in jobs[1:]:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, job, send), daemon=True)
        proc.start()
        send.close()
        children.append((proc, receive))
    results = [fn(jobs[0])]
    for proc, receive in children:
        ok, value = receive.recv()
        proc.join()
        if not ok:
            raise value
        results.append(value)
    return results


def _child(fn: Any, job: Any, send: Any) -> None:
    try:
        send.send((True, fn(job)))
    except Exception as exc:  # sent to the parent, which raises it
        send.send((False, exc))
    finally:
        send.close()


def run(args: argparse.Namespace) -> int:
    """Evaluate every sequence, print the table, write --json / --csv."""
    # what the workers use, imported (and the solver loaded) once before they fork
    import trackkit.io.export  # noqa: F401
    from trackkit.io.mot_sequence import discover_sequences
    from trackkit.metrics.lsap import linear_sum_assignment
    from trackkit.metrics.mot import MOTEvaluation, MOTMetrics, combine_mot
    from trackkit.metrics.mot_preprocess import resolve_benchmark

    linear_sum_assignment([[0.0]])

    names = discover_sequences(args.gt, args.pred, args.seqs)
    benchmark = args.benchmark or _infer_benchmark(names)
    preprocessing = resolve_benchmark(benchmark)
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    if workers < 1:
        raise TrackkitError(f"--workers {workers}: must be >= 1")
    groups = _balance(names, [_size(args.gt, args.pred, n) for n in names], workers)
    jobs = [(args.gt, args.pred, preprocessing, g) for g in groups if g]
    per_seq: dict[str, MOTMetrics] = {}
    for part in _map_forked(_evaluate_group, jobs):
        per_seq.update(part)
    sequences = {n: per_seq[n] for n in names}
    evaluation = MOTEvaluation(sequences, combine_mot(list(sequences.values())))
    rows = {name: m.as_dict() for name, m in evaluation.sequences.items()}
    rows["COMBINED"] = evaluation.combined.as_dict()
    print(f"benchmark {benchmark}, {len(names)} sequence(s)")
    print(format_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": benchmark, **evaluation.as_dict()}
        write_text(args.json, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        fields = sorted(rows["COMBINED"])
        with atomic_open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sequence", *fields])
            for name, metrics in rows.items():
                writer.writerow([name, *(metrics[f] for f in fields)])
        print(f"wrote {args.csv}")
    return 0
