"""``trackkit track``: run a multi-object tracker on videos, image folders or sequences.

SOURCE is a video file, an image folder, a MOTChallenge sequence (``det/det.txt`` +
``seqinfo.ini``; ``img1/`` only where a detector or ``--video`` needs images) or a folder of
sequences. Each becomes a :class:`trackkit.pipeline.FrameSource` and goes through the one run
path, :func:`trackkit.pipeline.track_video`: one detector (a sequence's own ``det/det.txt``
unless ``--detector`` says otherwise), one tracker (``--class-aware``: one per class), results
written frame by frame in ``--format`` (an interrupted run keeps every finished frame) or,
with ``--offline``, linked and interpolated once the whole sequence is tracked; counting
lines and zones (``--count-line``, ``--zone``) count the final tracks per class. Options use
the one vocabulary of the CLI, ``--set KEY=VALUE`` (:mod:`trackkit.cli.options`);
``--options`` lists them with their defaults and meaning.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
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

__all__ = ["add_parser", "check_tracker"]

HELP = "track every object of a video, an image folder or MOTChallenge sequences (MOT)"
DESCRIPTION = (
    "Detect and track every object of a video file, a folder of images or MOTChallenge "
    "sequences, and write the tracks (MOTChallenge text, JSON lines, CSV or COCO video "
    "annotations), an annotated video and line / zone counts."
)


EPILOG = """\
options (--set KEY=VALUE, repeatable; --options lists them with defaults and meaning):
  KEY=VALUE          the tracker's options, e.g. track_buffer=60
  det.KEY=VALUE      the detector's options, e.g. det.score_threshold=0.3
  offline.KEY=VALUE  the offline pass (with --offline), e.g. offline.max_gap=90

examples:
  trackkit track street.mp4 --video street_tracks.mp4            (hog people detector)
  trackkit track street.mp4 --detector yolox:yolox_nano.onnx --classes person,bicycle \\
      --class-aware --out street.jsonl --video street_tracks.mp4
  trackkit track door.mp4 --detector yolox-nano --classes person \\
      --count-line 100,400,900,400 --counts door_counts.csv --video door.mp4
  trackkit track data/MOT17/train --tracker bytetrack --out results/
  trackkit track MOT17-02-FRCNN --out results/ --offline --set offline.max_gap=90
  trackkit track --tracker bytetrack --detector hog --options

SOURCE is a video file (mp4, avi, mkv, ...), a folder of images (sorted by name), a
MOTChallenge sequence folder (its det/det.txt, frames optional) or a folder of sequences.
--out FILE (one source; the suffix gives the format: .txt MOTChallenge, .jsonl, .csv,
.json COCO) or --out DIR (DIR/<source name>.<suffix of --format>). --video alone is fine.
Detectors: file:det.txt (MOTChallenge; a sequence's default), hog (OpenCV people detector),
bgsub (moving blobs, static camera), yolox:MODEL.onnx, picodet:MODEL.onnx,
fastestdet:MODEL.onnx (through onnxruntime) or a model name (yolox-nano, picodet-s,
fastestdet: see trackkit models list). Without --detector a video gets the best person
detector installed in the model cache (trackkit models fetch yolox-nano), else hog.
Counting: a track counts once per direction when its anchor (the box's bottom centre) crosses
a --count-line X1,Y1,X2,Y2 ("in": to the right of the line walking from X1,Y1 to X2,Y2,
i.e. downwards for a line drawn left to right) or enters / leaves a --zone X1,Y1,X2,Y2,X3,Y3..
(pixels); counts per class go to --counts FILE.json|.csv (default beside the results).
"""


def _list_trackers() -> int:
    from trackkit.mot import MOT_TRACKERS, available

    names = available()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {MOT_TRACKERS.summary(name)}")
    print(f"{'(--offline)':<{width}}  link tracklets across gaps and interpolate, on any tracker")
    print(f"{'(--class-aware)':<{width}}  one tracker per class: never match across classes")
    return 0


def check_tracker(name: str, options: dict[str, Any]) -> None:
    """Fail fast, in one line, on a bad tracker name or ``--set`` option."""
    from trackkit.mot import MOT_TRACKERS
    from trackkit.pipeline import build_tracker

    check_options(f"tracker {name}", getattr(MOT_TRACKERS.get(name), "config_class", None), options)
    with building(f"tracker {name}"):
        build_tracker(name, 30.0, **options)


def _uses_appearance(name: str, options: dict[str, Any]) -> bool:
    """Whether tracker ``name`` (with ``options``) uses detection embeddings."""
    from trackkit.mot import MOT_TRACKERS

    cls = MOT_TRACKERS.get(name)
    flag = getattr(cls, "uses_appearance", None)
    if isinstance(flag, bool):
        return flag
    config = getattr(cls, "config_class", None)
    fields = set()
    if dataclasses.is_dataclass(config):
        fields = {f.name for f in dataclasses.fields(config)}
    if "with_reid" in fields:
        preset = MOT_TRACKERS.preset(name)
        fixed = preset.overrides if preset is not None else {}
        return bool(options.get("with_reid", fixed.get("with_reid", True)))
    return bool(fields & {"max_cosine_distance", "nn_budget", "appearance_thresh"})


def _appearance_trackers() -> list[str]:
    from trackkit.mot import available

    return [n for n in available() if _uses_appearance(n, {})]


def _detector_config(spec: str) -> tuple[str, Any]:
    """The registered detector name of ``spec`` and its configuration class (or ``None``)."""
    import importlib

    from trackkit.detectors import DETECTORS
    from trackkit.zoo import get_model, is_model_name

    name, sep, _ = spec.partition(":")
    if not sep and is_model_name(spec):
        name = get_model(spec).kind or spec
    elif not sep or len(name) == 1:
        lowered = spec.lower()
        suffixes = {".txt": "file", ".onnx": "yolox"}
        name = next((n for s, n in suffixes.items() if lowered.endswith(s)), spec)
    if name.lower() not in DETECTORS:
        return name, None
    cls = DETECTORS.get(name)
    config = getattr(cls, "config_class", None)
    if config is None:  # the module's <Name>Config, by convention
        module = importlib.import_module(cls.__module__)
        stem = getattr(cls, "__name__", "").removesuffix("Detector")
        config = getattr(module, f"{stem}Config", None)
    return name, config


def _check_needs_path(spec: str, name: str) -> None:
    """``--detector yolox`` without its model: say the flag's form, not ``__init__``'s."""
    import inspect

    from trackkit.detectors import DETECTORS

    if ":" in spec or name.lower() not in DETECTORS or name != spec:
        return
    try:
        params = inspect.signature(DETECTORS.get(name)).parameters
    except (TypeError, ValueError):
        return
    path = params.get("path")
    if path is not None and path.default is inspect.Parameter.empty:
        what = "det.txt" if name == "file" else "MODEL.onnx"
        raise ConfigError(
            f"--detector {name} needs a file: --detector {name}:{what} "
            "(or a model name from 'trackkit models')"
        )


def _detector(args: argparse.Namespace, source: Any, options: dict[str, Any]) -> tuple[Any, str]:
    """The detector for ``source`` and its name: ``--detector``, else the source's own
    detections (a MOTChallenge ``det/det.txt``), else the best person detector in the model
    cache (said in one line), else ``hog`` with a hint."""
    from trackkit.detectors import build_detector
    from trackkit.detectors.defaults import choose_detector

    spec, options, note = choose_detector(
        args.detector, source.detections, options, classes=bool(args.classes)
    )
    if note:
        print(note)
    name, config = _detector_config(spec)
    if args.score_scale is not None:  # a detection file's scores (trackkit.mot.score_scale)
        if name != "file":
            raise ConfigError(
                f"--score-scale applies to detection files (file:det.txt), not to {name}, "
                "whose scores are already in [0, 1]"
            )
        options["score_scale"] = args.score_scale
    _check_needs_path(spec, name)
    if config is not None:
        check_options(f"detector {name}", config, {k: v for k, v in options.items()}, "det.")
    with building(f"detector {spec}"):
        detector = build_detector(spec, **options)
    if args.reid:
        from trackkit.detectors import EmbeddingDetector
        from trackkit.reid.embedder import load_embedder

        detector = EmbeddingDetector(detector, load_embedder(args.reid))
    return detector, spec.split(":", 1)[0]


def _print_options(args: argparse.Namespace) -> int:
    from trackkit.cli.describe import describe_config
    from trackkit.mot import MOT_TRACKERS
    from trackkit.mot.offline import OfflineConfig

    config = getattr(MOT_TRACKERS.get(args.tracker), "config_class", None)
    print(describe_config(f"tracker {args.tracker}", config))
    spec = args.detector or "hog"
    name, det_config = _detector_config(spec)
    print()
    print(describe_config(f"detector {name}", det_config, "det."))
    print()
    print(describe_config("offline pass (--offline)", OfflineConfig, "offline."))
    return 0


def _format(args: argparse.Namespace) -> str:
    """The results format: ``--format``, else the suffix of ``--out FILE``, else mot."""
    from trackkit.io.export import SUFFIXES, format_from_path

    out = Path(args.out) if args.out else None
    by_suffix = format_from_path(out) if out is not None else None
    if args.format and by_suffix and args.format != by_suffix:
        raise ConfigError(
            f"--out {out}: the suffix {out.suffix} means --format {by_suffix}, not "  # type: ignore[union-attr]
            f"{args.format}; name the file {out.with_suffix(SUFFIXES[args.format])}"  # type: ignore[union-attr]
        )
    if out is not None and by_suffix is None and out.suffix and not out.is_dir():
        raise ConfigError(
            f"--out {out}: {out.suffix} is not a results suffix (.txt MOTChallenge, .jsonl, "
            ".csv, .json COCO); for a folder give a name without a suffix"
        )
    return args.format or by_suffix or "mot"


def _results_path(out: Path | None, name: str, count: int, fmt: str) -> Path | None:
    from trackkit.io.export import SUFFIXES, format_from_path

    if out is None:
        return None
    if format_from_path(out) is None or out.is_dir():
        return out / f"{name}{SUFFIXES[fmt]}"
    if count > 1:
        raise ConfigError(f"--out {out}: SOURCE holds {count} sequences; give a folder")
    return out


def _counters(args: argparse.Namespace) -> list[Any]:
    from trackkit.analytics import LineCounter, ZoneCounter, parse_points

    counters: list[Any] = []
    for k, text in enumerate(args.count_line or [], start=1):
        p1, p2 = parse_points(text, "--count-line", 2, 2)
        counters.append(LineCounter(p1, p2, f"line {k}", args.count_margin, args.anchor))
    for k, text in enumerate(args.zone or [], start=1):
        points = parse_points(text, "--zone", 3)
        counters.append(ZoneCounter(points, f"zone {k}", args.count_margin, args.anchor))
    return counters


def _counts_path(args: argparse.Namespace, results: Path | None, name: str, count: int) -> Path:
    if args.counts:
        if count > 1:
            raise ConfigError(f"--counts {args.counts}: SOURCE holds {count} sequences")
        return Path(args.counts)
    if results is not None:
        return results.with_name(f"{name}.counts.json")
    if args.video:
        return Path(args.video).with_suffix(".counts.json")
    return Path(f"{name}.counts.json")


def _check_reid(args: argparse.Namespace, options: dict[str, Any]) -> None:
    if args.reid and not _uses_appearance(args.tracker, options):
        raise ConfigError(
            f"--reid: tracker {args.tracker} does not use appearance, the embeddings would be "
            f"ignored; use --tracker {' or '.join(_appearance_trackers()) or 'deepsort'}, "
            "or drop --reid"
        )


def _handler(args: argparse.Namespace) -> int:
    from trackkit.tune.best import apply_config_option

    apply_config_option(args)  # --config FILE (trackkit tune's best.json) or KEY=VALUE
    if args.list:
        return _list_trackers()
    if args.options:
        return _print_options(args)
    if args.source is None:
        raise ConfigError("trackkit track needs SOURCE (a video, image folder or sequence)")
    counters = _counters(args)
    if args.out is None and args.video is None and not counters:
        raise ConfigError(
            "trackkit track needs somewhere to put the tracks: --out FILE|DIR (results), "
            "--video FILE.mp4 (annotated video) and/or --count-line / --zone (counts)"
        )
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be >= 1")
    from trackkit.pipeline import open_sources, track_video

    # FFmpeg's own log lines would duplicate our one-line errors (unless the user asks).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    options = split_options(args.set, ("det", "offline"))
    check_tracker(args.tracker, options[""])
    _check_reid(args, options[""])
    offline = offline_options(args.offline, options["offline"])
    fmt = _format(args)
    sources = open_sources(args.source, args.fps)
    if args.video and len(sources) > 1:
        raise ConfigError(f"--video: {args.source} holds {len(sources)} sequences; give one")
    out = Path(args.out) if args.out else None
    for source in sources:
        detector, det_name = _detector(args, source, options["det"])
        results = _results_path(out, source.name, len(sources), fmt)
        counts = _counts_path(args, results, source.name, len(sources)) if counters else None
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
                format=fmt,
                class_aware=args.class_aware,
                counters=counters,
                counts=counts,
            )
        except KeyboardInterrupt:
            print(
                f"trackkit: interrupted; frames finished so far are in {results}", file=sys.stderr
            )
            return 130
        _report(args, source.name, det_name, offline, summary, counts)
    if len(sources) > 1:
        print(f"tracked {len(sources)} sequences with {args.tracker}; results in {out}")
    return 0


def _report(
    args: argparse.Namespace, name: str, det_name: str, offline: Any, summary: Any, counts: Any
) -> None:
    where = f" -> {summary.results}" if summary.results is not None else ""
    print(
        f"{name}: tracked {summary.frames} frames with {det_name} + {args.tracker}"
        f"{' (class-aware)' if args.class_aware else ''}"
        f"{' + offline' if offline is not None else ''} at {summary.fps:.1f} frames/s: "
        f"{summary.tracks} tracks, {summary.detections} detections{where}"
    )
    if summary.class_filter is not None:
        print(f"class filter ({', '.join(args.classes)}): {summary.class_filter}")
    if summary.counts is not None:
        for line in summary.counts.summary():
            print(f"count {line}")
        print(f"counts: {counts}")
    if args.video:
        if summary.video is not None:
            print(f"video: {summary.video} ({summary.codec})")
        else:
            print(f"video: none written ({name} has no images to draw on)")


def add_parser(sub: Any) -> None:
    from trackkit.io.export import FORMATS

    parser = add_verb(sub, "track", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("source", nargs="?", metavar="SOURCE", help="video, folder or sequence(s)")
    parser.add_argument(
        "--tracker", default=None, help="tracker name (see --list; default: botsort)"
    )
    parser.add_argument(
        "--config",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        # trackkit tune's OUT/best.json (tracker, options, offline pass; --set overrides
        # them) or KEY=VALUE items (an old alias of --set); documented by trackkit tune
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--out", metavar="FILE|DIR", help="results file (.txt, .jsonl, .csv, .json) or folder"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="results format: mot (MOTChallenge text, the default), jsonl (a JSON object per "
        "frame), csv, coco (COCO video annotations); default: from the --out suffix",
    )
    add_set_argument(
        parser,
        "options: tracker KEY=VALUE, detector det.KEY=VALUE, offline pass offline.KEY=VALUE",
        deprecated={"--det-config": "det."},
    )
    parser.add_argument(
        "--options",
        action="store_true",
        help="list the options of --tracker, --detector and --offline (defaults, meaning) and exit",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="after the whole sequence, link tracklets across gaps and interpolate",
    )
    parser.add_argument(
        "--detector",
        metavar="SPEC",
        help="file:det.txt, hog, bgsub, yolox:MODEL.onnx or a model name such as yolox-nano "
        "(default: a sequence's det/det.txt, else the best person detector in the model "
        "cache, else hog)",
    )
    parser.add_argument(
        "--score-scale",
        choices=("auto", "none", "match"),
        help="a detection file's scores onto the trackers' [0, 1] scale, over the whole file: "
        "auto (default: scores in [0, 1] unchanged, others mapped by rank onto MOT17 FRCNN's "
        "score distribution, so the thresholds keep their meaning), match (always mapped), "
        "none (raw; costs clip them to [0, 1]); the same as det.score_scale=...",
    )
    parser.add_argument(
        "--reid",
        metavar="MODEL",
        help="add appearance embeddings (for deepsort / botsort): default, histogram, "
        "omz-0288, MODEL.onnx or MODEL.pt (see trackkit reid)",
    )
    parser.add_argument("--video", metavar="FILE.mp4", help="write an annotated video")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="keep only these classes (names such as person, or class ids)",
    )
    parser.add_argument(
        "--class-aware",
        action="store_true",
        help="never associate across classes (one tracker per class)",
    )
    parser.add_argument(
        "--count-line",
        action="append",
        metavar="X1,Y1,X2,Y2",
        help="count tracks crossing this line, per class and direction (repeatable)",
    )
    parser.add_argument(
        "--zone",
        action="append",
        metavar="X1,Y1,X2,Y2,X3,Y3,...",
        help="count tracks entering / leaving this polygon, per class (repeatable)",
    )
    parser.add_argument(
        "--counts", metavar="FILE", help="write the counts (.json or .csv; default: beside --out)"
    )
    parser.add_argument(
        "--anchor",
        default="bottom_center",
        choices=("bottom_center", "center", "top_center", "bottom_left", "bottom_right"),
        help="the box point that counts (default bottom_center)",
    )
    parser.add_argument(
        "--count-margin",
        type=float,
        default=2.0,
        metavar="PX",
        help="dead band around lines and zone borders against jitter (default 2 pixels)",
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 30)")
    parser.add_argument("--list", action="store_true", help="list the trackers and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_handler)
