"""``trackkit render``: draw existing tracking results (and ground truth) onto the frames.

No tracking runs: the results file (MOTChallenge text, JSON lines, CSV or COCO video
annotations, :mod:`trackkit.io.export`) is read, and each frame of the source (a video file,
an image folder or a MOTChallenge sequence's ``img1/``) is drawn with its tracks — solid
boxes in each identity's colour, class names, trails — and, with ``--gt``, the ground truth
dashed white with ``gt ID`` labels, into an mp4 (:func:`trackkit.viz.annotate.render_results`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_verb
from trackkit.errors import ConfigError, DataNotFoundError

__all__ = ["add_parser"]

HELP = "draw existing tracking results (and ground truth) onto a video, without tracking"
DESCRIPTION = (
    "Draw a results file (MOTChallenge text, JSON lines, CSV or COCO video annotations) onto "
    "the frames of its video, image folder or MOTChallenge sequence, with the ground truth "
    "in another style (--gt), into an mp4."
)
EPILOG = """\
examples:
  trackkit render results/MOT17-02-FRCNN.txt --source data/MOT17/train/MOT17-02-FRCNN \\
      --gt data/MOT17/train/MOT17-02-FRCNN --video MOT17-02.mp4
  trackkit render street.jsonl --source street.mp4 --video street_tracks.mp4 \\
      --count-line 100,400,900,400

results: solid boxes in each identity's colour, "ID class" labels, trails;
ground truth: dashed white boxes labelled "gt ID" (GT is a gt.txt or a sequence folder);
counting lines and zones count the drawn results as in trackkit track.
"""


def _truth(path: Path) -> Any:
    from trackkit.io.mot_txt import MOTTable, read_mot_txt

    gt = path / "gt" / "gt.txt" if path.is_dir() else path
    if not gt.is_file():
        raise DataNotFoundError(f"--gt {path}: no gt.txt (give the file or a sequence folder)")
    table = read_mot_txt(gt, "gt")
    # the rows to draw: flag (column 7) not 0, i.e. not marked "ignore"
    keep = table.conf != 0
    return MOTTable.from_rows("gt", table.frames[keep], table.ids[keep], table.xyxy[keep])


def _run(args: argparse.Namespace) -> int:
    from trackkit.analytics import LineCounter, ZoneCounter, parse_points
    from trackkit.io.atomic import atomic_path
    from trackkit.io.export import read_results
    from trackkit.pipeline import open_sources
    from trackkit.viz.annotate import TrackAnnotator, render_results

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    results = read_results(args.results, args.format)
    sources = open_sources(args.source, args.fps)
    if len(sources) != 1:
        raise ConfigError(f"--source {args.source}: holds {len(sources)} sequences; give one")
    source = sources[0]
    truth = _truth(Path(args.gt)) if args.gt else None
    names = results.class_names
    listed = [names.get(k, f"class {k}") for k in range(max(names, default=-1) + 1)] or None
    counters: list[Any] = []
    for k, text in enumerate(args.count_line or [], start=1):
        p1, p2 = parse_points(text, "--count-line", 2, 2)
        counters.append(LineCounter(p1, p2, name=f"line {k}"))
    for k, text in enumerate(args.zone or [], start=1):
        counters.append(ZoneCounter(parse_points(text, "--zone", 3), name=f"zone {k}"))
    annotator = TrackAnnotator(trail_length=args.trail, class_names=listed, counters=counters)
    last = results.num_frames
    if truth is not None and len(truth):
        last = max(last, int(truth.frames.max()))
    # drawn into a temporary mp4 beside --video, renamed when complete: a failed or
    # interrupted render leaves no half-written video (and keeps an older one)
    with atomic_path(args.video) as tmp:
        written, _ = render_results(
            results, source.frames(True, last), tmp, source.fps, truth, annotator,
            max_frames=args.max_frames,
        )  # fmt: skip
        if written == 0:
            raise DataNotFoundError(f"--source {args.source}: no frame with an image to draw on")
    path = Path(args.video)
    if source.num_frames is not None and results.num_frames > source.num_frames:
        print(
            f"warning: {args.results} runs to frame {results.num_frames}, the source has "
            f"{source.num_frames} frames: results of another video?"
        )
    span = min(last, source.num_frames) if source.num_frames is not None else last
    skipped = span - written if args.max_frames is None else 0
    print(
        f"rendered {written} frames ({len(results)} boxes, {len(set(results.ids.tolist()))} "
        f"tracks{', ground truth' if truth is not None else ''}) -> {path}"
        + (f"; {skipped} frames without an image left out" if skipped > 0 else "")
    )
    for c in counters:
        print(f"count {c.name}: in {c.total('in')}, out {c.total('out')}")
    return 0


def add_parser(sub: Any) -> None:
    from trackkit.io.export import FORMATS

    parser = add_verb(sub, "render", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("results", metavar="RESULTS", help="results file (any --format)")
    parser.add_argument(
        "--source", required=True, metavar="VIDEO|SEQ", help="video, image folder or sequence"
    )
    parser.add_argument("--video", required=True, metavar="FILE.mp4", help="the output video")
    parser.add_argument("--gt", metavar="GT", help="ground truth: gt.txt or a sequence folder")
    parser.add_argument(
        "--format", choices=FORMATS, help="format of RESULTS (default: suffix, then content)"
    )
    parser.add_argument("--trail", type=int, default=30, metavar="N", help="trail length (30)")
    parser.add_argument("--count-line", action="append", metavar="X1,Y1,X2,Y2")
    parser.add_argument("--zone", action="append", metavar="X1,Y1,X2,Y2,X3,Y3,...")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 30)")
    parser.set_defaults(func=_run)
