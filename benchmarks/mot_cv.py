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
3. **velocity-noise adaptation** (``--noise-grid``): the LOO choice among ``NOISE_GRID``
   (off, or :mod:`trackkit.mot.adaptive`'s target x max) for each tracker, objective the mean
   of HOTA, MOTA and IDF1 over the training sequences' frame-rate variants.
4. **the default tracker** (``--compare``): every tracker with its defaults, online and with
   the offline pass, on every variant; for each held-out sequence the tracker chosen on the
   other six (:func:`choose_tracker`: best mean of HOTA, MOTA and IDF1 over their variants
   among the trackers reaching ``--floor`` online at 30 fps) and its held-out scores.
5. **scores that are not probabilities** (``--score-distortions``): the held-out sequence's
   scores distorted like other detectors' (``DISTORTIONS``), tracked raw (the costs clip them
   to [0, 1]), min-max scaled, and with ``score_scale="auto"`` (:mod:`trackkit.mot.
   score_scale`, the reference quantiles built from the fold's six training sequences).

    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --offline-grid
    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --trials 24 --params max_age report_lost min_hits
    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --noise-grid --trackers botsort,bytetrack
    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --compare
    OMP_NUM_THREADS=1 python benchmarks/mot_cv.py --score-distortions   # score_scale
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

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


def track_all(
    trackers: list[str],
    seqs: list[TuneSequence],
    offline: dict[str, Any],
    params: dict[str, dict[str, Any]] | None = None,
) -> tuple[Scores, Scores]:
    """Every tracker (its defaults, or ``params[tracker]``) online and with the offline pass
    (``offline``: :class:`~trackkit.mot.offline.OfflineConfig` options) on every sequence."""
    online: Scores = {}
    offl: Scores = {}
    for tracker in trackers:
        t0 = time.perf_counter()
        opts = (params or {}).get(tracker, {})
        for s in seqs:
            out = track_sequence(tracker, opts, s)
            online[tracker, s.name] = score_sequence(s, out)
            linker = OfflineLinker(
                frame_rate=s.frame_rate, image_height=float(s.image_size[1]), **offline
            )
            offl[tracker, s.name] = score_sequence(s, linker.run(out))
        print(f"{tracker}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return online, offl


def mean3(m: MOTMetrics) -> float:
    """The selection objective of the default tracker: mean of HOTA, MOTA and IDF1."""
    return sum(hma(m)) / 3.0


def choose_tracker(
    online: Scores, trackers: list[str], train: list[str], floor: tuple[float, float]
) -> str:
    """The default-tracker rule on the ``train`` sequences (all their frame-rate variants):
    the best mean of HOTA, MOTA and IDF1 combined over them, among the trackers whose native
    frame-rate HOTA and IDF1 (combined over the native training sequences) reach ``floor``
    (all trackers if none does)."""
    native = [s for s in train if "@" not in s]

    def ok(tr: str) -> bool:
        h, _, i = hma(combine_mot([online[tr, s] for s in native]))
        return h >= floor[0] and i >= floor[1]

    pool = [tr for tr in trackers if ok(tr)] or trackers
    return max(pool, key=lambda tr: mean3(combine_mot([online[tr, s] for s in train])))


def compare_trackers(
    trackers: list[str],
    seqs: list[TuneSequence],
    offline: dict[str, Any],
    floor: tuple[float, float],
) -> None:
    """Print every tracker's held-out (per sequence and combined) scores online and offline,
    and the default tracker chosen by leave-one-sequence-out."""
    online, offl = track_all(trackers, seqs, offline)
    names = [s.name for s in seqs]
    native = [n for n in names if "@" not in n]
    strides = sorted({n.split("@")[1] for n in names if "@" in n})

    def row(scores: Scores, tr: str, sel: list[str]) -> str:
        h, m, i = hma(combine_mot([scores[tr, s] for s in sel]))
        return f"{h:.2f} / {m:.2f} / {i:.2f}"

    print("\n### every tracker (defaults), online | offline: HOTA / MOTA / IDF1\n")
    print(
        "| tracker | 30 fps online | 30 fps offline | all variants online "
        "| all variants offline | mean3 online (all) | offline loses (seq@stride: dH/dM) |"
    )
    print("|---|---|---|---|---|---|---|")
    for tr in trackers:
        loses = []
        for n in names:
            (h0, m0, _), (h1, m1, _) = hma(online[tr, n]), hma(offl[tr, n])
            if h1 < h0 or m1 < m0:
                loses.append(f"{n[6:8]}{n[14:]}: {h1 - h0:+.2f}/{m1 - m0:+.2f}")
        allv = mean3(combine_mot([online[tr, s] for s in names]))
        print(f"| {tr} | {row(online, tr, native)} | {row(offl, tr, native)} "
              f"| {row(online, tr, names)} | {row(offl, tr, names)} | {allv:.2f} "
              f"| {', '.join(loses) or 'none'} |")  # fmt: skip
    for k in strides:
        sel = [n for n in names if n.endswith("@" + k)]
        print(f"\n1/{k} frame rate, online: " + "; ".join(
            f"{tr} {row(online, tr, sel)}" for tr in trackers))  # fmt: skip
    folds = {
        held: choose_tracker(online, trackers, [n for n in names if base_name(n) != held], floor)
        for held in native
    }
    chosen_all = choose_tracker(online, trackers, names, floor)
    print("\ndefault tracker chosen without each held-out sequence: "
          + ", ".join(f"{h[6:8]}: {t}" for h, t in folds.items())
          + f"; on all seven: {chosen_all}")  # fmt: skip
    for label, sel in (("30 fps", native), ("all variants", names)):
        on = [online[folds[base_name(n)], n] for n in sel]
        off = [offl[folds[base_name(n)], n] for n in sel]
        on3, off3 = (" / ".join(f"{v:.2f}" for v in hma(combine_mot(x))) for x in (on, off))
        print(f"LOO default tracker, {label}: online {on3}, offline {off3}")


#: the velocity-noise adaptation compared (``--noise-grid``; the first entry: off)
NOISE_GRID: list[dict[str, Any]] = [{"velocity_noise_target": 0.0}] + [
    {"velocity_noise_target": t, "velocity_noise_max": m}
    for t in (0.11, 0.16, 0.23, 0.45)
    for m in (10.0, 20.0)
]


def param_cv(tracker: str, seqs: list[TuneSequence], grid: list[dict[str, Any]]) -> None:
    """Leave-one-sequence-out choice among the settings ``grid`` of ``tracker`` (objective:
    the mean of HOTA, MOTA and IDF1 over the training sequences' frame-rate variants)."""
    scores: list[dict[str, MOTMetrics]] = []
    t0 = time.perf_counter()
    for opts in grid:
        scores.append({s.name: score_sequence(s, track_sequence(tracker, opts, s)) for s in seqs})
    print(f"{tracker}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    names = [s.name for s in seqs]
    native = [n for n in names if "@" not in n]

    def best(train: list[str]) -> int:
        return max(
            range(len(grid)), key=lambda k: mean3(combine_mot([scores[k][n] for n in train]))
        )

    folds = {h: best([n for n in names if base_name(n) != h]) for h in native}
    k_all = best(names)
    print(f"\n### {tracker}: settings (k: options; in-sample 30 fps | all variants H / M / I)\n")
    for k, opts in enumerate(grid):
        c30 = hma(combine_mot([scores[k][n] for n in native]))
        call = hma(combine_mot([scores[k][n] for n in names]))
        print(f"  {k}: {opts}  {' / '.join(f'{v:.2f}' for v in c30)} | "
              f"{' / '.join(f'{v:.2f}' for v in call)}")  # fmt: skip
    chosen = ", ".join(f"{h[6:8]}: {k}" for h, k in folds.items())
    print(f"chosen without each held-out sequence: {chosen}; on all seven: {k_all}")
    for label, sel in (("30 fps", native), ("all variants", names)):
        off = hma(combine_mot([scores[0][n] for n in sel]))
        held = hma(combine_mot([scores[folds[base_name(n)]][n] for n in sel]))
        print(f"{label}: setting 0 {' / '.join(f'{v:.2f}' for v in off)}; "
              f"held-out (LOO) {' / '.join(f'{v:.2f}' for v in held)}")  # fmt: skip
    print("\n| held-out | k | 30 fps dH / dM / dI | 1/2 fps | 1/3 fps |\n|---|---|---|---|---|")
    for h in native:
        k = folds[h]
        cells = [
            " / ".join(f"{a - b:+.2f}" for a, b in zip(hma(scores[k][n]), hma(scores[0][n])))
            for n in names
            if base_name(n) == h
        ]
        print(f"| {h[6:8]} | {k} | {' | '.join(cells)} |")


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


#: score distortions of ``--score-distortions``: each mimics another detector's scores (MOT17
#: FRCNN scores ``s`` in [0.05, 1]); ``fp`` adds low-score false positives first (``fp_x30``:
#: then x30)
DISTORTIONS: dict[str, Any] = {
    "none": lambda s: s,
    "x30": lambda s: 30.0 * s,
    "acf": lambda s: 100.0 * s**3,  # 2DMOT2015 ACF-like: 0.01 to 100, heavy upper tail
    "dpm": lambda s: np.log(np.clip(s, 1e-3, 1 - 1e-3) / (1 - np.clip(s, 1e-3, 1 - 1e-3))),
    # log-odds with an offset (an SVM margin): only s >= 0.99 stays above 0.62
    "dpm_shift": lambda s: DISTORTIONS["dpm"](s) - 4.0,
    "fp": lambda s: s,
    "fp_x30": lambda s: 30.0 * s,
}
#: ``--score-distortions`` modes: the raw (distorted) scores, min-max scaling to [0, 1]
#: (a naive fix), and ``score_scale="auto"`` with the reference built from the fold's six
#: training sequences
SCORE_MODES = ("none", "minmax", "auto")


def add_false_positives(seq: TuneSequence, share: float = 0.3) -> TuneSequence:
    """``seq`` with ``share`` x its detection count of extra clutter boxes: uniformly random
    frames and positions inside the image, sizes of random real detections of the sequence,
    FRCNN-scale scores uniform in [0.05, 0.3] (below ``track_thresh``, above ``low_thresh``:
    what a weaker detector adds). Seeded by the sequence name (reproducible)."""
    from trackkit.core.detections import Detections

    rng = np.random.default_rng(zlib.crc32(seq.name.encode()))
    boxes = np.concatenate([d.xyxy for d in seq.detections])
    n = int(round(share * len(boxes)))
    wh = (boxes[:, 2:] - boxes[:, :2])[rng.integers(0, len(boxes), n)]
    size = np.asarray(seq.image_size, np.float64)
    wh = np.minimum(wh, size - 1.0)
    x1y1 = rng.random((n, 2)) * (size - wh)
    frames = rng.integers(0, len(seq.detections), n)
    scores = rng.uniform(0.05, 0.3, n)
    out = []
    for t, d in enumerate(seq.detections):
        k = frames == t
        xyxy = np.concatenate([d.xyxy, np.hstack([x1y1[k], x1y1[k] + wh[k]])])
        out.append(Detections(xyxy, np.concatenate([d.scores, scores[k]])))
    return dataclasses.replace(seq, detections=out)


def distort(seq: TuneSequence, kind: str, mode: str, reference: tuple[float, ...]) -> TuneSequence:
    """``seq`` with its scores distorted by ``DISTORTIONS[kind]`` and then brought back by
    ``mode`` (one of ``SCORE_MODES``) over the whole sequence at once."""
    from trackkit.core.detections import Detections
    from trackkit.mot.score_scale import normalize_frames

    if kind.startswith("fp"):
        seq = add_false_positives(seq)
    fn = DISTORTIONS[kind]
    frames = [Detections(d.xyxy, fn(d.scores)) for d in seq.detections]
    if mode == "auto":
        frames = normalize_frames(frames, "auto", reference)
    elif mode == "minmax":
        s = np.concatenate([d.scores for d in frames])
        lo, hi = float(s.min()), float(s.max())
        if lo < 0.0 or hi > 1.0:
            frames = [Detections(d.xyxy, (d.scores - lo) / (hi - lo)) for d in frames]
    return dataclasses.replace(seq, detections=frames)


def score_distortions(
    trackers: list[str],
    seqs: list[TuneSequence],
    kinds: list[str],
    modes: tuple[str, ...] = SCORE_MODES,
) -> None:
    """For every distortion of the held-out sequence's scores, every tracker's held-out
    HOTA / MOTA / IDF1 (combined over the seven folds) under every mode; the ``auto``
    reference of each fold is built from its six (undistorted) training sequences."""
    from trackkit.mot.score_scale import reference_quantiles

    refs = {
        s.name: reference_quantiles(
            d.scores for o in seqs if o.name != s.name for d in o.detections
        )
        for s in seqs
    }
    print("\n### score distortions of the held-out sequence: HOTA / MOTA / IDF1 (LOO)\n")
    print("| distortion | tracker | " + " | ".join(modes) + " |")
    print("|---|---|" + "---|" * len(modes))
    same = True
    for kind in kinds:
        data = {m: [distort(s, kind, m, refs[s.name]) for s in seqs] for m in modes}
        for tracker in trackers:
            t0 = time.perf_counter()
            cells, results = [], []
            for m in modes:
                scores = [score_sequence(s, track_sequence(tracker, {}, s)) for s in data[m]]
                results.append(hma(combine_mot(scores)))
                cells.append(" / ".join(f"{v:.2f}" for v in results[-1]))
            if kind == "none":
                same = same and len(set(results)) == 1
            print(f"| {kind} | {tracker} | {' | '.join(cells)} |")
            sys.stdout.flush()
            print(f"{kind} {tracker}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if "none" in kinds:
        print(f"\nundistorted: every mode identical: {'yes' if same else 'NO'}")


def print_reference(seqs: list[TuneSequence]) -> None:
    """The 101 pooled score quantiles of ``seqs`` (``REFERENCE_QUANTILES`` of
    :mod:`trackkit.mot.score_scale` when ``seqs`` is MOT17 train)."""
    from trackkit.mot.score_scale import reference_quantiles

    print(list(reference_quantiles(d.scores for s in seqs for d in s.detections)))


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
    ap.add_argument(
        "--compare",
        action="store_true",
        help="every tracker's held-out scores online and offline and the default tracker "
        "chosen by leave-one-sequence-out (mean of HOTA, MOTA, IDF1 over the frame-rate "
        "variants, subject to --floor at 30 fps)",
    )
    ap.add_argument(
        "--noise-grid",
        action="store_true",
        help="leave-one-out choice of the velocity-noise adaptation (NOISE_GRID) per tracker",
    )
    ap.add_argument("--floor", default="49.5,57", help="--compare: 30 fps HOTA,IDF1 floor")
    ap.add_argument("--trials", type=int, default=0, help="part 2: trials per tracker")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", nargs="*", default=[], help="part 2: search only these")
    ap.add_argument(
        "--score-distortions",
        nargs="?",
        const=",".join(DISTORTIONS),
        metavar="KINDS",
        help="held-out scores distorted (DISTORTIONS: " + ", ".join(DISTORTIONS) + "; default "
        "all) under each of SCORE_MODES (none, minmax, auto: score_scale histogram matching)",
    )
    ap.add_argument("--score-modes", default=",".join(SCORE_MODES), help="of SCORE_MODES")
    ap.add_argument(
        "--print-reference",
        action="store_true",
        help="print the 101 pooled score quantiles (trackkit.mot.score_scale's reference)",
    )
    args = ap.parse_args(argv)
    if args.data is None or not Path(args.data).is_dir():
        print("MOT17 train folder not found (give --data)", file=sys.stderr)
        return 2
    names = [n for n in args.trackers.split(",") if n]
    if args.print_reference:
        print_reference(load_sequences(args.data))
    if args.score_distortions:
        kinds = [k for k in args.score_distortions.split(",") if k]
        modes = tuple(m for m in args.score_modes.split(",") if m)
        score_distortions(names, load_sequences(args.data), kinds, modes)
    if args.offline_grid:
        strides = sorted({int(k) for k in args.strides.split(",")})
        seqs = [subsample(s, k) for k in strides for s in load_sequences(args.data)]
        grid = [dict(zip(OFFLINE_GRID, v)) for v in itertools.product(*OFFLINE_GRID.values())]
        print("offline settings:")
        for k, opts in enumerate(grid):
            print(f"  {k}: {opts}")
        offline_cv(names, seqs, grid, [c for c in args.choose_on.split(",") if c])
    if args.noise_grid:
        strides = sorted({int(k) for k in args.strides.split(",")})
        seqs = [subsample(s, k) for k in strides for s in load_sequences(args.data)]
        for name in names:
            param_cv(name, seqs, NOISE_GRID)
    if args.compare:
        strides = sorted({int(k) for k in args.strides.split(",")})
        seqs = [subsample(s, k) for k in strides for s in load_sequences(args.data)]
        fl = tuple(float(v) for v in args.floor.split(","))
        compare_trackers(names, seqs, {}, (fl[0], fl[1]))
    if args.trials:
        for name in names:
            tracker_cv(name, args.data, args.trials, args.strides, args.workers, args.params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
