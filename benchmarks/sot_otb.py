"""Single-object tracking on the shared OTB/VOT sequences: trackkit vs OpenCV, same run.

Every tracker runs one pass from the first-frame box on each sequence (frames decoded once,
before timing), on one thread (torch and OpenCV). Printed per tracker: mean success AUC, mean
precision at 20 px, wall-clock fps, fps per CPU second (less sensitive to other processes on
a shared machine) and the speed ratio against OpenCV's KCF in this run.

    python benchmarks/sot_otb.py                      # every tracker in TRACKERS
    python benchmarks/sot_otb.py --trackers kcf cv-kcf --json out.json --plot out.png

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

from trackkit.errors import TrackkitError  # noqa: E402
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

#: (label, trackkit registry name, options). OpenCV anchors are "cv-*" (see OPENCV).
TRACKERS: list[tuple[str, str, dict[str, Any]]] = [
    ("kcf", "kcf", {}),
    ("kcf-cn", "kcf", {"features": ("hog", "cn")}),
    ("udt", "udt", {}),
    ("dcfnet", "dcfnet", {}),
    (
        "udt-paper",
        "udt",
        {"update_threshold": 0.0, "scale_features": "recompute", "crop_size": 125},
    ),
    ("siamrpn", "siamrpn", {}),
    ("siamrpn-v3", "siamrpn", {"weights": str(shared_path("weights", "nanotrack_v3"))}),
    ("siamfc", "siamfc", {}),
    ("goturn", "goturn", {}),
    ("mdnet", "mdnet", {}),
]

#: OpenCV trackers: label -> (factory, use the box even when update() reports a failure).
OPENCV: dict[str, tuple[str, bool]] = {
    "cv-kcf": ("TrackerKCF_create", True),
    "cv-kcf-flag": ("TrackerKCF_create", False),
    "cv-csrt": ("TrackerCSRT_create", True),
    "cv-mosse": ("legacy.TrackerMOSSE_create", True),
    "cv-mil": ("TrackerMIL_create", True),
}


class OpenCVTracker(SOTTracker):
    """An OpenCV tracker behind trackkit's protocol (boxes rounded to integer pixels).

    With ``ignore_flag=False`` a frame whose ``update`` reports failure gives a NaN box (a
    failure in the evaluation); otherwise the returned box is used either way.
    """

    def __init__(self, factory: str, ignore_flag: bool) -> None:
        super().__init__()
        obj: Any = cv2
        for part in factory.split("."):
            obj = getattr(obj, part)
        self._factory = obj
        self._ignore_flag = ignore_flag

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        self._t = self._factory()
        x1, y1, x2, y2 = box
        self._t.init(frame, (round(x1), round(y1), round(x2 - x1), round(y2 - y1)))

    def _update(self, frame: np.ndarray) -> SOTResult:
        ok, (x, y, w, h) = self._t.update(frame)
        if not ok and not self._ignore_flag:
            return SOTResult(np.full(4, np.nan), 0.0)
        return SOTResult(np.array([x, y, x + w, y + h], dtype=np.float64), float(ok))


def make(label: str) -> Any:
    if label in OPENCV:
        factory, ignore = OPENCV[label]
        return lambda: OpenCVTracker(factory, ignore)
    for name, reg, cfg in TRACKERS:
        if name == label:
            return lambda: build(reg, **cfg)
    raise SystemExit(f"unknown tracker {label!r}; known: {[t[0] for t in TRACKERS]} {list(OPENCV)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = shared_path("data")
    ap.add_argument("--root", type=Path, default=default_root, help="sequences (../shared/data)")
    ap.add_argument(
        "--trackers", nargs="*", default=[t[0] for t in TRACKERS] + list(OPENCV), help="labels"
    )
    ap.add_argument("--seqs", help="comma-separated sequence names")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    if args.root is None:
        raise SystemExit("shared data folder not found; pass --root")
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    seqs = find_sequences(args.root)
    if args.seqs:
        keep = set(args.seqs.split(","))
        seqs = [s for s in seqs if s.name in keep]
    frames = {s.name: list(s.iter_frames()) for s in seqs}
    print(f"{len(seqs)} sequences: {', '.join(s.name for s in seqs)}", file=sys.stderr)
    rows: dict[str, dict[str, Any]] = {}
    curves = {}
    for label in args.trackers:
        factory = make(label)
        results = []
        t0 = time.perf_counter()
        try:
            for s in seqs:
                run = run_sequence(factory(), frames[s.name], s.init_box)
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
    print(format_report_table(rows, [s.name for s in seqs], "cv-kcf"))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.plot is not None:
        from trackkit.viz.plots import Curves, plot_otb

        plot_otb({k: Curves.of(*v) for k, v in curves.items()}, args.plot, title="shared set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
