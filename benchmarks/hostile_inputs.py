"""Time and memory of trackkit on hostile inputs (the limits table of docs/reliability.md).

    python benchmarks/hostile_inputs.py            # every row
    python benchmarks/hostile_inputs.py mot        # only the MOT rows

Each case runs in its own process (peak memory = that process's maximum resident set size):

- MOT: ``MAX_DETECTIONS_PER_FRAME`` (5,000) random detections in each of 3 frames, every
  motion tracker (the worst case the limit allows: 5,000 tracks against 5,000 detections);
  100,000 detections (refused at once);
- SOT: init + one update on a 20000x20000 BGR frame (1.2 GB), every SOT tracker.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np


def _mot(name: str, n: int) -> dict[str, object]:
    from trackkit import mot
    from trackkit.core.detections import Detections
    from trackkit.errors import TrackkitError

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1900, (n, 2))
    dets = Detections(np.hstack([xy, xy + rng.uniform(5, 80, (n, 2))]), rng.uniform(0.1, 1, n))
    tracker = mot.build(name)
    start = time.perf_counter()
    try:
        for _ in range(3):
            tracker.update(dets)
        result = "handled"
    except TrackkitError as exc:
        result = f"error: {str(exc)[:60]}"
    return {"seconds_per_frame": (time.perf_counter() - start) / 3, "result": result}


def _sot(name: str) -> dict[str, object]:
    from trackkit import sot

    frame = np.full((20000, 20000, 3), 40, np.uint8)  # touched: really 1.2 GB
    frame[9000:9100, 9000:9100] = 255
    tracker = sot.build(name)
    start = time.perf_counter()
    tracker.init(frame, np.array([9000, 9000, 9100, 9100.0]))
    box = tracker.update(frame).box
    err = float(np.abs(box - [9000, 9000, 9100, 9100]).max())
    seconds = (time.perf_counter() - start) / 2
    return {"seconds_per_frame": seconds, "result": f"box off by {err:.1f} px"}


def _child(kind: str, name: str, n: int) -> None:
    row = _mot(name, n) if kind == "mot" else _sot(name)
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(row))


def main(which: str = "all") -> None:
    from trackkit import mot, sot
    from trackkit.mot.base import MAX_DETECTIONS_PER_FRAME

    cases: list[tuple[str, str, int]] = []
    if which in ("all", "mot"):
        for name in mot.available():
            if name != "tracktor":  # needs images: a detector-driven tracker
                cases += [("mot", name, MAX_DETECTIONS_PER_FRAME), ("mot", name, 100_000)]
    if which in ("all", "sot"):
        cases += [("sot", name, 0) for name in sot.available()]
    print(f"{'case':<34} {'s/frame':>8} {'peak MB':>8}  result")
    for kind, name, n in cases:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, name, str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        label = f"{kind} {name}" + (f" {n} dets" if kind == "mot" else " 20000x20000")
        if proc.returncode != 0:
            print(f"{label:<34} {'-':>8} {'-':>8}  crashed: {proc.stderr.strip()[-80:]}")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{label:<34} {row['seconds_per_frame']:8.2f} {row['peak_mb']:8d}  {row['result']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "all")
