"""Every registered tracker gives byte-identical output for the same input: run twice in one
process, in processes with different hash seeds, and with 1 and 2 threads.

Two Python processes (``python tests/test_determinism.py THREADS``: hash seed 1 with one
thread, hash seed 2 with two threads for torch, OpenCV and onnxruntime) each track short
real sequences from ``../shared`` with every name of the registries' ``available()`` twice
and print the SHA-256 of each run's output; the tests compare those digests. A different
``PYTHONHASHSEED`` catches output that depends on the iteration order of sets or dicts of
strings; two runs in one process catch state that leaks from one run into the next (a global
random generator, a cache).

- MOT: MOT17-05 (640x480) frames 1-6 with their images and public detections (appearance
  trackers embed the crops with trackkit's default ReID model), then frames 7-40 from the
  detections alone for the motion-only trackers; output = the MOTChallenge results text.
- SOT: OTB Car4 frames 1-5 from the ground-truth box; output = ``repr`` of every box and
  score (MDNet with fewer samples and iterations than its defaults, :data:`FAST`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trackkit import mot, sot

MOT_SEQ = "data/MOT17/train/MOT17-05-FRCNN"
SOT_SEQ = "data/otb/Car4"
MOT_FRAMES = 40
SOT_FRAMES = 5
#: fewer samples and iterations than MDNet's defaults (the same code paths, a third of the time)
FAST = {"mdnet": {"init_iters": 6, "init_neg": 300, "candidates": 64}}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_mot(shared: Path, name: str, threads: int) -> str:
    import tempfile

    from trackkit.pipeline import mot_source, track_video

    source = mot_source(shared / MOT_SEQ)
    tracker = mot.build(name, frame_rate=source.fps) if mot.takes_frame_rate(name) else None
    tracker = tracker or mot.build(name)
    detector: Any = f"file:{source.detections}"
    frames = MOT_FRAMES
    if getattr(tracker, "needs_frames", False) or name in ("deepsort", "botsort"):
        from trackkit.detectors import EmbeddingDetector, build_detector
        from trackkit.reid.embedder import load_embedder

        embedder = load_embedder("default", threads=threads)
        detector = EmbeddingDetector(build_detector(detector), embedder)
        frames = 6  # the frames that have images in ../shared
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.txt"
        track_video(source, detector, tracker, results=out, progress=False, max_frames=frames)
        return out.read_text()


def _run_sot(shared: Path, name: str, threads: int) -> str:
    from trackkit.io.otb import load_otb_sequences

    seq = load_otb_sequences(shared / SOT_SEQ)[0]
    cls = sot.SOT_TRACKERS.get(name)
    cfg_class = getattr(cls, "config_class", None)
    fields = getattr(cfg_class, "__dataclass_fields__", {})
    options = {**FAST.get(name, {}), **({"threads": threads} if "threads" in fields else {})}
    tracker = sot.build(name, **options)
    frames = seq.iter_frames()
    tracker.init(next(frames), seq.init_box)
    lines = []
    for _, frame in zip(range(SOT_FRAMES - 1), frames):
        r = tracker.update(frame)
        lines.append(f"{[float(v) for v in r.box]!r} {float(r.score)!r}")
    return "\n".join(lines)


def main(threads: int) -> None:
    """Run every tracker twice; print ``{"mot"|"sot": {name: [digest, digest] or error}}``."""
    import cv2

    from trackkit.shared import shared_dir

    cv2.setNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    root = shared_dir()
    assert root is not None
    out: dict[str, dict[str, Any]] = {"mot": {}, "sot": {}}
    for kind, run, names in (
        ("mot", _run_mot, mot.available()),
        ("sot", _run_sot, sot.available()),
    ):
        for name in names:
            try:
                out[kind][name] = [_digest(run(root, name, threads)) for _ in range(2)]
            except Exception as exc:  # reported by the test of that name
                out[kind][name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))


def _spawn(threads: int, hash_seed: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(
        [sys.executable, __file__, str(threads)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(proc: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err[-2000:]
    return dict(json.loads(out.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def runs(shared: Path) -> list[dict[str, Any]]:
    """The results of two processes run side by side: hash seed 1 with one thread, hash
    seed 2 with two (``OMP_NUM_THREADS``, torch, OpenCV, onnxruntime)."""
    procs = [_spawn(1, "1"), _spawn(2, "2")]
    return [_collect(p) for p in procs]


def _check(runs: list[dict[str, Any]], kind: str, name: str) -> None:
    one, two = (r[kind][name] for r in runs)
    assert isinstance(one, list), f"{name} failed: {one}"
    assert isinstance(two, list), f"{name} failed with 2 threads: {two}"
    assert one[0] == one[1], f"{name}: two runs in one process differ"
    assert two[0] == two[1], f"{name}: two runs in one process differ (2 threads)"
    assert one == two, f"{name}: another process with 2 threads gives other output"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", mot.available())
def test_mot_tracker_is_deterministic(runs: list[dict[str, Any]], name: str) -> None:
    _check(runs, "mot", name)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sot.available())
def test_sot_tracker_is_deterministic(runs: list[dict[str, Any]], name: str) -> None:
    _check(runs, "sot", name)


if __name__ == "__main__":
    main(int(sys.argv[1]))
