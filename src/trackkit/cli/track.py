"""``trackkit track``: run a multi-object tracker and write MOTChallenge results.

SOURCE is a video file, an image folder, a MOTChallenge sequence (``det/det.txt`` +
``seqinfo.ini``; ``img1/`` only where a detector or ``--video`` needs images) or a folder of
sequences. Each becomes a :class:`trackkit.pipeline.FrameSource` and goes through the one run
path, :func:`trackkit.pipeline.track_video`: one detector (a sequence's own ``det/det.txt``
unless ``--detector`` says otherwise), one tracker, results written frame by frame (an
interrupted run keeps every finished frame) or, with ``--offline``, linked and interpolated
once the whole sequence is tracked. Options use the one vocabulary of the CLI, ``--set
KEY=VALUE`` (:mod:`trackkit.cli.options`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import (
    add_set_argument,
    add_verb,
    building,
    check_options,
    split_options,
)
from trackkit.errors import ConfigError

__all__ = ["add_parser", "check_tracker"]

HELP = (
    "run a multi-object tracker (SORT, ByteTrack, OC-SORT, ...) on videos or MOTChallenge sequences"
)
DESCRIPTION = (
    "Detect and track every object of a video, an image folder or "
    "MOTChallenge sequences and write MOTChallenge results (frame,id,x,y,w,h,score,...) "
    "frame by frame."
)


EPILOG = """\
options (--set KEY=VALUE, repeatable):
  KEY=VALUE          the tracker's options, e.g. track_buffer=60 (see the tracker's config)
  det.KEY=VALUE      the detector's options, e.g. det.score_threshold=0.3
  offline.KEY=VALUE  the offline pass (with --offline), e.g. offline.max_gap=90

examples:
  trackkit track data/MOT17/train --tracker bytetrack --out results/
  trackkit track MOT17-02-FRCNN --out results/ --offline --set offline.max_gap=90
  trackkit track street.mp4 --detector yolox:yolox_nano.onnx --classes person \\
      --tracker bytetrack --set track_buffer=60 --out street.txt --video street_tracks.mp4

SOURCE is a video file (mp4, avi, mkv, ...), a folder of images (sorted by name), a
MOTChallenge sequence folder (its det/det.txt, frames optional) or a folder of sequences.
--out DIR writes DIR/<source name>.txt; --out FILE.txt (one source) writes there.
Detectors: file:det.txt (MOTChallenge; a sequence's default), hog (OpenCV people detector,
the default for videos), bgsub (moving blobs, static camera), yolox:MODEL.onnx (YOLOX
through onnxruntime).
"""


def _list_trackers() -> int:
    from trackkit.mot import MOT_TRACKERS, available

    names = available()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {MOT_TRACKERS.summary(name)}")
    print(f"{'(--offline)':<{width}}  link tracklets across gaps and interpolate, on any tracker")
    return 0


def check_tracker(name: str, options: dict[str, Any]) -> None:
    """Fail fast, in one line, on a bad tracker name or ``--set`` option."""
    from trackkit.mot import MOT_TRACKERS
    from trackkit.pipeline import build_tracker

    check_options(f"tracker {name}", getattr(MOT_TRACKERS.get(name), "config_class", None), options)
    with building(f"tracker {name}"):
        build_tracker(name, 30.0, **options)


def _offline(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any] | None:
    """The offline pass's options (``None``: no offline pass), checked."""
    from trackkit.mot.offline import OfflineConfig, OfflineLinker

    if not args.offline:
        if options:
            raise ConfigError("--set offline.KEY=VALUE needs --offline")
        return None
    check_options("--offline", OfflineConfig, options, "offline.")
    OfflineLinker(**options)
    return options


def _detector(args: argparse.Namespace, source: Any, options: dict[str, Any]) -> tuple[Any, str]:
    """The detector for ``source`` and its name: ``--detector``, else the source's own
    detections (a MOTChallenge ``det/det.txt``), else ``hog``."""
    from trackkit.detectors import build_detector

    spec = args.detector or (f"file:{source.detections}" if source.detections else "hog")
    with building(f"detector {spec}"):
        detector = build_detector(spec, **options)
    if args.reid:
        from trackkit.detectors import EmbeddingDetector
        from trackkit.reid.embedder import load_embedder

        detector = EmbeddingDetector(detector, load_embedder(args.reid))
    return detector, spec.split(":", 1)[0]


def _results_path(out: Path, name: str, count: int) -> Path:
    if out.suffix.lower() != ".txt":
        return out / f"{name}.txt"
    if count > 1:
        raise ConfigError(f"--out {out}: SOURCE holds {count} sequences; give a folder")
    return out


def _handler(args: argparse.Namespace) -> int:
    if args.list:
        return _list_trackers()
    if args.source is None or args.out is None:
        raise ConfigError("trackkit track needs SOURCE and --out DIR or FILE.txt (or --list)")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be >= 1")
    from trackkit.pipeline import open_sources, track_video

    # FFmpeg's own log lines would duplicate our one-line errors (unless the user asks).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    options = split_options(args.set, ("det", "offline"))
    check_tracker(args.tracker, options[""])
    offline = _offline(args, options["offline"])
    sources = open_sources(args.source, args.fps)
    if args.video and len(sources) > 1:
        raise ConfigError(f"--video: {args.source} holds {len(sources)} sequences; give one")
    out = Path(args.out)
    for source in sources:
        detector, det_name = _detector(args, source, options["det"])
        results = _results_path(out, source.name, len(sources))
        try:
            summary = track_video(
                source,
                detector,
                args.tracker,
                results=results,
                video=args.video,
                classes=args.classes,
                progress=not args.quiet,
                max_frames=args.max_frames,
                tracker_options=options[""],
                offline=offline,
            )
        except KeyboardInterrupt:
            print(
                f"trackkit: interrupted; frames finished so far are in {results}", file=sys.stderr
            )
            return 130
        print(
            f"{source.name}: tracked {summary.frames} frames with {det_name} + {args.tracker}"
            f"{' + offline' if offline is not None else ''} at {summary.fps:.1f} frames/s: "
            f"{summary.tracks} tracks, {summary.detections} detections -> {results}"
        )
        if summary.video is not None:
            print(f"video: {summary.video} ({summary.codec})")
    if len(sources) > 1:
        print(f"tracked {len(sources)} sequences with {args.tracker}; results in {out}")
    return 0


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "track", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("source", nargs="?", metavar="SOURCE", help="video, folder or sequence(s)")
    parser.add_argument(
        "--tracker", default="botsort", help="tracker name (see --list; default: botsort)"
    )
    parser.add_argument("--out", metavar="DIR|FILE.txt", help="where the results go")
    add_set_argument(
        parser,
        "options: tracker KEY=VALUE, detector det.KEY=VALUE, offline pass offline.KEY=VALUE",
        deprecated={"--config": "", "--det-config": "det."},
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="after the whole sequence, link tracklets across gaps and interpolate",
    )
    parser.add_argument(
        "--detector",
        metavar="SPEC",
        help="file:det.txt, hog, bgsub or yolox:MODEL.onnx (default: a sequence's "
        "det/det.txt, else hog)",
    )
    parser.add_argument(
        "--reid",
        metavar="MODEL",
        help="add appearance embeddings (for deepsort / botsort): default, histogram, "
        "omz-0288, MODEL.onnx or MODEL.pt (see trackkit reid)",
    )
    parser.add_argument("--video", metavar="FILE.mp4", help="write an annotated video")
    parser.add_argument(
        "--classes", nargs="+", metavar="NAME", help="keep only these classes (e.g. person)"
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 30)")
    parser.add_argument("--list", action="store_true", help="list the trackers and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_handler)
