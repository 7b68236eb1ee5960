"""``trackkit batch``: byte-identical to ``trackkit track``, and how much 2 Ray workers gain.

Sources: the seven MOT17 train sequences of ``../shared`` (motion only: their own
``det/det.txt``, no images) and ``--videos`` synthetic 640x480 videos
(:class:`trackkit.datasets.SyntheticScene`, ``--frames`` frames each, MJPG .avi, seeds 0..N-1)
tracked with the demo's detector (``bgsub``, ``min_area=200``): detector-bound videos.

1. **Reference**: ``trackkit track`` (the CLI, in this process) on each source.
2. A local Ray with 2 CPUs is started (timed: "ray start"); then, ``--repeat`` times,
   alternating: **local, 1 worker** (``trackkit.batch.run(..., engine="local", threads=1)``)
   and **ray, 2 workers** (``engine="ray", workers=2``; the actors start inside the run).
3. The MOT17 sequences once with each engine.

Every results file is compared byte for byte with step 1. The speed-up is wall-clock local /
ray on the synthetic videos (best run of each), with and without Ray's start-up, measured in
this one run. A third anchor, run in the same rounds, is the ceiling of the machine at that
moment: ``--workers`` plain OS processes (``multiprocessing``, no Ray, no manifest) tracking
the same videos; on a machine shared with other work it can be far below ``--workers`` x.
"task s" sums the workers' own seconds per video: with 2 workers it exceeds the
wall time by up to 2x; per-video times longer than local's mean the two workers were slowed
by other load on the machine's cores.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/batch_speed.py [--videos 20] [--frames 240]
        [--repeat 1]
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


def _track_plain(job: tuple[str, str]) -> None:
    """One video with track_video in a plain process (the ceiling anchor)."""
    cv2.setNumThreads(1)
    from trackkit.detectors import build_detector
    from trackkit.pipeline import track_video

    video, out = job
    track_video(video, build_detector("bgsub", **DETECTOR), "ocsort", results=out, progress=False)


def plain_pool(videos: list[Path], workers: int, out: Path) -> float:
    """Seconds for ``workers`` plain OS processes (multiprocessing, no Ray) to track the
    videos: what the machine allows at that moment, whatever the engine."""
    import multiprocessing

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        jobs = [(str(v), str(out / f"{v.stem}.txt")) for v in videos]
        list(pool.imap_unordered(_track_plain, jobs, chunksize=1))
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
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs per engine")
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

    import ray

    from trackkit.batch.engine import start_ray

    t0 = time.perf_counter()
    start_ray(None, args.workers)  # the local Ray trackkit batch starts (workers at nice 0)
    t_init = time.perf_counter() - t0
    runs: dict[str, list[batch.BatchSummary]] = {"local": [], "ray": []}
    plain: list[float] = []
    try:
        # alternate the engines, so that both see the same share of the machine's other load
        for rep in range(args.repeat):
            for engine in ("local", "ray"):
                out = work / f"{engine}-{rep}"
                workers = 1 if engine == "local" else args.workers
                run = batch.run(videos, out, engine=engine, workers=workers, threads=1, **det,
                                **common)  # fmt: skip
                runs[engine].append(run)
            plain.append(plain_pool(videos, args.workers, work / f"plain-{rep}"))
        mot_runs = {e: batch.run(mot, work / f"{e}-0", engine=e, threads=1,
                                 workers=1 if e == "local" else args.workers, **common)
                    for e in ("local", "ray")}  # fmt: skip
    finally:
        ray.shutdown()

    frames = sum(r.frames for r in runs["local"][0].results)
    mot_frames = sum(r.frames for r in mot_runs["local"].results)
    print(f"{len(videos)} synthetic 640x480 videos x {args.frames} frames (bgsub + "
          f"{args.tracker}, {frames} frames) + {len(seqs)} MOT17 sequences (det.txt + "
          f"{args.tracker}, {mot_frames} frames); load average {load0:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; {os.cpu_count()} CPUs")  # fmt: skip
    print(f"reference: trackkit track on each source, one process: {t_ref:.1f} s; "
          f"ray start: {t_init:.1f} s")  # fmt: skip
    print()
    print("| engine | run | videos s | videos frames/s | task s (sum) | MOT17 s | identical |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for engine, label in (("local", "local, 1 worker"), ("ray", f"ray, {args.workers} workers")):
        for rep, run in enumerate(runs[engine]):
            seq_run = mot_runs[engine]
            same = identical(run.out, ref, names) + identical(seq_run.out, ref, seqs)
            ok = ok and same == len(names) + len(seqs) and run.complete and seq_run.complete
            task_s = sum(r.seconds for r in run.results)
            total = len(names) + len(seqs)
            cells = [label, str(rep + 1), f"{run.seconds:.1f}", f"{frames / run.seconds:.1f}",
                     f"{task_s:.1f}", f"{seq_run.seconds:.1f}", f"{same}/{total}"]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    for rep, seconds in enumerate(plain):
        cells = [f"{args.workers} plain processes (no Ray)", str(rep + 1), f"{seconds:.1f}",
                 f"{frames / seconds:.1f}", "", "", ""]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    best_local = min(r.seconds for r in runs["local"])
    best_ray = min(r.seconds for r in runs["ray"])
    print()
    print(
        f"machine ceiling now, local 1 worker / {args.workers} plain processes (best of "
        f"{args.repeat}): {best_local / min(plain):.2f}x"
    )
    print(
        f"speed-up on the detector-bound videos, local 1 worker / ray {args.workers} workers "
        f"(best of {args.repeat}): {best_local / best_ray:.2f}x (Ray running), "
        f"{best_local / (best_ray + t_init):.2f}x (Ray start-up included)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
