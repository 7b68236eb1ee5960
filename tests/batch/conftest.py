"""Small sources for the batch tests: synthetic videos, an image folder, a sequence, and one
local Ray shared by the Ray tests of a module (started once, always shut down)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.datasets.synthetic import SceneConfig, SyntheticScene

FRAMES = 24
DET_OPTIONS = {"min_area": 30.0}


def scene(seed: int) -> SyntheticScene:
    return SyntheticScene(
        SceneConfig(width=160, height=120, num_frames=FRAMES, num_objects=3, seed=seed,
                    min_height=20.0, max_height=50.0, min_speed=1.0, max_speed=3.0)
    )  # fmt: skip


def write_video(path: Path, seed: int) -> Path:
    """A synthetic scene as an MJPG .avi (decoded identically every time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    assert writer.isOpened()
    for _, frame in scene(seed):
        writer.write(frame)
    writer.release()
    return path


def write_images(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in scene(seed):
        cv2.imwrite(str(folder / f"{t:04d}.png"), frame)
    return folder


def write_sequence(root: Path, name: str, seed: int) -> Path:
    """A MOTChallenge sequence (no images): seqinfo.ini, gt/gt.txt and a det/det.txt made
    from the ground truth (jittered, some boxes missing)."""
    synth = scene(seed)
    seq = synth.write_mot_sequence(root, name, images=False)
    rng = np.random.default_rng(seed)
    rows = []
    for t, _, x, y, w, h, _ in synth.gt_rows():
        if rng.random() < 0.9:
            jx, jy = rng.normal(0, 1.0, 2)
            score = rng.uniform(0.5, 1.0)
            rows.append(f"{t},-1,{x + jx:.2f},{y + jy:.2f},{w:.2f},{h:.2f},{score:.3f}")
    (seq / "det").mkdir(exist_ok=True)
    (seq / "det" / "det.txt").write_text("\n".join(rows) + "\n")
    return seq


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``videos/`` (three .avi), ``images/cam-img`` (PNG folder), ``seqs/SYN-01`` (with
    det.txt and gt) and ``corrupt.avi`` (not a video)."""
    root = tmp_path_factory.mktemp("sources")
    for i in range(3):
        write_video(root / "videos" / f"cam{i}.avi", seed=i + 1)
    write_images(root / "images" / "cam-img", seed=7)
    write_sequence(root / "seqs", "SYN-01", seed=9)
    garbage = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (root / "corrupt.avi").write_bytes(b"RIFF" + garbage)  # a damaged video
    return {"root": root, "videos": root / "videos", "images": root / "images" / "cam-img",
            "seq": root / "seqs" / "SYN-01", "corrupt": root / "corrupt.avi"}  # fmt: skip


def _track_reference(source: Path, out: Path, tracker: str, detector: str | None) -> bytes:
    """What ``trackkit track`` writes for one source (``detector`` with ``DET_OPTIONS``)."""
    args = ["track", str(source), "--tracker", tracker, "--out", str(out), "-q"]
    if detector:
        args += ["--detector", detector, *(f"--set=det.{k}={v}" for k, v in DET_OPTIONS.items())]
    assert main(args) == 0
    name = source.stem if source.is_file() else source.name
    data = (out / f"{name}.txt").read_bytes()
    shutil.rmtree(out)
    return data


@pytest.fixture(scope="session")
def track_reference() -> Any:
    """``track_reference(source, out, tracker, detector) -> bytes``: ``trackkit track``'s
    results for one source."""
    return _track_reference


@pytest.fixture(scope="session")
def reference(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``trackkit track``'s results (bytes) per source name: the videos and the image folder
    with bgsub + ocsort, the sequence with its det.txt + ocsort."""
    out = tmp_path_factory.mktemp("reference")
    refs = {p.stem: _track_reference(p, out / "r", "ocsort", "bgsub")
            for p in sorted(sources["videos"].iterdir())}  # fmt: skip
    refs["cam-img"] = _track_reference(sources["images"], out / "r", "ocsort", "bgsub")
    refs["SYN-01"] = _track_reference(sources["seq"], out / "r", "ocsort", None)
    return refs


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray (2 CPUs) for a module's Ray tests; the test modules' classes are sent
    to the workers by value (the workers cannot import the test files)."""
    ray = pytest.importorskip("ray")
    import ray.cloudpickle as cloudpickle

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    for name, module in list(sys.modules.items()):
        if name.endswith("test_batch_ray"):
            cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        ray.shutdown()
