"""Leave-one-sequence-out (LOO) cross-validation of the MOT defaults on MOT17 train.

Two parts, both scored in process with trackkit's evaluator (the numbers of ``trackkit eval
mot`` on the same boxes, not rounded to a result file's 3 decimals):

1. **offline pass** (``--offline-grid``): every tracker runs online with its defaults; a grid
   of offline settings (``OFFLINE_GRID``) is applied to its output on every sequence, at the
   native frame rate and at 1/2 and 1/3 of it (``--strides``). For each held-out sequence the
   setting is chosen on the other six (all their frame-rate variants) with the default
   tracker's output (``--choose-on botsort``; a list pools trackers) by the "never hurts"
   rule: the largest combined HOTA gain among the settings under which no training
   sequence loses HOTA or MOTA (if none, the one whose worst loss is smallest); every
   tracker is then scored with that choice. The held-out
   sequence's online and offline scores are printed side by side; the setting chosen on all
   seven is the default of :class:`trackkit.mot.offline.OfflineConfig`.
2. **tracker search** (``--trials N``): ``trackkit tune``'s search for every tracker
   (objective ``0.5*HOTA+0.25*MOTA+0.25*IDF1`` over the frame-rate variants), the LOO score
   of its choice beside the in-sample score and the defaults'.

    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --offline-grid
    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --trials 24 --params max_age report_lost min_hits
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from trackkit.metrics.mot import MOTMetrics, combine_mot  # noqa: E402
from trackkit.mot.offline import OfflineLinker  # noqa: E402
from trackkit.shared import shared_dir  # noqa: E402
from trackkit.tune.cv import base_name  # noqa: E402
from trackkit.tune.trial import (  # noqa: E402
    TuneSequence,
    load_sequences,
    score_sequence,
    subsample,
    track_sequence,
)

TRACKERS = ["sort", "deepsort", "bytetrack", "ocsort", "botsort"]
#: the offline settings compared (every combination)
OFFLINE_GRID: dict[str, list[Any]] = {
    "max_fill": [30, 60],
    "fill_reliability": [0.85, 0.95],
    "fill_test_iou": [0.6, 0.7, 0.8],
    "refill": [True],
}


def hma(m: MOTMetrics) -> tuple[float, float, float]:
    """HOTA, MOTA, IDF1 in percent."""
    return 100 * float(m.hota.HOTA.mean()), 100 * float(m.clear.MOTA), 100 * float(m.identity.IDF1)


Scores = dict[tuple[str, str], MOTMetrics]  # (tracker, sequence) -> metrics


def never_hurts_choice(
    online: Scores, offline: list[Scores], train: list[str], choose_on: list[str]
) -> int:
    """The offline setting chosen on the ``train`` sequences of the ``choose_on`` trackers:
    the largest mean (over those trackers) combined HOTA gain among the settings under which
    no training sequence of theirs loses HOTA or MOTA; if there is none, the smallest worst
    loss."""
    trackers = choose_on
    keys = [(tr, s) for tr in trackers for s in train]
    base = {tr: hma(combine_mot([online[tr, s] for s in train]))[0] for tr in trackers}
    best: tuple[int, float, int] | None = None
    pick = 0
    for k, res in enumerate(offline):
        worst = min(
            min(hma(res[key])[0] - hma(online[key])[0], hma(res[key])[1] - hma(online[key])[1])
            for key in keys
        )
        gain = sum(
            hma(combine_mot([res[tr, s] for s in train]))[0] - base[tr] for tr in trackers
        ) / len(trackers)
        key3 = (int(worst >= 0.0), gain if worst >= 0.0 else worst, -k)
        if best is None or key3 > best:
            best, pick = key3, k
    return pick


def offline_cv(
    trackers: list[str],
    seqs: list[TuneSequence],
    settings: list[dict[str, Any]],
    choose_on: list[str],
) -> None:
    """Run every tracker online, every setting offline, and print the LOO tables."""
    online: Scores = {}
    offline: list[Scores] = [{} for _ in settings]
    for tracker in trackers:
        t0 = time.perf_counter()
        for s in seqs:
            out = track_sequence(tracker, {}, s)
            online[tracker, s.name] = score_sequence(s, out)
            for k, opts in enumerate(settings):
                linker = OfflineLinker(
                    frame_rate=s.frame_rate, image_height=float(s.image_size[1]), **opts
                )
                offline[k][tracker, s.name] = score_sequence(s, linker.run(out))
        print(f"{tracker}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    native = [s.name for s in seqs if "@" not in s.name]
    folds = {
        held: never_hurts_choice(
            online, offline, [s.name for s in seqs if base_name(s.name) != held], choose_on
        )
        for held in native
    }
    k_all = never_hurts_choice(online, offline, [s.name for s in seqs], choose_on)
    print(
        f"\nsetting chosen without each held-out sequence (on {', '.join(choose_on)}): "
        + ", ".join(f"{h[6:8]}: {k}" for h, k in folds.items())
    )
    print(f"setting chosen on all seven: {k_all} = {settings[k_all]}")
    for tracker in trackers:
        print(f"\n### {tracker}: offline pass, leave-one-sequence-out\n")
        print("| held-out | online HOTA | offline HOTA | online MOTA | offline MOTA "
              "| online IDF1 | offline IDF1 | 1/2, 1/3 fps: min dHOTA / dMOTA |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        held_on, held_off = [], []
        for held in native:
            k = folds[held]
            on, off = hma(online[tracker, held]), hma(offline[k][tracker, held])
            var = [s.name for s in seqs if base_name(s.name) == held and s.name != held]
            dv = [
                [hma(offline[k][tracker, v])[i] - hma(online[tracker, v])[i] for v in var]
                for i in (0, 1)
            ]
            d_var = f"{min(dv[0]):+.2f} / {min(dv[1]):+.2f}" if var else "-"
            held_on.append(online[tracker, held])
            held_off.append(offline[k][tracker, held])
            print(
                f"| {held[6:8]} | {on[0]:.2f} | {off[0]:.2f} | {on[1]:.2f} | {off[1]:.2f} "
                f"| {on[2]:.2f} | {off[2]:.2f} | {d_var} |"
            )
        c_on, c_off = hma(combine_mot(held_on)), hma(combine_mot(held_off))
        print(
            f"| combined (LOO) | {c_on[0]:.2f} | {c_off[0]:.2f} | {c_on[1]:.2f} | {c_off[1]:.2f} "
            f"| {c_on[2]:.2f} | {c_off[2]:.2f} | |"
        )
        c_in = hma(combine_mot([offline[k_all][tracker, s] for s in native]))
        print(
            f"| in-sample (setting {k_all}) | {c_on[0]:.2f} | {c_in[0]:.2f} | {c_on[1]:.2f} "
            f"| {c_in[1]:.2f} | {c_on[2]:.2f} | {c_in[2]:.2f} | |"
        )


def tracker_cv(
    tracker: str, root: Path, trials: int, strides: str, workers: int, params: list[str]
) -> None:
    from trackkit.cli.main import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        args = ["tune", "--tracker", tracker, "--gt", str(root), "--trials", str(trials),
                "--strides", strides, "--out", str(Path(tmp) / tracker), "--workers",
                str(workers), "-q", "--objective", "0.5*HOTA+0.25*MOTA+0.25*IDF1",
                *(["--params", *params] if params else [])]  # fmt: skip
        print(f"\n### {tracker}: trackkit {' '.join(args)}\n")
        sys.stdout.flush()
        cli(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = shared_dir()
    ap.add_argument("--data", type=Path, default=default / "data/MOT17/train" if default else None)
    ap.add_argument("--trackers", default=",".join(TRACKERS))
    ap.add_argument("--offline-grid", action="store_true", help="part 1: the offline pass")
    ap.add_argument(
        "--choose-on",
        default="botsort",
        help="part 1: trackers whose training sequences choose the setting (default: botsort, "
        "the default tracker; a comma list pools them)",
    )
    ap.add_argument("--strides", default="1,2,3", help="frame-rate variants (part 1 and 2)")
    ap.add_argument("--trials", type=int, default=0, help="part 2: trials per tracker")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", nargs="*", default=[], help="part 2: search only these")
    args = ap.parse_args(argv)
    if args.data is None or not Path(args.data).is_dir():
        print("MOT17 train folder not found (give --data)", file=sys.stderr)
        return 2
    names = [n for n in args.trackers.split(",") if n]
    if args.offline_grid:
        strides = sorted({int(k) for k in args.strides.split(",")})
        seqs = [subsample(s, k) for k in strides for s in load_sequences(args.data)]
        grid = [dict(zip(OFFLINE_GRID, v)) for v in itertools.product(*OFFLINE_GRID.values())]
        print("offline settings:")
        for k, opts in enumerate(grid):
            print(f"  {k}: {opts}")
        offline_cv(names, seqs, grid, [c for c in args.choose_on.split(",") if c])
    if args.trials:
        for name in names:
            tracker_cv(name, args.data, args.trials, args.strides, args.workers, args.params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
