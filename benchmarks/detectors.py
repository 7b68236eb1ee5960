"""Detector accuracy and speed on the real MOT17 frames in ../shared (YOLOX-Nano vs HOG).

For every ``data/MOT17/train/<seq>/img1/*.jpg`` (the first 4-8 frames of each sequence) and
its ``gt/gt.txt``: recall of the visible pedestrians (class 1, flag 1, visibility >= 0.5) at
IoU >= 0.5 and precision, with the protocol of :mod:`trackkit.detectors.evaluate` (one-to-one
Hungarian matching; detections on less visible people, distractors or flag-0 boxes are
ignored, not counted as false positives). Each detector runs at its default threshold:

- ``yolox``: YOLOX-Nano 416x416 ONNX (``weights/yolox_nano``) through onnxruntime, person
  class, default tiling (whole frame + overlapping tiles on large frames);
- ``yolox-1`` : the same on the whole frame only (``tiles=(1, 1)``);
- ``hog``: OpenCV's HOG people detector (the anchor of the speed ratio).

Speed is the mean wall time per frame of ``detect()`` (image decoding excluded), one thread,
and its ratio to HOG's on the same frames.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/detectors.py [--skip-hog]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
from common import YOLOX_NANO, require_shared  # noqa: E402

from trackkit.detectors import build_detector  # noqa: E402
from trackkit.detectors.evaluate import DetectionCounts, count_matches, read_gt_frames  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hog", action="store_true", help="skip the (slow) HOG detector")
    parser.add_argument("--frames", type=int, default=0, help="frames per sequence (0: all)")
    args = parser.parse_args()
    root = require_shared()
    model = root / YOLOX_NANO
    cv2.setNumThreads(1)
    detectors = {
        "yolox": build_detector(f"yolox:{model}", classes=[0], num_threads=1),
        "yolox-1": build_detector(f"yolox:{model}", classes=[0], num_threads=1, tiles=(1, 1)),
    }
    if not args.skip_hog:
        detectors["hog"] = build_detector("hog")
    seqs = sorted(p for p in (root / "data" / "MOT17" / "train").iterdir() if p.is_dir())
    counts = {name: {} for name in detectors}  # type: dict[str, dict[str, DetectionCounts]]
    seconds = dict.fromkeys(detectors, 0.0)
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
        for name, det in detectors.items():
            c = DetectionCounts()
            for k, img in enumerate(frames, start=1):
                t0 = time.perf_counter()
                d = det.detect(img)
                seconds[name] += time.perf_counter() - t0
                c = c + count_matches(d.xyxy, *gt[k])
            counts[name][seq.name] = c
        print(f"  {seq.name}: {len(frames)} frames {size[0]}x{size[1]}", file=sys.stderr)

    names = list(detectors)
    print(f"\nRecall (visible >= 0.5, IoU >= 0.5) / precision, {n_frames} frames")
    print(f"| sequence | positives | {' | '.join(names)} |")
    print(f"|---|---|{'---|' * len(names)}")
    for seq in seqs:
        cells = [
            f"{counts[n][seq.name].recall:.3f} / {counts[n][seq.name].precision:.3f}" for n in names
        ]
        print(f"| {seq.name} | {counts[names[0]][seq.name].positives} | {' | '.join(cells)} |")
    totals = {n: sum(counts[n].values(), DetectionCounts()) for n in names}
    cells = [f"{totals[n].recall:.3f} / {totals[n].precision:.3f}" for n in names]
    print(f"| all | {totals[names[0]].positives} | {' | '.join(cells)} |")
    print("\nSpeed (detect() only, one thread)")
    print("| detector | ms / frame | ratio to HOG |")
    print("|---|---|---|")
    anchor = seconds.get("hog")
    for n in names:
        ms = 1000 * seconds[n] / n_frames
        ratio = f"{seconds[n] / anchor:.3f}" if anchor else "-"
        print(f"| {n} | {ms:.1f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
