"""How well each SOT tracker's score tells "target in view" from "target absent".

For every shared OTB-layout sequence (../shared/data/otb and sot-extra), a tracker is
initialised on the first ground-truth box and run on the first ``--present`` frames (the
target is in view), then on ``--absent`` frames of *another* sequence resized to this one's
size (a scene without the target: the target has left). The scores of present frames where
the box still overlaps the ground truth (IoU >= 0.5) and of absent frames are collected.
Printed per tracker: the score percentiles of both groups and, for the threshold that
maximises (absent frames flagged) - (present frames flagged) (Youden's J), both rates; and
the same rates at the tracker's current default ``lost_threshold``.

    python benchmarks/sot_lost.py                         # every tracker with a score
    python benchmarks/sot_lost.py --trackers kcf siamrpn --present 30 --absent 15
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from trackkit.io.images import read_image  # noqa: E402
from trackkit.metrics.otb import overlaps  # noqa: E402
from trackkit.shared import shared_path  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.runner import find_sequences  # noqa: E402

TRACKERS = [
    "kcf", "dcfnet", "udt", "siamfc", "siamrpn-v2", "siamrpn-v3", "mdnet",
    "hcf", "crest", "dslt", "tadt", "adnet", "rolo", "memtrack",
]  # fmt: skip


def _scores(name: str, seqs: list[Any], present: int, absent: int) -> tuple[Any, Any]:
    """(scores of present frames with IoU >= 0.5, scores of absent frames)."""
    pres: list[float] = []
    gone: list[float] = []
    for k, seq in enumerate(seqs):
        other = seqs[(k + 1) % len(seqs)]
        tracker = build(name)
        first = read_image(seq.frames[0])
        h, w = first.shape[:2]
        tracker.init(first, seq.boxes[0])
        for t in range(1, min(present, len(seq))):
            res = tracker.update(read_image(seq.frames[t]))
            gt = seq.boxes[t]
            if np.all(np.isfinite(gt)) and overlaps(res.box[None], gt[None])[0] >= 0.5:
                pres.append(res.score)
        for t in range(min(absent, len(other))):
            img = cv2.resize(read_image(other.frames[t]), (w, h), interpolation=cv2.INTER_AREA)
            frame: NDArray[np.uint8] = np.asarray(img, dtype=np.uint8)
            gone.append(tracker.update(frame).score)
    return np.asarray(pres), np.asarray(gone)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trackers", nargs="+", default=TRACKERS)
    ap.add_argument("--present", type=int, default=40, help="frames with the target")
    ap.add_argument("--absent", type=int, default=20, help="frames of another sequence")
    args = ap.parse_args()
    roots = [shared_path("data", "otb"), shared_path("data", "sot-extra")]
    if None in roots:
        print("shared folder not found (set TRACKKIT_SHARED)", file=sys.stderr)
        return 2
    seqs = [s for r in roots for s in find_sequences(r)]  # type: ignore[arg-type]
    print(f"{len(seqs)} sequences, {args.present} present + {args.absent} absent frames each\n")
    print(
        "| tracker | present p5 / p50 | absent p50 / p95 | best threshold | absent flagged | "
        "present flagged | default | absent flagged | present flagged |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.trackers:
        pres, gone = _scores(name, seqs, args.present, args.absent)
        cands = np.unique(np.concatenate([pres, gone]))
        j = [(gone < c).mean() - (pres < c).mean() for c in cands]
        best = float(cands[int(np.argmax(j))])
        default = build(name).config.lost_threshold
        dcells = "- | - | -"
        if default is not None:
            dcells = f"{default:g} | {(gone < default).mean():.2f} | {(pres < default).mean():.2f}"
        print(
            f"| {name} | {np.percentile(pres, 5):.3f} / {np.median(pres):.3f} | "
            f"{np.median(gone):.3f} / {np.percentile(gone, 95):.3f} | {best:.3f} | "
            f"{(gone < best).mean():.2f} | {(pres < best).mean():.2f} | {dcells} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
