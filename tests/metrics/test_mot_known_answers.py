"""trackkit reproduces the official kit (TrackEval) on the shared answer vectors to 1e-6."""

import json
from pathlib import Path

import pytest

from trackkit.io.mot_sequence import load_mot_benchmark
from trackkit.metrics import evaluate_mot

VECTORS = [
    ("TUD", "data/metrics/TUD/gt", "data/metrics/TUD/pred"),
    ("MOT17-tracker-A", "data/MOT17/train", "data/metrics/MOT17-tracker-A/data"),
]


@pytest.mark.shared
@pytest.mark.parametrize(("name", "gt", "pred"), VECTORS, ids=[v[0] for v in VECTORS])
def test_every_field_matches_the_official_kit(shared: Path, name: str, gt: str, pred: str) -> None:
    expected = json.loads(
        (shared / "data" / "metrics" / name / "expected_trackeval.json").read_text()
    )
    data = load_mot_benchmark(
        shared / gt, shared / pred, expected["benchmark"], seqs=sorted(expected["sequences"])
    )
    got = evaluate_mot(data).as_dict()
    pairs = [("combined", expected["combined"], got["combined"])]
    pairs += [(s, v, got["sequences"][s]) for s, v in expected["sequences"].items()]
    checked = 0
    for where, exp, res in pairs:
        for field, value in exp.items():
            assert field in res, f"{where}: missing field {field}"
            assert res[field] == pytest.approx(value, abs=1e-6), f"{where} {field}"
            checked += 1
    assert checked >= 40 * len(pairs)


@pytest.mark.shared
def test_memory_stays_under_500_mb_on_mot17_04(shared: Path) -> None:
    import subprocess
    import sys

    code = (
        "import re\n"
        "from trackkit.io.mot_sequence import load_mot_benchmark\n"
        "from trackkit.metrics import evaluate_mot\n"
        f"data = load_mot_benchmark({str(shared / 'data/MOT17/train')!r}, "
        f"{str(shared / 'data/metrics/MOT17-tracker-A/data')!r}, 'MOT17', ['MOT17-04-FRCNN'])\n"
        "evaluate_mot(data)\n"
        # VmHWM: this process image's own peak (ru_maxrss would include the forking parent's)
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak_mb = int(out.stdout.strip().splitlines()[-1])
    assert peak_mb < 500, f"peak memory {peak_mb} MB; stderr: {out.stderr[-500:]}"
