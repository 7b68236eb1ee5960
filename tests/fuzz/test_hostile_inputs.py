"""Hostile inputs: a clear error or a handled result within the documented limits
(docs/reliability.md): 100,000 detections in one frame, NaN / infinite / negative boxes,
a 1-pixel target for every SOT tracker, a 20000x20000 frame."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from trackkit import mot, sot
from trackkit.cli.main import main
from trackkit.core.detections import Detections
from trackkit.errors import TrackkitError
from trackkit.mot.base import MAX_DETECTIONS_PER_FRAME

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

#: MDNet with fewer samples and iterations (the same code path; the defaults take ~10 s)
FAST = {
    "mdnet": {"init_iters": 1, "init_pos": 50, "init_neg": 100, "hard_pool": 96, "candidates": 32}
}


def _many(n: int, seed: int = 0) -> Detections:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1900, (n, 2))
    return Detections(np.hstack([xy, xy + rng.uniform(5, 80, (n, 2))]), rng.uniform(0.1, 1, n))


@pytest.mark.parametrize("name", [n for n in mot.available() if n != "tracktor"])
def test_100000_detections_in_one_frame(name: str) -> None:
    tracker = mot.build(name)
    start = time.perf_counter()
    with pytest.raises(TrackkitError, match=r"frame 1: 100000 detections, more than the 5000"):
        tracker.update(_many(100_000))
    assert time.perf_counter() - start < 5
    out = tracker.update(_many(MAX_DETECTIONS_PER_FRAME // 10))  # the tracker is still usable
    assert np.all(np.isfinite(out.xyxy))


def test_100000_detections_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    seq = tmp_path / "MOT-flood"
    (seq / "det").mkdir(parents=True)
    d = _many(100_000)
    x, y, w, h = (
        d.xyxy[:, 0],
        d.xyxy[:, 1],
        d.xyxy[:, 2] - d.xyxy[:, 0],
        d.xyxy[:, 3] - d.xyxy[:, 1],
    )
    rows = np.column_stack([np.ones(len(d)), -np.ones(len(d)), x, y, w, h, d.scores])
    np.savetxt(seq / "det" / "det.txt", rows, fmt="%.2f", delimiter=",")
    out = tmp_path / "out"
    rc = main(["track", str(seq), "--tracker", "sort", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "100000 detections" in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "box", [[np.nan, 0, 5, 5], [0, 0, np.inf, 5], [5, 5, 1, 1], [0, 0, 0, 5], [-3, 0, -5, 4]]
)
def test_nan_infinite_and_negative_detections_are_refused(box: list[float]) -> None:
    with pytest.raises(TrackkitError):
        mot.build("sort").update(Detections(np.array([box], float), np.ones(1)))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sot.available())
def test_sot_trackers_on_a_1_pixel_target_and_bad_boxes(name: str) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    for box in ([80, 60, 81, 61], [10, 10, 10.3, 10.2], [159, 119, 160, 120]):
        tracker = sot.build(name, **FAST.get(name, {}))
        tracker.init(frames[0], np.array(box, float))
        for f in frames[1:]:
            b = tracker.update(f).box
            assert np.all(np.isfinite(b)) and b[2] >= b[0] and b[3] >= b[1], (box, b)
    for bad in ([np.nan, 0, 5, 5], [0, 0, np.inf, 5], [5, 5, 1, 1], [-50, -50, -49, -49]):
        with pytest.raises(TrackkitError):
            sot.build(name, **FAST.get(name, {})).init(frames[0], np.array(bad, float))


@pytest.mark.parametrize("name", ["kcf", "dcfnet"])
def test_sot_on_a_20000x20000_frame(name: str) -> None:
    frame = np.zeros((20000, 20000, 3), np.uint8)
    frame[9000:9100, 9000:9100] = 255
    tracker = sot.build(name)
    start = time.perf_counter()
    tracker.init(frame, np.array([9000, 9000, 9100, 9100.0]))
    box = tracker.update(frame).box
    assert time.perf_counter() - start < 20
    assert np.allclose(box, [9000, 9000, 9100, 9100], atol=5)
