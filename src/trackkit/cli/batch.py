"""``trackkit batch``: track many videos or sequences (and trackers), on one machine or a
Ray cluster, resumably. The work is done by :func:`trackkit.batch.run`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from trackkit.cli.options import (
    add_set_argument,
    add_verb,
    building,
    check_options,
    offline_options,
    split_options,
)
from trackkit.errors import ConfigError

__all__ = ["add_parser"]

HELP = "track many videos or sequences (and tracker grids) locally or on a Ray cluster"
DESCRIPTION = (
    "Run `trackkit track` over many sources, one task per source and tracker, on a pool of "
    "workers that load the detector / ReID model once. Each source's results are renamed "
    "into place when complete and recorded in OUT/manifest.jsonl: rerunning the same command "
    "skips what is finished and redoes the rest."
)

EPILOG = """\
SOURCE: video files, image folders, MOTChallenge sequences (det/det.txt), folders of them,
glob patterns ('videos/*.mp4', quoted) or a text file listing them (one per line).
Results: OUT/<name>.txt (MOTChallenge format, byte-identical to `trackkit track`); with
--tracker a,b,c: OUT/<tracker>/<name>.txt. OUT/manifest.jsonl: one line per finished task
(source, status, frames, seconds, tracks, error).

engines:
  --engine local   this process, one source after the other (the default without Ray)
  --engine ray     a pool of --workers Ray actors (the default with Ray installed:
                   pip install 'trackkit[ray]'); without --address a local Ray with
                   workers x threads CPUs starts and stops with the command
cluster (see docs/batch.md):
  head$    ray start --head --port=6379
  others$  ray start --address=HEAD_IP:6379
  head$    RAY_AUTH_MODE=token trackkit batch /shared/videos --out /shared/results \\
               --engine ray --address auto   (the others need the head's ~/.ray/auth_token)
  Every machine needs the same Python environment with trackkit, and the sources (and
  model files) at the same paths, e.g. on a shared filesystem; results and the manifest
  are written by this command on the machine that runs it.

reliability:
  a worker that dies mid-video (killed, out of memory) is replaced and the video rerun, up
  to --retries times; a source that fails (corrupt video, bad detections file) is recorded
  with its error and the batch goes on; Ctrl-C stops cleanly (finished results are kept).
  Exit status: 0 all sources done, 1 some failed, 130 interrupted.

examples:
  trackkit batch data/MOT17/train --out results/ --tracker bytetrack,ocsort,sort \\
      --eval data/MOT17/train
  trackkit batch 'cameras/*.mp4' --out tracks/ --detector yolox:yolox_s.onnx \\
      --classes person --engine ray --workers 8
  trackkit batch videos.txt --out tracks/ --engine local
"""


def _check_detector(spec: str | None, options: dict[str, Any]) -> None:
    """Fail fast, in one line, on an unknown detector or a bad ``det.`` option (the checks
    of ``trackkit track``)."""
    if spec is None:
        return
    from trackkit.cli.track import _detector_config

    name, config = _detector_config(spec)
    if config is not None:
        check_options(f"detector {name}", config, options, "det.")


def _handler(args: argparse.Namespace) -> int:
    from trackkit.batch import run
    from trackkit.batch.runner import parse_trackers
    from trackkit.cli.track import check_tracker

    if args.out is None:
        raise ConfigError("trackkit batch needs --out DIR")
    # FFmpeg's own log lines would duplicate our one-line errors (workers inherit this)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    options = split_options(args.set, ("det", "offline"))
    trackers = parse_trackers(args.tracker)
    for name in trackers:
        check_tracker(name, options[""])
    offline = offline_options(args.offline, options["offline"])
    with building(f"detector {args.detector}"):
        _check_detector(args.detector, options["det"])
    summary = run(
        args.source,
        args.out,
        tracker=trackers,
        detector=args.detector,
        detector_options=options["det"],
        reid=args.reid,
        tracker_options=options[""],
        classes=args.classes,
        offline=offline,
        fps=args.fps,
        class_aware=args.class_aware,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        threads=args.threads,
        gpus_per_worker=args.gpus_per_worker,
        retries=args.retries,
        evaluate=args.eval,
        benchmark=args.benchmark,
        progress=not args.quiet,
    )
    print(summary.table(per_source=len(summary.results) <= 60))
    for failed in summary.failed:
        print(f"failed: {failed.source}: {failed.error}")
    if summary.scores:
        from trackkit.cli.eval_mot import format_table

        for tracker, evaluation in summary.scores.items():
            rows = {name: m.as_dict() for name, m in evaluation.sequences.items()}
            rows["COMBINED"] = evaluation.combined.as_dict()
            print(f"\n{tracker} vs {args.eval}:")
            print(format_table(rows))
    print(f"results in {summary.out} (manifest: {summary.out / 'manifest.jsonl'})")
    if summary.interrupted:
        print("trackkit: interrupted; rerun the same command to finish", file=sys.stderr)
        return 130
    return 1 if summary.failed else 0


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "batch", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("source", nargs="+", metavar="SOURCE", help="videos, folders, patterns")
    parser.add_argument("--out", metavar="DIR", help="results folder (with manifest.jsonl)")
    parser.add_argument(
        "--tracker", default="botsort", help="tracker, or a grid a,b,c (default: botsort)"
    )
    parser.add_argument(
        "--detector",
        metavar="SPEC",
        help="as trackkit track: file:det.txt, hog, bgsub, yolox:MODEL.onnx, a model name "
        "(default: a sequence's det/det.txt, else the best person detector in the model "
        "cache, else hog)",
    )
    parser.add_argument("--reid", metavar="MODEL", help="appearance embeddings (as track)")
    add_set_argument(
        parser, "options: tracker KEY=VALUE, detector det.KEY=VALUE, offline offline.KEY=VALUE"
    )
    parser.add_argument("--offline", action="store_true", help="link tracklets (as track)")
    parser.add_argument("--classes", nargs="+", metavar="NAME", help="keep only these classes")
    parser.add_argument(
        "--class-aware", action="store_true", help="one tracker per class (as track)"
    )
    parser.add_argument("--fps", type=float, help="frame rate of image folders (default 30)")
    parser.add_argument(
        "--engine", choices=("local", "ray"), help="local or ray (default: ray when installed)"
    )
    parser.add_argument(
        "--address", metavar="ADDR", help="a running Ray cluster: auto, HOST:6379, ray://HOST:10001"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="Ray workers (default: CPUs / --threads)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, metavar="T", help="CPU threads per worker (default 1)"
    )
    parser.add_argument(
        "--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs per Ray worker"
    )
    parser.add_argument(
        "--retries", type=int, default=2, metavar="K", help="reruns after a lost worker (2)"
    )
    parser.add_argument("--eval", metavar="GT_DIR", help="score finished results at the end")
    parser.add_argument("--benchmark", type=str.upper, help="MOT15|MOT16|MOT17|MOT20 for --eval")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_handler)
