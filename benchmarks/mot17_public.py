"""Every trackkit MOT tracker on MOT17 train with the public FRCNN detections (motion only).

Scores come from trackkit's evaluator (``load_mot_benchmark`` + ``evaluate_mot``: HOTA,
MOTA, IDF1, IDSW per sequence and combined). Throughput is measured on the trackers'
``update()`` calls only (detections are read beforehand, results written afterwards), in one
thread, as frames per second of CPU time of that thread (``time.thread_time``, robust to
other processes sharing the machine) and of wall-clock time; best of ``--repeat`` runs.

The speed anchor, run in the same script, is a textbook SORT written the way the paper's
code is organised: one Python object per track holding its own 7x7 Kalman matrices, a
Hungarian match on IoU, ``max_age=1, min_hits=3, iou=0.3``. Its scores should sit close to
the original SORT code's (issue 3: HOTA 44.67) — it is the same algorithm.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/mot17_public.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

import trackkit.mot as mot  # noqa: E402
from trackkit.core.boxes import iou_matrix  # noqa: E402
from trackkit.core.detections import Detections  # noqa: E402
from trackkit.core.tracks import Tracks  # noqa: E402
from trackkit.io.mot_sequence import load_mot_benchmark  # noqa: E402
from trackkit.io.mot_txt import MOTResultWriter, read_detections, read_seqinfo  # noqa: E402
from trackkit.metrics.mot import evaluate_mot  # noqa: E402
from trackkit.mot.offline import OfflineLinker  # noqa: E402
from trackkit.mot.score_scale import normalize_frames  # noqa: E402
from trackkit.shared import shared_dir  # noqa: E402

TRACKERS = ["sort", "deepsort", "bytetrack", "ocsort", "botsort"]


class _RefTrack:
    """One SORT track: state (u, v, s, r, du, dv, ds), its own dense Kalman matrices."""

    F = np.eye(7) + np.eye(7, k=4)
    H = np.eye(4, 7)
    Q = np.diag([1, 1, 1, 1, 0.01, 0.01, 0.0001])
    R = np.diag([1.0, 1.0, 10.0, 10.0])

    def __init__(self, z: np.ndarray, tid: int) -> None:
        self.x = np.r_[z, 0, 0, 0].astype(float)
        self.P = np.diag([10, 10, 10, 10, 1e4, 1e4, 1e4]).astype(float)
        self.id, self.hits, self.streak, self.since = tid, 0, 0, 0

    def predict(self) -> np.ndarray:
        if self.x[6] + self.x[2] <= 0:
            self.x[6] = 0.0
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        if self.since > 0:
            self.streak = 0
        self.since += 1
        return self.x

    def update(self, z: np.ndarray) -> None:
        s = self.H @ self.P @ self.H.T + self.R
        k = self.P @ self.H.T @ np.linalg.inv(s)
        self.x = self.x + k @ (z - self.H @ self.x)
        self.P = (np.eye(7) - k @ self.H) @ self.P
        self.since, self.hits, self.streak = 0, self.hits + 1, self.streak + 1


def _to_z(b: np.ndarray) -> np.ndarray:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] + w / 2, b[1] + h / 2, w * h, w / h])


def _to_box(x: np.ndarray) -> np.ndarray:
    w = np.sqrt(max(x[2], 0.0) * max(x[3], 0.0))
    h = x[2] / w if w > 0 else 0.0
    return np.array([x[0] - w / 2, x[1] - h / 2, x[0] + w / 2, x[1] + h / 2])


class ReferenceSort:
    """Anchor: per-object SORT (Bewley 2016 parameters), for speed and sanity comparison."""

    def __init__(self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3) -> None:
        self.max_age, self.min_hits, self.iou = max_age, min_hits, iou_threshold
        self.tracks: list[_RefTrack] = []
        self.frame, self.next_id = 0, 1

    def update(self, dets: Detections) -> Tracks:
        self.frame += 1
        preds = np.array([_to_box(t.predict()) for t in self.tracks]).reshape(-1, 4)
        iou = iou_matrix(preds, dets.xyxy)
        matched_t, matched_d = set(), set()
        if iou.size:
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou:
                    self.tracks[r].update(_to_z(dets.xyxy[c]))
                    matched_t.add(r)
                    matched_d.add(c)
        for c in range(len(dets)):
            if c not in matched_d:
                self.tracks.append(_RefTrack(_to_z(dets.xyxy[c]), self.next_id))
                self.next_id += 1
        out_b, out_i = [], []
        for t in self.tracks:
            if t.since < 1 and (t.streak >= self.min_hits or self.frame <= self.min_hits):
                out_b.append(_to_box(t.x))
                out_i.append(t.id)
        self.tracks = [t for t in self.tracks if t.since <= self.max_age]
        return Tracks(np.array(out_b).reshape(-1, 4), out_i)

    def reset(self) -> None:
        self.__init__(self.max_age, self.min_hits, self.iou)  # type: ignore[misc]


def _run(name: str, rate: float) -> Any:
    return ReferenceSort() if name == "anchor" else mot.build(name, frame_rate=rate)


def bench(
    names: list[str], seqs: list[tuple[str, float, list[Detections]]], repeat: int
) -> tuple[dict[str, dict[str, list[Tracks]]], dict[str, dict[str, tuple[float, float, int]]]]:
    """Run every tracker on every sequence ``repeat`` times, interleaved (rep, tracker,
    sequence) so that a change of machine load hits all trackers alike.

    Returns:
        outputs[name][seq] (from the first run) and times[name][seq] = (best CPU s,
        best wall s, frames).
    """
    outputs: dict[str, dict[str, list[Tracks]]] = {n: {} for n in names}
    times: dict[str, dict[str, tuple[float, float, int]]] = {n: {} for n in names}
    for _ in range(repeat):
        for name in names:
            for seq, rate, dets in seqs:
                tracker = _run(name, rate)
                c0, w0 = time.thread_time(), time.perf_counter()
                out = [tracker.update(d) for d in dets]
                cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
                outputs[name].setdefault(seq, out)
                best = times[name].get(seq, (float("inf"), float("inf"), len(dets)))
                times[name][seq] = (min(best[0], cpu), min(best[1], wall), len(dets))
    return outputs, times


def score(gt_root: Path, outputs: dict[str, list[Tracks]], folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    for seq, out in outputs.items():
        with MOTResultWriter(folder / f"{seq}.txt") as w:
            for f, tr in enumerate(out, start=1):
                w.write(f, tr.track_ids, tr.xyxy, tr.scores)
    ev = evaluate_mot(load_mot_benchmark(gt_root, folder, "MOT17", seqs=list(outputs)))
    res = {s: m.as_dict() for s, m in ev.sequences.items()}
    res["combined"] = ev.combined.as_dict()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = shared_dir()
    ap.add_argument("--data", type=Path, default=default / "data/MOT17/train" if default else None)
    ap.add_argument("--trackers", default=",".join(["anchor", *TRACKERS]))
    ap.add_argument("--offline", default=",".join(TRACKERS), help="trackers also run offline")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs (best is kept)")
    args = ap.parse_args(argv)
    if args.data is None or not Path(args.data).is_dir():
        print("MOT17 train folder not found (give --data)", file=sys.stderr)
        return 2
    seqs = []
    for d in sorted(p for p in Path(args.data).iterdir() if (p / "det/det.txt").is_file()):
        info = read_seqinfo(d / "seqinfo.ini")
        dets = normalize_frames(read_detections(d / "det/det.txt", info.seq_length))  # as `track`
        seqs.append((d.name, info.frame_rate, dets))
    rates = {s: r for s, r, _ in seqs}
    names = [n for n in args.trackers.split(",") if n]
    offline = {n for n in args.offline.split(",") if n}
    rows: list[tuple[str, dict[str, Any], tuple[float, float, float, float]]] = []
    per_seq: dict[str, dict[str, Any]] = {}
    anchor_fps = None
    if "anchor" in names:  # the anchor first: the ratio column needs its speed
        names = ["anchor", *[n for n in names if n != "anchor"]]
    all_outputs, all_times = bench(names, seqs, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            outputs, times = all_outputs[name], all_times[name]
            c = sum(v[0] for v in times.values())
            w = sum(v[1] for v in times.values())
            n = sum(v[2] for v in times.values())
            c04, w04, n04 = next(v for k, v in times.items() if k.startswith("MOT17-04"))
            speed = (n04 / c04, n / c, n04 / w04, n / w)
            if name == "anchor":
                anchor_fps = speed[1]
            res = score(args.data, outputs, Path(tmp) / name)
            rows.append((name, res["combined"], speed))
            per_seq[name] = res
            if name in offline:
                linked = {
                    s: OfflineLinker(frame_rate=rates[s]).run(out) for s, out in outputs.items()
                }
                res = score(args.data, linked, Path(tmp) / f"{name}-offline")
                rows.append((f"{name} --offline", res["combined"], speed))
                per_seq[f"{name} --offline"] = res
    print(
        "| tracker | HOTA | MOTA | IDF1 | IDSW | fps MOT17-04 | fps all | wall fps all | x anchor |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, m, (f04, fall, _, wall) in rows:
        ratio = f"{fall / anchor_fps:.1f}" if anchor_fps else "-"
        print(
            f"| {name} | {100 * m['HOTA']:.2f} | {100 * m['MOTA']:.2f} | {100 * m['IDF1']:.2f} "
            f"| {m['IDSW']} | {f04:.0f} | {fall:.0f} | {wall:.0f} | {ratio} |"
        )
    seq_names = [s for s, _, _ in seqs]
    print("\nHOTA per sequence\n")
    print("| tracker | " + " | ".join(s[6:8] for s in seq_names) + " |")
    print("|---|" + "---|" * len(seq_names))
    for name, res in per_seq.items():
        print(f"| {name} | " + " | ".join(f"{100 * res[s]['HOTA']:.1f}" for s in seq_names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
