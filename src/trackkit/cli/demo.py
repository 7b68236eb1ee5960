"""``trackkit demo``: track a synthetic scene with known ground truth and print the scores.

No input files are needed: :mod:`trackkit.datasets.synthetic` renders a scene (textured
objects moving, crossing, occluding one another and changing size over a textured background,
fixed seed); a detector and a tracker run on it frame by frame; the command writes the
annotated video, the MOTChallenge results and ground truth, a snapshot of one annotated frame,
and prints HOTA / MOTA / IDF1 computed by trackkit's evaluation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_set_argument, add_verb, building, split_options
from trackkit.errors import ConfigError

SEQ_NAME = "SYNTH-01"

HELP = "track a synthetic scene with known ground truth and print the scores"
DESCRIPTION = (
    "Render a synthetic scene (fixed seed), detect and track its objects, "
    "write the annotated video and the results, and print HOTA / MOTA / IDF1."
)


EPILOG = """\
writes (under --out):
  demo.mp4                      the annotated video (boxes, ids, trails)
  demo.png                      one annotated frame
  results/SYNTH-01.txt          the tracker's results (MOTChallenge format)
  gt/SYNTH-01/gt/gt.txt         the scene's ground truth (+ seqinfo.ini)

then, for example:
  trackkit eval mot --gt OUT/gt --pred OUT/results --benchmark MOT17
"""


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError("the scene must be at least 64x64")
    return w, h


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "demo", HELP, DESCRIPTION, EPILOG)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("trackkit-demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument("--frames", type=int, default=300, help="scene length (default: 300)")
    parser.add_argument(
        "--size", type=_size, default=(640, 480), metavar="WxH", help="frame size (640x480)"
    )
    parser.add_argument("--objects", type=int, default=6, help="objects at once (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default: 0)")
    parser.add_argument(
        "--detector",
        default="bgsub",
        help="detector spec (default: bgsub, which suits the static camera of the scene)",
    )
    parser.add_argument("--tracker", default="ocsort", help="MOT tracker (default: ocsort)")
    add_set_argument(parser, "options: tracker KEY=VALUE, detector det.KEY=VALUE")
    parser.add_argument("--no-video", action="store_true", help="skip the annotated video")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import cv2

    from trackkit.datasets.synthetic import SceneConfig, SyntheticScene
    from trackkit.io.mot_sequence import load_mot_sequence
    from trackkit.metrics.mot import evaluate_mot
    from trackkit.pipeline import track_video
    from trackkit.viz.annotate import TrackAnnotator

    if args.frames < 2:
        raise ConfigError("--frames must be >= 2")
    if args.objects < 1:
        raise ConfigError("--objects must be >= 1")
    w, h = args.size
    scale = min(w / 640.0, h / 480.0)
    config = SceneConfig(
        width=w,
        height=h,
        num_frames=args.frames,
        num_objects=args.objects,
        seed=args.seed,
        min_height=max(50.0 * scale, 12.0),
        max_height=max(150.0 * scale, 24.0),
        min_speed=max(1.5 * scale, 0.5),
        max_speed=max(4.5 * scale, 1.0),
    )
    scene = SyntheticScene(config)
    out: Path = args.out
    results = out / "results" / f"{SEQ_NAME}.txt"
    video = None if args.no_video else out / "demo.mp4"
    # The snapshot is the annotated frame showing the most tracks (after trails have formed).
    first_snapshot = max(1, int(args.frames * 0.2))
    snapshot: dict[str, Any] = {"n": -1}
    font_scale = 0.5 * max(scale, 0.6)
    snap_annotator = TrackAnnotator(font_scale=font_scale)

    def keep_snapshot(frame_id: int, frame: Any, dets: Any, tracks: Any) -> None:
        img = snap_annotator.annotate(frame, tracks, frame_id)  # every frame, for the trails
        if frame_id >= first_snapshot and len(tracks) > snapshot["n"]:
            snapshot["n"], snapshot["img"] = len(tracks), img

    options = split_options(args.set, ("det",))
    detector_options: dict[str, Any] = {}
    if args.detector == "bgsub":
        detector_options["min_area"] = max(200.0 * scale * scale, 30.0)
    detector_options.update(options["det"])
    from trackkit.cli.track import check_tracker
    from trackkit.detectors import build_detector

    check_tracker(args.tracker, options[""])
    with building(f"detector {args.detector}"):
        detector = build_detector(args.detector, **detector_options)
    summary = track_video(
        scene.stream_with_gt(out / "gt", SEQ_NAME),
        detector,
        args.tracker,
        tracker_options=options[""],
        results=results,
        video=video,
        progress=not args.no_progress,
        fps=config.fps,
        annotator=TrackAnnotator(font_scale=font_scale),
        on_frame=keep_snapshot,
        total_frames=config.num_frames,
    )
    if "img" in snapshot:
        cv2.imwrite(str(out / "demo.png"), snapshot["img"])
    data = load_mot_sequence(out / "gt" / SEQ_NAME, results, "MOT17", name=SEQ_NAME)
    scores = evaluate_mot([data]).combined.as_dict()
    print(
        f"tracked {summary.frames} frames of a {w}x{h} synthetic scene with "
        f"{args.detector} + {args.tracker} at {summary.fps:.1f} frames/s"
    )
    print(f"{'HOTA':>6} {'DetA':>6} {'AssA':>6} {'MOTA':>6} {'IDF1':>6} {'IDSW':>5}")
    print(
        f"{100 * scores['HOTA']:6.2f} {100 * scores['DetA']:6.2f} {100 * scores['AssA']:6.2f} "
        f"{100 * scores['MOTA']:6.2f} {100 * scores['IDF1']:6.2f} {int(scores['IDSW']):5d}"
    )
    print(f"results: {results}")
    if summary.video is not None:
        print(f"video:   {summary.video} ({summary.codec})")
    if "img" in snapshot:
        print(f"frame:   {out / 'demo.png'}")
    print(
        f"evaluate again: trackkit eval mot --gt {out / 'gt'} --pred {results.parent} "
        "--benchmark MOT17"
    )
    sys.stdout.flush()
    return 0
