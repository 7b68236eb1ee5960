"""The MOT section of a report: the numbers of ``trackkit eval mot`` and where they come from.

For every tracker (a folder of MOTChallenge results) and sequence this collects

- the :class:`~trackkit.metrics.mot.MOTEvaluation` of :func:`~trackkit.metrics.mot.evaluate_mot`
  (the same values ``trackkit eval mot`` prints and writes as JSON), with HOTA/DetA/AssA per
  localisation threshold alpha (:meth:`~trackkit.metrics.hota.HOTAResult.per_alpha`);
- the failure events of :func:`~trackkit.metrics.mot_events.mot_events` (identity switches,
  fragmentations, false-positive tracks, per-identity timelines), under the ids of the files;
- thumbnails of those moments where the frame image exists (``<images>/<seq>/img1`` or the
  sequence's own ``img1/``): the ground-truth box and both tracks, cropped.

Frame numbers in the section are 1-based, as in the files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import TrackkitError
from trackkit.io.mot_sequence import _check_rows, discover_sequences  # eval mot's checks
from trackkit.io.mot_txt import MOTTable, SeqInfo, read_mot_txt, read_seqinfo
from trackkit.metrics.hota import ALPHAS
from trackkit.metrics.mot import MOTEvaluation, evaluate_mot
from trackkit.metrics.mot_data import MOTSequenceData, box_iou
from trackkit.metrics.mot_events import MOTEvents, mot_events
from trackkit.metrics.mot_preprocess import MOTPreprocessing, preprocess_mot, resolve_benchmark
from trackkit.report.thumbs import Box, Thumbnails

__all__ = ["MOTTrackerRun", "mot_section"]

log = logging.getLogger(__name__)
IntArray = NDArray[np.int64]
#: Events listed per sequence and tracker (the worst first; all of them are counted).
MAX_EVENTS = 300


@dataclass(frozen=True)
class MOTTrackerRun:
    """One tracker's results: its name in the page and its ``<seq>.txt`` folder."""

    name: str
    pred_dir: Path


@dataclass(frozen=True)
class _Aligned:
    """Rows of the two tables behind each entry of a :class:`MOTSequenceData`, per frame."""

    gt_rows: list[IntArray]
    tr_rows: list[IntArray]
    gt_ids: IntArray  # relabelled id -> id in the file
    tr_ids: IntArray


def _by_frame(frames: IntArray, rows: IntArray, num_frames: int) -> list[IntArray]:
    counts = np.bincount(frames[rows] - 1, minlength=num_frames)[:num_frames]
    bounds = np.concatenate(([0], np.cumsum(counts)))
    return [rows[bounds[f] : bounds[f + 1]] for f in range(num_frames)]


def _align(data: MOTSequenceData, gt: MOTTable, pred: MOTTable, cfg: MOTPreprocessing) -> _Aligned:
    """Find the file rows of ``data``'s boxes (the preprocessing keeps file order within a
    frame; the tracker boxes it removed are found by their IoU columns) and check them."""
    n = data.num_frames
    keep = gt.conf != 0 if cfg.drop_zero_flag else np.ones(len(gt), bool)
    if cfg.keep_class is not None:
        keep &= gt.classes == cfg.keep_class
    g_order = np.argsort(gt.frames, kind="stable")
    gt_rows = _by_frame(gt.frames, g_order[keep[g_order]], n)
    distractor = np.isin(gt.classes, cfg.distractor_classes)
    dis_rows = _by_frame(gt.frames, g_order[distractor[g_order]], n)
    tr_rows = []
    for f, rows in enumerate(_by_frame(pred.frames, np.argsort(pred.frames, kind="stable"), n)):
        want = len(data.tracker_ids[f])
        if len(rows) != want:
            rows = _surviving(
                rows, want, gt.xyxy[gt_rows[f]], gt.xyxy[dis_rows[f]], pred, data.similarity[f]
            )
        tr_rows.append(rows)
    out = []
    for per_frame, rel, ids in (
        (gt_rows, data.gt_ids, gt.ids),
        (tr_rows, data.tracker_ids, pred.ids),
    ):
        flat_rows = np.concatenate(per_frame) if per_frame else np.zeros(0, np.int64)
        uniq = np.unique(ids[flat_rows])
        flat_rel = np.concatenate(rel) if rel else np.zeros(0, np.int64)
        if len(flat_rel) != len(flat_rows) or not np.array_equal(uniq[flat_rel], ids[flat_rows]):
            raise TrackkitError(f"{data.name}: cannot align the report with the evaluated boxes")
        out.append(uniq)
    return _Aligned(gt_rows, tr_rows, out[0], out[1])


def _surviving(
    rows: IntArray,
    want: int,
    gt_boxes: NDArray[np.float64],
    dis_boxes: NDArray[np.float64],
    pred: MOTTable,
    target: NDArray[np.float64],
) -> IntArray:
    """The ``want`` rows of ``rows`` left after distractor removal.

    The kept rows, in order, must have ``target``'s IoU columns with the scored ground truth;
    only rows overlapping a distractor (IoU >= 0.5) may have been removed. Among the ways to
    choose, the one removing the rows that overlap distractors most (a small dynamic program
    over rows x kept columns).
    """
    n = len(rows)
    near = box_iou(dis_boxes, pred.xyxy[rows]).max(axis=0, initial=0.0)
    skippable = near >= 0.5 - 1e-9
    if int(skippable.sum()) == n - want:  # the usual case: one choice (checked by _align)
        return rows[~skippable]
    sims = box_iou(gt_boxes, pred.xyxy[rows])
    fits = np.zeros((n, want), bool)
    for j in range(want):
        fits[:, j] = np.all(np.abs(sims - target[:, j : j + 1]) <= 1e-12, axis=0)
    best = np.full((n + 1, want + 1), -np.inf)
    best[0, 0] = 0.0
    for i in range(n):
        for j in range(min(i, want) + 1):
            if best[i, j] == -np.inf:
                continue
            if j < want and fits[i, j] and best[i, j] > best[i + 1, j + 1]:
                best[i + 1, j + 1] = best[i, j]
            if skippable[i] and best[i, j] + near[i] > best[i + 1, j]:
                best[i + 1, j] = best[i, j] + near[i]
    if best[n, want] == -np.inf:
        raise TrackkitError(f"{pred.path}: cannot find the boxes the evaluation kept")
    keep: list[int] = []
    j = want
    for i in range(n, 0, -1):
        if j and fits[i - 1, j - 1] and best[i - 1, j - 1] == best[i, j]:
            keep.append(int(rows[i - 1]))
            j -= 1
    return np.asarray(keep[::-1], np.int64)


def _frame_path(folder: Path | None, info: SeqInfo, frame: int) -> Path | None:
    """The image of 1-based ``frame`` under ``folder`` (``None`` when absent)."""
    if folder is None:
        return None
    path = folder / f"{frame:06d}{info.im_ext}"
    return path if path.is_file() else None


def _box(table: MOTTable, row: IntArray | int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in table.xyxy[int(row)])
    return (x1, y1, x2, y2)


def _events_json(
    name: str,
    tracker: str,
    events: MOTEvents,
    al: _Aligned,
    gt: MOTTable,
    pred: MOTTable,
    data: MOTSequenceData,
    images: Path | None,
    info: SeqInfo,
    thumbs: Thumbnails,
) -> dict[str, Any]:
    """Events under file ids, 1-based frames, with thumbnail keys (``null`` without one)."""

    def gt_box(f: int, g: int) -> Box | None:
        hit = np.flatnonzero(data.gt_ids[f] == g)
        label = f"gt {al.gt_ids[g]}"
        return Box(_box(gt, al.gt_rows[f][hit[0]]), "gt", label) if len(hit) else None

    def tr_box(f: int, t: int, role: str) -> Box | None:
        hit = np.flatnonzero(data.tracker_ids[f] == t)
        label = f"id {al.tr_ids[t]}"
        return Box(_box(pred, al.tr_rows[f][hit[0]]), role, label) if len(hit) else None

    def thumb(key: str, f: int, boxes: list[Box | None]) -> str | None:
        path = _frame_path(images, info, f + 1)
        if path is None:
            return None
        group = f"{tracker}/{name}/{key[:2]}"
        return thumbs.request(
            group, f"{tracker}/{name}/{key}", path, [b for b in boxes if b is not None]
        )

    switches = []
    for k, e in enumerate(events.id_switches[:MAX_EVENTS]):
        boxes = [
            gt_box(e.frame, e.gt_id),
            tr_box(e.frame, e.to_track, "track"),
            tr_box(e.frame, e.from_track, "other"),
        ]
        switches.append(
            [
                e.frame + 1,
                int(al.gt_ids[e.gt_id]),
                int(al.tr_ids[e.from_track]),
                int(al.tr_ids[e.to_track]),
                e.prev_frame + 1,
                thumb(f"sw{k}", e.frame, boxes),
            ]
        )
    frags = []
    for k, fr in enumerate(events.fragmentations[:MAX_EVENTS]):
        boxes = [gt_box(fr.frame, fr.gt_id), tr_box(fr.frame, fr.track, "track")]
        frags.append(
            [
                fr.frame + 1,
                int(al.gt_ids[fr.gt_id]),
                int(al.tr_ids[fr.track]),
                fr.last_frame + 1,
                fr.frame - fr.last_frame - 1,
                thumb(f"fr{k}", fr.frame, boxes),
            ]
        )
    fps = []
    for k, fp in enumerate(events.false_positive_tracks[:MAX_EVENTS]):
        shown = next((int(f) for f in fp.frames if _frame_path(images, info, int(f) + 1)), None)
        key = None
        if shown is not None:
            key = thumb(f"fp{k}", shown, [tr_box(shown, fp.track, "fp")])
        fps.append(
            [
                int(al.tr_ids[fp.track]),
                fp.count,
                fp.boxes,
                int(fp.frames[0]) + 1,
                int(fp.frames[-1]) + 1,
                None if shown is None else shown + 1,
                key,
            ]
        )
    timeline = []
    for g, runs in enumerate(events.timelines):
        ids = np.where(runs[:, 2] >= 0, al.tr_ids[np.maximum(runs[:, 2], 0)], -1)
        flat = np.stack((runs[:, 0] + 1, runs[:, 1] + 1, ids), axis=1).ravel()
        timeline.append([int(al.gt_ids[g]), flat.tolist()])
    timeline.sort(key=lambda item: (item[1][0] if item[1] else 0, item[0]))
    return {
        "idsw": switches,
        "frag": frags,
        "fp": fps,
        "timeline": timeline,
        "counts": {
            "idsw": len(events.id_switches),
            "frag": len(events.fragmentations),
            "fp_tracks": len(events.false_positive_tracks),
        },
    }


def _alpha_curves(evaluation: MOTEvaluation) -> dict[str, dict[str, list[float]]]:
    """HOTA, DetA, AssA per alpha: combined and per sequence, from the results themselves."""
    out = {}
    for name, m in [("COMBINED", evaluation.combined), *evaluation.sequences.items()]:
        per = m.hota.per_alpha()
        out[name] = {k: per[k] for k in ("HOTA", "DetA", "AssA", "LocA")}
    return out


def mot_section(
    gt_root: str | Path,
    trackers: Sequence[MOTTrackerRun],
    *,
    benchmark: str | MOTPreprocessing | None = None,
    images: str | Path | None = None,
    seqs: Sequence[str] | None = None,
    thumbs: Thumbnails | None = None,
) -> dict[str, Any]:
    """The JSON-ready MOT section for ``trackers`` against ``gt_root``.

    Args:
        gt_root: ``<seq>/gt/gt.txt`` + ``<seq>/seqinfo.ini`` (MOTChallenge).
        trackers: the runs (every one must hold the same sequences' results).
        benchmark: preprocessing conventions (default: from the sequence names, as
            ``trackkit eval mot``).
        images: a folder of ``<seq>/img1/`` frames (default: each sequence's own ``img1/``).
        seqs: only these sequences (default: the first tracker's result files).
        thumbs: where thumbnails go (a new collection by default).
    """
    from trackkit.cli.eval_mot import _infer_benchmark  # the CLI's own rule

    if not trackers:
        raise TrackkitError("--pred: no results folder given")
    gt_root = Path(gt_root)
    thumbs = thumbs if thumbs is not None else Thumbnails()
    names = discover_sequences(gt_root, trackers[0].pred_dir, seqs)
    for run in trackers[1:]:
        discover_sequences(gt_root, run.pred_dir, names)
    bench = benchmark if benchmark is not None else _infer_benchmark(names)
    cfg = resolve_benchmark(bench)
    infos = {n: read_seqinfo(gt_root / n / "seqinfo.ini") for n in names}
    gts = {n: read_mot_txt(gt_root / n / "gt" / "gt.txt", "gt") for n in names}
    for n in names:
        _check_rows(gts[n], infos[n].seq_length)
    folders = {}
    for n in names:
        base = Path(images) / n if images is not None else gt_root / n
        folder = base / infos[n].im_dir
        folders[n] = folder if folder.is_dir() else None
    out_trackers: list[dict[str, Any]] = []
    for run in trackers:
        data, tables = [], {}
        for n in names:
            pred = read_mot_txt(run.pred_dir / f"{n}.txt", "result")
            _check_rows(pred, infos[n].seq_length)
            tables[n] = pred
            data.append(preprocess_mot(n, infos[n].seq_length, gts[n], pred, cfg))
        evaluation = evaluate_mot(data)
        per_seq = {}
        for d in data:
            al = _align(d, gts[d.name], tables[d.name], cfg)
            per_seq[d.name] = _events_json(
                d.name,
                run.name,
                mot_events(d),
                al,
                gts[d.name],
                tables[d.name],
                d,
                folders[d.name],
                infos[d.name],
                thumbs,
            )
        out_trackers.append(
            {
                "name": run.name,
                "source": str(run.pred_dir),
                "metrics": {
                    "benchmark": bench if isinstance(bench, str) else "custom",
                    **evaluation.as_dict(),
                },
                "alpha": _alpha_curves(evaluation),
                "sequences": per_seq,
            }
        )
        log.info("report: %s evaluated", run.name)
    thumbs.render()  # the cap shared by every tracker, sequence and kind of event
    for tracker in out_trackers:
        for ev in tracker["sequences"].values():
            for kind, col in (("idsw", 5), ("frag", 5), ("fp", 6)):
                for row in ev[kind]:
                    row[col] = thumbs.get(row[col])
    from trackkit.cli.eval_mot import HEADERS
    from trackkit.metrics.mot import SUMMARY_FIELDS

    combined = out_trackers[0]["metrics"]["combined"]
    return {
        "kind": "mot",
        "gt": str(gt_root),
        "fields": list(SUMMARY_FIELDS),
        "headers": dict(HEADERS),
        "int_fields": sorted(k for k, v in combined.items() if isinstance(v, int)),
        "alphas": [float(a) for a in ALPHAS],
        "sequences": [
            {
                "name": n,
                "frames": infos[n].seq_length,
                "width": infos[n].im_width,
                "height": infos[n].im_height,
                "images": folders[n] is not None,
            }
            for n in names
        ],
        "trackers": out_trackers,
    }
