"""Fuzzing video sources: zero bytes, truncated or damaged containers, text or an image named
``.mp4``, image folders with mixed sizes and broken images. Reading to the end gives frames of
one size, or one error naming the file."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from fuzzlib import EXAMPLES, FUZZ, clean, ini_text
from hypothesis import given, settings
from hypothesis import strategies as st

from trackkit.io.video import open_video

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

_names = itertools.count()
FEW = settings(FUZZ, max_examples=max(12, EXAMPLES // 3))


def _read_all(source: Path) -> list[tuple[int, int]]:
    """Open ``source`` and decode every frame; the frame sizes."""
    with open_video(source) as reader:
        sizes = []
        for k, (i, frame) in enumerate(reader, start=1):
            assert i == k and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            sizes.append(frame.shape[:2])
        return sizes


def _check(source: Path, *names: Path) -> list[tuple[int, int]] | None:
    sizes = clean(lambda: _read_all(source), source, *names)
    if sizes is not None:
        assert len(set(sizes)) <= 1, f"frames of several sizes from {source}"
    return sizes


@pytest.fixture(scope="module")
def mp4_bytes(shared: Path) -> bytes:
    """A short real H.264 mp4 (the first 300 kB of a shared video are enough)."""
    return (shared / "data" / "videos" / "room_entrance_one_by_one.mp4").read_bytes()


def _png(h: int, w: int) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


@FEW
@given(
    st.sampled_from(["zero", "text", "png", "random", "trunc", "damaged"]),
    st.floats(0, 1),
    st.binary(max_size=200),
)
def test_video_files(tmp_path: Path, mp4_bytes: bytes, kind: str, frac: float, junk: bytes) -> None:
    data = {
        "zero": b"",
        "text": b"frame,id,x,y,w,h\n1,1,2,3,4,5\n" * 3,
        "png": _png(12, 16),
        "random": junk,
        "trunc": mp4_bytes[: int(len(mp4_bytes) * frac)],
        "damaged": mp4_bytes[: int(len(mp4_bytes) * frac)] + junk + mp4_bytes[-2000:],
    }[kind]
    p = tmp_path / f"v{next(_names)}.mp4"
    p.write_bytes(data)
    sizes = _check(p)
    if kind in ("zero", "text", "random"):
        assert sizes is None, f"{kind} named .mp4 read as {len(sizes)} frames"


@FEW
@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from([8, 9, 16]), st.sampled_from([8, 12])).map(
                lambda hw: _png(*hw)
            ),
            st.binary(max_size=40),
            st.just(b""),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_image_folders(tmp_path: Path, images: list[bytes]) -> None:
    folder = tmp_path / f"frames{next(_names)}"
    folder.mkdir()
    for k, data in enumerate(images, start=1):
        (folder / f"{k:06d}.png").write_bytes(data)
    _check(folder, *folder.iterdir())


@FUZZ
@given(ini_text(), st.booleans())
def test_mot_sequence_folders_as_video(tmp_path: Path, ini: str, via_img1: bool) -> None:
    """A MOTChallenge sequence (``seqinfo.ini`` + ``img1/``) opened as a video: a random
    ``seqinfo.ini`` gives frames at a positive frame rate or one error naming the file."""
    seq = tmp_path / f"MOT-{next(_names)}"
    (seq / "img1").mkdir(parents=True)
    (seq / "img1" / "000001.png").write_bytes(_png(8, 8))
    (seq / "seqinfo.ini").write_text(ini)
    source = seq / "img1" if via_img1 else seq

    def read() -> float:
        with open_video(source) as reader:
            list(reader)
            return reader.info.fps

    fps = clean(read, seq)
    assert fps is None or 0 < fps < float("inf")
