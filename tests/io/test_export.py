"""Results formats (mot, jsonl, csv, coco): each round-trips through its reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, FormatError
from trackkit.io.export import FORMATS, SUFFIXES, format_from_path, open_writer, read_results

pytestmark = pytest.mark.timeout(30)

NAMES = ["person", "bicycle", "car"]


def _frames() -> list[tuple[int, Tracks]]:
    rng = np.random.default_rng(3)
    out = []
    for f in range(1, 9):
        n = int(rng.integers(0, 4))
        xy = rng.uniform(0, 500, (n, 2)).round(3)
        wh = rng.uniform(5, 80, (n, 2)).round(3)
        boxes = np.concatenate([xy, xy + wh], 1)
        ids = rng.choice(np.arange(1, 20), n, replace=False)
        classes = rng.integers(-1, 3, n)
        out.append((f, Tracks(boxes, ids, rng.uniform(0, 1, n).round(4), None, classes)))
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    frames = _frames()
    path = tmp_path / f"r{SUFFIXES[fmt]}"
    with open_writer(path, fmt, NAMES, {"name": "v", "width": 640, "height": 480}) as w:
        for f, t in frames:
            w.write(f, t)
    back = read_results(path)
    assert back.num_frames == 8 or (fmt in ("mot", "csv") and back.num_frames <= 8)
    got = back.by_frame()
    for f, t in frames:
        if len(t) == 0:
            assert f not in got
            continue
        r = got[f]
        assert r.track_ids.tolist() == t.track_ids.tolist()
        np.testing.assert_allclose(r.xyxy, t.xyxy, atol=2e-3)
        np.testing.assert_allclose(r.scores, t.scores, atol=1e-4)
        assert r.class_ids is not None and t.class_ids is not None
        assert r.class_ids.tolist() == t.class_ids.tolist()
    if fmt != "mot":  # MOTChallenge text has no place for names
        seen = {int(c) for _, t in frames for c in (t.class_ids if t.class_ids is not None else [])}
        assert back.class_names == {c: NAMES[c] for c in seen if c >= 0}
    # read again without the suffix: the content tells the format
    plain = tmp_path / "noext"
    plain.write_bytes(path.read_bytes())
    again = read_results(plain)
    assert again.ids.tolist() == back.ids.tolist()


def test_formats_as_documented(tmp_path: Path) -> None:
    t = Tracks([[10, 20, 40, 80]], [3], [0.5], None, [0])
    for fmt in FORMATS:
        with open_writer(tmp_path / f"a{SUFFIXES[fmt]}", None, NAMES, {"name": "v"}) as w:
            w.write(1, t)
            w.write(2, Tracks.empty())
    assert (tmp_path / "a.txt").read_text() == "1,3,10.000,20.000,30.000,60.000,0.5,0,-1,-1\n"
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"frame": 1, "tracks": [
        {"id": 3, "bbox": [10.0, 20.0, 30.0, 60.0], "score": 0.5, "class_id": 0,
         "class": "person"}]}  # fmt: skip
    assert json.loads(lines[1]) == {"frame": 2, "tracks": []}
    assert (tmp_path / "a.csv").read_text().splitlines() == [
        "frame,id,x,y,w,h,score,class_id,class",
        "1,3,10.0,20.0,30.0,60.0,0.5,0,person",
    ]
    doc = json.loads((tmp_path / "a.json").read_text())
    assert [im["frame_id"] for im in doc["images"]] == [0, 1]
    ann = doc["annotations"][0]
    assert (ann["instance_id"], ann["category_id"], ann["bbox"]) == (3, 1, [10, 20, 30, 60])
    assert doc["categories"] == [{"id": 1, "name": "person"}]
    assert read_results(tmp_path / "a.json").num_frames == 2


def test_suffixes_and_errors(tmp_path: Path) -> None:
    assert [format_from_path(f"x{s}") for s in (".txt", ".jsonl", ".CSV", ".json", ".mp4")] == [
        "mot", "jsonl", "csv", "coco", None]  # fmt: skip
    with pytest.raises(ConfigError, match="valid: mot, jsonl, csv, coco"):
        open_writer(tmp_path / "x", "xml")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"frame": 1, "tracks": [{"id": 1, "bbox": [1, 2, 3]}]}\n')
    with pytest.raises(FormatError, match="bad.jsonl.*bbox"):
        read_results(bad)
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,id,x,y,w,h,score\n1,2,a,4,5,6,1\n")
    with pytest.raises(FormatError, match="line 2"):
        read_results(bad)
    # a writer that never wrote a frame leaves no file behind
    open_writer(tmp_path / "none.jsonl").close()
    assert not (tmp_path / "none.jsonl").exists()
