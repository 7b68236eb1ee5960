"""One trial of a search: track every training sequence with one configuration and score it,
in process, with the ground truth and the detections parsed once for all trials.

    data = load_sequences("../shared/data/MOT17/train")       # once
    metrics = run_trial("bytetrack", {"max_age": 90}, data)    # {seq: MOTMetrics}
    objective("HOTA", combine_mot(list(metrics.values())))

Scores are those of ``trackkit eval mot`` on the same boxes (the benchmark's preprocessing and
the same metric code) except that boxes are not rounded to the 3 decimals of a result file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.mot_txt import MOTTable, read_detections, read_mot_txt, read_seqinfo
from trackkit.metrics.clear import CLEARResult
from trackkit.metrics.hota import HOTAResult
from trackkit.metrics.identity import IdentityResult
from trackkit.metrics.mot import MOTMetrics, evaluate_mot_sequence
from trackkit.metrics.mot_preprocess import MOTPreprocessing, preprocess_mot, resolve_benchmark
from trackkit.mot.score_scale import normalize_frames

__all__ = [
    "TuneSequence",
    "load_sequences",
    "metrics_from_state",
    "metrics_state",
    "objective",
    "parse_objective",
    "run_trial",
    "subsample",
    "track_sequence",
]


@dataclass(frozen=True)
class TuneSequence:
    """A training sequence held in memory.

    Attributes:
        name: the folder name.
        frame_rate: from ``seqinfo.ini``; passed to trackers and the offline pass.
        num_frames: ``seqLength``.
        image_size: ``(width, height)`` in pixels.
        detections: one :class:`Detections` per frame (``det/det.txt``).
        gt: the ground-truth rows (``gt/gt.txt``).
    """

    name: str
    frame_rate: float
    num_frames: int
    image_size: tuple[int, int]
    detections: list[Detections]
    gt: MOTTable


def load_sequences(root: str | Path, seqs: Sequence[str] | None = None) -> list[TuneSequence]:
    """Read every ``ROOT/<seq>`` with ``seqinfo.ini``, ``gt/gt.txt`` and ``det/det.txt``
    (or only ``seqs``), sorted by name.

    Raises:
        DataNotFoundError: no such folder, no usable sequence, or a named one missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: ground-truth root not found (give --gt)")
    need = ("seqinfo.ini", "gt/gt.txt", "det/det.txt")
    found = sorted(p.name for p in root.iterdir() if all((p / n).is_file() for n in need))
    if seqs:
        missing = [s for s in seqs if s not in found]
        if missing:
            raise DataNotFoundError(
                f"{root}: {', '.join(missing)} lack seqinfo.ini, gt/gt.txt or det/det.txt"
            )
        found = [s for s in found if s in seqs]
    if not found:
        raise DataNotFoundError(
            f"{root}: no sequence folder with seqinfo.ini, gt/gt.txt and det/det.txt"
        )
    out = []
    for name in found:
        info = read_seqinfo(root / name / "seqinfo.ini")
        # the scores as `trackkit track` sees them (its file detector's default ``auto``)
        dets = normalize_frames(read_detections(root / name / "det" / "det.txt", info.seq_length))
        gt = read_mot_txt(root / name / "gt" / "gt.txt", "gt")
        size = (info.im_width, info.im_height)
        out.append(TuneSequence(name, info.frame_rate, info.seq_length, size, dets, gt))
    return out


def subsample(seq: TuneSequence, stride: int) -> TuneSequence:
    """``seq`` at ``1/stride`` of its frame rate: frames ``1, 1 + stride, ...`` renumbered
    from 1 (detections and ground truth alike), to check that parameters carry over to
    slower videos."""
    if stride == 1:
        return seq
    keep = (seq.gt.frames - 1) % stride == 0
    g = seq.gt
    gt = MOTTable(
        g.path,
        g.kind,
        (g.frames[keep] - 1) // stride + 1,
        g.ids[keep],
        g.xyxy[keep],
        g.conf[keep],
        g.classes[keep],
        g.visibility[keep],
        g.lines[keep],
    )
    dets = seq.detections[::stride]
    return TuneSequence(
        f"{seq.name}@{stride}", seq.frame_rate / stride, len(dets), seq.image_size, dets, gt
    )


def track_sequence(
    tracker_name: str,
    params: Mapping[str, Any],
    seq: TuneSequence,
    offline: Mapping[str, Any] | None = None,
) -> list[Tracks]:
    """Run ``tracker_name`` with ``params`` (plus the sequence's frame rate) over ``seq``;
    with ``offline`` (options of :class:`~trackkit.mot.offline.OfflineConfig`, may be
    empty) the offline pass follows."""
    from trackkit.mot.base import build, takes_frame_rate

    opts = dict(params)
    if takes_frame_rate(tracker_name):
        opts.setdefault("frame_rate", seq.frame_rate)
    tracker = build(tracker_name, **opts)
    out = [tracker.update(d) for d in seq.detections]
    if offline is not None:
        from trackkit.mot.offline import OfflineLinker

        base = {"frame_rate": seq.frame_rate, "image_height": float(seq.image_size[1])}
        out = OfflineLinker(**{**base, **offline}).run(out)
    return out


def _result_table(frames: Sequence[Tracks]) -> MOTTable:
    n = [len(t) for t in frames]
    f = np.repeat(np.arange(1, len(frames) + 1, dtype=np.int64), n)
    if sum(n) == 0:
        return MOTTable.from_rows("result", f, [], np.zeros((0, 4)))
    ids = np.concatenate([t.track_ids for t in frames])
    boxes = np.concatenate([t.xyxy for t in frames])
    return MOTTable.from_rows("result", f, ids, boxes)


def score_sequence(
    seq: TuneSequence, frames: Sequence[Tracks], benchmark: str | MOTPreprocessing = "MOT17"
) -> MOTMetrics:
    """HOTA, CLEAR and Identity of a tracker's output on ``seq``."""
    data = preprocess_mot(seq.name, seq.num_frames, seq.gt, _result_table(frames), benchmark)
    return evaluate_mot_sequence(data)


def run_trial(
    tracker_name: str,
    params: Mapping[str, Any],
    data: Sequence[TuneSequence],
    offline: Mapping[str, Any] | None = None,
    benchmark: str | MOTPreprocessing = "MOT17",
) -> dict[str, MOTMetrics]:
    """Track and score every sequence of ``data``: ``{sequence: metrics}``."""
    bench = resolve_benchmark(benchmark)
    return {
        s.name: score_sequence(s, track_sequence(tracker_name, params, s, offline), bench)
        for s in data
    }


def parse_objective(text: str) -> dict[str, float]:
    """``"HOTA"``, ``"IDF1"``, ``"MOTA"`` or a weighted sum ``"0.5*HOTA+0.3*IDF1+0.2*MOTA"``
    -> ``{metric: weight}``.

    Raises:
        ConfigError: an unknown metric or a malformed term.
    """
    out: dict[str, float] = {}
    for term in text.replace(" ", "").split("+"):
        weight, star, name = term.rpartition("*")
        name = name.upper()
        if name not in ("HOTA", "IDF1", "MOTA") or (star and not weight):
            raise ConfigError(
                f"--objective {text!r}: terms are HOTA, IDF1, MOTA or WEIGHT*METRIC "
                f"joined by + (e.g. 0.5*HOTA+0.5*IDF1)"
            )
        try:
            out[name] = out.get(name, 0.0) + (float(weight) if star else 1.0)
        except ValueError:
            raise ConfigError(f"--objective {text!r}: weight {weight!r} is not a number") from None
    return out


def objective(weights: Mapping[str, float], metrics: MOTMetrics) -> float:
    """The weighted sum of the named metrics, in percent."""
    values = {
        "HOTA": float(metrics.hota.HOTA.mean()),
        "MOTA": float(metrics.clear.MOTA),
        "IDF1": float(metrics.identity.IDF1),
    }
    return 100.0 * sum(w * values[k] for k, w in weights.items())


def metrics_state(m: MOTMetrics) -> dict[str, dict[str, Any]]:
    """A JSON-able copy of every stored field (enough to combine sequences exactly)."""

    def one(r: Any) -> dict[str, Any]:
        return {
            f.name: (v.tolist() if isinstance(v := getattr(r, f.name), np.ndarray) else v)
            for f in dataclasses.fields(r)
        }

    return {"hota": one(m.hota), "clear": one(m.clear), "identity": one(m.identity)}


def metrics_from_state(state: Mapping[str, Mapping[str, Any]]) -> MOTMetrics:
    """The inverse of :func:`metrics_state`."""
    hota = HOTAResult(**{k: np.asarray(v, np.float64) for k, v in state["hota"].items()})
    return MOTMetrics(hota, CLEARResult(**state["clear"]), IdentityResult(**state["identity"]))
