"""``trackkit eval sot``: run a single-object tracker on OTB/VOT sequences and score it."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_key_values
from trackkit.config import parse_overrides
from trackkit.errors import DataNotFoundError

__all__ = ["add_parser"]

EPILOG = """\
layout: every sequence under ROOT is used —
  OTB      <Seq>/img/*.jpg + groundtruth_rect.txt (or .1.txt/.2.txt -> <Seq>-1, <Seq>-2)
  VOT      <seq>/*.jpg (or color/*.jpg) + groundtruth.txt (rectangles or 8-value polygons)
  GOT-10k  <seq>/*.jpg + groundtruth.txt + meta_info.ini / absence.label

protocols:
  otb  one pass from the first-frame box (OPE): success AUC (21 IoU thresholds, IoU > t),
       precision at 20 px, every frame scored including the first
  vot  reset-based: re-initialise 5 frames after a frame with zero overlap; adds accuracy,
       failures and EAO (OTB scores are then computed on the reset-based boxes)

output: the table prints percentages; --json holds fractions:
  {"sequences": {name: {"success_auc", "precision_20px", "fps", "frames", ...}}, "mean": {...}}

examples:
  trackkit eval sot ../shared/data --tracker kcf --json kcf.json --plot kcf.png
  trackkit eval sot ../shared/data/otb --tracker udt --plot udt.png \\
      --reference ../shared/data/otb/reference_results
"""


def add_eval_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "sot",
        help="single-object tracking: OTB success/precision, VOT accuracy/robustness/EAO",
        description="Run a single-object tracker on every sequence under ROOT and evaluate it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, metavar="ROOT", help="folder of sequences")
    parser.add_argument("--tracker", required=True, help="tracker name (kcf, dcfnet, udt, ...)")
    parser.add_argument("--weights", type=Path, help="model weights (learned trackers)")
    add_key_values(parser, "--set", "tracker options")
    parser.add_argument("--protocol", choices=("otb", "vot"), default="otb")
    parser.add_argument("--seqs", help="comma-separated sequence names to keep")
    parser.add_argument("--json", type=Path, help="write the scores as JSON")
    parser.add_argument("--plot", type=Path, help="draw success and precision plots")
    parser.add_argument(
        "--reference", type=Path, help="folder of published results <Tracker>/<Seq>.json|txt"
    )
    parser.add_argument("--results", type=Path, help="write <Seq>.txt boxes (OTB 1-based)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.set_defaults(func=_run)


def _pct(x: float) -> str:
    return "   nan" if not math.isfinite(x) else f"{100 * x:6.2f}"


def _run(args: argparse.Namespace) -> int:
    from trackkit.io.otb import write_otb_boxes
    from trackkit.sot import build
    from trackkit.sot.runner import evaluate, find_sequences, report

    seqs = find_sequences(args.root)
    if args.seqs:
        keep = {s.strip() for s in args.seqs.split(",") if s.strip()}
        missing = keep - {s.name for s in seqs}
        if missing:
            raise DataNotFoundError(f"sequence(s) not found under {args.root}: {sorted(missing)}")
        seqs = [s for s in seqs if s.name in keep]
    cfg = parse_overrides(args.set)
    if args.weights is not None:
        cfg["weights"] = str(args.weights)
    build(args.tracker, **cfg)  # fail early on a bad name or option
    try:
        import torch

        torch.set_num_threads(max(1, args.threads))
    except ImportError:
        pass

    print(f"{'sequence':<20} {'frames':>6} {'AUC':>6} {'P@20':>6} {'fps':>7}")

    def on_sequence(r: Any) -> None:
        print(
            f"{r.name:<20} {len(r.run.boxes):>6} {_pct(r.otb.success_auc)} "
            f"{_pct(r.otb.precision_20px)} {r.run.fps:>7.1f}",
            flush=True,
        )
        if args.results is not None:
            write_otb_boxes(args.results / f"{r.name}.txt", r.run.boxes)

    results = evaluate(lambda: build(args.tracker, **cfg), seqs, args.protocol, on_sequence)
    rep = report(results)
    m = rep["mean"]
    print(
        f"{'mean':<20} {m['frames']:>6} {_pct(m['success_auc'])} {_pct(m['precision_20px'])} "
        f"{m['fps']:>7.1f}"
    )
    if args.protocol == "vot":
        print(
            f"VOT: accuracy {m['accuracy']:.3f}, failures {m['failures']}, "
            f"robustness {m['robustness']:.2f} per 100 frames, EAO {m['eao']:.3f}"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rep["tracker"] = args.tracker
        rep["protocol"] = args.protocol
        args.json.write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
        print(f"scores: {args.json}", file=sys.stderr)
    if args.plot is not None:
        _plot(args, seqs, results)
    return 0


def _plot(args: argparse.Namespace, seqs: list[Any], results: list[Any]) -> None:
    from trackkit.metrics.otb import summarize
    from trackkit.sot.runner import evaluate_reference
    from trackkit.viz.plots import Curves, plot_otb

    s = summarize({r.name: r.otb for r in results})
    curves = {args.tracker: Curves.of(s.success, s.precision)}
    if args.reference is not None:
        names = {r.name for r in results}
        for tracker, per in evaluate_reference(args.reference, seqs).items():
            if set(per) != names:
                print(
                    f"reference {tracker}: results for {len(per)} of {len(names)} sequences, "
                    "drawn over those only",
                    file=sys.stderr,
                )
            rs = summarize(per)
            curves[tracker] = Curves.of(rs.success, rs.precision)
    plot_otb(curves, args.plot, title=f"OPE ({len(results)} sequences)", highlight=args.tracker)
    print(f"plot: {args.plot}", file=sys.stderr)
