"""The video side of ``trackkit track``: detector + tracker on a video file or image folder.

``trackkit track VIDEO_OR_FOLDER --detector hog|bgsub|yolox:PATH --tracker NAME --out
results.txt [--video annotated.mp4] [--classes person]`` runs :func:`trackkit.pipeline.track_video`.
:mod:`trackkit.cli.track` adds these options with :func:`add_video_arguments` and hands over
to :func:`run_video` when :func:`wants_video_pipeline` says the source is a video file, a plain
image folder, or a MOTChallenge sequence run with a detector or ``--video``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["add_video_arguments", "run_video", "wants_video_pipeline"]

VIDEO_HELP = """\
videos and image folders:
  trackkit track street.mp4 --detector yolox:yolox_nano.onnx --classes person \\
      --tracker bytetrack --out street.txt --video street_tracks.mp4
  SOURCE is a video file (mp4, avi, mkv, ...), a folder of images (sorted by name) or a
  MOTChallenge sequence (its img1/ frames; with --video and no --detector its det/det.txt).
  --out FILE.txt writes the results there; --out DIR writes DIR/<source name>.txt.
  Detectors: hog (OpenCV people detector, offline default), bgsub (moving blobs, static
  camera), yolox:MODEL.onnx (YOLOX through onnxruntime), file:det.txt (MOTChallenge).
"""


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--detector``, ``--det-config``, ``--video``, ``--classes``, ``--max-frames``."""
    group = parser.add_argument_group("video input (video files, image folders)")
    group.add_argument(
        "--detector",
        metavar="SPEC",
        help="detector for videos: hog (default), bgsub, yolox:MODEL.onnx, file:det.txt",
    )
    group.add_argument(
        "--det-config",
        nargs="*",
        metavar="KEY=VALUE",
        help="detector options, e.g. score_threshold=0.3 num_threads=2",
    )
    group.add_argument(
        "--reid",
        metavar="MODEL",
        help="add appearance embeddings (for deepsort / botsort): default, histogram, "
        "omz-0288, MODEL.onnx or MODEL.pt (see trackkit reid)",
    )
    group.add_argument("--video", metavar="FILE.mp4", help="write an annotated video")
    group.add_argument(
        "--classes", nargs="+", metavar="NAME", help="keep only these classes (e.g. person)"
    )
    group.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    group.add_argument("--fps", type=float, help="frame rate of an image folder (default 30)")
    parser.epilog = (parser.epilog + "\n" if parser.epilog else "") + VIDEO_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def wants_video_pipeline(args: argparse.Namespace) -> bool:
    """Whether ``args`` asks for the detector pipeline rather than MOTChallenge detections."""
    if getattr(args, "source", None) is None:
        return False
    path = Path(args.source)
    if args.detector or args.video or args.classes or args.max_frames or args.reid:
        return True
    if path.is_file():
        return True
    from trackkit.io.video import is_image_folder

    return path.is_dir() and is_image_folder(path)


def _results_path(out: str | None, source: Path) -> Path:
    from trackkit.errors import ConfigError

    if out is None:
        raise ConfigError("trackkit track needs --out FILE.txt or --out DIR")
    path = Path(out)
    if path.suffix.lower() == ".txt":
        return path
    name = source.stem if source.is_file() else source.name
    if source.name == "img1" and (source.parent / "seqinfo.ini").is_file():
        name = source.parent.name
    return path / f"{name}.txt"


def run_video(args: argparse.Namespace) -> int:
    """Run the detector + tracker pipeline for ``trackkit track`` (see the module doc)."""
    from trackkit.config import parse_overrides
    from trackkit.detectors import build_detector
    from trackkit.errors import ConfigError
    from trackkit.io.video import is_mot_sequence, open_video
    from trackkit.pipeline import build_tracker, track_video

    # FFmpeg's own log lines would duplicate our one-line errors (unless the user asks).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    source = Path(args.source)
    if getattr(args, "offline", False):
        raise ConfigError("--offline works on MOTChallenge detections, not with a detector")
    reader = open_video(source, fps=args.fps)  # errors for missing / unreadable input first
    spec = args.detector
    if spec is None:
        det_file = source / "det" / "det.txt"
        spec = f"file:{det_file}" if is_mot_sequence(source) and det_file.is_file() else "hog"
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be >= 1")
    detector = build_detector(spec, **parse_overrides(args.det_config or []))
    if args.reid:
        from trackkit.detectors import EmbeddingDetector
        from trackkit.reid.embedder import load_embedder

        detector = EmbeddingDetector(detector, load_embedder(args.reid))
    tracker = build_tracker(args.tracker, reader.info.fps, **parse_overrides(args.config or []))
    results = _results_path(args.out, source)
    try:
        summary = track_video(
            reader,
            detector,
            tracker,
            results=results,
            video=args.video,
            classes=args.classes,
            progress=not args.quiet,
            max_frames=args.max_frames,
        )
    except KeyboardInterrupt:
        print(f"trackkit: interrupted; frames finished so far are in {results}", file=sys.stderr)
        return 130
    print(
        f"tracked {summary.frames} frames ({reader.info.width}x{reader.info.height}) with "
        f"{spec.split(':', 1)[0]} + {args.tracker} at {summary.fps:.1f} frames/s: "
        f"{summary.tracks} tracks, {summary.detections} detections"
    )
    print(f"results: {results}")
    if summary.video is not None:
        print(f"video:   {summary.video} ({summary.codec})")
    return 0
