"""``trackkit batch`` on a real local Ray (2 CPUs, one session for the module): a worker
killed mid-video, a corrupt video among good ones, Ctrl-C then a rerun, and ``map_tasks``."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from trackkit import batch
from trackkit.batch import SourceResult, map_tasks
from trackkit.detectors import build_detector

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("local_ray")]

DET_OPTIONS = {"min_area": 30.0}  # as the references of conftest.py


class DyingDetector:
    """bgsub that ends its own process at frame 10 of the video ``victim``, once (the marker
    file remembers it across processes). Picklable: its model is built in the worker."""

    needs_frames = True

    def __init__(self, marker: Path, victim: int) -> None:
        self.inner: Any = None
        self.marker, self.victim = marker, victim
        self.frame = self.current = 0

    def reset(self) -> None:
        self.frame = 0
        if self.inner is None:
            self.inner = build_detector("bgsub", **DET_OPTIONS)
        self.inner.reset()

    def detect(self, frame: Any) -> Any:
        self.frame += 1
        # the victim is recognised by its pixels' seed-dependent mean at frame 1
        if self.frame == 1:
            self.current = int(frame.mean() * 1000)
        if self.frame == 10 and self.current == self.victim and not self.marker.exists():
            self.marker.touch()
            os._exit(3)
        return self.inner.detect(frame)


def _first_frame_key(video: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return int(frame.mean() * 1000)


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_worker_killed_mid_video_is_retried(
    sources: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"
    victim = _first_frame_key(sources["videos"] / "cam1.avi")
    summary = batch.run(sources["videos"], tmp_path / "out", tracker="ocsort",
                        detector=DyingDetector(marker, victim), engine="ray", workers=2,
                        progress=False)  # fmt: skip
    assert marker.exists(), "the detector never killed its worker"
    assert summary.complete and not summary.failed
    by_name = {r.name: r for r in summary.results}
    assert by_name["cam1"].attempts == 2 and by_name["cam0"].attempts == 1
    for name in ("cam0", "cam1", "cam2"):
        assert (tmp_path / "out" / f"{name}.txt").read_bytes() == reference[name], name
    assert [x["status"] for x in _lines(tmp_path / "out")] == ["done"] * 3


def test_corrupt_video_fails_others_complete(
    sources: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary = batch.run([sources["videos"] / "cam0.avi", sources["corrupt"], sources["images"]],
                        out, tracker="ocsort", detector="bgsub", detector_options=DET_OPTIONS,
                        engine="ray", workers=2, progress=False)  # fmt: skip
    assert [r.status for r in summary.results] == ["done", "failed", "done"]
    assert re.match(r".*corrupt\.avi: .*video", str(summary.failed[0].error))
    assert summary.failed[0].attempts == 1  # a bad input is not retried
    assert (out / "cam0.txt").read_bytes() == reference["cam0"]
    assert (out / "cam-img.txt").read_bytes() == reference["cam-img"]
    failed = [x for x in _lines(out) if x["status"] == "failed"]
    assert len(failed) == 1 and "corrupt.avi" in failed[0]["error"]


def test_ctrl_c_then_rerun(
    sources: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    todo = [sources["videos"], sources["images"]]
    options: dict[str, Any] = {"tracker": "ocsort", "detector": "bgsub",
                               "detector_options": DET_OPTIONS, "engine": "ray", "workers": 1,
                               "progress": False}  # fmt: skip

    def ctrl_c(result: SourceResult) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    summary = batch.run(todo, out, on_result=ctrl_c, **options)
    assert summary.interrupted
    finished = [r.name for r in summary.results if r.status == "done"]
    assert len(finished) == 1 and [x["name"] for x in _lines(out)] == finished
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{finished[0]}.txt",
                                                            "manifest.jsonl"])  # fmt: skip
    rerun = batch.run(todo, out, **options)
    assert rerun.complete and len(rerun.skipped) == 1 and len(rerun.done) == 3
    for name in ("cam0", "cam1", "cam2", "cam-img"):
        assert (out / f"{name}.txt").read_bytes() == reference[name], name


class Trial:
    """A stateful task: counts the items its own copy has seen (one copy per worker)."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, x: int) -> tuple[int, int, int]:
        if x < 0:
            raise ValueError(f"bad trial {x}")
        self.seen += 1
        return x * x, self.seen, os.getpid()


def test_map_tasks_ray() -> None:
    results = list(map_tasks(Trial(), [1, 2, -1, 3, 4, 5], engine="ray", workers=2))
    assert len(results) == 6
    by_index = {r.index: r for r in results}
    assert [by_index[i].value[0] for i in (0, 1, 3, 4, 5)] == [1, 4, 9, 16, 25]
    assert by_index[2].error == "ValueError: bad trial -1" and by_index[2].value is None
    pids = {r.value[2] for r in results if r.ok}
    assert os.getpid() not in pids and len(pids) <= 2
    # each worker kept its own copy: its counts run 1, 2, ... over the items it ran
    for pid in pids:
        counts = sorted(r.value[1] for r in results if r.ok and r.value[2] == pid)
        assert counts == list(range(1, len(counts) + 1))
