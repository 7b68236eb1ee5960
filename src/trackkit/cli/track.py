"""``trackkit track``: run a multi-object tracker over sequences and write MOTChallenge results.

Sources are resolved into :class:`Sequence` objects — a name, a frame rate, a length and an
iterator of per-frame ``(Detections, frame or None)`` — by :func:`resolve_source`, the single
dispatch point: today a MOTChallenge sequence folder (``det/det.txt`` + ``seqinfo.ini``) or a
folder of them; other kinds of source (videos run through a detector, ...) are added there
as one more loader returning ``Sequence`` objects. :func:`run_sequence` then tracks one
sequence and writes ``OUT/<name>.txt`` frame by frame (an interrupted run keeps every finished
frame), or, with ``--offline``, links and interpolates the whole sequence before writing.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import parse_overrides
from trackkit.core.detections import Detections
from trackkit.errors import ConfigError, DataNotFoundError, FormatError

__all__ = ["Sequence", "add_parser", "mot_sequences", "resolve_source", "run_sequence"]

log = logging.getLogger(__name__)

FrameItem = tuple[Detections, "NDArray[np.uint8] | None"]  # detections, image (or None)


@dataclass(frozen=True)
class Sequence:
    """One video to track.

    Attributes:
        name: output file stem (``OUT/<name>.txt``).
        frame_rate: frames per second (trackers scale their time buffers with it).
        num_frames: number of frames, for the progress bar (0 if unknown).
        frames: returns a fresh iterator of ``(detections, image or None)`` per frame, in order.
    """

    name: str
    frame_rate: float
    num_frames: int
    frames: Callable[[], Iterator[FrameItem]]


def _is_mot_sequence(path: Path) -> bool:
    return (path / "det" / "det.txt").is_file()


def _frame_of_line(path: Path, line: int | None) -> str:
    """The frame number written on ``line`` of a MOTChallenge file, for error messages."""
    if line is None:
        return ""
    try:
        with path.open("rb") as fh:
            for k, text in enumerate(fh, start=1):
                if k == line:
                    first = text.replace(b",", b" ").split()[:1]
                    return f" (frame {first[0].decode(errors='replace')})" if first else ""
    except OSError:
        return ""
    return ""


def _read_mot_detections(seq_dir: Path, num_frames: int) -> list[Detections]:
    """``det/det.txt`` as one :class:`Detections` per frame; bad rows name file, line, frame."""
    from trackkit.io.mot_txt import read_mot_txt

    path = seq_dir / "det" / "det.txt"
    try:
        table = read_mot_txt(path, "det")
    except FormatError as exc:
        raise FormatError(
            exc.path, exc.problem + _frame_of_line(path, exc.line), exc.line, exc.column
        ) from None
    wh = table.xyxy[:, 2:] - table.xyxy[:, :2]
    bad = (wh <= 0).any(axis=1)
    if bad.any():
        i = int(bad.nonzero()[0][0])
        what = "width" if wh[i, 0] <= 0 else "height"
        raise FormatError(
            path,
            f"frame {table.frames[i]}: zero {what}",
            int(table.lines[i]),
            5 if what == "width" else 6,
        )
    return [
        Detections(table.xyxy[rows], table.conf[rows])
        for _, rows in table.iter_frames(max(num_frames, table.num_frames))
    ]


def mot_sequences(source: Path) -> list[Sequence]:
    """MOTChallenge sequence folder(s) at ``source`` (the folder itself or its subfolders)."""
    from trackkit.io.mot_txt import read_seqinfo

    dirs = (
        [source]
        if _is_mot_sequence(source)
        else sorted(p for p in source.iterdir() if p.is_dir() and _is_mot_sequence(p))
    )
    out = []
    for d in dirs:
        ini = d / "seqinfo.ini"
        if ini.is_file():
            info = read_seqinfo(ini)
            name, rate, length = d.name, info.frame_rate, info.seq_length
        else:
            name, rate, length = d.name, 30.0, 0

        def frames(d: Path = d, length: int = length) -> Iterator[FrameItem]:
            for det in _read_mot_detections(d, length):
                yield det, None

        out.append(Sequence(name, rate, length, frames))
    return out


def resolve_source(source: str | Path) -> list[Sequence]:
    """Turn a SOURCE argument into the sequences to track (the dispatch point for sources)."""
    path = Path(source)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        seqs = mot_sequences(path)
        if seqs:
            return seqs
        raise DataNotFoundError(
            f"{path}: not a MOTChallenge sequence (no det/det.txt) and holds none"
        )
    raise ConfigError(f"{path}: unsupported source; give a MOTChallenge sequence folder")


def _build_tracker(name: str, overrides: dict[str, Any], frame_rate: float) -> Any:
    from trackkit.mot import build

    cfg = dict(overrides)
    cfg.setdefault("frame_rate", frame_rate)
    try:
        return build(name, **cfg)
    except ConfigError as exc:
        if "frame_rate" not in overrides and "frame_rate" in str(exc):
            return build(name, **overrides)  # a tracker without a frame-rate option
        raise


def run_sequence(
    seq: Sequence,
    tracker_name: str,
    out_dir: Path,
    overrides: dict[str, Any] | None = None,
    offline: bool = False,
    offline_overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Track one sequence and write ``out_dir/<name>.txt`` (MOTChallenge results)."""
    from tqdm import tqdm

    from trackkit.io.mot_txt import MOTResultWriter
    from trackkit.mot.offline import OfflineLinker

    tracker = _build_tracker(tracker_name, overrides or {}, seq.frame_rate)
    linker = None
    if offline:
        opts = dict(offline_overrides or {})
        opts.setdefault("frame_rate", seq.frame_rate)
        linker = OfflineLinker(**opts)
    path = out_dir / f"{seq.name}.txt"
    bar = tqdm(total=seq.num_frames or None, desc=seq.name, unit="frame", disable=not progress)
    with MOTResultWriter(path) as writer:
        results = []
        for k, (dets, image) in enumerate(seq.frames(), start=1):
            tracks = tracker.update(dets, image)
            if linker is None:
                writer.write(k, tracks.track_ids, tracks.xyxy, tracks.scores)
            else:
                results.append(tracks)
            bar.update(1)
        if linker is not None:
            for k, tracks in enumerate(linker.run(results), start=1):
                writer.write(k, tracks.track_ids, tracks.xyxy, tracks.scores)
    bar.close()
    return path


def _list_trackers() -> int:
    from trackkit.mot import MOT_TRACKERS, available

    names = available()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {MOT_TRACKERS.summary(name)}")
    print(f"{'(--offline)':<{width}}  link tracklets across gaps and interpolate, on any tracker")
    return 0


def _handler(args: argparse.Namespace) -> int:
    if args.list:
        return _list_trackers()
    from trackkit.cli.track_video import run_video, wants_video_pipeline

    if wants_video_pipeline(args):  # a video / image folder through a detector (issue 6)
        return run_video(args)
    if args.source is None or args.out is None:
        raise ConfigError("trackkit track needs SOURCE and --out DIR (or --list)")
    overrides = parse_overrides(args.config or [])
    offline_overrides = {
        k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("offline.")
    }
    overrides = {k: v for k, v in overrides.items() if not k.startswith("offline.")}
    _build_tracker(args.tracker, overrides, 30.0)  # fail fast on a bad name or option
    if offline_overrides:
        from trackkit.mot.offline import OfflineLinker

        OfflineLinker(**offline_overrides)
    seqs = resolve_source(args.source)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for seq in seqs:
        path = run_sequence(
            seq,
            args.tracker,
            out_dir,
            overrides,
            args.offline,
            offline_overrides,
            progress=not args.quiet,
        )
        log.info("wrote %s", path)
    print(f"tracked {len(seqs)} sequence(s) with {args.tracker}; results in {out_dir}")
    return 0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "track",
        help="run a multi-object tracker (SORT, ByteTrack, OC-SORT, ...) on detections",
        description="Track every object of MOTChallenge sequences from their detections "
        "(det/det.txt) and write OUT/<sequence>.txt in MOTChallenge result format, frame by "
        "frame. SOURCE is a sequence folder or a folder of sequence folders.",
    )
    parser.add_argument("source", nargs="?", metavar="SOURCE", help="sequence folder(s)")
    parser.add_argument(
        "--tracker", default="botsort", help="tracker name (see --list; default: botsort)"
    )
    parser.add_argument("--out", metavar="DIR", help="output folder for <sequence>.txt files")
    parser.add_argument(
        "--config",
        nargs="*",
        metavar="KEY=VALUE",
        help="tracker options, e.g. track_buffer=60; 'offline.KEY=VALUE' for the offline pass",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="after the whole sequence, link tracklets across gaps and interpolate",
    )
    parser.add_argument("--list", action="store_true", help="list the trackers and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from trackkit.cli.track_video import add_video_arguments

    add_video_arguments(parser)
    parser.set_defaults(func=_handler)
