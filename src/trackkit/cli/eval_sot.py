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
from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.atomic import write_text

__all__ = ["add_eval_parser"]

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
  (several trackers: {"trackers": {tracker: that report}}). With several trackers or
  --reference, a summary table ranks them all (mean AUC and P@20 over the same sequences; the
  published reference results have no speed). Each tracker keeps its colour in both plots.

seen sequences: a sequence the tracker's weights were trained on (the weights file's
  trained_on record; trackkit's packaged siamfc/goturn/mdnet weights: the six sequences of
  data/otb and data/vot) is scored but marked "seen" and left out of the mean (and of the
  summary, plots and --report: those use the sequences no tracker saw) unless
  --include-seen; the JSON keeps every sequence ("seen": true) and adds "seen" and
  "mean_with_seen".

examples:
  trackkit eval sot ../shared/data --tracker kcf --json kcf.json --plot kcf.png
  trackkit eval sot ../shared/data/otb --tracker kcf,udt,siamrpn --plot all.png
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
    parser.add_argument(
        "--tracker",
        required=True,
        help="tracker name(s), comma separated: kcf or kcf,udt (`trackkit sot --help` lists them)",
    )
    parser.add_argument("--weights", type=Path, help="model weights (learned trackers)")
    add_key_values(parser, "--set", "tracker options")
    parser.add_argument("--protocol", choices=("otb", "vot"), default="otb")
    parser.add_argument("--seqs", help="comma-separated sequence names to keep")
    parser.add_argument("--json", type=Path, help="write the scores as JSON")
    parser.add_argument("--plot", type=Path, help="draw success and precision plots")
    parser.add_argument(
        "--report", type=Path, metavar="FILE.html", help="write an HTML report (trackkit report)"
    )
    parser.add_argument(
        "--reference", type=Path, help="folder of published results <Tracker>/<Seq>.json|txt"
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="write <Seq>.txt boxes (OTB 1-based) and <Seq>.score.csv (frame,score,lost)",
    )
    parser.add_argument(
        "--include-seen",
        action="store_true",
        help="count sequences the weights were trained on in the mean (default: held-out only)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.set_defaults(func=_run)


def _pct(x: float) -> str:
    return "   nan" if not math.isfinite(x) else f"{100 * x:6.2f}"


def _write_scores(path: Path, run: Any) -> None:
    """The side file of an OTB results file: ``frame,score,lost`` (lost: 1 when the tracker
    reported the target lost; the OTB file keeps its last box on that frame)."""
    lost = run.lost if run.lost is not None else [False] * len(run.scores)
    rows = [f"{i},{s:.4f},{int(bool(x))}" for i, (s, x) in enumerate(zip(run.scores, lost))]
    write_text(path, "frame,score,lost\n" + "\n".join(rows) + "\n")


def _trackers(args: argparse.Namespace, cfg: dict[str, Any]) -> list[str]:
    """The ``--tracker`` names (comma separated), each checked by building it once."""
    from trackkit.sot import build

    names = list(dict.fromkeys(t.strip() for t in args.tracker.split(",") if t.strip()))
    if not names:
        raise ConfigError("--tracker: give at least one tracker name")
    if len(names) > 1 and args.weights is not None:
        raise ConfigError("--weights applies to one tracker: evaluate it alone")
    for name in names:
        build(name, **cfg)  # fail early on a bad name or option
    return names


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
    names = _trackers(args, cfg)
    try:
        import torch

        torch.set_num_threads(max(1, args.threads))
    except ImportError:
        pass

    reports: dict[str, dict[str, Any]] = {}
    results: dict[str, list[Any]] = {}
    seen: dict[str, frozenset[str]] = {}
    for name in names:
        if len(names) > 1:
            print(f"== {name}")
        print(f"{'sequence':<20} {'frames':>6} {'AUC':>6} {'P@20':>6} {'fps':>7}")
        seen[name] = _seen(name, cfg, seqs)

        def on_sequence(r: Any, name: str = name) -> None:
            mark = "  seen" if r.name in seen[name] else ""
            print(
                f"{r.name:<20} {len(r.run.boxes):>6} {_pct(r.otb.success_auc)} "
                f"{_pct(r.otb.precision_20px)} {r.run.fps:>7.1f}{mark}",
                flush=True,
            )
            if args.results is not None:
                folder = args.results / name if len(names) > 1 else args.results
                write_otb_boxes(folder / f"{r.name}.txt", r.run.boxes)
                _write_scores(folder / f"{r.name}.score.csv", r.run)

        def make(name: str = name) -> Any:
            return build(name, **cfg)

        results[name] = evaluate(make, seqs, args.protocol, on_sequence)
        rep = reports[name] = report(results[name])
        if not _held_out_mean(rep, results[name], seen[name], args.include_seen):
            continue
        m = rep["mean"]
        print(
            f"{'mean':<20} {m['frames']:>6} {_pct(m['success_auc'])} "
            f"{_pct(m['precision_20px'])} {m['fps']:>7.1f}"
        )
        if args.protocol == "vot":
            print(
                f"VOT: accuracy {m['accuracy']:.3f}, failures {m['failures']}, "
                f"robustness {m['robustness']:.2f} per 100 frames, EAO {m['eao']:.3f}"
            )
    if not args.include_seen:  # the summary and plots compare the sequences no tracker saw
        unseen = [s for s in seqs if not any(s.name in v for v in seen.values())]
        later = len(names) > 1 or args.reference or args.plot or args.report
        if len(unseen) < len(seqs) and later:
            print(f"\n{len(seqs) - len(unseen)} sequence(s) seen in training left out below")
        seqs = unseen
        gone = set().union(*seen.values())
        results = {k: [r for r in v if r.name not in gone] for k, v in results.items()}
    curves = _curves(args, seqs, results) if seqs else {}
    if len(curves) > 1:
        _summary(curves, reports)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out: dict[str, Any]
        if len(names) == 1:
            out = {**reports[names[0]], "tracker": names[0]}
        else:
            out = {"trackers": reports}
        out["protocol"] = args.protocol
        write_text(args.json, json.dumps(out, indent=2) + "\n")
        print(f"scores: {args.json}", file=sys.stderr)
    if args.plot is not None and curves:
        from trackkit.viz.plots import plot_otb

        n = len(next(iter(results.values())))
        plot_otb(
            {k: c for k, (c, _) in curves.items()},
            args.plot,
            title=f"OPE ({n} sequences)",
            highlight=names[0] if len(names) == 1 else None,
        )
        print(f"plot: {args.plot}", file=sys.stderr)
    if args.report is not None and not seqs:
        print("report: not written (no held-out sequence; --include-seen)", file=sys.stderr)
    elif args.report is not None:
        from trackkit.report.sot import write_sot_report

        runs = {name: {r.name: r.run.boxes for r in res} for name, res in results.items()}
        write_sot_report(args.report, runs, seqs)
        print(f"report: {args.report}", file=sys.stderr)
    return 0


def _seen(name: str, cfg: dict[str, Any], seqs: list[Any]) -> frozenset[str]:
    """The sequences among ``seqs`` that tracker ``name``'s weights were trained on."""
    from trackkit.sot import build
    from trackkit.sot.train.seen import seen_sequences

    return seen_sequences(name, build(name, **cfg).config, [s.name for s in seqs])


def _held_out_mean(
    rep: dict[str, Any], res: list[Any], seen: frozenset[str], include_seen: bool
) -> bool:
    """Mark ``rep``'s seen sequences and, unless ``include_seen``, make its mean the mean of
    the others (the all-sequence mean kept as ``mean_with_seen``). False (and a line saying
    so) when no sequence is left for the mean."""
    from trackkit.sot.runner import report

    if not seen:
        return True
    for n in seen:
        rep["sequences"][n]["seen"] = True
    rep["seen"] = sorted(seen)
    if include_seen:
        print(f"(mean includes {len(seen)} sequence(s) seen in training: --include-seen)")
        return True
    rep["mean_with_seen"] = rep["mean"]
    rep["mean"] = report([r for r in res if r.name not in seen])["mean"]
    if not rep["mean"]:
        print(f"mean: none — all {len(res)} sequences were seen in training (--include-seen)")
        return False
    print(f"(mean over {len(res) - len(seen)} held-out sequences; {len(seen)} seen left out)")
    return True


def _curves(
    args: argparse.Namespace, seqs: list[Any], results: dict[str, list[Any]]
) -> dict[str, tuple[Any, str]]:
    """Every tracker's mean curves and a note: the evaluated trackers, then the published
    reference results (``--reference``) over the same sequences."""
    from trackkit.metrics.otb import summarize
    from trackkit.sot.runner import evaluate_reference
    from trackkit.viz.plots import Curves

    curves: dict[str, tuple[Any, str]] = {}
    for name, res in results.items():
        s = summarize({r.name: r.otb for r in res})
        curves[name] = (Curves.of(s.success, s.precision), "")
    if args.reference is not None:
        names = {r.name for r in next(iter(results.values()))}
        for tracker, per in evaluate_reference(args.reference, seqs).items():
            note = "published results"
            if set(per) != names:
                note = f"published results for {len(per)} of {len(names)} sequences only"
            rs = summarize(per)
            curves[tracker] = (Curves.of(rs.success, rs.precision), note)
    return curves


def _summary(curves: dict[str, tuple[Any, str]], reports: dict[str, dict[str, Any]]) -> None:
    """The trackers and references ranked by mean success AUC."""
    print(f"\n{'tracker':<20} {'AUC':>6} {'P@20':>6} {'fps':>7}  (ranked by mean AUC)")
    ranked = sorted(curves.items(), key=lambda kv: -float(kv[1][0].success.mean()))
    for name, (c, note) in ranked:
        fps = f"{reports[name]['mean']['fps']:>7.1f}" if name in reports else f"{'-':>7}"
        print(
            f"{name:<20} {_pct(float(c.success.mean()))} {_pct(float(c.precision[20]))} "
            f"{fps}  {note}".rstrip()
        )
