"""``trackkit tune``: search a MOT tracker's configuration on MOTChallenge training sequences,
choosing by leave-one-sequence-out cross-validation (or a train/validation split)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from trackkit.cli.options import (
    add_set_argument,
    add_verb,
    check_options,
    offline_options,
    split_options,
)
from trackkit.errors import ConfigError

__all__ = ["add_parser"]

HELP = "search a MOT tracker's parameters (leave-one-sequence-out), write the best config"
DESCRIPTION = (
    "Search the configuration space of a multi-object tracker on MOTChallenge training "
    "sequences (det/det.txt + gt/gt.txt + seqinfo.ini), tracking and scoring in process. "
    "Every trial is written as it finishes (OUT/trials.jsonl, OUT/trials.csv); a search run "
    "again on the same OUT continues. The configuration is chosen on all sequences and its "
    "held-out score is reported: leave-one-sequence-out (each sequence scored by the trial "
    "chosen on the others) or, with --val, the validation sequences."
)
EPILOG = """\
search space: declared next to each tracker's config dataclass (SEARCH_SPACE: ranges,
  log/linear, categorical); --params restricts it, --set fixes options in every trial.
objective: HOTA, IDF1, MOTA or a weighted sum such as 0.5*HOTA+0.25*IDF1+0.25*MOTA.
output: OUT/best.json holds the chosen options; use it with
  trackkit track SOURCE --config OUT/best.json --out results/

examples:
  trackkit tune --tracker bytetrack --gt ../shared/data/MOT17/train --trials 100
  trackkit tune --tracker sort --gt train/ --objective 0.5*HOTA+0.5*IDF1 --val MOT17-09-FRCNN
  trackkit tune --tracker botsort --gt train/ --offline --set offline.max_gap=60
"""


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "tune", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("--tracker", default="botsort", help="tracker name (default botsort)")
    parser.add_argument(
        "--gt", required=True, type=Path, metavar="ROOT", help="folder of training sequences"
    )
    parser.add_argument("--seqs", nargs="+", metavar="NAME", help="only these sequences")
    parser.add_argument(
        "--strides",
        default="1",
        help="also score every sequence at 1/k of its frame rate, e.g. 1,2,3 (frame-rate "
        "variants NAME@k count as the same sequence in leave-one-out); default 1",
    )
    parser.add_argument("--trials", type=int, default=100, help="number of trials (default 100)")
    parser.add_argument("--objective", default="HOTA", help="HOTA, IDF1, MOTA or a weighted sum")
    parser.add_argument(
        "--val", nargs="+", default=[], metavar="SEQ", help="validation sequences (default: LOO)"
    )
    parser.add_argument(
        "--sampler", choices=("local", "random"), default="local", help="default: local"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", nargs="+", metavar="NAME", help="search only these fields")
    add_set_argument(parser, "fixed options in every trial; offline.KEY=VALUE for --offline")
    parser.add_argument("--offline", action="store_true", help="score with the offline pass")
    parser.add_argument("--out", type=Path, default=None, help="default: tune-TRACKER/")
    parser.add_argument("--no-resume", action="store_true", help="start afresh in OUT")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel trial processes (default: the number of CPUs)",
    )
    parser.add_argument(
        "--engine",
        choices=("process", "local", "ray"),
        default="process",
        help="process: this process or a pool of --workers; local/ray: trackkit.batch's "
        "engine, one trial per task",
    )
    parser.add_argument("--benchmark", default="MOT17", help="scoring conventions (MOT17)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-trial lines")
    parser.set_defaults(func=run)


def _fmt(m: dict[str, float] | None) -> str:
    if m is None:
        return "-"
    return f"HOTA {m['HOTA']:.2f}  MOTA {m['MOTA']:.2f}  IDF1 {m['IDF1']:.2f}"


def run(args: argparse.Namespace) -> int:
    from trackkit.mot.base import MOT_TRACKERS
    from trackkit.tune.search import TuneSettings, engine_mapper, summary, tune, write_best
    from trackkit.tune.space import restrict, search_space
    from trackkit.tune.trial import load_sequences, parse_objective, subsample

    config_class = getattr(MOT_TRACKERS.get(args.tracker), "config_class", None)
    space = restrict(search_space(config_class), args.params) if config_class else {}
    if not space:
        raise ConfigError(f"--tracker {args.tracker}: no SEARCH_SPACE declared; nothing to tune")
    if args.trials < 1 or args.workers < 1:
        raise ConfigError("--trials and --workers must be >= 1")
    options = split_options(args.set, ("offline",))
    check_options(f"tracker {args.tracker}", config_class, options[""])
    offline = offline_options(args.offline, options["offline"])
    space = {k: v for k, v in space.items() if k not in options[""]}
    settings = TuneSettings(
        tracker=args.tracker,
        space=space,
        trials=args.trials,
        objective=parse_objective(args.objective),
        sampler=args.sampler,
        seed=args.seed,
        val=tuple(args.val),
        fixed=options[""],
        offline=offline,
        workers=args.workers if args.engine == "process" else 1,
    )
    t0 = time.perf_counter()
    try:
        strides = sorted({int(k) for k in args.strides.split(",") if k.strip()})
    except ValueError:
        raise ConfigError(f"--strides {args.strides}: give integers >= 1, e.g. 1,2,3") from None
    if not strides or strides[0] < 1:
        raise ConfigError(f"--strides {args.strides}: give integers >= 1, e.g. 1,2,3")
    data = [subsample(s, k) for k in strides for s in load_sequences(args.gt, args.seqs)]
    out = args.out or Path(f"tune-{args.tracker}")
    print(
        f"{len(data)} sequences read in {time.perf_counter() - t0:.1f} s; "
        f"{args.trials} trials of {args.tracker} over {len(space)} parameters -> {out}",
        file=sys.stderr,
    )
    mapper = engine_mapper(data, args.engine, args.workers) if args.engine != "process" else None

    def progress(trial: int, value: float, best: float) -> None:
        if not args.quiet:
            print(f"trial {trial:4d}  objective {value:7.3f}  best {best:7.3f}", file=sys.stderr)

    started = False
    if args.engine == "ray":  # one Ray for the whole search (the engine reuses it per batch)
        from trackkit.batch.engine import start_ray

        started = start_ray(None, args.workers)
    try:
        result = tune(
            settings,
            data,
            out,
            resume=not args.no_resume,
            benchmark=args.benchmark,
            mapper=mapper,
            progress=progress,
        )
    finally:
        if started:
            import ray

            ray.shutdown()
    command = "trackkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    best = write_best(out / "best.json", settings, result, command)
    c = result.choice
    kind = f"validation ({', '.join(args.val)})" if args.val else "leave-one-sequence-out"
    print(f"{len(result.params)} trials in {result.seconds:.1f} s; best trial {c.trial}:")
    for k, v in result.best_params.items():
        print(f"  {k} = {v!r}")
    print(f"defaults     (in-sample): {_fmt(summary(result.default_metrics))}")
    print(f"best config  (in-sample): {_fmt(summary(c.in_sample))}")
    held = summary(c.held_out) if c.held_out is not None else None
    print(f"held-out, {kind}: {_fmt(held)}")
    if not args.val:
        print(
            "  fold -> trial chosen without it: "
            + ", ".join(f"{s}:{k}" for s, k in c.fold_trials.items())
        )
    print(f"wrote {best} (trackkit track SOURCE --config {best})")
    return 0
