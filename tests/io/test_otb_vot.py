"""OTB / VOT / GOT-10k readers: file-format edge cases and the shared sequences."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.got10k import list_got10k_split, load_got10k_sequence
from trackkit.io.images import list_images, read_image
from trackkit.io.otb import (
    is_otb_sequence,
    load_otb_sequences,
    read_otb_boxes,
    read_reference_results,
    write_otb_boxes,
)
from trackkit.io.vot import load_vot_sequence, polygon_to_box, read_vot_regions


def _images(folder: Path, n: int, names: str = "{:04d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    img = np.zeros((24, 32, 3), np.uint8)
    for i in range(1, n + 1):
        cv2.imwrite(str(folder / names.format(i)), img)


@pytest.mark.parametrize(
    "text",
    [
        "11,21,30,40\n12,22,30,40\n",
        "11\t21\t30\t40\n12\t22\t30\t40",
        "11 21 30 40\r\n12  22 30 40 \r\n\r\n",
        "11, 21, 30, 40\n12,\t22 ,30,40\n",
    ],
)
def test_otb_delimiters(tmp_path: Path, text: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_text(text)
    b = read_otb_boxes(p)
    # 1-based x, y -> continuous 0-based xyxy
    np.testing.assert_allclose(b, [[10, 20, 40, 60], [11, 21, 41, 61]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3,4\n1,2,x,4\n", r"gt.txt, line 2, column 3"),
        ("1,2,3,4\n1,2,3\n", "line 2"),
        ("1,2,3,4\n\n1,2,3,4\n", "blank line"),
        ("\n", "no annotation"),
    ],
)
def test_otb_bad_lines_name_file_line_column(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_text(text)
    with pytest.raises(FormatError, match=message):
        read_otb_boxes(p)
    with pytest.raises(DataNotFoundError):
        read_otb_boxes(tmp_path / "missing.txt")


def test_otb_zero_boxes_become_nan(tmp_path: Path) -> None:
    p = tmp_path / "gt.txt"
    p.write_text("1,1,5,5\n0,0,0,0\nNaN,NaN,NaN,NaN\n3,3,0,4\n")
    b = read_otb_boxes(p)
    assert np.isfinite(b[0]).all() and np.isnan(b[1:]).all()


def test_otb_sequence_fewer_annotations_than_images(tmp_path: Path) -> None:
    seq = tmp_path / "Seq"
    _images(seq / "img", 5)
    (seq / "groundtruth_rect.txt").write_text("1,1,4,4\n2,2,4,4\n3,3,4,4\n")
    assert is_otb_sequence(seq)
    [s] = load_otb_sequences(seq)
    assert s.name == "Seq" and len(s) == 3 and s.frames[-1].name == "0003.jpg"
    (seq / "groundtruth_rect.txt").write_text("1,1,4,4\n" * 6)
    with pytest.raises(FormatError, match="only 5 images"):
        load_otb_sequences(seq)
    (seq / "groundtruth_rect.txt").write_text("0,0,0,0\n1,1,4,4\n")
    with pytest.raises(FormatError, match="first frame"):
        load_otb_sequences(seq)


def test_otb_two_targets_and_natural_order(tmp_path: Path) -> None:
    seq = tmp_path / "Jog"
    _images(seq / "img", 12, names="{}.jpg")
    (seq / "groundtruth_rect.1.txt").write_text("1,1,4,4\n" * 12)
    (seq / "groundtruth_rect.2.txt").write_text("5 5 4 4\n" * 12)
    s1, s2 = load_otb_sequences(seq)
    assert (s1.name, s2.name) == ("Jog-1", "Jog-2")
    assert [f.name for f in s1.frames[:3]] == ["1.jpg", "2.jpg", "3.jpg"]
    assert s1.frames[-1].name == "12.jpg"
    assert read_image(s1.frames[0]).shape == (24, 32, 3)
    assert read_image(s1.frames[0], gray=True).shape == (24, 32)


def test_write_read_roundtrip_and_reference_json(tmp_path: Path) -> None:
    boxes = np.array([[10.5, 20.0, 40.25, 60.0], [0.0, 0.0, 5.0, 5.0]])
    write_otb_boxes(tmp_path / "out" / "res.txt", boxes)
    assert (tmp_path / "out" / "res.txt").read_text().splitlines()[0] == "11.50,21.00,29.75,40.00"
    np.testing.assert_allclose(read_otb_boxes(tmp_path / "out" / "res.txt"), boxes)
    j = tmp_path / "r.json"
    j.write_text('[{"res": [[11, 21, 30, 40], [1, 1, 0, 0]]}]')
    r = read_reference_results(j)
    np.testing.assert_allclose(r[0], [10, 20, 40, 60])
    assert np.isnan(r[1]).all()
    j.write_text("{oops")
    with pytest.raises(FormatError, match="r.json, line 1"):
        read_reference_results(j)


def test_polygon_conversions() -> None:
    # A square of side 10 rotated by 45 degrees around (50, 50).
    d = 5 * np.sqrt(2)
    poly = [[50, 50 - d, 50 + d, 50, 50, 50 + d, 50 - d, 50]]
    np.testing.assert_allclose(polygon_to_box(poly, "bbox"), [[50 - d, 50 - d, 50 + d, 50 + d]])
    area = polygon_to_box(poly, "area")[0]
    assert (area[2] - area[0]) * (area[3] - area[1]) == pytest.approx(100.0)
    np.testing.assert_allclose((area[:2] + area[2:]) / 2, [50, 50])


def test_vot_sequence(tmp_path: Path) -> None:
    seq = tmp_path / "bag"
    _images(seq / "color", 3, names="{:08d}.jpg")
    (seq / "groundtruth.txt").write_text(
        "1,1,9,1,9,5,1,5\nnan,nan,nan,nan,nan,nan,nan,nan\n2,2,10,2,10,6,2,6\n"
    )
    s = load_vot_sequence(seq)
    assert len(s) == 3 and s.polygons is not None and s.polygons.shape == (3, 8)
    np.testing.assert_allclose(s.boxes[0], [1, 1, 9, 5])
    assert np.isnan(s.boxes[1]).all()
    (seq / "groundtruth.txt").write_text("1,1,8,4\n")
    boxes, polys = read_vot_regions(seq / "groundtruth.txt")
    assert polys is None
    np.testing.assert_allclose(boxes, [[1, 1, 9, 5]])
    (seq / "groundtruth.txt").write_text("m1,2,3\n")
    with pytest.raises(FormatError, match="mask"):
        load_vot_sequence(seq)


def test_got10k_sequence(tmp_path: Path) -> None:
    split = tmp_path / "val"
    seq = split / "GOT-10k_Val_000001"
    _images(seq, 4, names="{:08d}.jpg")
    (seq / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n")
    (seq / "absence.label").write_text("0\n0\n1\n0\n")
    (split / "list.txt").write_text("GOT-10k_Val_000001\n")
    [folder] = list_got10k_split(split)
    s = load_got10k_sequence(folder)
    np.testing.assert_allclose(s.boxes[0], [1, 2, 4, 6])  # continuous 0-based
    assert np.isnan(s.boxes[2]).all() and np.isfinite(s.boxes[3]).all()
    (seq / "groundtruth.txt").write_text("1,2,3,4\n")
    (seq / "absence.label").unlink()
    s = load_got10k_sequence(seq)  # test split: first frame only
    assert len(s) == 4 and np.isnan(s.boxes[1:]).all()


def test_list_images_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        list_images(tmp_path / "nope")
    with pytest.raises(DataNotFoundError, match="no image"):
        list_images(tmp_path)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FormatError, match="cannot decode"):
        read_image(tmp_path / "bad.jpg")


def test_shared_sequences(shared: Path) -> None:
    otb = shared / "data" / "otb"
    [car] = load_otb_sequences(otb / "Car4")
    assert len(car) == 659
    np.testing.assert_allclose(car.boxes[0], [69, 50, 176, 137])  # 70,51,107,87 1-based
    jog = load_otb_sequences(otb / "Jogging")
    assert [s.name for s in jog] == ["Jogging-1", "Jogging-2"]
    bag = load_vot_sequence(shared / "data" / "vot" / "bag")
    assert len(bag) == 196 and bag.polygons is not None
