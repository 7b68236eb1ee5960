"""Real data: trackers on MOT17-09 (public FRCNN detections) scored by trackkit's evaluator.

The floors sit a little under the measured scores (docs/benchmarks.md) so that a regression
in any shared part (Kalman filter, assignment, life cycle) fails loudly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import trackkit.mot as mot
from trackkit.io.mot_sequence import load_mot_sequence
from trackkit.io.mot_txt import MOTResultWriter, read_detections, read_seqinfo
from trackkit.metrics.mot import evaluate_mot
from trackkit.mot.offline import OfflineLinker

SEQ = "MOT17-09-FRCNN"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "offline", "floor"),
    [
        ("sort", False, 0.49),
        ("bytetrack", False, 0.47),
        ("ocsort", False, 0.47),
        ("deepsort", False, 0.47),
        ("botsort", False, 0.49),
        ("botsort", True, 0.52),
    ],
)
def test_mot17_09_hota_floor(
    shared: Path, tmp_path: Path, name: str, offline: bool, floor: float
) -> None:
    seq_dir = shared / "data" / "MOT17" / "train" / SEQ
    info = read_seqinfo(seq_dir / "seqinfo.ini")
    dets = read_detections(seq_dir / "det" / "det.txt", info.seq_length)
    tracker = mot.build(name, frame_rate=info.frame_rate)
    out = [tracker.update(d) for d in dets]
    if offline:
        out = OfflineLinker(frame_rate=info.frame_rate).run(out)
    with MOTResultWriter(tmp_path / f"{SEQ}.txt") as w:
        for f, tr in enumerate(out, start=1):
            w.write(f, tr.track_ids, tr.xyxy, tr.scores)
    result = evaluate_mot([load_mot_sequence(seq_dir, tmp_path / f"{SEQ}.txt", "MOT17")])
    scores = result.combined.as_dict()
    assert scores["HOTA"] >= floor, scores
