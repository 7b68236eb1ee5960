"""Drawing and annotated videos (trackkit.viz.draw, trackkit.viz.annotate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackkit.core.tracks import Tracks
from trackkit.io.video import open_video
from trackkit.viz.annotate import AnnotatedVideoWriter, TrackAnnotator
from trackkit.viz.draw import draw_boxes, draw_trail, id_color


def test_id_colors_are_stable_and_distinct() -> None:
    assert id_color(7) == id_color(7)
    colors = {id_color(i) for i in range(1, 41)}
    assert len(colors) == 40
    for i in range(1, 20):  # neighbours differ clearly
        a, b = np.array(id_color(i)), np.array(id_color(i + 1))
        assert np.abs(a - b).max() > 60


def test_draw_boxes_uses_the_id_color() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    draw_boxes(img, [[10, 20, 60, 80]], ids=[3], thickness=1)
    assert tuple(img[50, 10]) == id_color(3)  # left edge, pixel column x1
    assert tuple(img[50, 59]) == id_color(3)  # right edge, last covered column x2 - 1
    assert img[50, 35].sum() == 0  # inside untouched
    # the label tag sits above the box, inside the image
    assert np.any(img[:20, 10:40] != 0)
    plain = np.zeros((50, 50, 3), np.uint8)
    draw_boxes(plain, np.zeros((0, 4)))
    assert plain.sum() == 0


def test_trail_and_annotator_memory_is_bounded() -> None:
    img = np.zeros((60, 60, 3), np.uint8)
    draw_trail(img, [[5, 5], [30, 30], [55, 5]], (0, 0, 255))
    assert img[30, 30, 2] > 0
    ann = TrackAnnotator(trail_length=5)
    frame = np.zeros((80, 120, 3), np.uint8)
    for t in range(1, 40):
        tracks = Tracks([[t, 10, t + 20, 50]], [t])  # a new id every frame
        out = ann.annotate(frame, tracks, t)
        assert out is not frame and frame.sum() == 0  # input untouched
    assert len(ann._trails) <= 6
    trail_only = ann.annotate(frame, Tracks([[50, 10, 70, 50]], [39]), 40)
    assert trail_only.sum() > 0


def test_annotated_video_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    with AnnotatedVideoWriter(path, 10) as w:
        for t in range(1, 8):
            w.write(np.full((64, 96, 3), 30, np.uint8), Tracks([[t, 5, t + 20, 40]], [1]), t)
    assert w.last_frame is not None
    reader = open_video(path)
    assert len(list(reader)) == 7 and reader.info.fps == 10
