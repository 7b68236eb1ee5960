"""Tracktor (Bergmann 2019): regression-based tracking (trackkit.mot.tracktor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit import mot
from trackkit.core.detections import Detections
from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.errors import ConfigError, TrackkitError
from trackkit.pipeline import track_video

CFG = SceneConfig(width=320, height=240, num_frames=70, num_objects=4, seed=2,
                  min_height=30, max_height=70, min_speed=2, max_speed=4)  # fmt: skip


def _oracle(cfg: SceneConfig):  # type: ignore[no-untyped-def]
    scene, state = SyntheticScene(cfg), {"t": 0}

    def detect(frame: np.ndarray) -> Detections:
        state["t"] += 1
        truth = scene.truth(state["t"])
        keep = truth.visibility > 0.3
        return Detections(truth.xyxy[keep], np.full(int(keep.sum()), 0.9))

    return detect


def _scores(tmp_path: Path, options: dict[str, object]) -> dict[str, float | int]:
    from trackkit.io.mot_sequence import load_mot_sequence
    from trackkit.metrics.mot import evaluate_mot

    scene = SyntheticScene(CFG)
    seq = scene.write_mot_sequence(tmp_path / "gt", "S", images=False)
    res = tmp_path / "S.txt"
    track_video(scene, _oracle(CFG), "tracktor", results=res, progress=False,
                tracker_options=options)  # fmt: skip
    return evaluate_mot([load_mot_sequence(seq, res, "MOT17")]).combined.as_dict()


def test_registered_and_configured() -> None:
    assert "tracktor" in mot.available()
    with pytest.raises(ConfigError, match="regressor"):
        mot.build("tracktor", regressor="magic")
    with pytest.raises(ConfigError, match="unknown single-object tracker"):
        mot.build("tracktor", regressor="sot:nope")
    with pytest.raises(TrackkitError, match="frame"):
        mot.build("tracktor").update(Detections([[0, 0, 10, 10]]))


@pytest.mark.slow
@pytest.mark.parametrize("options", [{"regressor": "detections"}, {"regressor": "sot:kcf"}])
def test_oracle_detections_are_tracked(tmp_path: Path, options: dict[str, object]) -> None:
    d = _scores(tmp_path, options)
    assert d["HOTA"] > 0.75 and d["IDF1"] > 0.8 and d["IDSW"] <= 2, d


def test_regression_carries_tracks_and_detections_only_start_them() -> None:
    scene = SyntheticScene(CFG)
    frames = [scene.frame(t) for t in range(20, 26)]
    box = scene.truth(20).xyxy[0]
    trk = mot.build("tracktor", refine=False)
    first = trk.update(Detections([box, box + [1, 0, 1, 0]], [0.9, 0.8]), frames[0])
    assert len(first) == 1 and first.det_index.tolist() == [0]  # the duplicate starts nothing
    tid = int(first.track_ids[0])
    for f in frames[1:4]:  # no detections: the SOT regressor carries the track
        out = trk.update(Detections.empty(), f)
        assert out.track_ids.tolist() == [tid] and out.det_index.tolist() == [-1]
    # a detection on the tracked object does not start a second track
    near = Detections([trk._active[0].box], [0.95])
    assert trk.update(near, frames[4]).track_ids.tolist() == [tid]
    # a weak track dies, then a detection at its place revives its id
    trk2 = mot.build("tracktor", regressor="detections", inactive_patience=5)
    trk2.update(Detections([[10, 10, 40, 80]], [0.9]), frames[0])
    assert len(trk2.update(Detections.empty(), frames[1])) == 0
    back = trk2.update(Detections([[12, 10, 42, 80]], [0.9]), frames[2])
    assert back.track_ids.tolist() == [1]


def _sequence_with_images(tmp_path: Path, frames: int) -> Path:
    """A MOTChallenge sequence of a synthetic scene with every frame's image and its ground
    truth as ``det/det.txt``."""
    cfg = SceneConfig(width=160, height=120, num_frames=frames, num_objects=2, seed=3,
                      min_height=30, max_height=50, min_speed=1, max_speed=2)  # fmt: skip
    seq = SyntheticScene(cfg).write_mot_sequence(tmp_path, "S", images=True)
    rows = [line.split(",") for line in (seq / "gt" / "gt.txt").read_text().splitlines()]
    (seq / "det").mkdir()
    (seq / "det" / "det.txt").write_text(
        "".join(f"{r[0]},-1,{r[2]},{r[3]},{r[4]},{r[5]},0.9\n" for r in rows)
    )
    return seq


def test_runs_on_a_sequence_with_images_from_the_command_line(tmp_path: Path) -> None:
    """The frames of a MOTChallenge sequence are read for a tracker that needs them (not
    only for a detector that does), and missing ones are named before they are needed."""
    from trackkit.cli.main import main

    seq = _sequence_with_images(tmp_path, 8)
    out = tmp_path / "out"
    assert main(["track", str(seq), "--tracker", "tracktor", "--out", str(out), "-q"]) == 0
    assert (out / "S.txt").read_text().count("\n") > 0
    for image in sorted((seq / "img1").iterdir())[4:]:
        image.unlink()
    det = f"file:{seq / 'det' / 'det.txt'}"
    out = tmp_path / "short.txt"
    track_video(seq, det, "tracktor", results=out, progress=False, max_frames=4)
    assert out.exists()  # the frames asked for have their images: no error
    with pytest.raises(TrackkitError, match="frame 5 has no image.*needs every frame"):
        track_video(seq, det, "tracktor", results=tmp_path / "none.txt", progress=False)
    assert not (tmp_path / "none.txt").exists()
