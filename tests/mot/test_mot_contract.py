"""The contract of every registered MOT tracker (parametrised over ``trackkit.mot.available()``,
so a new tracker is tested the day it is registered).

Trackers run on a synthetic scene (``trackkit.datasets.SyntheticScene``) with its
ground-truth boxes as detections and its frames as images, so those that need the image
(Tracktor with a single-object regressor) get real frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.errors import ConfigError
from trackkit.mot.base import LifeCycleConfig

NAMES = mot.available()
SCENE = SceneConfig(width=320, height=240, num_frames=40, num_objects=4, seed=3,
                    min_height=30, max_height=70, min_speed=2, max_speed=4)  # fmt: skip


def _scene() -> list[tuple[Detections, np.ndarray]]:
    scene = SyntheticScene(SCENE)
    out = []
    for _, frame, truth in scene.iter_with_truth():
        keep = truth.visibility > 0.3
        n = int(keep.sum())
        out.append((Detections(truth.xyxy[keep], np.linspace(0.95, 0.7, n)), frame))
    return out


FRAMES = _scene()


def _run(tracker: mot.MOTTracker) -> list[Tracks]:
    return [tracker.update(d, f) for d, f in FRAMES]


@pytest.mark.parametrize("name", NAMES)
def test_config_class_and_frame_rate(name: str) -> None:
    cls = mot.MOT_TRACKERS.get(name)
    config_class = cls.config_class
    assert dataclasses.is_dataclass(config_class)
    assert config_class.__dataclass_params__.frozen  # type: ignore[attr-defined]
    tracker = mot.build(name)
    assert isinstance(tracker.config, config_class)
    fields = {f.name for f in dataclasses.fields(config_class)}
    assert mot.takes_frame_rate(name) == ("frame_rate" in fields)
    if mot.takes_frame_rate(name):
        assert mot.build(name, frame_rate=25.0).config.frame_rate == 25.0
    else:
        with pytest.raises(ConfigError, match="frame_rate"):
            mot.build(name, frame_rate=25.0)
    with pytest.raises(ConfigError, match="valid options"):
        mot.build(name, bogus=1)


def test_takes_frame_rate_unknown_name() -> None:
    with pytest.raises(ConfigError, match="valid names"):
        mot.takes_frame_rate("nope")


@pytest.mark.parametrize("name", NAMES)
def test_aliases_are_documented_and_exclusive(name: str) -> None:
    config_class = mot.MOT_TRACKERS.get(name).config_class
    aliases = getattr(config_class, "ALIASES", {})
    for alias, field in aliases.items():
        assert alias in (config_class.__doc__ or "")
        default = getattr(mot.build(name).config, field)
        cfg = mot.build(name, **{alias: default + 1}).config
        assert getattr(cfg, field) == default + 1 == getattr(cfg, alias)
        with pytest.raises(ConfigError, match=f"{alias}.*{field}"):
            mot.build(name, **{alias: default, field: default})


def test_paper_aliases() -> None:
    assert mot.build("bytetrack", track_buffer=30).config.max_age == 30
    assert mot.build("botsort", track_buffer=30).config.max_age == 30
    assert mot.build("deepsort", n_init=2).config.min_hits == 2
    with pytest.raises(ConfigError, match="track_buffer"):
        mot.build("bytetrack", track_buffer=30, max_age=30)
    with pytest.raises(ConfigError, match="n_init"):
        mot.build("deepsort", n_init=2, min_hits=2)


@pytest.mark.parametrize("name", [n for n in NAMES if mot.takes_frame_rate(n)])
def test_life_cycle_options_shared(name: str) -> None:
    cfg = mot.build(name).config
    assert isinstance(cfg, LifeCycleConfig)
    with pytest.raises(ConfigError, match="max_age"):
        mot.build(name, max_age=-1)
    with pytest.raises(ConfigError, match="min_hits"):
        mot.build(name, min_hits=0)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_aligned_deterministic_and_reset(name: str) -> None:
    tracker = mot.build(name)
    before = [d.xyxy.copy() for d, _ in FRAMES]
    out = _run(tracker)
    reported = 0
    for tr, (d, _) in zip(out, FRAMES):
        assert isinstance(tr, Tracks)
        assert tr.xyxy.dtype == np.float64 and tr.xyxy.shape == (len(tr), 4)
        assert tr.track_ids.dtype == np.int64 and len(np.unique(tr.track_ids)) == len(tr)
        assert tr.det_index.dtype == np.int64 and tr.det_index.max(initial=-1) < len(d)
        assert (tr.track_ids >= 1).all()
        det = tr.det_index >= 0
        assert len(np.unique(tr.det_index[det])) == int(det.sum())
        # a reported detection row is near the box reported with it
        assert np.abs(tr.xyxy[det] - d.xyxy[tr.det_index[det]]).max(initial=0.0) < 25.0
        reported += len(tr)
    assert reported > 0.5 * sum(len(d) for d, _ in FRAMES)
    for b, (d, _) in zip(before, FRAMES):  # inputs are not modified
        np.testing.assert_array_equal(b, d.xyxy)
    tracker.reset()
    again = _run(tracker)
    assert min(int(t.track_ids.min()) for t in again if len(t)) == 1
    for x, y in zip(out, again):
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.det_index, y.det_index)


@pytest.mark.parametrize("name", NAMES)
def test_ids_stable_on_an_easy_scene(name: str) -> None:
    """Most ground-truth objects keep one track id (ids matched by IoU >= 0.5)."""
    from trackkit.core.boxes import iou_matrix

    scene = SyntheticScene(SCENE)
    out = _run(mot.build(name))
    ids_of: dict[int, set[int]] = {}
    for k, tr in enumerate(out[5:], start=6):
        truth = scene.truth(k)
        if not len(tr) or not len(truth):
            continue
        iou = iou_matrix(truth.xyxy, tr.xyxy)
        for g, row in zip(truth.ids.tolist(), iou):
            if row.max() >= 0.5:
                ids_of.setdefault(g, set()).add(int(tr.track_ids[row.argmax()]))
    assert ids_of
    stable = sum(len(v) == 1 for v in ids_of.values())
    assert stable >= 0.5 * len(ids_of), ids_of
