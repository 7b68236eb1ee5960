"""DSLT: k-fold selection by sequence of a parameter chosen on the shared sequences.

Each candidate configuration runs once (one pass, deterministic) on every shared sequence; for
each fold of a k-fold split by video (:func:`trackkit.sot.train.folds.make_folds`, seed 0;
Jogging-1/-2 stay in one fold) the candidate with the best mean success AUC on the other folds
is scored on the held-out fold (``ABLATIONS`` are run and printed, never selected). Printed:
the per-sequence table of every run, then per K the choice of each fold and the held-out mean
AUC over all sequences (every sequence scored by a choice made without it). Per-sequence AUCs
are kept in ``--json`` (a run already there is not run again).

    nice -n 5 python benchmarks/dslt_select.py --json runs/dslt_select.json   # docs/sot-dslt.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.io.images import read_image
from trackkit.metrics.otb import evaluate_sequence
from trackkit.shared import shared_path
from trackkit.sot import build
from trackkit.sot.runner import find_sequences, run_sequence
from trackkit.sot.train.folds import make_folds

#: label -> DSLT options (the paper's update rule, trackkit's gate, a third depth)
CANDIDATES: dict[str, dict[str, Any]] = {
    "paper (update_threshold=0)": {"update_threshold": 0.0},
    "update_threshold=0.7": {"update_threshold": 0.7},
    "layers=3,6,9": {"update_threshold": 0.0, "layers": (3, 6, 9)},
}
#: run and printed, never selected: the loss ablation at the tracking level
ABLATIONS: dict[str, dict[str, Any]] = {
    "paper, loss=l2": {"update_threshold": 0.0, "loss": "l2"},
}


def run_candidates(root: Path, path: Path | None) -> dict[str, dict[str, float]]:
    """``candidate -> sequence -> success AUC`` (read from / written to ``path``)."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    done: dict[str, dict[str, float]] = {}
    if path is not None and path.exists():
        done = json.loads(path.read_text())
    seqs = find_sequences(root)
    for name, opts in {**CANDIDATES, **ABLATIONS}.items():
        if name in done and len(done[name]) == len(seqs):
            continue
        done[name] = {}
        for s in seqs:
            frames = [read_image(f) for f in s.frames]
            run = run_sequence(build("dslt", **opts), frames, s.init_box)
            done[name][s.name] = float(evaluate_sequence(run.boxes, s.boxes).success_auc)
            print(f"  {name} {s.name}: {done[name][s.name]:.3f}", file=sys.stderr, flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(done, indent=1) + "\n")
    return done


def select(scores: dict[str, dict[str, float]], k: int) -> tuple[list[str], float]:
    """Per-fold choices (and their held-out mean AUC over all sequences) of a k-fold split."""
    names = sorted(next(iter(scores.values())))
    scores = {c: v for c, v in scores.items() if c in CANDIDATES}
    held: dict[str, float] = {}
    lines = []
    for i, fold in enumerate(make_folds(names, k, seed=0)):
        train = [n for n in names if n not in fold]
        best = max(scores, key=lambda c: float(np.mean([scores[c][n] for n in train])))
        held.update({n: scores[best][n] for n in fold})
        lines.append(
            f"  fold {i} {fold}: {best} (train {np.mean([scores[best][n] for n in train]):.4f}, "
            f"held-out {np.mean([scores[best][n] for n in fold]):.3f})"
        )
    return lines, float(np.mean([held[n] for n in names]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=shared_path("data"))
    ap.add_argument("--json", type=Path, help="per-sequence AUCs (reused when present)")
    ap.add_argument("--folds", type=int, nargs="+", default=[3, 4])
    args = ap.parse_args()
    if args.root is None:
        print("shared data folder not found (set TRACKKIT_SHARED)", file=sys.stderr)
        return 2
    scores = run_candidates(args.root, args.json)
    names = list(next(iter(scores.values())))
    print("| candidate | " + " | ".join(names) + " | mean AUC |")
    print("|" + "---|" * (len(names) + 2))
    for c, per in scores.items():
        cells = " | ".join(f"{per[n]:.3f}" for n in names)
        print(f"| {c} | {cells} | {np.mean(list(per.values())):.3f} |")
    for k in args.folds:
        lines, mean = select(scores, k)
        print(f"\n{k}-fold by video:")
        print("\n".join(lines))
        print(f"  held-out mean AUC: {mean:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
