"""Choose ``siamrpn``'s additions (on/off) by k-fold by sequence: a held-out number for the choice.

``siamrpn`` adds three things to NanoTrack's released tracking logic (first-frame box
calibration, DaSiamRPN's distractor-aware re-scoring, DaSiamRPN's long-term mode; see
:mod:`trackkit.sot.trackers.siamrpn`). Which of them to switch on is a choice made on data, so
its score must be held-out: every one of the 2^3 on/off combinations is run once on every
sequence (one pass from the first-frame box, success AUC), the sequences are split into ``K``
folds by video (:func:`trackkit.sot.train.folds.make_folds`, the split of ``benchmarks/
sot_otb.py --folds K``), and for each fold the combination with the best mean AUC on the *other*
folds is scored on the fold (equal scores: the additions stay on, as shipped; the other tie rule
is printed too). Printed: the per-fold choices, the held-out mean of that procedure
(every sequence scored once, by a choice made without it), the in-sample best, the combination
the procedure picks on all sequences (the defaults to set), and OpenCV's TrackerNano on the same
sequences in the same run.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/siamrpn_defaults.py --folds 3 --json out.json

``--weights`` takes any ``siamrpn`` weights (default: the NanoTrack v2 ONNX pair).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trackkit.shared import shared_path  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.runner import find_sequences  # noqa: E402
from trackkit.sot.train.folds import make_folds  # noqa: E402

ADDITIONS = ("calibrate", "distractors", "long_term")


def _sot_otb() -> Any:
    """benchmarks/sot_otb.py as a module (its ``score`` and OpenCV wrappers)."""
    path = Path(__file__).with_name("sot_otb.py")
    spec = importlib.util.spec_from_file_location("sot_otb", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _label(combo: tuple[bool, ...]) -> str:
    on = [a for a, v in zip(ADDITIONS, combo, strict=True) if v]
    return "+".join(on) if on else "plain"


def choose(
    aucs: dict[str, dict[str, float]], folds: list[list[str]], ties: str = "on"
) -> tuple[list[str], dict[str, float], str]:
    """Per fold the label with the best mean AUC on the other folds' sequences; returns the
    choices, the held-out AUC of each sequence under its fold's choice, and the label best on
    all sequences.

    ``ties``: which of equally scoring labels wins (an addition that never triggers on the
    training folds scores exactly as without it): ``"on"`` the one with the most additions on
    (as shipped), ``"off"`` the fewest (``aucs`` lists labels from all off to all on)."""
    order = list(aucs) if ties == "off" else list(reversed(list(aucs)))
    picks: list[str] = []
    held: dict[str, float] = {}
    for fold in folds:
        train = [n for f in folds if f is not fold for n in f]
        best = max(order, key=lambda lab: float(np.mean([aucs[lab][n] for n in train])))
        picks.append(best)
        held.update({n: aucs[best][n] for n in fold})
    names = [n for f in folds for n in f]
    overall = max(order, key=lambda lab: float(np.mean([aucs[lab][n] for n in names])))
    return picks, held, overall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=shared_path("data"))
    ap.add_argument("--weights", default=str(shared_path("weights", "nanotrack_v2") or ""))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold-seed", type=int, default=0)
    ap.add_argument("--seqs", help="comma-separated sequence names")
    ap.add_argument("--json", type=Path, help="per-sequence AUCs (read back with --reuse)")
    ap.add_argument("--reuse", action="store_true", help="take the AUCs from --json")
    args = ap.parse_args()
    if args.root is None or not args.weights:
        raise SystemExit("shared folder not found; pass --root and --weights")
    seqs = find_sequences(args.root)
    if args.seqs:
        keep = set(args.seqs.split(","))
        seqs = [s for s in seqs if s.name in keep]
    names = [s.name for s in seqs]
    folds = make_folds(names, args.folds, args.fold_seed)
    if args.reuse and args.json is not None and args.json.is_file():
        aucs = json.loads(args.json.read_text())["aucs"]
    else:
        import cv2

        cv2.setNumThreads(1)
        bench = _sot_otb()
        frames = {s.name: list(s.iter_frames()) for s in seqs}
        shift = np.zeros(4)
        aucs = {}
        runs: list[tuple[str, Any]] = []
        for combo in itertools.product((False, True), repeat=len(ADDITIONS)):
            opts = dict(zip(ADDITIONS, combo, strict=True))
            runs.append((_label(combo), lambda o=opts: build("siamrpn", weights=args.weights, **o)))
        runs.append(("cv-nano", bench.make("cv-nano")))
        for label, factory in runs:
            res = bench.score(factory, seqs, frames, shift)
            aucs[label] = {r.name: float(r.otb.success_auc) for r in res}
            mean = np.mean(list(aucs[label].values()))
            print(f"  {label}: mean AUC {mean:.3f}", file=sys.stderr, flush=True)
            if args.json is not None:
                args.json.write_text(json.dumps({"folds": folds, "aucs": aucs}, indent=2) + "\n")
    nano = aucs.pop("cv-nano", None)
    for ties in ("on", "off"):
        picks, held, overall = choose(aucs, folds, ties)
        print(f"ties -> additions {ties}:\n")
        print("| fold | held-out sequences | chosen on the other folds | held-out AUC |")
        print("|---|---|---|---|")
        for k, (fold, pick) in enumerate(zip(folds, picks, strict=True)):
            auc = np.mean([held[n] for n in fold])
            print(f"| {k + 1} | {', '.join(fold)} | {pick} | {auc:.3f} |")
        mean = np.mean(list(held.values()))
        print(f"| all | {len(names)} sequences | (per fold) | **{mean:.3f}** |\n")
    print("| combination | mean AUC (in-sample, all sequences) |")
    print("|---|---|")
    for label, per in aucs.items():
        print(f"| {label} | {np.mean([per[n] for n in names]):.3f} |")
    if nano is not None:
        print(
            f"| cv-nano (OpenCV TrackerNano, same run) | {np.mean([nano[n] for n in names]):.3f} |"
        )
    print(f"\nchosen on all {len(names)} sequences (the defaults): {overall}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
