from pathlib import Path

import numpy as np
import pytest

from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.mot_txt import (
    MOTResultWriter,
    read_detections,
    read_mot_txt,
    read_seqinfo,
    write_mot_results,
)


def write(tmp_path: Path, text: str | bytes, name: str = "f.txt") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_ground_truth_nine_columns(tmp_path: Path) -> None:
    p = write(tmp_path, "1,1,10,20,30,40,1,1,0.5\n2,1,11,21,30,40,0,7,1\n")
    t = read_mot_txt(p, "gt")
    assert t.frames.tolist() == [1, 2]
    np.testing.assert_allclose(t.xyxy[0], [10, 20, 40, 60])
    assert t.conf.tolist() == [1, 0] and t.classes.tolist() == [1, 7]
    assert t.visibility.tolist() == [0.5, 1.0]
    assert t.lines.tolist() == [1, 2]


def test_mot15_ground_truth_has_world_coordinates_not_classes(tmp_path: Path) -> None:
    t = read_mot_txt(write(tmp_path, "1,1,88,99,61.08,218.56,1,4.4852,5.5016,0\n"), "gt")
    assert t.classes.tolist() == [-1]


@pytest.mark.parametrize(
    "text",
    [
        "1,3,1.5,2.5,10,20,0.9,-1,-1,-1\n",
        "1 3 1.5 2.5 10 20 0.9 -1 -1 -1\n",
        "1\t3\t1.5\t2.5\t10\t20\t0.9\t-1\t-1\t-1\n",
        "1, 3, 1.5, 2.5, 10, 20, 0.9, -1, -1, -1\r\n",
        "\n1,3,1.5,2.5,10,20,0.9,-1,-1,-1,\n\n",
        "\ufeff1,3,1.5,2.5,10,20,0.9,-1,-1,-1",
    ],
)
def test_delimiters_blank_lines_crlf_bom_trailing_comma(tmp_path: Path, text: str) -> None:
    t = read_mot_txt(write(tmp_path, text.encode("utf-8")), "result")
    assert len(t) == 1 and t.ids[0] == 3
    np.testing.assert_allclose(t.xyxy[0], [1.5, 2.5, 11.5, 22.5])
    assert t.conf[0] == pytest.approx(0.9)


def test_results_six_columns_and_empty_file(tmp_path: Path) -> None:
    t = read_mot_txt(write(tmp_path, "1,3,0,0,10,10\n"), "result")
    assert t.conf.tolist() == [1.0]
    empty = read_mot_txt(write(tmp_path, "", "e.txt"), "result")
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4)
    blank = read_mot_txt(write(tmp_path, "\n  \n", "b.txt"), "result")
    assert len(blank) == 0


def test_detections_seven_and_ten_columns_frames_out_of_order(tmp_path: Path) -> None:
    p = write(tmp_path, "3,-1,0,0,5,5,0.5\n1,-1,1,1,5,5,0.9\n1,-1,2,2,5,5,0.8\n")
    dets = read_detections(p, num_frames=4)
    assert [len(d) for d in dets] == [2, 0, 1, 0]
    assert dets[0].scores.tolist() == [0.9, 0.8]  # file order kept within a frame
    ten = write(tmp_path, "1,-1,1,1,5,5,0.9,-1,-1,-1\n", "d10.txt")
    assert len(read_detections(ten)[0]) == 1


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("1,1,0,0,5,5,1,-1,-1,-1\n1,1,0,0,5\n", 2, None, "5 columns"),
        ("1,1,0,0,5,5,1,-1,-1,-1\n1,x,0,0,5,5,1,-1,-1,-1\n", 2, 2, "not a number"),
        ("1,1,0,0,nan,5,1,-1,-1,-1\n", 1, 5, "not a finite number"),
        ("1,1,0,0,5,inf,1,-1,-1,-1\n", 1, 6, "not a finite number"),
        ("1,1,0,0,-5,5,1,-1,-1,-1\n", 1, 5, "negative width"),
        ("1,1,0,0,5,-0.5,1,-1,-1,-1\n", 1, 6, "negative height"),
        ("1.5,1,0,0,5,5,1,-1,-1,-1\n", 1, 1, "frame must be an integer"),
        ("0,1,0,0,5,5,1,-1,-1,-1\n", 1, 1, "out of range"),
        ("1,1e30,0,0,5,5,1,-1,-1,-1\n", 1, 2, "out of range"),
        ("1,-3,0,0,5,5,1,-1,-1,-1\n", 1, 2, "out of range"),
        ("1,1,,0,5,5,1,-1,-1,-1\n", 1, 3, "empty value"),
        ("1,1,0,0,5,5,1,-1,-1,-1\n1,1,0,0,5,5,1,-1,-1\n", 2, None, "earlier lines have 10"),
    ],
)
def test_malformed_results_name_file_line_column(
    tmp_path: Path, text: str, line: int, column: int | None, message: str
) -> None:
    p = write(tmp_path, text)
    with pytest.raises(FormatError) as info:
        read_mot_txt(p, "result")
    err = info.value
    assert err.path == str(p) and err.line == line and err.column == column
    assert message in str(err) and str(p) in str(err)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not a text file"):
        read_mot_txt(write(tmp_path, b"1,2\xff\xfe,3\n"), "result")
    with pytest.raises(DataNotFoundError):
        read_mot_txt(tmp_path / "missing.txt", "result")
    with pytest.raises(FormatError, match="folder"):
        read_mot_txt(tmp_path, "result")


def test_parser_exact_like_python_float(tmp_path: Path) -> None:
    tokens = [
        "1339.2000732421875",
        "0.1",
        "-0.30000000000000004",
        "1e3",
        "+2",
        "123456789.123456",
        "9007199254740993",
        ".5",
        "-7.",
    ]
    rows = "\n".join(f"1,{i + 1},{t},0,1,1,1,-1,-1,-1" for i, t in enumerate(tokens))
    t = read_mot_txt(write(tmp_path, rows), "result")
    assert [x for x in t.xyxy[:, 0]] == [float(x) for x in tokens]


def test_writer_round_trip_and_streaming(tmp_path: Path) -> None:
    p = tmp_path / "out" / "seq.txt"
    with MOTResultWriter(p) as w:
        w.write(1, [5, 6], [[0, 0, 10, 20], [1.5, 2.5, 3.5, 4.5]], [0.9, 0.8])
        assert len(read_mot_txt(p, "result")) == 2  # flushed before the file is closed
        w.write(2, [], np.zeros((0, 4)))
        w.write(3, [5], [[1, 1, 2, 2]])
    t = read_mot_txt(p, "result")
    assert t.frames.tolist() == [1, 1, 3] and t.ids.tolist() == [5, 6, 5]
    np.testing.assert_allclose(t.xyxy[1], [1.5, 2.5, 3.5, 4.5])
    q = tmp_path / "all.txt"
    write_mot_results(q, [1, 2], [1, 1], [[0, 0, 4, 4], [1, 1, 5, 5]])
    assert read_mot_txt(q, "result").frames.tolist() == [1, 2]


def test_seqinfo(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "[Sequence]\nname=S\nframeRate=25\nseqLength=71\nimWidth=640\nimHeight=480\nimExt=.jpg\n",
        "seqinfo.ini",
    )
    info = read_seqinfo(p)
    assert (info.name, info.seq_length, info.frame_rate, info.im_width) == ("S", 71, 25.0, 640)
    with pytest.raises(FormatError, match="seqLength"):
        read_seqinfo(write(tmp_path, "[Sequence]\nname=S\n", "bad.ini"))
    with pytest.raises(FormatError, match="section"):
        read_seqinfo(write(tmp_path, "hello\n", "worse.ini"))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("inf", "from 0 to"),  # found by a random fuzz draw in CI
        ("1.8446744073709552e+19", "from 0 to"),  # ditto: too large for an int64
        ("-3", "from 0 to"),
        ("nan", "from 0 to"),
        ("71.5", "whole number"),
        ("seventy", "not a number"),
    ],
)
def test_seqinfo_bad_numbers(tmp_path: Path, value: str, why: str) -> None:
    p = write(tmp_path, f"[Sequence]\nname=S\nseqLength={value}\n", "seqinfo.ini")
    with pytest.raises(FormatError, match=why) as err:
        read_seqinfo(p)
    assert str(p) in str(err.value) and "seqLength" in str(err.value)
    assert read_seqinfo(write(tmp_path, "[Sequence]\nseqLength=71.0\n", "ok.ini")).seq_length == 71
