"""``trackkit batch``: byte-identical to ``trackkit track``, and how much 2 Ray workers gain.

Sources: the seven MOT17 train sequences of ``../shared`` (motion only: their own
``det/det.txt``, no images) and ``--videos`` synthetic 640x480 videos
(:class:`trackkit.datasets.SyntheticScene`, ``--frames`` frames each, MJPG .avi, seeds 0..N-1)
tracked with the demo's detector (``bgsub``, ``min_area=200``): detector-bound videos.

1. **Reference**: ``trackkit track`` (the CLI, in this process) on each source.
2. **local, 1 worker**: ``trackkit.batch.run(..., engine="local", threads=1)``.
3. **ray, 2 workers**: a local Ray with 2 CPUs is started (timed: "ray start"), then
   ``trackkit.batch.run(..., engine="ray", workers=2)`` (actors start inside it).

Every results file of steps 2 and 3 is compared byte for byte with step 1. The speed-up is
wall-clock local / ray on the synthetic videos, with and without Ray's start-up, measured in
this one run (the same machine, the same minutes).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/batch_speed.py [--videos 20] [--frames 240]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
from common import require_shared

from trackkit import batch
from trackkit.cli.main import main as trackkit_main
from trackkit.datasets import SceneConfig, SyntheticScene

DETECTOR = {"min_area": 200.0}  # the demo's bgsub setting at 640x480


def write_videos(folder: Path, count: int, frames: int) -> list[Path]:
    """``count`` synthetic videos (kept in ``folder`` for the next run)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"synth-{seed:02d}-{frames}.avi"
        paths.append(path)
        if path.is_file():
            continue
        tmp = path.with_suffix(".tmp.avi")
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (640, 480))
        for _, frame in SyntheticScene(SceneConfig(num_frames=frames, seed=seed)):
            writer.write(frame)
        writer.release()
        tmp.rename(path)
    return paths


def reference(videos: list[Path], mot: Path, tracker: str, out: Path) -> float:
    """``trackkit track`` on every source into ``out``; returns the seconds it took."""
    start = time.perf_counter()
    det = [f"--set=det.{k}={v}" for k, v in DETECTOR.items()]
    for video in videos:
        args = ["track", str(video), "--tracker", tracker, "--detector", "bgsub", *det]
        assert trackkit_main([*args, "--out", str(out), "-q"]) == 0
    assert trackkit_main(["track", str(mot), "--tracker", tracker, "--out", str(out), "-q"]) == 0
    return time.perf_counter() - start


def identical(out: Path, ref: Path, names: list[str]) -> int:
    """How many of ``names`` have results byte-identical to the reference's."""
    return sum((out / f"{n}.txt").read_bytes() == (ref / f"{n}.txt").read_bytes() for n in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--tracker", default="ocsort")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/trackkit-batch-bench"))
    args = parser.parse_args()
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    mot = require_shared() / "data" / "MOT17" / "train"
    load0 = os.getloadavg()[0]
    videos = write_videos(args.cache / "videos", args.videos, args.frames)
    work = args.cache / "runs"
    shutil.rmtree(work, ignore_errors=True)
    ref = work / "reference"
    t_ref = reference(videos, mot, args.tracker, ref)
    seqs = sorted(p.name for p in mot.iterdir() if (p / "det" / "det.txt").is_file())
    names = [v.stem for v in videos]
    common = {"tracker": args.tracker, "progress": False}
    det = {"detector": "bgsub", "detector_options": DETECTOR}

    rows = []
    local = batch.run(videos, work / "local", engine="local", threads=1, **det, **common)
    local_mot = batch.run(mot, work / "local", engine="local", threads=1, **common)
    rows.append(("local, 1 worker", local, local_mot, 0.0))

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - start
    try:
        remote = batch.run(videos, work / "ray", engine="ray", workers=args.workers, **det,
                           **common)  # fmt: skip
        remote_mot = batch.run(mot, work / "ray", engine="ray", workers=args.workers, **common)
    finally:
        ray.shutdown()
    rows.append((f"ray, {args.workers} workers", remote, remote_mot, t_init))

    frames = sum(r.frames for r in local.results)
    mot_frames = sum(r.frames for r in local_mot.results)
    print(f"{len(videos)} synthetic 640x480 videos x {args.frames} frames (bgsub + "
          f"{args.tracker}, {frames} frames) + {len(seqs)} MOT17 sequences (det.txt + "
          f"{args.tracker}, {mot_frames} frames); load average {load0:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; {os.cpu_count()} CPUs")  # fmt: skip
    print(f"reference: trackkit track on each source, one process: {t_ref:.1f} s")
    print()
    print("| engine | videos s | videos frames/s | MOT17 s | ray start s | identical |")
    print("|---|---|---|---|---|---|")
    for label, vids, seq_run, t_start in rows:
        same = identical(vids.out, ref, names + seqs)
        ok = vids.complete and seq_run.complete
        print(f"| {label} | {vids.seconds:.1f} | {frames / vids.seconds:.1f} | "
              f"{seq_run.seconds:.1f} | {t_start:.1f} | {same}/{len(names) + len(seqs)}"
              f"{'' if ok else ' (incomplete)'} |")  # fmt: skip
    gain = local.seconds / remote.seconds
    gain_all = local.seconds / (remote.seconds + t_init)
    print()
    print(
        f"speed-up on the detector-bound videos, local 1 worker / ray {args.workers} workers: "
        f"{gain:.2f}x (Ray already running), {gain_all:.2f}x (Ray start-up included)"
    )
    return 0 if all(identical(r[1].out, ref, names + seqs) == len(names) + len(seqs)
                    for r in rows) else 1  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
