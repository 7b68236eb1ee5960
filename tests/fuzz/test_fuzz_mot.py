"""Fuzzing the MOTChallenge readers beyond results files (test_fuzz_mot_results.py):
detections, ground truth, ``seqinfo.ini`` and a whole sequence's ground truth + results."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from fuzzlib import FUZZ, clean, ini_text, table
from hypothesis import given
from hypothesis import strategies as st

from trackkit.io.mot_sequence import load_mot_sequence
from trackkit.io.mot_txt import read_detections, read_mot_txt, read_seqinfo

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

_names = itertools.count()


def _file(folder: Path, data: bytes | str, name: str) -> Path:
    sub = folder / f"case{next(_names)}"
    sub.mkdir()
    p = sub / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


@FUZZ
@given(st.one_of(st.binary(max_size=200), table(st.sampled_from([7, 10, 9, 6]), [",", " "])))
def test_detection_files(tmp_path: Path, data: bytes | str) -> None:
    p = _file(tmp_path, data, "det.txt")
    dets = clean(lambda: read_detections(p), p)
    if dets is not None:
        for d in dets:
            assert np.all(np.isfinite(d.xyxy)) and np.all(d.xyxy[:, 2:] >= d.xyxy[:, :2])
            assert np.all(np.isfinite(d.scores))


@FUZZ
@given(st.one_of(st.binary(max_size=200), table(st.sampled_from([9, 10, 8]), [",", " "])))
def test_ground_truth_files(tmp_path: Path, data: bytes | str) -> None:
    p = _file(tmp_path, data, "gt.txt")
    t = clean(lambda: read_mot_txt(p, "gt"), p)
    if t is not None:
        assert np.all(t.frames >= 1) and np.all(t.ids >= 0) and np.all(np.isfinite(t.xyxy))
        assert len(t.lines) == len(t) and np.all(np.diff(t.lines) > 0)


@FUZZ
@given(st.one_of(st.binary(max_size=150), ini_text()))
def test_seqinfo(tmp_path: Path, data: bytes | str) -> None:
    p = _file(tmp_path, data, "seqinfo.ini")
    info = clean(lambda: read_seqinfo(p), p)
    if info is not None:
        assert info.seq_length >= 0 and np.isfinite(info.frame_rate) and info.frame_rate >= 0
        assert isinstance(info.im_dir, str) and isinstance(info.im_ext, str)


@FUZZ
@given(
    table(st.just(9), [","], max_rows=6),
    table(st.sampled_from([10, 6]), [","], max_rows=6),
    st.integers(1, 5),
)
def test_ground_truth_and_results_of_a_sequence(
    tmp_path: Path, gt: str, pred: str, length: int
) -> None:
    seq = tmp_path / f"MOT17-{next(_names):02d}"
    (seq / "gt").mkdir(parents=True)
    (seq / "gt" / "gt.txt").write_text(gt)
    (seq / "seqinfo.ini").write_text(f"[Sequence]\nname={seq.name}\nseqLength={length}\n")
    result = seq / "result.txt"
    result.write_text(pred)
    data = clean(lambda: load_mot_sequence(seq, result, "MOT17"), seq)
    if data is not None:
        assert data.num_frames == length
        for sim in data.similarity:
            assert np.all((sim >= 0) & (sim <= 1))
