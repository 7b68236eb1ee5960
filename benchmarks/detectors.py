"""Person detectors side by side on the real MOT17 frames in ../shared: recall, precision, AP50
and frames/s of YOLOX-Nano, PP-PicoDet-S (416 and 320), FastestDet and OpenCV's HOG.

For every ``data/MOT17/train/<seq>/img1/*.jpg`` (the first 4-8 frames of each sequence) and
its ``gt/gt.txt``, with the protocol of :mod:`trackkit.detectors.evaluate` (positives: visible
pedestrians, class 1, flag 1, visibility >= 0.5; detections on less visible people,
distractors or flag-0 boxes are ignored, not counted as false positives):

- recall and precision at IoU >= 0.5 of each detector at its default threshold
  (one-to-one Hungarian matching);
- AP50: the same detector run again at a low threshold (score >= 0.05; HOG: SVM margin >= 0),
  detections ranked by score over all frames (VOC all-point interpolated AP).

Each ONNX detector runs person class only, one thread, in two modes: ``tiles`` (the default:
whole frame + automatic overlapping tiles on large frames) and ``whole`` (``tiles=(1, 1)``).
Models are found by name (:func:`trackkit.zoo.resolve`: the cache, else ../shared/weights).
Speed is the mean wall time per frame of ``detect()`` at the default threshold (image decoding
excluded) and its ratio to HOG's on the same frames, measured in the same run.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/detectors.py [--skip-hog]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from common import require_shared  # noqa: E402

from trackkit.detectors import build_detector  # noqa: E402
from trackkit.detectors.evaluate import (  # noqa: E402
    DetectionCounts,
    average_precision,
    count_matches,
    rank_matches,
    read_gt_frames,
)

MODELS = ("yolox-nano", "picodet-s", "picodet-s-320", "fastestdet")


def _detectors(skip_hog: bool) -> dict[str, tuple[Any, Any]]:
    """name -> (detector at its default threshold, the same at a low threshold for AP)."""
    out: dict[str, tuple[Any, Any]] = {}
    for model in MODELS:
        for mode, tiles in (("tiles", (0, 0)), ("whole", (1, 1))):
            opts = {"classes": ["person"], "num_threads": 1, "tiles": tiles}
            out[f"{model} {mode}"] = (
                build_detector(model, **opts),
                build_detector(model, score_threshold=0.05, **opts),
            )
    if not skip_hog:
        out["hog"] = (build_detector("hog"), build_detector("hog", hit_threshold=0.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hog", action="store_true", help="skip the (slow) HOG detector")
    parser.add_argument("--frames", type=int, default=0, help="frames per sequence (0: all)")
    args = parser.parse_args()
    root = require_shared()
    cv2.setNumThreads(1)
    detectors = _detectors(args.skip_hog)
    names = list(detectors)
    seqs = sorted(p for p in (root / "data" / "MOT17" / "train").iterdir() if p.is_dir())
    counts: dict[str, dict[str, DetectionCounts]] = {n: {} for n in names}
    ranked: dict[str, dict[str, list[Any]]] = {n: {} for n in names}
    seconds = dict.fromkeys(names, 0.0)
    n_frames = 0
    for seq in seqs:
        images = sorted((seq / "img1").glob("*.jpg"))
        if args.frames:
            images = images[: args.frames]
        frames = [cv2.imread(str(p)) for p in images]
        if not frames or any(f is None for f in frames):
            print(f"{seq / 'img1'}: missing or unreadable frames", file=sys.stderr)
            return 2
        size = (frames[0].shape[1], frames[0].shape[0])
        gt = read_gt_frames(seq / "gt" / "gt.txt", set(range(1, len(frames) + 1)), 0.5, size)
        n_frames += len(frames)
        for name, (det, low) in detectors.items():
            c = DetectionCounts()
            scores, outcomes = [], []
            for k, img in enumerate(frames, start=1):
                t0 = time.perf_counter()
                d = det.detect(img)
                seconds[name] += time.perf_counter() - t0
                c = c + count_matches(d.xyxy, *gt[k])
                d_low = low.detect(img)
                scores.append(d_low.scores)
                outcomes.append(rank_matches(d_low.xyxy, d_low.scores, *gt[k]))
            counts[name][seq.name] = c
            ranked[name][seq.name] = [np.concatenate(scores), np.concatenate(outcomes)]
        print(f"  {seq.name}: {len(frames)} frames {size[0]}x{size[1]}", file=sys.stderr)

    def ap(name: str, which: list[str]) -> float:
        s = np.concatenate([ranked[name][q][0] for q in which])
        o = np.concatenate([ranked[name][q][1] for q in which])
        return average_precision(s, o, sum(counts[name][q].positives for q in which))

    all_seqs = [q.name for q in seqs]
    anchor = seconds.get("hog")
    print(f"\nPersons on {n_frames} MOT17 frames (visible >= 0.5, IoU >= 0.5)")
    print("| detector | recall | precision | AP50 | ms / frame | frames/s | time ratio to HOG |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        total = sum(counts[n].values(), DetectionCounts())
        ms = 1000 * seconds[n] / n_frames
        ratio = f"{seconds[n] / anchor:.3f}" if anchor else "-"
        print(f"| {n} | {total.recall:.3f} | {total.precision:.3f} | {ap(n, all_seqs):.3f} | "
              f"{ms:.1f} | {1000 / ms:.1f} | {ratio} |")  # fmt: skip
    print("\nAP50 per sequence")
    print(f"| sequence | positives | {' | '.join(names)} |")
    print(f"|---|---|{'---|' * len(names)}")
    for q in all_seqs:
        cells = [f"{ap(n, [q]):.3f}" for n in names]
        print(f"| {q} | {counts[names[0]][q].positives} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
