"""Time trackkit's MOTChallenge evaluation against the official kit (TrackEval) in one run.

Evaluates the seven MOT17 train sequences of the ``MOT17-tracker-A`` answer vector (HOTA +
CLEAR + Identity, reading the files included) in one process on one core, with trackkit and,
when the ``trackeval`` package is installed, with the official kit as the anchor. Install it
with ``pip install --no-deps trackeval==1.3.0`` (its declared dependencies would replace the
OpenCV contrib build with plain ``opencv-python``). Prints a table of the best of
``--repeat`` runs (wall and CPU seconds) and the ratio, plus the peak memory of trackkit's run
on MOT17-04.

With ``--whole-process N`` it instead times N alternating pairs of whole processes started
from the shell, as a user runs them: ``trackkit eval mot --gt ... --pred ...`` (start-up,
imports, reading, the three metric families, the printed table) and the official kit run as a
script with the same metrics (``python -c 'import trackeval; ...'``, its start-up and reading
included), and prints the median of each and the ratio of the medians.

    python benchmarks/eval_speed.py [--repeat 5]
    python benchmarks/eval_speed.py --whole-process 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from common import require_shared  # noqa: E402

from trackkit.io.mot_sequence import load_mot_benchmark  # noqa: E402
from trackkit.metrics import evaluate_mot  # noqa: E402

SEQS = [f"MOT17-{n:02d}-FRCNN" for n in (2, 4, 5, 9, 10, 11, 13)]


def run_trackkit(gt_root: Path, pred_dir: Path) -> float:
    ev = evaluate_mot(load_mot_benchmark(gt_root, pred_dir, "MOT17", SEQS))
    return float(ev.combined.as_dict()["HOTA"])


def run_trackeval(gt_root: Path, shared_metrics: Path, out: Path) -> float:
    import trackeval  # type: ignore[import-not-found]

    eval_cfg = trackeval.Evaluator.get_default_eval_config()
    eval_cfg.update(
        USE_PARALLEL=False,
        PRINT_RESULTS=False,
        PRINT_CONFIG=False,
        TIME_PROGRESS=False,
        OUTPUT_SUMMARY=False,
        OUTPUT_DETAILED=False,
        PLOT_CURVES=False,
        OUTPUT_EMPTY_CLASSES=False,
        DISPLAY_LESS_PROGRESS=True,
    )
    ds_cfg = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    ds_cfg.update(
        GT_FOLDER=str(gt_root),
        TRACKERS_FOLDER=str(shared_metrics),
        OUTPUT_FOLDER=str(out),
        TRACKERS_TO_EVAL=["MOT17-tracker-A"],
        TRACKER_SUB_FOLDER="data",
        BENCHMARK="MOT17",
        SPLIT_TO_EVAL="train",
        SKIP_SPLIT_FOL=True,
        SEQ_INFO={s: None for s in SEQS},
        PRINT_CONFIG=False,
    )
    evaluator = trackeval.Evaluator(eval_cfg)
    quiet = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    metrics = [
        trackeval.metrics.HOTA(),
        trackeval.metrics.CLEAR(dict(quiet)),
        trackeval.metrics.Identity(dict(quiet)),
    ]
    res, _ = evaluator.evaluate([trackeval.datasets.MotChallenge2DBox(ds_cfg)], metrics)
    hota = res["MotChallenge2DBox"]["MOT17-tracker-A"]["COMBINED_SEQ"]["pedestrian"]["HOTA"]
    return float(hota["HOTA"].mean())


def best_of(fn: Callable[[], float], repeat: int) -> tuple[float, float, float]:
    walls, cpus, value = [], [], 0.0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), value


def peak_memory_mb_mot17_04(gt_root: Path, pred_dir: Path) -> float:
    code = (
        "import re; from trackkit.io.mot_sequence import load_mot_benchmark;"
        "from trackkit.metrics import evaluate_mot;"
        f"evaluate_mot(load_mot_benchmark({str(gt_root)!r}, {str(pred_dir)!r}, 'MOT17',"
        " ['MOT17-04-FRCNN']));"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def whole_process(gt_root: Path, metrics_dir: Path, pairs: int) -> int:
    """Median wall time of ``pairs`` alternating whole-process runs of each tool."""
    import statistics

    pred_dir = metrics_dir / "MOT17-tracker-A" / "data"
    trackkit_cmd = [
        sys.executable, "-m", "trackkit.cli.main", "eval", "mot",
        "--gt", str(gt_root), "--pred", str(pred_dir),
    ]  # fmt: skip
    here = Path(__file__).resolve().parent
    official = (
        f"import sys, tempfile; sys.path.insert(0, {str(here)!r}); "
        "from pathlib import Path; from eval_speed import run_trackeval; "
        "d = tempfile.mkdtemp(); "
        f"print(run_trackeval(Path({str(gt_root)!r}), Path({str(metrics_dir)!r}), Path(d)))"
    )
    official_cmd = [sys.executable, "-c", official]
    try:
        import trackeval  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        print("the official kit is not installed: pip install --no-deps trackeval==1.3.0")
        return 2
    _timed(trackkit_cmd)  # warm the file cache for both
    _timed(official_cmd)
    tk, te = [], []
    for _ in range(pairs):
        tk.append(_timed(trackkit_cmd))
        te.append(_timed(official_cmd))
    mt, me = statistics.median(tk), statistics.median(te)
    print(
        f"whole process, {pairs} alternating pairs (wall s): "
        + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(tk, te))
    )
    print(f"{'tool':<26}{'median s':>10}")
    print(f"{'trackkit eval mot':<26}{mt:>10.3f}")
    print(f"{'TrackEval (official kit)':<26}{me:>10.3f}")
    print(f"ratio trackkit / official (medians): {mt / me:.3f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per tool (best is kept)")
    parser.add_argument(
        "--whole-process", type=int, metavar="N", help="N alternating pairs of whole processes"
    )
    args = parser.parse_args()
    root = require_shared()
    gt_root = root / "data" / "MOT17" / "train"
    metrics_dir = root / "data" / "metrics"
    pred_dir = metrics_dir / "MOT17-tracker-A" / "data"
    if args.whole_process:
        return whole_process(gt_root, metrics_dir, args.whole_process)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    rows = []
    tk = best_of(lambda: run_trackkit(gt_root, pred_dir), args.repeat)
    rows.append(("trackkit", *tk))
    try:
        import trackeval  # type: ignore[import-not-found]  # noqa: F401

        with tempfile.TemporaryDirectory() as tmp:
            te = best_of(lambda: run_trackeval(gt_root, metrics_dir, Path(tmp)), args.repeat)
        rows.append(("TrackEval (official kit)", *te))
    except ImportError:
        te = None
    print(
        f"MOT17 train, 7 sequences, HOTA+CLEAR+Identity incl. file reading, best of {args.repeat}"
    )
    print(f"{'tool':<26}{'wall s':>9}{'cpu s':>9}{'HOTA':>10}")
    for name, wall, cpu, hota in rows:
        print(f"{name:<26}{wall:>9.3f}{cpu:>9.3f}{hota:>10.5f}")
    if te is not None:
        print(
            f"ratio trackkit / official: wall {tk[0] / te[0]:.3f}  cpu {tk[1] / te[1]:.3f}"
            f"  (speed-up {te[0] / tk[0]:.1f}x)"
        )
    print(f"peak memory, MOT17-04 alone: {peak_memory_mb_mot17_04(gt_root, pred_dir):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
