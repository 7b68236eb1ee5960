"""The three real videos of ../shared/data/videos tracked end to end, checked for what a person
would see: the person in the room keeps one id while in view, the street's pedestrians are
boxed with stable ids (through the command line, with the model fetched into a fresh cache as
a new user would), the car park's moving cars are tracked by background subtraction (COCO
detectors call cars seen from above "cell phone"); every box lies inside the frame."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.core.boxes import iou_matrix
from trackkit.core.tracks import Tracks
from trackkit.detectors import build_detector
from trackkit.detectors.bgsub import BgSubDetector
from trackkit.pipeline import track_video

pytest.importorskip("onnxruntime")

STREET_FRAMES = 30


def _video(shared: Path, name: str) -> Path:
    path = shared / "data" / "videos" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the shared folder")
    return path


def _collect(
    video: Path, detector: object, tracker: str
) -> dict[int, list[tuple[int, list[float]]]]:
    """``{track id: [(frame, xyxy), ...]}`` of an online run."""
    seen: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)

    def on_frame(k: int, frame: object, dets: object, tracks: Tracks) -> None:
        for i, box in zip(tracks.track_ids, tracks.xyxy):
            seen[int(i)].append((k, [float(v) for v in box]))

    track_video(video, detector, tracker, progress=False, on_frame=on_frame)
    return dict(seen)


def _inside(tracks: dict[int, list[tuple[int, list[float]]]], w: int, h: int) -> bool:
    boxes = np.asarray([b for rows in tracks.values() for _, b in rows]).reshape(-1, 4)
    return bool(np.all(boxes >= -0.5) and np.all(boxes[:, [0, 2]] <= w + 0.5)
                and np.all(boxes[:, [1, 3]] <= h + 0.5))  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_room_one_person_one_id_while_in_view(shared: Path) -> None:
    """A woman walks in at ~2 s, stands at the table, leaves at ~15.5 s; a man enters at ~18.5 s
    (10 frames/s, 200 frames; SOURCE.txt)."""
    video = _video(shared, "room_entrance_one_by_one.mp4")
    tracks = _collect(video, build_detector("yolox-nano", classes=["person"]), "botsort")
    assert _inside(tracks, 768, 432)
    lasting = {i: [k for k, _ in rows] for i, rows in tracks.items() if len(rows) >= 10}
    woman = max(lasting, key=lambda i: len(lasting[i]))
    frames = lasting[woman]
    assert min(frames) <= 35 and max(frames) >= 145  # in view from ~2 s to ~15 s
    assert len(frames) >= 0.9 * (max(frames) - min(frames) + 1)  # no long gap
    others = {i for i, rows in tracks.items() if i != woman and any(30 < k < 150 for k, _ in rows)}
    assert not others, "while the woman is in view no other id appears"
    per_frame: dict[int, int] = defaultdict(int)
    for rows in tracks.values():
        for k, _ in rows:
            per_frame[k] += 1
    assert max(per_frame.values()) == 1  # one person at a time, one box
    man = [i for i, f in lasting.items() if min(f) >= 180]
    assert len(man) <= 1 and all(i != woman for i in man)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_street_pedestrians_boxed_with_stable_ids_from_the_command_line(
    shared: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's first run: fetch yolox-nano from a folder into a fresh cache, then
    ``trackkit track VIDEO --video out.mp4`` with no --detector."""
    from trackkit.cli.main import main

    video = _video(shared, "townCentre_oxford_clip_1080p.mp4")
    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    assert main(["models", "fetch", "yolox-nano", "--from", str(shared / "weights"), "-q"]) == 0
    out, results = tmp_path / "out.mp4", tmp_path / "street.txt"
    code = main(["track", str(video), "--video", str(out), "--out", str(results), "-q",
                 "--max-frames", str(STREET_FRAMES)])  # fmt: skip
    said = capsys.readouterr().out
    assert code == 0
    assert "detector: yolox-nano, person class" in said
    assert re.search(r"tracked 30 frames with yolox-nano \+ botsort at [0-9.]+ frames/s", said)
    rows = np.loadtxt(results, delimiter=",").reshape(-1, 10)
    frame, ids, xywh = rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2:6]
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    assert np.all(xyxy >= -0.5) and np.all(xyxy[:, [0, 2]] <= 1920.5)
    assert np.all(xyxy[:, [1, 3]] <= 1080.5)
    # pedestrians: many boxes, standing (taller than wide)
    per_frame = np.bincount(frame)[1:]
    assert per_frame[5:].min() >= 8
    assert np.median(xywh[:, 3] / xywh[:, 2]) > 1.8
    # stable ids: most people seen at frame 5 keep their id to the last frame
    early, last = set(ids[frame == 5]), set(ids[frame == STREET_FRAMES])
    assert len(early & last) >= 8 and len(early & last) >= 0.75 * len(early)
    assert len(set(ids)) <= 1.5 * per_frame.max()  # few ids beyond the people in view
    for k in range(1, STREET_FRAMES + 1):  # no person boxed twice
        b = xyxy[frame == k]
        iou = iou_matrix(b, b) - np.eye(len(b))
        assert iou.max(initial=0) < 0.8
    cap = cv2.VideoCapture(str(out))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, img = cap.read()
    cap.release()
    assert ok and img.shape == (1080, 1920, 3) and count == STREET_FRAMES


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_carpark_moving_cars_by_background_subtraction(shared: Path) -> None:
    """A white car drives through at ~1-4.5 s, a silver and a red car pass each other at
    ~10.5-15 s (12.5 frames/s). Seen from straight above, COCO detectors call these cars
    "cell phone"; the camera is fixed, so background subtraction finds them instead."""
    video = _video(shared, "carpark_top.mp4")
    cap = cv2.VideoCapture(str(video))
    frames = [cap.read()[1] for _ in range(171)]
    cap.release()
    coco = build_detector("yolox-nano", score_threshold=0.3)
    top = []
    for k in (30, 40, 150, 160, 170):  # a car in view in each
        d = coco.detect(frames[k])
        top.append(coco.class_names[int(d.class_ids[np.argmax(d.scores)])] if len(d) else "-")
    assert top.count("cell phone") >= 3, top
    # a fixed camera and large objects: blobs of at least 4000 pixels, a mask threshold above
    # the camera's exposure changes, closing joins a car's windscreen and body
    bgsub = BgSubDetector(var_threshold=150, min_area=4000, close_size=31)
    tracks = _collect(video, bgsub, "sort")
    assert _inside(tracks, 768, 432)
    spans = sorted((min(k for k, _ in r), max(k for k, _ in r)) for r in tracks.values()
                   if len(r) >= 10)  # fmt: skip
    assert len(spans) == 3, spans
    (a0, a1), (b0, b1), (c0, c1) = spans
    assert a0 <= 20 and 50 <= a1 <= 60  # the white car, alone
    assert 130 <= b0 <= 150 and 130 <= c0 <= 150 and min(b1, c1) >= 170  # two cars together
    assert all(len(r) >= 0.9 * (max(k for k, _ in r) - min(k for k, _ in r) + 1)
               for r in tracks.values() if len(r) >= 10)  # fmt: skip
