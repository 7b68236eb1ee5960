"""``trackkit sot SOURCE`` (track one target) and ``trackkit sot train`` (train a SOT model).

Torch is imported inside the trackers/trainers that need it, never while building parsers.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.cli.options import add_key_values, add_train_flag, from_args
from trackkit.config import parse_overrides
from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.atomic import LineStream

__all__ = ["add_parser", "parse_xywh"]

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"(.+)-(\d+)")
_BOX_COLOR = (0, 255, 0)  # BGR: the tracker's box
_LOST_COLOR = (0, 0, 255)  # the last box while the target is lost
_GT_COLOR = (255, 255, 255)  # the ground truth

EPILOG = """\
SOURCE: a video file, a folder of images, or an OTB/VOT sequence folder (then --init defaults
to the ground-truth box of the --start frame, the score against the ground truth is printed and
--video draws the ground truth in white). A two-target OTB folder (Jogging:
groundtruth_rect.1.txt, .2.txt) needs --target 1|2, or name the target: .../otb/Jogging-2.

lost target: a frame whose score is below the tracker's lost_threshold is reported as lost
(--set lost_threshold=X; None never): --out keeps the last box on that frame (OTB results have
a box on every frame) and OUT-stem.score.csv marks it (frame,score,lost = 1); --video draws it
in red, labelled LOST.

boxes: --init and --out use x,y,w,h with (x, y) the top-left corner in 0-based pixels
(OTB files are 1-based: add --one-based to read and write that convention).

examples:
  trackkit sot clip.mp4 --tracker kcf --init 120,80,40,60 --out boxes.txt --video out.mp4
  trackkit sot ../shared/data/otb/Car4 --tracker udt --out car4.txt
  trackkit sot ../shared/data/otb/Jogging --target 2 --start 50 --tracker siamrpn --video j2.mp4
  trackkit sot train --model dcfnet --mode udt --data ../shared/data --out runs/udt
  trackkit sot train --help
"""


def parse_xywh(text: str) -> np.ndarray:
    """``"x,y,w,h"`` -> ``(4,)`` float64; raises :class:`ConfigError` when malformed."""
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        vals = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h") from None
    if vals.shape != (4,) or not np.all(np.isfinite(vals)):
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h")
    if vals[2] <= 0 or vals[3] <= 0:
        raise ConfigError(f"--init {text!r}: width and height must be > 0")
    return vals


class _AnyWord(dict):  # type: ignore[type-arg]
    """The subcommands, as a choice list that accepts every word (a SOURCE)."""

    def __contains__(self, key: object) -> bool:
        return True


class _SourceOrSubcommand(argparse._SubParsersAction):  # type: ignore[type-arg]
    """``trackkit sot``'s first positional: a subcommand (``train``) or, for any other word,
    the SOURCE to track, parsed with the tracking parser ``track``."""

    track: argparse.ArgumentParser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord(self._name_parser_map)  # any SOURCE passes argparse's check

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values and values[0] in self._name_parser_map:
            super().__call__(parser, namespace, values, option_string)
            return
        _, rest = self.track.parse_known_args(values, namespace)
        if rest:
            vars(namespace).setdefault(argparse._UNRECOGNIZED_ARGS_ATTR, []).extend(rest)


def _track_options(parser: argparse.ArgumentParser, source: bool) -> None:
    """The tracking flags; with ``source``, also the SOURCE positional and no defaults (the
    ``sot`` parser holds them, so flags given before SOURCE are kept)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if source else value

    if source:
        parser.add_argument("source", type=Path, help="video file, image folder or sequence folder")
    parser.add_argument("--tracker", default=default("kcf"), help="tracker name (default kcf)")
    parser.add_argument("--init", help="initial box x,y,w,h (see below)")
    parser.add_argument("--weights", type=Path, help="model weights (learned trackers)")
    add_key_values(parser, "--set", "tracker options", default=default([]))
    parser.add_argument(
        "--start",
        type=int,
        default=default(0),
        help="frame index (0-based) to start from; --init is a box in that frame (default 0)",
    )
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument(
        "--target", type=int, help="target N of a multi-target OTB folder (Jogging: 1 or 2)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="write one x,y,w,h line per frame, and OUT-stem.score.csv (frame,score,lost)",
    )
    parser.add_argument("--video", type=Path, help="write an annotated video (mp4)")
    parser.add_argument(
        "--one-based", action="store_true", default=default(False), help="OTB 1-based boxes"
    )


def trackers_help() -> str:
    """The ``trackers`` section of ``trackkit sot --help``: every registered SOT tracker (and
    preset) with its one-line summary, and how lost frames are decided."""
    from trackkit.sot.base import LOST_THRESHOLD_DOC, SOT_TRACKERS

    return (
        "\ntrackers (--tracker NAME; default kcf; options: --set KEY=VALUE):\n"
        + _listing(SOT_TRACKERS)
        + "\n\n"
        + LOST_THRESHOLD_DOC
        + "\n"
    )


def trainers_help() -> str:
    """The ``models`` section of ``trackkit sot train --help``: every registered trainer with
    its one-line summary."""
    from trackkit.sot.train.base import SOT_TRAINERS

    return (
        "\nmodels (--model NAME; trainer options: --set KEY=VALUE, documented in docs/):\n"
        + _listing(SOT_TRAINERS)
        + "\n"
    )


def _listing(registry: Any) -> str:
    """Every name of ``registry`` with its summary, wrapped to 100 columns."""
    import textwrap

    names = registry.available()
    width = max(len(n) for n in names)
    indent = " " * (width + 4)
    return "\n".join(
        textwrap.fill(f"  {n:<{width}}  {registry.summary(n)}", 100, subsequent_indent=indent)
        for n in names
    )


def _append_to_help(parser: argparse.ArgumentParser, section: Any) -> None:
    """Append ``section()`` to ``parser``'s help; built only when the help is shown (listing
    the registered trackers or trainers imports their modules)."""
    plain = parser.format_help

    def format_help() -> str:
        return plain() + section()

    parser.format_help = format_help  # type: ignore[method-assign]


def add_parser(sub: Any) -> None:
    description = (
        "Follow one target through a video from its box in the first frame. "
        "`trackkit sot train --help` trains a single-object tracking model."
    )
    parser = sub.add_parser(
        "sot",
        help="single-object tracking: follow one target (and `sot train`)",
        description=description,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _track_options(parser, source=False)
    parser.set_defaults(func=_run)
    actions = parser.add_subparsers(
        action=_SourceOrSubcommand,
        dest="action",
        metavar="SOURCE | train",
        help="video file, image folder or sequence folder to track; or `train` (train a model)",
    )
    actions.required = True
    track = argparse.ArgumentParser(
        prog=parser.prog,
        description=description,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _track_options(track, source=True)
    for p in (parser, track):
        _append_to_help(p, trackers_help)
    actions.track = track  # type: ignore[attr-defined]
    add_train_parser(actions)


@dataclass
class _Source:
    """What ``trackkit sot`` tracks: the frames from ``start`` on, their rate, the default
    initial box and the ground truth (``xyxy``, one row per yielded frame) when annotated."""

    frames: Iterator[np.ndarray]
    fps: float
    init_box: np.ndarray | None
    truth: np.ndarray | None
    name: str


def _pick_target(src: Path, seqs: list[Any], target: int | None) -> Any:
    """The sequence of target ``target`` (1-based) of an OTB folder, with a clear error when
    the folder has several targets and none was chosen."""
    names = ", ".join(s.name for s in seqs)
    if target is None:
        if len(seqs) == 1:
            return seqs[0]
        raise ConfigError(
            f"{src} has {len(seqs)} targets ({names}): pass --target 1..{len(seqs)} "
            f"or name the sequence as SOURCE ({src.parent / seqs[0].name})"
        )
    if not 1 <= target <= len(seqs):
        raise ConfigError(f"--target {target}: {src} has targets 1..{len(seqs)} ({names})")
    return seqs[target - 1]


def _open_source(args: argparse.Namespace) -> _Source:
    """Open SOURCE (video, image folder, OTB/VOT sequence, or ``<OTB folder>-N``)."""
    from trackkit.io.images import iter_images
    from trackkit.io.otb import is_otb_sequence, load_otb_sequences
    from trackkit.io.video import open_video
    from trackkit.io.vot import is_vot_sequence, load_vot_sequence

    src: Path = args.source
    target: int | None = args.target
    named = _NUMBERED.fullmatch(src.name)
    if not src.exists() and named and is_otb_sequence(src.parent / named[1]):
        # ``.../Jogging-2``: target 2 of the two-target OTB folder ``.../Jogging``
        if target is not None and target != int(named[2]):
            raise ConfigError(f"--target {target} contradicts SOURCE {src.name}")
        src, target = src.parent / named[1], int(named[2])
    if not src.exists():
        raise DataNotFoundError(f"{src}: no such file or folder")
    start: int = args.start
    stop = None if args.max_frames is None else start + args.max_frames
    seq = None
    if src.is_dir() and is_otb_sequence(src):
        seq = _pick_target(src, load_otb_sequences(src), target)
    elif src.is_dir() and is_vot_sequence(src):
        seq = load_vot_sequence(src)
    if target is not None and (seq is None or seq.source != "otb"):
        raise ConfigError(f"--target {target}: {src} is not an OTB sequence folder")
    if seq is not None:
        if start >= len(seq):
            raise ConfigError(f"--start {start}: {seq.name} has frames 0..{len(seq) - 1}")
        truth = seq.boxes[start:stop]
        first = truth[0] if np.all(np.isfinite(truth[0])) else None
        return _Source(iter_images(seq.frames[start:stop]), 30.0, first, truth, seq.name)
    reader = open_video(src)
    frames = (frame for _, frame in islice(reader, start, stop))
    return _Source(frames, float(reader.info.fps), None, None, src.name)


def _lost_column(path: Path) -> Path:
    """The side file of ``--out``: ``<out stem>.score.csv`` (frame,score,lost)."""
    return path.with_name(path.stem + ".score.csv")


def _run(args: argparse.Namespace) -> int:
    from trackkit.core.boxes import xywh_to_xyxy, xyxy_to_xywh
    from trackkit.sot import build
    from trackkit.sot.runner import run_sequence

    if args.start < 0:
        raise ConfigError(f"--start {args.start}: a frame index >= 0")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames {args.max_frames}: at least 1")
    source = _open_source(args)
    offset = 1.0 if args.one_based else 0.0
    if args.init:
        xywh = parse_xywh(args.init)
        xywh[:2] -= offset
        box = xywh_to_xyxy(xywh)
    elif source.init_box is not None:
        box = source.init_box
    elif source.truth is not None:
        raise ConfigError(
            f"{source.name}: no ground-truth box on frame {args.start}; pass --init x,y,w,h "
            "or another --start"
        )
    else:
        raise ConfigError("--init x,y,w,h is required for this source")
    cfg = parse_overrides(args.set)
    if args.weights is not None:
        cfg["weights"] = str(args.weights)
    tracker = build(args.tracker, **cfg)

    # created by the first tracked frame, one whole line per frame (io.atomic.LineStream)
    out_fh = side_fh = None
    if args.out is not None:
        out_fh = LineStream(args.out)
        side_fh = LineStream(_lost_column(args.out), "frame,score,lost\n")
    writer = None
    if args.video is not None:
        from trackkit.io.video import VideoWriter

        writer = VideoWriter(args.video, source.fps)
    pending: list[np.ndarray] = []
    lost_frames: list[int] = []

    def frame_iter() -> Any:
        for frame in source.frames:
            if writer is not None:
                pending.append(frame)
            yield frame

    def on_frame(index: int, res: Any) -> None:
        frame_no = args.start + index
        if res.lost:
            lost_frames.append(frame_no)
        b = xyxy_to_xywh(np.asarray(res.box, dtype=np.float64))
        b[:2] += offset
        if out_fh is not None and side_fh is not None:
            # the side file first: a run killed between the two holds one more frame there
            side_fh.write(f"{frame_no},{res.score:.4f},{int(res.lost)}\n")
            out_fh.write(",".join(f"{v:.2f}" for v in b) + "\n")
        if writer is not None:
            from trackkit.viz.draw import draw_boxes

            frame = pending.pop()
            img = frame.copy() if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
            if source.truth is not None and np.all(np.isfinite(source.truth[index])):
                draw_boxes(img, source.truth[index][None], labels=["gt"], color=_GT_COLOR)
            label = f"LOST {res.score:.2f}" if res.lost else f"{res.score:.2f}"
            color = _LOST_COLOR if res.lost else _BOX_COLOR
            draw_boxes(img, np.asarray(res.box)[None], labels=[label], color=color)
            writer.write(img)

    t0 = time.perf_counter()
    try:
        run = run_sequence(tracker, frame_iter(), box, on_frame=on_frame)
    finally:
        for fh in (out_fh, side_fh):
            if fh is not None:
                fh.close()
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - t0
    _report(args, source, run, lost_frames, tracker, wall)
    return 0


def _report(
    args: argparse.Namespace,
    source: _Source,
    run: Any,
    lost_frames: list[int],
    tracker: Any,
    wall: float,
) -> None:
    """Print the run's summary: speed, lost frames, the score against ground truth."""
    from trackkit.metrics.otb import evaluate_sequence

    err = sys.stderr
    n = len(run.boxes)
    print(f"{n} frames, tracker {run.fps:.1f} fps ({wall:.1f} s with decoding)", file=err)
    used = getattr(tracker.config, "weights", None)
    if args.weights is None and used is not None:
        print(f"weights: {used} (the default of {args.tracker}; see --help)", file=err)
    thr = getattr(tracker.config, "lost_threshold", None)
    rule = f"lost_threshold {thr:g}" if thr is not None else ""
    if lost_frames:
        print(
            f"target lost on {len(lost_frames)} frames "
            f"({f'score below {rule}' if rule else 'the tracker searching for it'}), "
            f"first on frame {lost_frames[0]}",
            file=err,
        )
    else:
        why = f"score never below {rule}" if rule else f"{args.tracker} has no lost_threshold"
        print(f"target never lost ({why})", file=err)
    if source.truth is not None and n:
        res = evaluate_sequence(run.boxes, source.truth[:n])
        print(
            f"{source.name}: success AUC {100 * res.success_auc:.2f}, precision@20px "
            f"{100 * res.precision_20px:.2f} (frames {args.start}..{args.start + n - 1}, "
            "against the ground truth)",
            file=err,
        )
    if args.out is not None:
        print(f"boxes: {args.out} (scores and lost flags: {_lost_column(args.out)})", file=err)
    if args.video is not None:
        print(f"video: {args.video}", file=err)


TRAIN_EPILOG = """\
output: OUT/checkpoint.pt after every epoch (--resume continues from it), OUT/log.csv,
OUT/model.pt (load it with `trackkit sot SOURCE --tracker NAME --weights OUT/model.pt`).

examples (the commands of the committed weights are in docs/benchmarks.md):
  trackkit sot train --model dcfnet --mode udt --data ../shared/data/otb,../shared/data/vot \\
      --out runs/udt --epochs 10 --steps 60 --batch-size 8
  trackkit sot train --model siamfc --data ../shared/data/otb,../shared/data/vot \\
      --out runs/siamfc --epochs 8 --steps 40 --batch-size 8 --lr 0.01 --set width=0.25
"""


def _train_options(tr: argparse.ArgumentParser) -> None:
    """The flags of ``trackkit sot train``."""
    tr.add_argument("--model", required=True, help="trainer name (listed below)")
    tr.add_argument("--data", required=True, help="training data folder(s), comma separated")
    add_train_flag(tr, "--out", required=True)
    tr.add_argument("--mode", help="training mode (dcfnet: udt or supervised)")
    tr.add_argument(
        "--loss",
        help="regression loss of goturn / dcfnet: l1, l2, l3 or shrinkage (default: the "
        "model's own, goturn l1, dcfnet l2; shrinkage: Lu et al. ECCV 2018)",
    )
    add_train_flag(tr, "--epochs", default=10)
    tr.add_argument("--steps", type=int, default=100, help="optimiser steps per epoch")
    tr.add_argument("--batch-size", type=int, default=8)
    add_train_flag(tr, "--lr", default=1e-2, help="initial learning rate")
    add_train_flag(tr, "--seed")
    add_train_flag(tr, "--resume")
    tr.add_argument("--max-minutes", type=float, help="stop after the epoch exceeding this")
    tr.add_argument("--init-weights", type=Path, help="start from these weights")
    add_train_flag(tr, "--threads")
    add_key_values(tr, "--set", "trainer-specific options")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_train, train_parser=tr)


_TRAIN_HELP = {
    "help": "train a single-object tracking model",
    "description": "Train a single-object tracking model.",
    "epilog": TRAIN_EPILOG,
    "formatter_class": argparse.RawDescriptionHelpFormatter,
}


def add_train_parser(actions: Any) -> argparse.ArgumentParser:
    """Add ``train`` to ``trackkit sot``'s subcommands."""
    tr: argparse.ArgumentParser = actions.add_parser("train", **_TRAIN_HELP)
    _train_options(tr)
    _append_to_help(tr, trainers_help)
    return tr


def build_train_parser() -> argparse.ArgumentParser:
    """A stand-alone parser of ``trackkit sot train`` (for its help text)."""
    kw = {k: v for k, v in _TRAIN_HELP.items() if k != "help"}
    tr = argparse.ArgumentParser(prog="trackkit sot train", **kw)  # type: ignore[arg-type]
    _train_options(tr)
    _append_to_help(tr, trainers_help)
    return tr


def _train(args: argparse.Namespace) -> int:
    from trackkit.sot.train.base import TrainOptions, build_trainer, fit
    from trackkit.training import command_line

    try:
        import torch
    except ImportError:
        raise ConfigError("training needs torch: pip install 'trackkit[torch]'") from None
    torch.set_num_threads(max(1, args.threads))
    extra = parse_overrides(args.set)
    if args.mode is not None:
        extra["mode"] = args.mode
    if args.loss is not None:
        extra["loss"] = args.loss
    opts = TrainOptions(
        data=tuple(Path(p) for p in args.data.split(",") if p),
        **from_args(
            args,
            "out epochs batch_size lr seed resume max_minutes init_weights",
            steps_per_epoch="steps",
        ),
        extra=extra,
        command=command_line(
            "trackkit sot train", args.train_parser, args, skip=("resume", "quiet", "threads")
        ),
    )
    trainer = build_trainer(args.model, opts)
    path = fit(trainer, progress=not args.quiet)
    print(f"model: {path}", file=sys.stderr)
    return 0
