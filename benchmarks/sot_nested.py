"""Nested held-out choice of one tracking option: k-fold by video, the choice made on the
other folds only.

For each value of ``--grid KEY=V1,V2,...`` (tracker options on top of the tracker's own and
``--set``), every shared sequence is scored once by the fold model that did not train on it
(the fold models of ``benchmarks/sot_otb.py --folds K``: the same recipes, run folders and
names under ``--runs``, so finished folds are reused, not retrained). Then, for each outer fold
k, the value with the best mean AUC over the *other* folds' sequences (each scored by a model
that never saw it) is chosen and fold k is scored with it: the **nested held-out** number,
where no score of a sequence decided the setting it is reported with. The default a user gets
is the value best on all sequences by the same rule.

``--baseline LABEL`` scores another tracker the same way (same fold models when it shares the
recipe) for the same-run comparison; it takes no part in the choice. ``--seeds 0,1`` scores
everything with each tracker seed (randomised trackers: MDNet, ADNet, VITAL) and chooses on the
per-sequence mean over the seeds, and prints each variant's (and the nested choice's) mean
per seed; ``--per-seq`` adds the per-sequence table of seed means.
Per-sequence scores are written to ``--json`` as they come; a rerun with the same file skips
what it holds (a killed run resumes).

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/sot_nested.py --tracker mdnet-vital \\
        --grid adv_weight=0.25,0.5,0.75,1.0 --baseline mdnet --runs /tmp/runs --json v.json
    OMP_NUM_THREADS=1 python benchmarks/sot_nested.py --tracker adnet \\
        --grid conf_neg_iou=0.5,0.7 --seeds 0,1 --runs /tmp/runs --json a1.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sot_otb import TRACKERS  # noqa: E402

from trackkit.config import parse_overrides  # noqa: E402
from trackkit.metrics.otb import evaluate_sequence  # noqa: E402
from trackkit.shared import shared_path  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.runner import find_sequences, run_sequence  # noqa: E402
from trackkit.sot.train.folds import RECIPES, make_folds, train_fold  # noqa: E402


def fold_models(label: str, args: argparse.Namespace, seqs: list[Any]) -> list[Path | None]:
    """The model of each fold for ``label`` (``None`` for an untrained tracker), trained or
    reused under ``args.runs`` exactly as ``sot_otb.py --folds`` names them."""
    reg = next((r for n, r, _ in TRACKERS if n == label), None)
    if reg is None:
        raise SystemExit(f"unknown tracker {label!r}; known: {[t[0] for t in TRACKERS]}")
    recipe = RECIPES.get(reg)
    folds = make_folds([s.name for s in seqs], args.folds, args.fold_seed)
    if recipe is None:
        return [None] * len(folds)
    # the first label of the same network (mdnet-vital -> mdnet): one recipe, one set of runs
    owner = next(n for n, r, _ in TRACKERS if r == reg)
    budget = f"e{args.epochs or recipe.epochs}s{args.steps or recipe.steps}"
    out = args.runs / f"{owner}-k{args.folds}-seed{args.fold_seed}-{budget}"
    paths: list[Path | None] = []
    for k, fold in enumerate(folds):
        train = [s for s in seqs if s.name not in fold]
        paths.append(train_fold(recipe, train, fold, out / f"fold{k + 1}", args.epochs, args.steps))
    return paths


def score_variant(
    label: str, options: dict[str, Any], models: list[Path | None], args: argparse.Namespace,
    seqs: list[Any], frames: dict[str, list[Any]], done: dict[str, float], save: Any,
) -> dict[str, float]:  # fmt: skip
    """Success AUC of every sequence, each scored by its held-out fold's model."""
    reg, cfg = next((r, c) for n, r, c in TRACKERS if n == label)
    folds = make_folds([s.name for s in seqs], args.folds, args.fold_seed)
    for k, fold in enumerate(folds):
        weights = {} if models[k] is None else {"weights": str(models[k])}
        for s in (s for s in seqs if s.name in fold and s.name not in done):
            run = run_sequence(
                build(reg, **{**cfg, **options, **weights}), frames[s.name], s.init_box
            )
            done[s.name] = float(evaluate_sequence(run.boxes, s.boxes).success_auc)
            print(f"  {label} {options}: {s.name} (fold {k + 1}) {done[s.name]:.3f}",
                  file=sys.stderr, flush=True)  # fmt: skip
            save()
    return done


def nested(
    auc: dict[str, dict[str, float]], fold_of: dict[str, int]
) -> tuple[dict[int, str], float]:
    """Per outer fold, the variant best on the other folds' sequences; the nested mean."""
    ks = sorted(set(fold_of.values()))
    choice = {}
    for k in ks:
        others = [s for s in fold_of if fold_of[s] != k]
        choice[k] = max(auc, key=lambda v: float(np.mean([auc[v][s] for s in others])))
    return choice, float(np.mean([auc[choice[fold_of[s]]][s] for s in fold_of]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, help="a label of sot_otb.py's TRACKERS")
    ap.add_argument("--grid", required=True, help="KEY=V1,V2,...: the option and its values")
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="fixed tracker options of every variant and the baseline (e.g. seed=1)",
    )
    ap.add_argument(
        "--seeds", help="S1,S2,...: score every variant with each tracker seed; AUCs averaged"
    )
    ap.add_argument("--baseline", help="another label, scored the same way (not chosen from)")
    ap.add_argument("--root", type=Path, default=shared_path("data"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--runs", type=Path, default=Path("runs/folds"))
    ap.add_argument("--json", type=Path, help="per-sequence scores, written as they come")
    ap.add_argument("--per-seq", action="store_true", help="print the per-sequence table too")
    args = ap.parse_args()
    if args.root is None:
        raise SystemExit("shared data folder not found; pass --root")
    key, sep, values = args.grid.partition("=")
    if not sep or not values:
        raise SystemExit(f"--grid {args.grid!r}: expected KEY=V1,V2,...")
    fixed = parse_overrides(args.set)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    seqs = find_sequences(args.root)
    frames = {s.name: list(s.iter_frames()) for s in seqs}
    folds = make_folds([s.name for s in seqs], args.folds, args.fold_seed)
    fold_of = {n: k + 1 for k, f in enumerate(folds) for n in f}
    saved: dict[str, dict[str, float]] = (
        json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    )

    def save() -> None:
        if args.json is not None:
            tmp = args.json.with_suffix(".tmp")
            tmp.write_text(json.dumps(saved, indent=1) + "\n")
            tmp.replace(args.json)

    seeds: list[int | None] = [int(x) for x in args.seeds.split(",")] if args.seeds else [None]
    grid = [(f"{key}={v}", parse_overrides([f"{key}={v}"])) for v in values.split(",")]
    runs = [(args.tracker, name, opts) for name, opts in grid]
    if args.baseline:
        runs.append((args.baseline, f"baseline {args.baseline}", {}))
    models = {label: fold_models(label, args, seqs) for label, _, _ in runs}
    auc: dict[str, dict[str, float]] = {}
    seeded: dict[str, list[dict[str, float]]] = {}
    for label, name, opts in runs:
        per_seed = []
        for seed in seeds:
            tag = name if seed is None else f"{name} seed={seed}"
            options = {**fixed, **opts, **({} if seed is None else {"seed": seed})}
            done = saved.setdefault(tag, {})
            per_seed.append(
                score_variant(label, options, models[label], args, seqs, frames, done, save)
            )
        # the mean over the tracker seeds, per sequence
        auc[name] = {s: float(np.mean([d[s] for d in per_seed])) for s in fold_of}
        seeded[name] = per_seed
    ks = sorted(set(fold_of.values()))
    what = f"{args.tracker} {fixed or ''}" + (
        f" (mean of seeds {args.seeds})" if args.seeds else ""
    )
    print(f"| {what} | " + " | ".join(f"fold {k}" for k in ks) + " | mean (held-out) |")
    print("|---" * (len(ks) + 2) + "|")
    for name, a in auc.items():
        per = [np.mean([a[s] for s in fold_of if fold_of[s] == k]) for k in ks]
        cells = " | ".join(f"{x:.3f}" for x in per)
        print(f"| {name} | {cells} | {np.mean(list(a.values())):.3f} |")
    chosen = {name: auc[name] for name, _ in grid}
    choice, mean = nested(chosen, fold_of)
    if len(seeds) > 1:  # per seed: every variant's mean, and the nested choice's
        print("\n| per seed | " + " | ".join(f"seed {x}" for x in seeds) + " | mean |")
        print("|---" * (len(seeds) + 2) + "|")
        rows = {name: [float(np.mean(list(d.values()))) for d in seeded[name]] for name in auc}
        rows["nested choice"] = [
            float(np.mean([seeded[choice[fold_of[s]]][i][s] for s in fold_of]))
            for i in range(len(seeds))
        ]
        for name, vals in rows.items():
            cells = " | ".join(f"{x:.3f}" for x in vals)
            print(f"| {name} | {cells} | {np.mean(vals):.3f} |")
    if args.per_seq:
        names = list(fold_of)
        print("\n| seed mean | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for name, a in auc.items():
            print(f"| {name} | " + " | ".join(f"{a[s]:.3f}" for s in names) + " |")
    print(f"\nnested choice per outer fold (best on the other folds): {choice}")
    print(f"nested held-out mean ({len(fold_of)} sequences): {mean:.3f}")
    best = max(chosen, key=lambda v: float(np.mean(list(chosen[v].values()))))
    print(f"default by the same rule on all sequences: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
