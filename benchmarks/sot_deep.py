"""Deep single-object trackers on the shared OTB/VOT sequences, beside OpenCV's, in one run.

trackkit's SiamRPN-style tracker on the NanoTrack v2 / v3 networks (ONNX through onnxruntime,
or the state_dicts through trackkit's PyTorch modules), SiamFC / GOTURN / MDNet with the
weights trained by ``trackkit sot train``, a "box never moves" baseline, and OpenCV's
TrackerNano (driven by the same NanoTrack v2 ONNX files) and TrackerVit as anchors. One pass
from the first-frame box, frames decoded before timing, one thread everywhere. Speed is also
given as a ratio against OpenCV's TrackerNano in the same run.

    python benchmarks/sot_deep.py                           # everything
    python benchmarks/sot_deep.py --trackers cv-nano siamrpn --seqs Car4,bag
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from trackkit.metrics.otb import evaluate_sequence  # noqa: E402
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


def _w(*parts: str) -> str:
    p = shared_path("weights", *parts)
    if p is None:
        raise SystemExit(f"shared weights {'/'.join(parts)} not found")
    return str(p)


class Static(SOTTracker):
    """The "box never moves" baseline."""

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        self._box = box.copy()

    def _update(self, frame: np.ndarray) -> SOTResult:
        return SOTResult(self._box.copy(), 1.0)


class OpenCVDeep(SOTTracker):
    """OpenCV's TrackerNano / TrackerVit (integer boxes; its failure flag is ignored)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        if self.kind == "nano":
            p = cv2.TrackerNano_Params()
            p.backbone = str(Path(_w("nanotrack_v2")) / "nanotrack_backbone_sim.onnx")
            p.neckhead = str(Path(_w("nanotrack_v2")) / "nanotrack_head_sim.onnx")
            self._t = cv2.TrackerNano_create(p)
        else:
            p = cv2.TrackerVit_Params()
            p.net = str(Path(_w("vittrack")) / "object_tracking_vittrack_2023sep.onnx")
            self._t = cv2.TrackerVit_create(p)
        x1, y1, x2, y2 = box
        self._t.init(frame, (round(x1), round(y1), round(x2 - x1), round(y2 - y1)))

    def _update(self, frame: np.ndarray) -> SOTResult:
        _, (x, y, w, h) = self._t.update(frame)
        return SOTResult(np.array([x, y, x + w, y + h], dtype=np.float64), 1.0)


def trackers() -> dict[str, Callable[[], Any]]:
    """Label -> factory of every tracker of the benchmark."""
    v2, v3 = _w("nanotrack_v2"), _w("nanotrack_v3")
    v2_pt = str(next(Path(v2).glob("*.pt")))
    v3_pt = str(next(Path(v3).glob("*.pt")))
    plain = {"calibrate": False, "distractors": False, "long_term": False}
    return {
        "static": Static,
        "cv-nano": lambda: OpenCVDeep("nano"),
        "cv-vit": lambda: OpenCVDeep("vit"),
        "siamrpn-v2-plain": lambda: build("siamrpn", weights=v2, **plain),
        "siamrpn-v2": lambda: build("siamrpn", weights=v2),
        "siamrpn-v2-torch": lambda: build("siamrpn", weights=v2_pt),
        "siamrpn-v3-plain": lambda: build("siamrpn", weights=v3, **plain),
        "siamrpn-v3": lambda: build("siamrpn", weights=v3),
        "siamrpn-v3-torch": lambda: build("siamrpn", weights=v3_pt),
        "siamfc": lambda: build("siamfc"),
        "goturn": lambda: build("goturn"),
        "mdnet": lambda: build("mdnet"),
    }


def main() -> int:
    table = trackers()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=shared_path("data"), help="../shared/data")
    ap.add_argument("--trackers", nargs="*", default=list(table), choices=list(table))
    ap.add_argument("--seqs", help="comma-separated sequence names")
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
    for label in args.trackers:
        t0 = time.perf_counter()
        results = []
        for s in seqs:
            run = run_sequence(table[label](), frames[s.name], s.init_box)
            results.append(SequenceEval(s.name, run, evaluate_sequence(run.boxes, s.boxes)))
        rows[label] = report(results)
        m = rows[label]["mean"]
        print(
            f"  {label}: AUC {m['success_auc']:.3f} fps {m['fps']:.1f} "
            f"({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    print(format_report_table(rows, [s.name for s in seqs], "cv-nano"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
