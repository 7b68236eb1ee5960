"""`trackkit report` for SOT and ReID evaluations, opened in a real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.io.otb import write_otb_boxes
from trackkit.metrics.rank import evaluate_rank
from trackkit.report.browser import Browser
from trackkit.report.reid import reid_eval_json, worst_queries
from trackkit.report.sot import lost_frames

pytestmark = pytest.mark.timeout(120)

N = 16


def target(f: int) -> tuple[float, float, float, float]:
    """``x1, y1, x2, y2`` of the synthetic target at 0-based frame ``f``."""
    return (20.0 + 3 * f, 30.0 + f, 52.0 + 3 * f, 62.0 + f)


@pytest.fixture(scope="module")
def sot_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """OTB sequence ``Blob`` (a bright square moving on noise) and two results folders:
    ``exact`` (the ground truth) and ``drift`` (off the target in frames 6-8 and 12)."""
    root = tmp_path_factory.mktemp("sot")
    seq = root / "data" / "Blob"
    (seq / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    boxes = np.array([target(f) for f in range(N)])
    for f in range(N):
        img = rng.integers(0, 80, (120, 160, 3), dtype=np.uint8)
        x1, y1, x2, y2 = (int(v) for v in boxes[f])
        img[y1:y2, x1:x2] = 230
        cv2.imwrite(str(seq / "img" / f"{f + 1:04d}.jpg"), img)
    write_otb_boxes(seq / "groundtruth_rect.txt", boxes)
    drift = boxes.copy()
    drift[[5, 6, 7, 11]] += [90, 50, 90, 50]
    drift[[5, 6, 7, 11], 2:] = np.minimum(drift[[5, 6, 7, 11], 2:], [159, 119])
    write_otb_boxes(root / "exact" / "Blob.txt", boxes)
    write_otb_boxes(root / "drift" / "Blob.txt", drift)
    return {"root": root, "data": root / "data", "exact": root / "exact", "drift": root / "drift"}


def test_lost_frames_runs() -> None:
    ious = np.array([0.9, 0.0, 0.0, 0.5, 0.0, 0.0, 0.3, 0.0])
    valid = np.array([True, True, True, True, True, False, True, True])
    assert lost_frames(ious, valid) == [(1, 2), (4, 1), (7, 1)]


def test_sot_page(browser: Browser, sot_data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sot.html"
    sot = f"{sot_data['exact']},{sot_data['drift']}"
    assert main(["report", "--sot", sot, "--gt", str(sot_data["data"]), "--out", str(out)]) == 0
    load = browser.open(out)
    assert load.errors == []
    # success + precision plots with one line per tracker, and the per-frame IoU plot
    assert browser.evaluate("document.querySelectorAll('svg.plot').length") == 3
    assert browser.evaluate("document.querySelectorAll('svg.plot polyline').length") == 6
    from trackkit.io.otb import read_reference_results
    from trackkit.metrics.otb import evaluate_sequence
    from trackkit.sot.runner import find_sequences

    (seq,) = find_sequences(sot_data["data"])
    exact, want = (
        evaluate_sequence(read_reference_results(sot_data[k] / "Blob.txt"), seq.boxes)
        for k in ("exact", "drift")
    )
    cells = browser.evaluate(
        "Array.from(document.querySelectorAll('#sot-table tbody tr')[1].cells).map(c =>"
        " c.dataset.value === undefined ? c.textContent : JSON.parse(c.dataset.value))"
    )
    assert cells[0] == "Blob" and cells[2] == exact.success_auc == 20 / 21
    assert cells[5] == want.success_auc < exact.success_auc
    assert cells[6] == want.precision_20px and cells[7] == "2"  # drift: lost twice
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#sot-lost tbody tr')).map(r => r.textContent)"
    )
    assert rows == ["63●", "121●"]  # frames 6 (3 frames lost) and 12 (1)
    browser.evaluate("document.querySelector('#sot-lost tbody tr').click()")
    src = browser.evaluate("document.querySelector('#sot-viewer img').src")
    assert src.startswith("data:image/jpeg;base64,")
    assert browser.errors() == []


def test_eval_sot_report(browser: Browser, sot_data: dict[str, Path], tmp_path: Path) -> None:
    """`trackkit eval sot --report` writes the page straight from the run, with the printed
    numbers."""
    out, scores = tmp_path / "kcf.html", tmp_path / "kcf.json"
    rc = main(
        [
            "eval",
            "sot",
            str(sot_data["data"]),
            "--tracker",
            "kcf",
            "--json",
            str(scores),
            "--report",
            str(out),
        ]
    )
    assert rc == 0
    expected = json.loads(scores.read_text())
    assert browser.open(out).errors == []
    mean = browser.evaluate(
        "Array.from(document.querySelectorAll('#sot-table tbody tr.combined td[data-value]'))"
        ".map(c => JSON.parse(c.dataset.value))"
    )
    assert mean == [expected["mean"]["success_auc"], expected["mean"]["precision_20px"]]


def test_worst_queries_use_the_metric() -> None:
    rng = np.random.default_rng(3)
    q_pids, g_pids = rng.integers(0, 6, 20), rng.integers(0, 6, 40)
    q_cams, g_cams = np.zeros(20, int), np.ones(40, int)
    dist = rng.random((20, 40))
    worst = worst_queries(dist, q_pids, g_pids, q_cams, g_cams, num=5, top=10)
    aps = [
        evaluate_rank(dist[i : i + 1], q_pids[i : i + 1], g_pids, q_cams[:1], g_cams).mAP
        for i in range(20)
        if np.any(g_pids == q_pids[i])
    ]
    assert [w["ap"] for w in worst] == sorted(aps)[:5]
    total = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams)
    assert np.isclose(np.mean(aps), total.mAP)
    for w in worst:
        order = np.argsort(dist[w["query"]], kind="stable")
        assert [g["index"] for g in w["gallery"]] == order[:10].tolist()
        assert [g["correct"] for g in w["gallery"]] == (
            g_pids[order[:10]] == q_pids[w["query"]]
        ).tolist()


class Img:
    def __init__(self, path: Path, pid: int, camid: int) -> None:
        self.path, self.pid, self.camid = path, pid, camid


def test_reid_page(browser: Browser, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    crops = []
    for pid in range(6):
        for cam in (0, 1):
            path = tmp_path / f"{pid:04d}_{cam}.png"
            cv2.imwrite(str(path), rng.integers(0, 255, (64, 32, 3), dtype=np.uint8))
            crops.append(Img(path, pid, cam))
    query = [c for c in crops if c.camid == 0]
    gallery = [c for c in crops if c.camid == 1]
    dist = rng.random((6, 6))
    from trackkit.metrics.rank import average_results

    q_p, g_p = [c.pid for c in query], [c.pid for c in gallery]
    result = average_results([evaluate_rank(dist, q_p, g_p, [0] * 6, [1] * 6)])
    data: dict[str, Any] = reid_eval_json(
        result, 1, query, gallery, dist, {"model": "m"}, num=3, top=4
    )
    (tmp_path / "eval.json").write_text(json.dumps(data))
    out = tmp_path / "reid.html"
    assert main(["report", "--reid", str(tmp_path / "eval.json"), "--out", str(out)]) == 0
    assert browser.open(out).errors == []
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('.gallery')).map(g => ({"
        "ok: g.querySelectorAll('figure.ok').length, ko: g.querySelectorAll('figure.ko').length,"
        "loaded: Array.from(g.querySelectorAll('img')).every(i => i.naturalWidth > 0)}))"
    )
    assert len(shown) == 3
    for s, w in zip(shown, data["worst"]):
        assert s["ok"] == sum(g["correct"] for g in w["gallery"]) and s["ok"] + s["ko"] == 4
        assert s["loaded"]
    mAP = browser.evaluate(
        "JSON.parse(document.querySelector('#reid-table td[data-key=mAP]').dataset.value)"
    )
    assert mAP == result.mAP
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["report", "--reid", str(bad), "--out", str(out)]) == 2


@pytest.mark.shared
def test_reid_eval_report_file(shared: Path, browser: Browser, tmp_path: Path) -> None:
    """`trackkit reid eval --report` holds the numbers of its --json and the worst queries."""
    root = shared / "data" / "reid" / "cuhk03-labeled"
    report, scores = tmp_path / "eval.json", tmp_path / "scores.json"
    args = ["reid", "eval", "--dataset", "cuhk03", "--root", str(root), "--model", "histogram"]
    assert main([*args, "--json", str(scores), "--report", str(report)]) == 0
    data, want = json.loads(report.read_text()), json.loads(scores.read_text())
    keys = ("rank1", "rank5", "rank10", "rank20", "mAP", "mINP")
    assert data["metrics"] == {k: want[k] for k in keys} and data["cmc"] == want["cmc"]
    aps = [w["ap"] for w in data["worst"]]
    assert len(aps) == 10 and aps == sorted(aps) and aps[0] < want["mAP"]
    for w in data["worst"]:
        assert len(w["gallery"]) == 10 and Path(w["query"]["path"]).is_file()
        assert all(g["correct"] == (g["pid"] == w["query"]["pid"]) for g in w["gallery"])
    out = tmp_path / "reid.html"
    assert main(["report", "--reid", str(report), "--out", str(out)]) == 0
    assert browser.open(out).errors == []
    assert browser.evaluate("document.querySelectorAll('.gallery').length") == 10


def test_sot_thumbnails_shared_fairly_between_trackers(sot_data: dict[str, Path]) -> None:
    """With room for 2 thumbnails, each of two drifting trackers gets one (not the first
    tracker both)."""
    from trackkit.io.otb import read_reference_results
    from trackkit.report.sot import sot_section
    from trackkit.report.thumbs import Thumbnails
    from trackkit.sot.runner import find_sequences

    (seq,) = find_sequences(sot_data["data"])
    drift = read_reference_results(sot_data["drift"] / "Blob.txt")
    thumbs = Thumbnails(max_count=2)
    section = sot_section({"a": {"Blob": drift}, "b": {"Blob": drift}}, [seq], thumbs)
    runs = section["sequences"][0]["runs"]
    shown = {t: [key for _, key, _ in runs[t]["lost"] if key is not None] for t in ("a", "b")}
    assert [len(shown["a"]), len(shown["b"])] == [1, 1] and thumbs.skipped == 2
    assert all(key in thumbs.images for keys in shown.values() for key in keys)
