"""Run single-object trackers over sequences and evaluate them (OTB one-pass, VOT reset-based).

One code path for every tracker, used by ``trackkit eval sot``, ``trackkit sot`` and
``benchmarks/sot_otb.py``:

- :func:`run_sequence` — one-pass run (OTB "OPE"): init on the first box, update on every
  later frame; returns the boxes, scores and the tracker's speed (frame decoding excluded).
- :func:`run_supervised` — VOT protocol: re-initialise ``skip`` frames after a failure.
- :func:`find_sequences` — every OTB / VOT / GOT-10k sequence under a folder.
- :func:`evaluate` — all of it over a list of sequences, per-sequence callback included.

Anything with ``init(frame, box)`` / ``update(frame) -> SOTResult`` works, including wrappers
of other libraries' trackers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.errors import DataNotFoundError
from trackkit.io.got10k import is_got10k_sequence, load_got10k_sequence
from trackkit.io.images import SOTSequence, read_image
from trackkit.io.otb import is_otb_sequence, load_otb_sequences, read_reference_results
from trackkit.io.vot import is_vot_sequence, load_vot_sequence
from trackkit.metrics.otb import OTBResult, evaluate_sequence, summarize
from trackkit.metrics.vot import SupervisedRun, evaluate_vot, polygon_overlaps
from trackkit.sot.base import SOTResult

__all__ = [
    "format_report_table",
    "SequenceEval",
    "SequenceRun",
    "Trackable",
    "evaluate",
    "evaluate_reference",
    "find_sequences",
    "report",
    "run_sequence",
    "run_supervised",
]

logger = logging.getLogger(__name__)

Frame = NDArray[np.uint8]


class Trackable(Protocol):
    """The single-object tracking protocol (see :mod:`trackkit.sot.base`)."""

    def init(self, frame: Frame, box: ArrayLike) -> None: ...

    def update(self, frame: Frame) -> SOTResult: ...


@dataclass(frozen=True)
class SequenceRun:
    """The output of a run over one sequence.

    Attributes:
        boxes: ``(N, 4)`` float64 ``xyxy`` (row 0 is the initial box; NaN rows on frames
            skipped by the VOT protocol).
        scores: ``(N,)`` float64 tracker confidences (1.0 on initialisation frames).
        seconds: wall-clock time spent inside ``init``/``update`` (decoding excluded).
        fps: frames processed per second of that time.
        cpu_seconds: process CPU time spent there (all threads; with one thread this is the
            time on one core, unaffected by other processes competing for the CPU).
        lost: ``(N,)`` bool, the frames the tracker reported the target lost
            (:attr:`SOTResult.lost`; the box is then its last estimate); ``None`` when not
            recorded.
    """

    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    seconds: float
    fps: float
    cpu_seconds: float = float("nan")
    lost: NDArray[np.bool_] | None = None

    @property
    def cpu_fps(self) -> float:
        """Frames per CPU second."""
        n = len(self.boxes)
        return n / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


def run_sequence(
    tracker: Trackable,
    frames: Iterable[Frame],
    init_box: ArrayLike,
    on_frame: Callable[[int, SOTResult], None] | None = None,
) -> SequenceRun:
    """One-pass run: ``init`` on the first frame with ``init_box`` (``xyxy``), then ``update``.

    Args:
        tracker: the tracker (re-initialised here).
        frames: the frames in order (an iterator is consumed lazily: memory stays flat).
        init_box: ``(4,)`` ``xyxy`` box in the first frame.
        on_frame: called with ``(index, result)`` after every frame (for streaming output).
    """
    boxes: list[NDArray[np.float64]] = []
    scores: list[float] = []
    lost: list[bool] = []
    elapsed = 0.0
    cpu = 0.0
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        c0 = time.process_time()
        if i == 0:
            tracker.init(frame, init_box)
            res = SOTResult(np.asarray(init_box, dtype=np.float64).reshape(4).copy(), 1.0)
        else:
            res = tracker.update(frame)
        cpu += time.process_time() - c0
        elapsed += time.perf_counter() - t0
        boxes.append(np.asarray(res.box, dtype=np.float64))
        scores.append(float(res.score))
        lost.append(bool(getattr(res, "lost", False)))
        if on_frame is not None:
            on_frame(i, res)
    n = len(boxes)
    return SequenceRun(
        boxes=np.asarray(boxes, dtype=np.float64).reshape(n, 4),
        scores=np.asarray(scores, dtype=np.float64),
        seconds=elapsed,
        fps=n / elapsed if elapsed > 0 else float("inf"),
        cpu_seconds=cpu,
        lost=np.asarray(lost, dtype=bool),
    )


def run_supervised(
    tracker: Trackable, seq: SOTSequence, skip: int = 5, gray: bool = False
) -> tuple[SequenceRun, SupervisedRun]:
    """VOT reset-based run: a frame with zero overlap is a failure and the tracker is
    re-initialised on the ground truth ``skip`` frames later (or at the next frame with valid
    ground truth after that). Overlaps use the sequence's polygons when it has them.
    """
    n = len(seq)
    boxes = np.full((n, 4), np.nan)
    scores = np.full(n, np.nan)
    overlaps = np.full(n, np.nan)
    inits: list[int] = []
    failures: list[int] = []
    elapsed = 0.0
    cpu = 0.0
    processed = 0
    t = 0
    need_init = True
    while t < n:
        gt = seq.boxes[t]
        if need_init and not np.all(np.isfinite(gt)):
            t += 1
            continue
        frame = read_image(seq.frames[t], gray=gray)
        t0 = time.perf_counter()
        c0 = time.process_time()
        if need_init:
            tracker.init(frame, gt)
            box, score = gt.copy(), 1.0
            inits.append(t)
            need_init = False
        else:
            res = tracker.update(frame)
            box, score = np.asarray(res.box, dtype=np.float64), float(res.score)
        cpu += time.process_time() - c0
        elapsed += time.perf_counter() - t0
        processed += 1
        boxes[t], scores[t] = box, score
        if seq.polygons is not None:
            ov = float(polygon_overlaps(box[None], seq.polygons[t][None])[0])
        else:
            ov = float(evaluate_overlap(box, gt))
        overlaps[t] = ov
        if np.isfinite(ov) and ov <= 0.0:
            failures.append(t)
            need_init = True
            t += skip
            continue
        t += 1
    run = SequenceRun(
        boxes, scores, elapsed, processed / elapsed if elapsed > 0 else 0.0, cpu_seconds=cpu
    )
    return run, SupervisedRun(overlaps, tuple(inits), tuple(failures))


def evaluate_overlap(box: NDArray[np.float64], gt: NDArray[np.float64]) -> float:
    """IoU of two ``xyxy`` boxes; NaN when ``gt`` is missing, 0 when ``box`` is."""
    if not np.all(np.isfinite(gt)):
        return float("nan")
    from trackkit.metrics.otb import overlaps

    return float(overlaps(box[None], gt[None])[0])


def find_sequences(root: str | Path, max_depth: int = 4) -> list[SOTSequence]:
    """Every OTB, VOT or GOT-10k sequence at or below ``root`` (sorted by path).

    Raises:
        DataNotFoundError: ``root`` does not exist or holds no sequence.
    """
    base = Path(root)
    if not base.is_dir():
        raise DataNotFoundError(f"{base}: no such folder")
    found: list[SOTSequence] = []

    def walk(folder: Path, depth: int) -> None:
        if is_otb_sequence(folder):
            found.extend(load_otb_sequences(folder))
            return
        if is_got10k_sequence(folder):
            found.append(load_got10k_sequence(folder))
            return
        if is_vot_sequence(folder):
            found.append(load_vot_sequence(folder))
            return
        if depth >= max_depth:
            return
        for child in sorted(p for p in folder.iterdir() if p.is_dir()):
            walk(child, depth + 1)

    walk(base, 0)
    if not found:
        raise DataNotFoundError(f"{base}: no OTB, VOT or GOT-10k sequence found")
    return found


@dataclass
class SequenceEval:
    """Evaluation of one tracker on one sequence.

    Attributes:
        name: sequence name.
        run: the tracker's output.
        otb: one-pass success/precision (always computed on the run's boxes).
        vot: the reset-based run, for ``protocol="vot"``.
    """

    name: str
    run: SequenceRun
    otb: OTBResult
    vot: SupervisedRun | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate(
    make_tracker: Callable[[], Trackable],
    sequences: Sequence[SOTSequence],
    protocol: Literal["otb", "vot"] = "otb",
    on_sequence: Callable[[SequenceEval], None] | None = None,
    gray: bool = False,
) -> list[SequenceEval]:
    """Run a tracker on every sequence and evaluate it.

    Args:
        make_tracker: returns a fresh tracker (called once per sequence).
        sequences: the sequences.
        protocol: ``"otb"`` one-pass, or ``"vot"`` reset-based (OTB curves are then computed
            on the frames it tracked; skipped frames count as failures).
        on_sequence: called after each sequence (progress, streaming output).
        gray: feed gray frames.
    """
    out = []
    for seq in sequences:
        tracker = make_tracker()
        vot_run: SupervisedRun | None = None
        if protocol == "vot":
            run, vot_run = run_supervised(tracker, seq, gray=gray)
        else:
            run = run_sequence(tracker, seq.iter_frames(gray=gray), seq.init_box)
        res = SequenceEval(seq.name, run, evaluate_sequence(run.boxes, seq.boxes), vot_run)
        logger.info("%s: AUC %.3f, %.1f fps", seq.name, res.otb.success_auc, run.fps)
        if on_sequence is not None:
            on_sequence(res)
        out.append(res)
    return out


def report(results: Sequence[SequenceEval]) -> dict[str, Any]:
    """JSON-ready summary: ``{"sequences": {name: {...}}, "mean": {...}}``.

    Per sequence: ``success_auc``, ``precision_20px``, ``norm_precision_auc`` (fractions),
    ``fps`` (wall clock), ``cpu_fps`` (per CPU second), ``frames`` and ``lost_frames`` (frames
    reported lost, one-pass runs); for VOT runs also
    ``accuracy`` and ``failures``. ``mean`` averages
    the sequences (fps: all frames over all tracking time) and, for VOT runs, adds ``eao``
    and ``robustness`` (failures per 100 frames).
    """
    seqs: dict[str, dict[str, Any]] = {}
    for r in results:
        entry: dict[str, Any] = {
            "success_auc": r.otb.success_auc,
            "precision_20px": r.otb.precision_20px,
            "norm_precision_auc": r.otb.norm_precision_auc,
            "fps": r.run.fps,
            "cpu_fps": r.run.cpu_fps,
            "frames": len(r.run.boxes),
        }
        if r.run.lost is not None:
            entry["lost_frames"] = int(r.run.lost.sum())
        seqs[r.name] = entry
    mean: dict[str, Any] = {}
    if results:
        summ = summarize({r.name: r.otb for r in results})
        seconds = sum(r.run.seconds for r in results)
        cpu_seconds = sum(r.run.cpu_seconds for r in results)
        frames = sum(len(r.run.boxes) for r in results)
        mean = {
            "success_auc": summ.success_auc,
            "precision_20px": summ.precision_20px,
            "norm_precision_auc": summ.norm_precision_auc,
            "fps": frames / seconds if seconds > 0 else float("inf"),
            "cpu_fps": frames / cpu_seconds if cpu_seconds > 0 else float("inf"),
            "frames": frames,
            "sequences": len(results),
        }
        vot_runs = {r.name: r.vot for r in results if r.vot is not None}
        if vot_runs:
            v = evaluate_vot(vot_runs)
            for name, (acc, fails, _) in v.per_sequence.items():
                seqs[name]["accuracy"] = acc
                seqs[name]["failures"] = fails
            mean.update(
                accuracy=v.accuracy, failures=v.failures, robustness=v.robustness, eao=v.eao
            )
    return {"sequences": seqs, "mean": mean}


def format_report_table(
    rows: dict[str, dict[str, Any]], names: Sequence[str], anchor: str | None = None
) -> str:
    """A markdown table of :func:`report` results: per-sequence AUC, mean AUC, P@20, speed.

    Args:
        rows: tracker label -> :func:`report` output.
        names: the sequences, in column order.
        anchor: label of the tracker whose speed the others are divided by (when present).
    """
    base = rows.get(anchor, {}).get("mean") if anchor else None
    head = f"| tracker | {' | '.join(names)} | mean AUC | mean P@20 | fps | cpu-fps |"
    if base:
        head += f" fps / {anchor} | cpu-fps / {anchor} |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, rep in rows.items():
        m = rep["mean"]
        cells = [f"{rep['sequences'][n]['success_auc']:.3f}" for n in names]
        line = (
            f"| {label} | {' | '.join(cells)} | {m['success_auc']:.3f} | "
            f"{m['precision_20px']:.3f} | {m['fps']:.1f} | {m['cpu_fps']:.1f} |"
        )
        if base:
            line += f" {m['fps'] / base['fps']:.2f} | {m['cpu_fps'] / base['cpu_fps']:.2f} |"
        lines.append(line)
    return "\n".join(lines)


def evaluate_reference(
    ref_root: str | Path, sequences: Sequence[SOTSequence]
) -> dict[str, dict[str, OTBResult]]:
    """Evaluate published results stored as ``ref_root/<Tracker>/<Seq>.json|.txt``.

    Returns:
        tracker -> sequence name -> result, for the sequences each tracker has results for.
    """
    root = Path(ref_root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    out: dict[str, dict[str, OTBResult]] = {}
    for tdir in sorted(p for p in root.iterdir() if p.is_dir()):
        per: dict[str, OTBResult] = {}
        for seq in sequences:
            for ext in (".json", ".txt"):
                f = tdir / f"{seq.name}{ext}"
                if f.is_file():
                    pred = read_reference_results(f)
                    n = min(len(pred), len(seq))
                    per[seq.name] = evaluate_sequence(pred[:n], seq.boxes[:n])
                    break
        if per:
            out[tdir.name] = per
    return out
