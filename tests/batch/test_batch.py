"""``trackkit batch`` with the local engine: sources, identical results, manifest, resume,
interruption, failures, grids and evaluation (no Ray needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trackkit import batch
from trackkit.batch import find_sources, map_tasks
from trackkit.cli.main import main
from trackkit.detectors import build_detector
from trackkit.errors import ConfigError, DataNotFoundError

pytestmark = pytest.mark.timeout(120)

DET_OPTIONS = {"min_area": 30.0}  # as the references of conftest.py


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_find_sources(sources: dict[str, Path], tmp_path: Path) -> None:
    root = sources["root"]
    names = [s.name for s in find_sources([root / "videos", root / "images", root / "seqs"])]
    assert names == ["cam0", "cam1", "cam2", "cam-img", "SYN-01"]
    assert [s.name for s in find_sources(str(root / "videos" / "cam[12].avi"))] == ["cam1", "cam2"]
    assert [s.name for s in find_sources(root / "seqs" / "SYN-01")] == ["SYN-01"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my sources\n{root / 'videos' / 'cam0.avi'}\n\n{root / 'seqs'}\n")
    (tmp_path / "cam2.avi").write_bytes(b"x")
    (tmp_path / "more.txt").write_text("cam2.avi  # relative to the list\n")
    found = find_sources([listing, tmp_path / "more.txt", root / "videos" / "cam0.avi"])
    assert [s.name for s in found] == ["cam0", "SYN-01", "cam2"]
    with pytest.raises(ConfigError, match="two sources are named 'cam2'"):
        find_sources([root / "videos", tmp_path / "cam2.avi"])
    with pytest.raises(DataNotFoundError, match="matches nothing"):
        find_sources(str(root / "nothing-*.mp4"))
    (tmp_path / "bad.txt").write_text("cam2.avi\nmissing.avi\n")
    with pytest.raises(DataNotFoundError, match=r"bad.txt, line 2: .*missing.avi"):
        find_sources(tmp_path / "bad.txt")


def _square(x: int) -> int:
    if x == 3:
        raise ValueError("three is not welcome")
    return x * x


def test_map_tasks_local() -> None:
    results = list(map_tasks(_square, range(5), engine="local"))
    assert [r.value for r in results] == [0, 1, 4, None, 16]
    assert results[3].error == "ValueError: three is not welcome"
    assert all(r.attempts == 1 and r.worker == "local" for r in results)
    with pytest.raises(ConfigError, match="unknown engine"):
        map_tasks(_square, [1], engine="spark")


def test_default_engine_without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from trackkit.batch import engine

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    assert engine.default_engine() == "local"
    results = list(map_tasks(_square, [2], engine=None))
    assert results[0].worker == "local" and results[0].value == 4


def test_local_identical_to_track_and_resumed(
    sources: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    common: dict[str, Any] = {"tracker": "ocsort", "engine": "local", "progress": False}
    summary = batch.run([sources["videos"], sources["images"]], out, detector="bgsub",
                        detector_options=DET_OPTIONS, **common)  # fmt: skip
    summary2 = batch.run(sources["seq"], out, **common)
    assert summary.complete and summary2.complete and not summary.interrupted
    for name, data in reference.items():
        assert (out / f"{name}.txt").read_bytes() == data, name
    lines = _lines(out)
    assert [x["name"] for x in lines] == ["cam0", "cam1", "cam2", "cam-img", "SYN-01"]
    assert all(x["status"] == "done" and x["frames"] == 24 and x["error"] is None for x in lines)
    assert not list(out.glob(".*.partial"))
    # the same command again: nothing to do
    again = batch.run([sources["videos"], sources["images"]], out, detector="bgsub",
                      detector_options=DET_OPTIONS, **common)  # fmt: skip
    assert [r.status for r in again.results] == ["skipped"] * 4
    assert len(_lines(out)) == 5
    # other options make other results: redone
    other = batch.run(sources["videos"] / "cam0.avi", out, detector="bgsub",
                      detector_options={"min_area": 60.0}, **common)  # fmt: skip
    assert [r.status for r in other.results] == ["done"]
    # a deleted result is redone
    (out / "cam1.txt").unlink()
    redo = batch.run(sources["videos"], out, detector="bgsub", detector_options=DET_OPTIONS,
                     **common)  # fmt: skip
    assert [r.status for r in redo.results] == ["done", "done", "skipped"]
    assert (out / "cam1.txt").read_bytes() == reference["cam1"]


class InterruptingDetector:
    """bgsub that raises KeyboardInterrupt (Ctrl-C) on a video whose first frame is its
    ``stop_on``-th video, until the marker file exists."""

    needs_frames = True

    def __init__(self, marker: Path, stop_on: int) -> None:
        self.inner = build_detector("bgsub", **DET_OPTIONS)
        self.marker, self.stop_on, self.videos = marker, stop_on, 0

    def reset(self) -> None:
        self.videos += 1
        self.inner.reset()

    def detect(self, frame: Any) -> Any:
        if self.videos == self.stop_on and not self.marker.exists():
            self.marker.touch()
            raise KeyboardInterrupt
        return self.inner.detect(frame)


def test_local_interrupted_then_rerun(
    sources: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    detector = InterruptingDetector(tmp_path / "marker", stop_on=2)
    summary = batch.run(sources["videos"], out, tracker="ocsort", detector=detector,
                        engine="local", progress=False)  # fmt: skip
    assert summary.interrupted
    assert [r.status for r in summary.results] == ["done", "pending", "pending"]
    assert [x["name"] for x in _lines(out)] == ["cam0"]
    assert sorted(p.name for p in out.iterdir()) == ["cam0.txt", "manifest.jsonl"]
    rerun = batch.run(sources["videos"], out, tracker="ocsort",
                      detector=InterruptingDetector(tmp_path / "marker", stop_on=2),
                      engine="local", progress=False)  # fmt: skip
    assert [r.status for r in rerun.results] == ["skipped", "done", "done"]
    for name in ("cam0", "cam1", "cam2"):
        assert (out / f"{name}.txt").read_bytes() == reference[name]


def test_failed_source_recorded(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    for bad, match in (({"detector": "nope"}, "unknown detector 'nope'"),
                       ({"tracker": "nope"}, "unknown MOT tracker 'nope'"),
                       ({"detector": "bgsub", "detector_options": {"min_area": -1.0}},
                        "min_area")):  # fmt: skip
        with pytest.raises(ConfigError, match=match):
            batch.run(sources["videos"], out, engine="local", progress=False, **bad)
    assert not out.exists(), "a bad option fails before any work"
    summary = batch.run([sources["corrupt"], sources["videos"] / "cam0.avi"], out,
                        tracker="ocsort", detector="bgsub", detector_options=DET_OPTIONS,
                        engine="local", progress=False)  # fmt: skip
    assert [r.status for r in summary.results] == ["failed", "done"]
    bad = _lines(out)[0]
    assert bad["status"] == "failed" and re.match(r".*corrupt\.avi: .*video", bad["error"])
    assert not (out / "corrupt.txt").exists()
    assert "1 done, 0 skipped, 1 failed" in summary.table()


def test_cli_grid_and_eval(
    sources: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["batch", str(sources["seq"].parent), "--out", str(out), "--tracker", "sort,ocsort",
            "--engine", "local", "--eval", str(sources["seq"].parent), "--benchmark", "MOT17",
            "-q"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sort vs" in printed and "ocsort vs" in printed and "COMBINED" in printed
    for tracker in ("sort", "ocsort"):
        assert (out / tracker / "SYN-01.txt").is_file()
        scores = tmp_path / f"{tracker}.json"
        assert main(["eval", "mot", "--gt", str(sources["seq"].parent), "--pred",
                     str(out / tracker), "--benchmark", "MOT17", "--quiet",
                     "--json", str(scores)]) == 0  # fmt: skip
        expected = json.loads(scores.read_text())["combined"]
        summary = batch.run(
            sources["seq"],
            out,
            tracker=["sort", "ocsort"],
            engine="local",
            evaluate=sources["seq"].parent,
            benchmark="MOT17",
            progress=False,
        )
        assert all(r.status == "skipped" for r in summary.results)
        assert summary.scores[tracker].combined.as_dict() == expected
    assert main(["batch", str(sources["corrupt"]), "--out", str(tmp_path / "o2"),
                 "--engine", "local", "-q"]) == 1  # fmt: skip
    assert "failed:" in capsys.readouterr().out
    assert main(["batch", str(sources["seq"]), "--out", str(tmp_path / "o3"), "--tracker",
                 "nope", "--engine", "local"]) == 2  # fmt: skip


def test_help_explains_local_and_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    text = capsys.readouterr().out
    for needle in ("--engine local", "--engine ray", "ray start --head", "--address",
                   "shared filesystem", "manifest.jsonl", "--retries"):  # fmt: skip
        assert needle in text


def test_ray_not_imported_by_the_core() -> None:
    code = (
        "import sys, trackkit.batch, trackkit.cli.main, trackkit.pipeline; "
        "trackkit.cli.main.build_parser(); assert 'ray' not in sys.modules, 'ray imported'"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_default_detector_as_track(
    sources: dict[str, Path], track_reference: Any, tmp_path: Path
) -> None:
    """Without --detector a video gets trackkit track's default detector and options."""
    video = sources["videos"] / "cam2.avi"
    expected = track_reference(video, tmp_path / "ref", "sort", None)
    summary = batch.run(video, tmp_path / "out", tracker="sort", engine="local", progress=False)
    assert summary.complete
    assert (tmp_path / "out" / "cam2.txt").read_bytes() == expected


def test_manifest_survives_a_cut_line(tmp_path: Path) -> None:
    from trackkit.batch import Manifest

    manifest = Manifest(tmp_path)
    manifest.append({"key": "a.txt", "status": "done"})
    with open(manifest.path, "a") as fh:
        fh.write('{"key": "b.txt", "sta')  # the process died while writing
    again = Manifest(tmp_path)
    again.append({"key": "c.txt", "status": "failed"})
    assert set(Manifest(tmp_path).last) == {"a.txt", "c.txt"}
