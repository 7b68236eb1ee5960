"""Single-object tracking on the shared OTB/VOT sequences: trackkit vs OpenCV, same run.

Every tracker runs one pass from the first-frame box on each sequence (frames decoded once,
before timing), on one thread (torch, onnxruntime and OpenCV). The trackers: trackkit's
correlation filters and deep trackers (SiamRPN-style on the NanoTrack v2 / v3 networks of
../shared/weights — ONNX pair or state_dict —, SiamFC / GOTURN / MDNet with the weights trained
by ``trackkit sot train``), a "box never moves" baseline (``static``), and OpenCV's trackers,
including TrackerNano driven by the same NanoTrack v2 ONNX files and TrackerVit (when the OpenCV
build has them). Printed per tracker: mean success AUC, mean precision at 20 px, wall-clock fps,
fps per CPU second (less sensitive to other processes on a shared machine) and the speed ratios
against OpenCV's KCF and, when it ran, OpenCV's TrackerNano in this run.

    python benchmarks/sot_otb.py                      # every tracker
    python benchmarks/sot_otb.py --trackers kcf cv-kcf --json out.json --plot out.png
    python benchmarks/sot_otb.py --trackers static cv-nano siamrpn-v2 siamrpn-v3 --seqs Car4,bag
    python benchmarks/sot_otb.py --trackers siamrpn-v3 --init-shift 1,0   # stability check

Held-out scores (``--folds K``): the sequences are split into K folds by video
(:func:`trackkit.sot.train.folds.make_folds`); a trainable tracker (siamfc, goturn, mdnet:
:data:`trackkit.sot.train.folds.RECIPES`, the documented commands) is trained on the other
folds (``--epochs`` / ``--steps`` shrink the budget; runs kept under ``--runs``, a finished
fold is reused) and scored on the held-out fold, and also on its own training sequences
(in-sample, for comparison; ``--no-in-sample`` skips it); other trackers are just scored per
fold. Printed: one row per fold and a mean row, then the usual per-sequence table of the
held-out runs (every sequence scored once, by a model that never saw it):

    nice -n 10 python benchmarks/sot_otb.py --folds 3 --trackers static kcf siamfc --epochs 4

Add a tracker: append its registry name (and options) to ``TRACKERS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from trackkit.errors import DataNotFoundError, TrackkitError  # noqa: E402
from trackkit.metrics.otb import evaluate_sequence, summarize  # noqa: E402
from trackkit.shared import shared_path  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.base import SOTResult, SOTTracker  # noqa: E402
from trackkit.sot.runner import (  # noqa: E402
    SequenceEval,
    find_sequences,
    format_report_table,
    report,
    run_sequence,
)


def _shared(*parts: str) -> str:
    """Path of ``../shared/weights/<parts>`` ("" when absent: the tracker is then skipped)."""
    p = shared_path("weights", *parts)
    return "" if p is None else str(p)


def _state_dict(folder: str) -> str:
    """The ``*.pt`` state_dict inside a NanoTrack folder ("" when absent)."""
    found = sorted(Path(folder).glob("*.pt")) if folder else []
    return str(found[0]) if found else ""


_V2, _V3 = _shared("nanotrack_v2"), _shared("nanotrack_v3")
#: NanoTrack's released tracking logic without trackkit's / DaSiamRPN's additions.
_PLAIN = {"calibrate": False, "distractors": False, "long_term": False}

#: (label, trackkit registry name, options). OpenCV anchors are "cv-*" (see OPENCV).
TRACKERS: list[tuple[str, str, dict[str, Any]]] = [
    ("kcf", "kcf", {}),
    ("kcf-cn", "kcf", {"features": ("hog", "cn")}),
    ("udt", "udt", {}),
    ("udt-own", "udt-own", {}),
    ("dcfnet", "dcfnet", {}),
    (
        "udt-paper",
        "udt",
        {"update_threshold": 0.0, "scale_features": "recompute", "crop_size": 125},
    ),
    ("siamrpn-v2", "siamrpn", {"weights": _V2}),
    ("siamrpn-v2-plain", "siamrpn", {"weights": _V2, **_PLAIN}),
    ("siamrpn-v2-torch", "siamrpn", {"weights": _state_dict(_V2)}),
    ("siamrpn-v3", "siamrpn", {"weights": _V3}),
    ("siamrpn-v3-plain", "siamrpn", {"weights": _V3, **_PLAIN}),
    ("siamrpn-v3-torch", "siamrpn", {"weights": _state_dict(_V3)}),
    ("siamrpn-own", "siamrpn-own", {}),
    ("siamfc", "siamfc", {}),
    ("siamfc-torch", "siamfc", {"engine": "torch"}),
    ("goturn", "goturn", {}),
    ("goturn-1pass", "goturn", {"passes": 1}),
    ("goturn-uncalibrated", "goturn", {"passes": 1, "calibrate": False}),
    ("mdnet", "mdnet", {}),
    ("crest", "crest", {}),
    ("adnet", "adnet", {}),
    ("dslt", "dslt", {}),
    ("memtrack", "memtrack", {}),
    ("mdnet-vital", "mdnet", {"adversarial": True, "fail_score": 3.0}),
    ("mdnet-recip", "mdnet", {"reciprocative": True}),
    ("hcf", "hcf", {}),
    ("tadt", "tadt", {}),
    ("rolo", "rolo", {}),
]

#: OpenCV trackers: label -> (factory, use the box even when update() reports a failure,
#: params class and its file fields (relative to ../shared/weights) for the DNN trackers).
OPENCV: dict[str, tuple[str, bool, str, dict[str, str]]] = {
    "cv-kcf": ("TrackerKCF_create", True, "", {}),
    "cv-kcf-flag": ("TrackerKCF_create", False, "", {}),
    "cv-csrt": ("TrackerCSRT_create", True, "", {}),
    "cv-mosse": ("legacy.TrackerMOSSE_create", True, "", {}),
    "cv-mil": ("TrackerMIL_create", True, "", {}),
    "cv-nano": (
        "TrackerNano_create",
        True,
        "TrackerNano_Params",
        {
            "backbone": "nanotrack_v2/nanotrack_backbone_sim.onnx",
            "neckhead": "nanotrack_v2/nanotrack_head_sim.onnx",
        },
    ),
    "cv-vit": (
        "TrackerVit_create",
        True,
        "TrackerVit_Params",
        {"net": "vittrack/object_tracking_vittrack_2023sep.onnx"},
    ),
}
#: Extra speed-ratio column: OpenCV's TrackerNano (the issue's CPU anchor for the deep trackers).
DEEP_ANCHOR = "cv-nano"


class Static(SOTTracker):
    """The "box never moves" baseline: every frame reports the first-frame box."""

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        self._box = box.copy()

    def _update(self, frame: np.ndarray) -> SOTResult:
        return SOTResult(self._box.copy(), 1.0)


class OpenCVTracker(SOTTracker):
    """An OpenCV tracker behind trackkit's protocol (boxes rounded to integer pixels).

    With ``ignore_flag=False`` a frame whose ``update`` reports failure gives a NaN box (a
    failure in the evaluation); otherwise the returned box is used either way. ``params``
    names the parameters class of the DNN trackers (TrackerNano / TrackerVit) and ``files``
    its ONNX fields, relative to ../shared/weights.

    Raises:
        DataNotFoundError: this OpenCV build lacks the tracker, or an ONNX file is missing.
    """

    def __init__(
        self, factory: str, ignore_flag: bool, params: str = "", files: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self._factory = self._attr(factory)
        self._params = self._attr(params) if params else None
        self._files = {}
        for field, rel in (files or {}).items():
            path = shared_path("weights", *rel.split("/"))
            if path is None:
                raise DataNotFoundError(f"../shared/weights/{rel} not found")
            self._files[field] = str(path)
        self._ignore_flag = ignore_flag

    @staticmethod
    def _attr(name: str) -> Any:
        obj: Any = cv2
        for part in name.split("."):
            if not hasattr(obj, part):
                raise DataNotFoundError(f"OpenCV {cv2.__version__} has no cv2.{name}")
            obj = getattr(obj, part)
        return obj

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        if self._params is None:
            self._t = self._factory()
        else:
            p = self._params()
            for field, path in self._files.items():
                setattr(p, field, path)
            self._t = self._factory(p)
        x1, y1, x2, y2 = box
        self._t.init(frame, (round(x1), round(y1), round(x2 - x1), round(y2 - y1)))

    def _update(self, frame: np.ndarray) -> SOTResult:
        ok, (x, y, w, h) = self._t.update(frame)
        if not ok and not self._ignore_flag:
            return SOTResult(np.full(4, np.nan), 0.0)
        return SOTResult(np.array([x, y, x + w, y + h], dtype=np.float64), float(ok))


def make(label: str) -> Any:
    """A factory of fresh trackers for ``label`` (raises TrackkitError if it cannot run here)."""
    if label == "static":
        return Static
    if label in OPENCV:
        factory, ignore, params, files = OPENCV[label]
        OpenCVTracker(factory, ignore, params, files)  # fail early: missing tracker or files
        return lambda: OpenCVTracker(factory, ignore, params, files)
    for name, reg, cfg in TRACKERS:
        if name == label:
            if "weights" in cfg and not cfg["weights"]:
                raise DataNotFoundError(f"{label}: its ../shared/weights files are missing")
            return lambda: build(reg, **cfg)
    known = ["static", *(t[0] for t in TRACKERS), *OPENCV]
    raise SystemExit(f"unknown tracker {label!r}; known: {known}")


def with_deep_anchor(table: str, rows: dict[str, dict[str, Any]]) -> str:
    """``table`` plus a column ``cpu-fps / cv-nano`` when TrackerNano ran."""
    if DEEP_ANCHOR not in rows:
        return table
    base = rows[DEEP_ANCHOR]["mean"]["cpu_fps"]
    lines = table.split("\n")
    out = [lines[0] + f" cpu-fps / {DEEP_ANCHOR} |", lines[1] + "---|"]
    for line, rep in zip(lines[2:], rows.values(), strict=True):
        out.append(line + f" {rep['mean']['cpu_fps'] / base:.2f} |")
    return "\n".join(out)


def score(
    factory: Any, seqs: list[Any], frames: dict[str, list[Any]], shift: np.ndarray
) -> list[SequenceEval]:
    """One pass of a fresh tracker per sequence, evaluated."""
    out = []
    for s in seqs:
        run = run_sequence(factory(), frames[s.name], s.init_box + shift)
        out.append(SequenceEval(s.name, run, evaluate_sequence(run.boxes, s.boxes)))
    return out


def _auc(results: list[SequenceEval]) -> float:
    return float(report(results)["mean"]["success_auc"]) if results else float("nan")


def _num(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.3f}"


def cross_validate(
    args: argparse.Namespace, seqs: list[Any], frames: dict[str, list[Any]], shift: np.ndarray
) -> int:
    """``--folds K``: per fold, train the trainable trackers on the other folds and score the
    held-out fold (and the training sequences: in-sample); print the fold table and the
    per-sequence table of the held-out runs."""
    import dataclasses

    from trackkit.config import parse_overrides
    from trackkit.sot.train.folds import RECIPES, make_folds, train_fold

    overrides = parse_overrides(args.train_set)
    tag = "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))

    names = [s.name for s in seqs]
    by_name = {s.name: s for s in seqs}
    folds = make_folds(names, args.folds, args.fold_seed)
    lines = [
        "| tracker | fold | held-out sequences | training | held-out AUC | in-sample AUC |",
        "|---|---|---|---|---|---|",
    ]
    rows: dict[str, dict[str, Any]] = {}
    for label in args.trackers:
        reg, cfg = next(((r, c) for n, r, c in TRACKERS if n == label), ("", {}))
        recipe = RECIPES.get(reg)
        if recipe is not None and overrides:
            recipe = dataclasses.replace(recipe, extra={**recipe.extra, **overrides})
        held_all: list[SequenceEval] = []
        ins: list[float] = []
        t0 = time.perf_counter()
        try:
            base = None if recipe is not None else make(label)
            for k, fold in enumerate(folds):
                test = [by_name[n] for n in fold]
                train = [s for s in seqs if s.name not in fold]
                if recipe is None:
                    held = score(base, test, frames, shift)
                    note, in_auc = "none", float("nan")
                else:
                    budget = f"e{args.epochs or recipe.epochs}s{args.steps or recipe.steps}"
                    out = args.runs / f"{label}-k{args.folds}-seed{args.fold_seed}-{budget}{tag}"
                    path = train_fold(
                        recipe, train, fold, out / f"fold{k + 1}", args.epochs, args.steps
                    )
                    fcfg = {**cfg, "weights": str(path)}
                    factory = lambda fcfg=fcfg, reg=reg: build(reg, **fcfg)  # noqa: E731
                    held = score(factory, test, frames, shift)
                    note = f"{len(train)} seqs, {budget}{tag}"
                    in_auc = (
                        float("nan") if args.no_in_sample
                        else _auc(score(factory, train, frames, shift))
                    )  # fmt: skip
                ins.append(in_auc)
                held_all += held
                lines.append(
                    f"| {label} | {k + 1} | {', '.join(fold)} | {note} | {_auc(held):.3f} | "
                    f"{_num(in_auc)} |"
                )
                print(f"  {label} fold {k + 1}: held-out {_auc(held):.3f}, in-sample "
                      f"{in_auc:.3f} ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
        except TrackkitError as exc:
            print(f"  {label}: skipped ({exc})", file=sys.stderr, flush=True)
            continue
        held_all.sort(key=lambda r: names.index(r.name))
        rows[f"{label} (held-out)"] = report(held_all)
        mean_in = float(np.nanmean(ins)) if not np.all(np.isnan(ins)) else float("nan")
        lines.append(
            f"| {label} | all {args.folds} | {len(held_all)} sequences | | "
            f"**{_auc(held_all):.3f}** | {_num(mean_in)} |"
        )
    print("\n".join(lines))
    print()
    print(format_report_table(rows, names))
    if args.json is not None:
        args.json.write_text(json.dumps({"folds": folds, "rows": rows}, indent=2) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = shared_path("data")
    ap.add_argument("--root", type=Path, default=default_root, help="sequences (../shared/data)")
    ap.add_argument(
        "--trackers",
        nargs="*",
        default=["static", *(t[0] for t in TRACKERS), *OPENCV],
        help="labels (default: all)",
    )
    ap.add_argument("--seqs", help="comma-separated sequence names")
    ap.add_argument(
        "--init-shift",
        default="0,0",
        help="DX,DY: shift the first-frame box by this many pixels (stability checks)",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--folds", type=int, help="K: k-fold by sequence (held-out scores)")
    ap.add_argument("--fold-seed", type=int, default=0, help="seed of the fold split")
    ap.add_argument("--epochs", type=int, help="--folds: training epochs (default: recipe's)")
    ap.add_argument("--steps", type=int, help="--folds: steps per epoch (default: recipe's)")
    ap.add_argument(
        "--runs", type=Path, default=Path("runs/folds"), help="--folds: training runs folder"
    )
    ap.add_argument(
        "--no-in-sample", action="store_true", help="--folds: skip the in-sample scores"
    )
    ap.add_argument(
        "--train-set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="--folds: trainer options added to the recipe (e.g. backbone=nanotrack_v2)",
    )
    args = ap.parse_args()
    if args.root is None:
        raise SystemExit("shared data folder not found; pass --root")
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    dx, dy = (float(v) for v in args.init_shift.split(","))
    shift = np.array([dx, dy, dx, dy])
    seqs = find_sequences(args.root)
    if args.seqs:
        keep = set(args.seqs.split(","))
        seqs = [s for s in seqs if s.name in keep]
    frames = {s.name: list(s.iter_frames()) for s in seqs}
    print(f"{len(seqs)} sequences: {', '.join(s.name for s in seqs)}", file=sys.stderr)
    if args.folds is not None:
        return cross_validate(args, seqs, frames, shift)
    rows: dict[str, dict[str, Any]] = {}
    curves = {}
    for label in args.trackers:
        results = []
        t0 = time.perf_counter()
        try:
            factory = make(label)
            for s in seqs:
                run = run_sequence(factory(), frames[s.name], s.init_box + shift)
                results.append(SequenceEval(s.name, run, evaluate_sequence(run.boxes, s.boxes)))
        except TrackkitError as exc:  # e.g. weights not trained yet: skip, keep the others
            print(f"  {label}: skipped ({exc})", file=sys.stderr, flush=True)
            continue
        rep = report(results)
        rows[label] = rep
        summ = summarize({r.name: r.otb for r in results})
        curves[label] = (summ.success, summ.precision)
        if args.json is not None:  # written as we go: an interrupted run keeps its rows
            args.json.write_text(json.dumps(rows, indent=2) + "\n")
        m = rep["mean"]
        print(
            f"  {label}: AUC {m['success_auc']:.3f} P@20 {m['precision_20px']:.3f} "
            f"fps {m['fps']:.1f} cpu-fps {m['cpu_fps']:.1f} ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    print(with_deep_anchor(format_report_table(rows, [s.name for s in seqs], "cv-kcf"), rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.plot is not None:
        from trackkit.viz.plots import Curves, plot_otb

        plot_otb({k: Curves.of(*v) for k, v in curves.items()}, args.plot, title="shared set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
