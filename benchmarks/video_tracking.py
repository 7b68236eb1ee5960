"""End-to-end video tracking speed and memory: YOLOX-Nano + ByteTrack on 640x480 video.

1. **Speed.** A 640x480 synthetic video (``--frames`` frames, :mod:`trackkit.datasets.synthetic`,
   H.264 or mp4v) is tracked exactly as ``trackkit track VIDEO --detector yolox:MODEL
   --tracker bytetrack --out results.txt [--video annotated.mp4]`` does
   (:func:`trackkit.pipeline.track_video`: decoding, detection, tracking, writing results
   frame by frame, optionally drawing and encoding the annotated video). The anchor, run in
   the same script on the same decoded frames, is the detector alone (``detect()`` on frames
   held in memory): the ratio end-to-end / detector-only shows what the rest costs.
2. **Memory.** A long synthetic video (``--long`` frames, default 10,000) goes through the
   same pipeline with the annotated video on; the resident set size (``/proc/self/statm``) is
   sampled every 1,000 frames. Flat memory means RSS(last) - RSS(1,000) stays within a few MB.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/video_tracking.py \\
        [--frames 300] [--long 10000] [--threads 1]

Frames per second are given in wall-clock time and in CPU time of the process (all its
threads; on a busy shared machine the CPU-time rate is what one idle core would reach).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import YOLOX_NANO, require_shared

from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.detectors import build_detector
from trackkit.io.video import VideoWriter, open_video
from trackkit.pipeline import track_video


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def make_video(path: Path, frames: int, seed: int, noise: float) -> str:
    scene = SyntheticScene(SceneConfig(num_frames=frames, seed=seed, noise=noise))
    with VideoWriter(path, scene.config.fps) as w:
        for _, f in scene:
            w.write(f)
    return w.codec_used or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames of the speed video")
    parser.add_argument("--long", type=int, default=10_000, help="frames of the memory video")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads (0: all)")
    parser.add_argument("--repeat", type=int, default=2, help="speed runs (best is kept)")
    args = parser.parse_args()
    model = require_shared() / YOLOX_NANO

    def detector() -> Any:
        return build_detector(f"yolox:{model}", num_threads=args.threads)

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        video = tmp / "speed.mp4"
        codec = make_video(video, args.frames, seed=0, noise=2.0)
        frames = [f for _, f in open_video(video)]
        rows = []
        det = detector()
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for f in frames:
                det.detect(f)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        anchor_fps, anchor_cpu_fps = len(frames) / best, len(frames) / best_cpu
        rows.append(("detector only (anchor)", anchor_fps, anchor_cpu_fps))
        n = len(frames)
        del frames
        for label, annotated in (("track, results only", False), ("track + annotated video", True)):
            fps = cpu_fps = 0.0
            for _ in range(args.repeat):
                c0 = time.process_time()
                s = track_video(
                    video,
                    detector(),
                    "bytetrack",
                    results=tmp / "res.txt",
                    video=tmp / "ann.mp4" if annotated else None,
                    classes=["person"],
                    progress=False,
                )
                fps = max(fps, s.fps)
                cpu_fps = max(cpu_fps, n / (time.process_time() - c0))
            rows.append((label, fps, cpu_fps))
        print(f"\nSpeed: {args.frames} frames 640x480 ({codec}), YOLOX-Nano + ByteTrack")
        print(
            f"(onnxruntime threads: {args.threads or 'all cores'}; "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        print("| run | frames/s (wall) | frames/s (CPU time) | ratio to detector only (CPU) |")
        print("|---|---|---|---|")
        for label, fps, cfps in rows:
            print(f"| {label} | {fps:.1f} | {cfps:.1f} | {cfps / anchor_cpu_fps:.3f} |")
        sys.stdout.flush()

        if args.long <= 0:
            return 0
        long_video = tmp / "long.mp4"
        t0 = time.perf_counter()
        codec = make_video(long_video, args.long, seed=1, noise=0.0)
        print(f"\n(long video of {args.long} frames written in {time.perf_counter() - t0:.0f} s)")
        samples: list[tuple[int, float]] = []

        def sample(frame_id: int, *_: Any) -> None:
            if frame_id % 1000 == 0 or frame_id == 1:
                samples.append((frame_id, rss_mb()))

        s = track_video(
            long_video,
            detector(),
            "bytetrack",
            results=tmp / "long.txt",
            video=tmp / "long_ann.mp4",
            classes=["person"],
            progress=False,
            on_frame=sample,
        )
        print(f"\nMemory: {s.frames} frames 640x480 ({codec}), annotated video on, {s.fps:.1f} fps")
        print(f"(load average {os.getloadavg()[0]:.1f})")
        print("| frame | RSS MB |")
        print("|---|---|")
        for frame_id, mb in samples:
            print(f"| {frame_id} | {mb:.1f} |")
        ref = next((mb for f, mb in samples if f == 1000), None)
        if ref is not None:
            print(f"\nRSS(last) - RSS(frame 1000) = {samples[-1][1] - ref:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
