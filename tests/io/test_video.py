"""Streaming video input and mp4 output (trackkit.io.video)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.io.video import VideoWriter, is_image_folder, is_mot_sequence, open_video


def _frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    out = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : (i * 3) % w + 1] = (40 * (i % 6), 200, 255 - (10 * i) % 200)
        out.append(img)
    return out


@pytest.mark.parametrize("codec", ["auto", "mp4v"])
def test_write_then_read_mp4(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "sub" / "v.mp4"
    frames = _frames(20)
    with VideoWriter(path, 12.5, codec=codec) as w:
        for f in frames:
            w.write(f)
    assert w.codec_used is not None and w.frames_written == 20
    reader = open_video(path)
    assert reader.info.kind == "file"
    assert (reader.info.width, reader.info.height) == (64, 48)
    assert reader.info.fps == pytest.approx(12.5, rel=1e-3)
    got = list(reader)
    assert [i for i, _ in got] == list(range(1, 21))
    for (_, g), f in zip(got, frames, strict=True):
        assert g.shape == (48, 64, 3) and g.dtype == np.uint8
        assert np.abs(g.astype(int) - f.astype(int)).mean() < 12  # lossy, but the same picture
    assert len(list(reader)) == 20  # iterating again restarts


def test_h264_when_pyav_installed(tmp_path: Path) -> None:
    pytest.importorskip("av")
    with VideoWriter(tmp_path / "h.mp4", 25, codec="h264") as w:
        for f in _frames(5, 63, 47):  # odd sizes are padded for yuv420p
            w.write(f)
    assert w.codec_used is not None and "h264" in w.codec_used
    reader = open_video(tmp_path / "h.mp4")
    assert len(list(reader)) == 5


def test_writer_rejects_size_change_and_bad_frames(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "x.mp4", 10) as w:
        w.write(_frames(1)[0])
        with pytest.raises(TrackkitError, match="size"):
            w.write(np.zeros((10, 10, 3), np.uint8))
        with pytest.raises(TrackkitError):
            w.write(np.zeros((48, 64), np.uint8))
    with pytest.raises(TrackkitError):
        VideoWriter(tmp_path / "y.mp4", 0)


def test_image_folder_sorted_by_name(tmp_path: Path) -> None:
    frames = _frames(3)
    names = ["b_2.png", "a_1.png", "c_3.png"]
    for name, f in zip(names, [frames[1], frames[0], frames[2]], strict=True):
        cv2.imwrite(str(tmp_path / name), f)
    (tmp_path / "notes.txt").write_text("not an image")
    assert is_image_folder(tmp_path) and not is_mot_sequence(tmp_path)
    reader = open_video(tmp_path, fps=7)
    assert reader.info.kind == "images" and reader.info.fps == 7 and len(reader) == 3
    for (i, got), want in zip(reader, frames, strict=True):
        assert np.array_equal(got, want), i


def test_mot_sequence_and_img1(tmp_path: Path) -> None:
    seq = tmp_path / "SEQ-01"
    (seq / "img1").mkdir(parents=True)
    for i, f in enumerate(_frames(4), start=1):
        cv2.imwrite(str(seq / "img1" / f"{i:06d}.jpg"), f)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ-01\nimDir=img1\nframeRate=14\n")
    for src in (seq, seq / "img1"):
        reader = open_video(src)
        assert reader.info.kind == "mot" and reader.info.fps == 14
        assert [i for i, _ in reader] == [1, 2, 3, 4]


def test_missing_empty_and_corrupt_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no such"):
        open_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match="no image"):
        open_video(empty)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(FormatError, match="bad.mp4"):
        list(open_video(bad))
    (tmp_path / "text.avi").write_text("hello")
    with pytest.raises(FormatError):
        list(open_video(tmp_path / "text.avi"))


def test_corrupt_image_mid_folder_keeps_earlier_frames(tmp_path: Path) -> None:
    frames = _frames(3)
    cv2.imwrite(str(tmp_path / "0001.png"), frames[0])
    cv2.imwrite(str(tmp_path / "0002.png"), frames[1])
    (tmp_path / "0003.png").write_bytes(b"\x89PNG broken")
    got = []
    with pytest.raises(FormatError, match="0003.png"):
        for i, _ in open_video(tmp_path):
            got.append(i)
    assert got == [1, 2]


def test_size_change_in_folder_is_an_error(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "1.png"), _frames(1)[0])
    cv2.imwrite(str(tmp_path / "2.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(FormatError, match="2.png"):
        list(open_video(tmp_path))


def test_truncated_video_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for f in _frames(30):
        writer.write(f)
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="t.avi"):
        list(open_video(path))
