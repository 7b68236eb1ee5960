"""Fuzzing the single-object tracking annotation readers: OTB (every delimiter, 1- and 0-based),
VOT (4 and 8 values, NaN frames), GOT-10k (ground truth + absence labels), whole sequence
folders. Each input gives boxes that keep the documented invariants or one error naming the
file (and the line)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from fuzzlib import FUZZ, clean, table
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from trackkit.io.got10k import load_got10k_sequence
from trackkit.io.otb import (
    load_otb_sequences,
    read_otb_boxes,
    read_reference_results,
    write_otb_boxes,
)
from trackkit.io.vot import load_vot_sequence, read_vot_regions

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

_names = itertools.count()


def _file(folder: Path, data: bytes | str, name: str = "gt.txt") -> Path:
    sub = folder / f"case{next(_names)}"
    sub.mkdir()
    p = sub / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def _valid_boxes(boxes: NDArray[np.float64]) -> None:
    """``(N, 4)`` xyxy rows: all NaN (no annotation) or finite with positive size."""
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and boxes.dtype == np.float64
    nan = np.isnan(boxes).all(axis=1)
    ok = boxes[~nan]
    assert np.all(np.isfinite(ok))
    assert np.all(ok[:, 2] > ok[:, 0]) and np.all(ok[:, 3] > ok[:, 1])


def _images(folder: Path, n: int, digits: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    img = np.zeros((8, 8, 3), np.uint8)
    for k in range(1, n + 1):
        cv2.imwrite(str(folder / f"{k:0{digits}d}.jpg"), img)


@FUZZ
@given(st.binary(max_size=200))
def test_otb_random_bytes(tmp_path: Path, data: bytes) -> None:
    p = _file(tmp_path, data)
    boxes = clean(lambda: read_otb_boxes(p), p)
    if boxes is not None:
        _valid_boxes(boxes)


@FUZZ
@given(table(st.integers(0, 6), [",", "\t", " ", ", ", ";", " \t"]), st.booleans())
def test_otb_random_tables(tmp_path: Path, text: str, one_based: bool) -> None:
    p = _file(tmp_path, text)
    boxes = clean(lambda: read_otb_boxes(p, one_based=one_based), p)
    if boxes is not None:
        _valid_boxes(boxes)
        assert len(boxes) == len(text.rstrip("\r\n").splitlines())


xywh = st.tuples(
    st.floats(-500, 2000, allow_nan=False),
    st.floats(-500, 2000, allow_nan=False),
    st.floats(1, 500, allow_nan=False),
    st.floats(1, 500, allow_nan=False),
)


@FUZZ
@given(st.lists(xywh, min_size=1, max_size=10), st.sampled_from([",", "\t", " "]))
def test_otb_valid_files_read_exactly_in_both_conventions(
    tmp_path: Path, rows: list[tuple[float, float, float, float]], sep: str
) -> None:
    text = "\n".join(sep.join(f"{v:.2f}" for v in r) for r in rows) + "\n"
    p = _file(tmp_path, text)
    one = read_otb_boxes(p, one_based=True)
    zero = read_otb_boxes(p, one_based=False)
    want = np.array([[float(f"{v:.2f}") for v in r] for r in rows])
    assert np.allclose(zero[:, :2], want[:, :2]) and np.allclose(one[:, :2], want[:, :2] - 1)
    assert np.allclose(zero[:, 2:] - zero[:, :2], want[:, 2:])
    out = p.parent / "back.txt"
    write_otb_boxes(out, one)  # 1-based again: the same numbers come back
    assert np.allclose(read_otb_boxes(out), one, atol=0.006)


@FUZZ
@given(table(st.sampled_from([4, 8, 8, 5, 6]), [",", " ", "\t"]))
def test_vot_random_regions(tmp_path: Path, text: str) -> None:
    p = _file(tmp_path, text, "groundtruth.txt")
    out = clean(lambda: read_vot_regions(p), p)
    if out is not None:
        boxes, polygons = out
        _valid_boxes(boxes)
        assert polygons is None or polygons.shape == (len(boxes), 8)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.lists(st.floats(0, 300, allow_nan=False), min_size=8, max_size=8),
            st.just([float("nan")] * 8),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["bbox", "area"]),
)
def test_vot_polygons_with_nan_frames(tmp_path: Path, rows: list[list[float]], mode: str) -> None:
    p = _file(tmp_path, "\n".join(",".join(repr(v) for v in r) for r in rows), "groundtruth.txt")
    boxes, polygons = read_vot_regions(p, mode)  # type: ignore[arg-type]
    _valid_boxes(boxes)
    assert polygons is not None and polygons.shape == (len(rows), 8)
    for row, box in zip(rows, boxes):
        if np.isnan(row).any():
            assert np.isnan(box).all()
        elif not np.isnan(box).all() and mode == "bbox":
            assert box[0] == min(row[0::2]) and box[3] == max(row[1::2])


@FUZZ
@given(
    table(st.sampled_from([4, 4, 4, 3, 8]), [","], max_rows=5),
    st.one_of(st.none(), table(st.sampled_from([1, 1, 2]), [","], max_rows=5)),
    st.integers(1, 5),
)
def test_got10k_sequence(tmp_path: Path, gt: str, absence: str | None, n_images: int) -> None:
    seq = tmp_path / f"GOT-10k_{next(_names)}"
    _images(seq, n_images, digits=8)
    (seq / "groundtruth.txt").write_text(gt)
    if absence is not None:
        (seq / "absence.label").write_text(absence)
    s = clean(lambda: load_got10k_sequence(seq), seq)
    if s is not None:
        _valid_boxes(s.boxes)
        assert np.all(np.isfinite(s.boxes[0])) and len(s.frames) == len(s.boxes) <= n_images


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            ["groundtruth_rect.txt", "groundtruth_rect.1.txt", "groundtruth_rect.2.txt"]
        ),  # fmt: skip
        table(st.sampled_from([4, 4, 4, 2]), [",", "\t", " "], max_rows=5),
        min_size=1,
    ),
    st.integers(1, 5),
    st.sampled_from([4, 2, 8]),
)
def test_otb_sequence_folders(
    tmp_path: Path, files: dict[str, str], n_images: int, digits: int
) -> None:
    seq = tmp_path / f"Seq{next(_names)}"
    _images(seq / "img", n_images, digits)
    for name, text in files.items():
        (seq / name).write_text(text)
    out = clean(lambda: load_otb_sequences(seq), seq)
    if out is not None:
        assert 1 <= len(out) <= 2
        for s in out:
            _valid_boxes(s.boxes)
            assert np.all(np.isfinite(s.boxes[0])) and len(s.frames) <= n_images


@FUZZ
@given(table(st.sampled_from([4, 8]), [",", "\t"], max_rows=4), st.integers(1, 4), st.booleans())
def test_vot_sequence_folders(tmp_path: Path, gt: str, n_images: int, color: bool) -> None:
    seq = tmp_path / f"vot{next(_names)}"
    _images(seq / "color" if color else seq, n_images, 8)
    (seq / "groundtruth.txt").write_text(gt)
    s = clean(lambda: load_vot_sequence(seq), seq)
    if s is not None:
        _valid_boxes(s.boxes)
        assert np.all(np.isfinite(s.boxes[0])) and len(s.frames) <= n_images


@FUZZ
@given(st.binary(max_size=120), st.binary(max_size=40), st.sampled_from(["gt", "absence", "vot"]))
def test_random_bytes_in_got10k_and_vot_files(
    tmp_path: Path, data: bytes, label: bytes, which: str
) -> None:
    seq = tmp_path / f"bytes{next(_names)}"
    _images(seq, 2, digits=8)
    if which == "vot":
        (seq / "groundtruth.txt").write_bytes(data)
        s = clean(lambda: load_vot_sequence(seq), seq)
    else:
        (seq / "groundtruth.txt").write_bytes(data if which == "gt" else b"1,1,4,4\n")
        (seq / "absence.label").write_bytes(label if which == "absence" else b"0\n")
        s = clean(lambda: load_got10k_sequence(seq), seq)
    if s is not None:
        _valid_boxes(s.boxes)


json_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(-10, 500), st.integers(-5, 500), st.text(max_size=3)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(["res", "x"]), inner)
    ),
    max_leaves=20,
)


@st.composite
def res_lists(draw: st.DrawFn) -> list[list[float]]:
    width = draw(st.integers(2, 5))
    row = st.lists(st.floats(0, 300), min_size=width, max_size=width)
    return draw(st.lists(row, min_size=1, max_size=6))


@FUZZ
@given(st.one_of(json_value, res_lists()))
def test_otb_reference_json(tmp_path: Path, value: object) -> None:
    import json

    payload = value if isinstance(value, dict) else [{"res": value}]
    p = _file(tmp_path, json.dumps(payload), "Car4.json")
    boxes = clean(lambda: read_reference_results(p), p)
    if boxes is not None:
        _valid_boxes(boxes)
        res = payload["res"] if isinstance(payload, dict) else value
        assert np.asarray(res, dtype=float).shape == (len(boxes), 4) or len(boxes) == 0
