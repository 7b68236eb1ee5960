"""`trackkit report` for MOT results, opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.report.browser import Browser

pytestmark = pytest.mark.timeout(120)


def build(mot_data: dict[str, Path], out: Path, *options: str) -> int:
    pred = f"{mot_data['alpha']},{mot_data['beta']}"
    return main(
        [
            "report",
            "--gt",
            str(mot_data["gt"]),
            "--pred",
            pred,
            "--benchmark",
            "MOT15",
            "--out",
            str(out),
            *options,
        ]
    )


@pytest.fixture(scope="module")
def page(mot_data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    assert build(mot_data, out) == 0
    return out


def eval_json(gt: Path, pred: Path, out: Path) -> dict[str, Any]:
    assert (
        main(
            [
                "eval",
                "mot",
                "--gt",
                str(gt),
                "--pred",
                str(pred),
                "--benchmark",
                "MOT15",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def table_cells(browser: Browser) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = browser.evaluate(
        "Array.from(document.querySelectorAll('#mot-summary td[data-key]')).map(td => ({"
        "tracker: td.dataset.tracker, seq: td.dataset.seq, key: td.dataset.key, "
        "value: JSON.parse(td.dataset.value), text: td.textContent}))"
    )
    return cells


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "url(http" not in text and "@import" not in text
    assert text.count("<script") == 2  # the data and the page's own script


def test_loads_without_errors_and_numbers_equal_eval_mot(
    browser: Browser, page: Path, mot_data: dict[str, Path], tmp_path: Path
) -> None:
    load = browser.open(page)
    assert load.errors == []
    assert load.requests == [page.resolve().as_uri()]  # nothing but the file itself
    cells = table_cells(browser)
    from trackkit.metrics.mot import SUMMARY_FIELDS

    assert len(cells) == 2 * 2 * len(SUMMARY_FIELDS)  # 2 trackers x (SYN-01 + COMBINED)
    for name in ("alpha", "beta"):
        expected = eval_json(mot_data["gt"], mot_data[name], tmp_path / f"{name}.json")
        for c in (c for c in cells if c["tracker"] == name):
            want = expected["combined" if c["seq"] == "COMBINED" else "sequences"]
            if c["seq"] != "COMBINED":
                want = want[c["seq"]]
            assert c["value"] == want[c["key"]], (name, c)
            v = want[c["key"]]
            assert c["text"] == (str(v) if isinstance(v, int) else f"{100 * v:.3f}")
    by = {(c["tracker"], c["key"]): c["value"] for c in cells if c["seq"] == "SYN-01"}
    assert by[("alpha", "IDSW")] == 1 and by[("beta", "IDSW")] == 0
    assert by[("alpha", "Frag")] == 1 and by[("alpha", "CLR_FP")] == 3


def test_clicking_an_id_switch_shows_its_thumbnail(browser: Browser, page: Path) -> None:
    browser.open(page)
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#mot-idsw tbody tr')).map(r => r.textContent)"
    )
    assert len(rows) == 1  # tracker alpha (first) on SYN-01
    assert (
        browser.evaluate("getComputedStyle(document.querySelector('#mot-viewer img')).display")
        == "none"
    )
    browser.evaluate("document.querySelector('#mot-idsw tbody tr.has-thumb').click()")
    img = browser.evaluate(
        "new Promise(ok => { const i = document.querySelector('#mot-viewer img');"
        " const done = () => ok({src: i.src.slice(0, 23), w: i.naturalWidth, h: i.naturalHeight,"
        " shown: getComputedStyle(i).display, cap: document.querySelector('#mot-viewer .cap')"
        ".textContent}); if (i.complete) done(); else i.onload = done; })"
    )
    assert img["src"] == "data:image/jpeg;base64,"
    assert img["shown"] == "block" and 16 <= max(img["w"], img["h"]) <= 192
    assert "frame 5" in img["cap"] and "from id 2 to id 7" in img["cap"]
    # a fragmentation whose frame has no image says so instead
    browser.evaluate("document.querySelector('#mot-frag tbody tr').click()")
    cap = browser.evaluate("document.querySelector('#mot-viewer .cap').textContent")
    assert "frame 9" in cap and "no frame image" in cap
    assert browser.errors() == []


def test_clicking_the_timeline_selects_the_switch(browser: Browser, page: Path) -> None:
    browser.open(page)
    # rows: gt 1, 2, 3 (by first frame), 8 px each; 12 frames over 900 px; switch: gt 2, frame 5
    browser.evaluate(
        "(() => { const c = document.querySelector('#mot-timeline canvas');"
        " const r = c.getBoundingClientRect(); c.dispatchEvent(new MouseEvent('click',"
        " {clientX: r.left + 4 * 75 + 3, clientY: r.top + 8 + 4, bubbles: true})); })()"
    )
    assert browser.evaluate("document.querySelector('#mot-idsw tr.active') !== null")
    cap = browser.evaluate("document.querySelector('#mot-viewer .cap').textContent")
    assert "frame 5, gt 2 switches" in cap
    assert browser.errors() == []


def test_screenshot_is_not_blank(browser: Browser, page: Path) -> None:
    browser.open(page)
    png = browser.screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 300
    colours = len(np.unique(image.reshape(-1, 3) // 16, axis=0))
    assert image.std() > 20 and colours > 20


def test_switching_sequence_and_tracker_redraws(browser: Browser, page: Path) -> None:
    browser.open(page)
    browser.evaluate(
        "(() => { const s = document.getElementById('mot-tracker'); s.value = 'beta';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert browser.evaluate("document.querySelectorAll('#mot-idsw tbody tr').length") == 0
    assert browser.evaluate("document.querySelectorAll('#mot-alpha-seq option').length") == 2
    assert browser.evaluate("document.querySelectorAll('svg.plot polyline').length") == 6
    assert browser.errors() == []


def test_thumbnail_cap(mot_data: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "capped.html"
    assert build(mot_data, out, "--max-thumbs", "1") == 0
    assert "1 thumbnail(s), 1 more left out" in capsys.readouterr().out
    assert out.read_text().count("data:image/jpeg;base64,") == 1


def test_bad_input_is_one_line(mot_data: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    rc = main(["report", "--pred", str(mot_data["alpha"]), "--out", str(tmp_path / "x.html")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--gt" in err and len(err.splitlines()) == 1
    rc = main(
        [
            "report",
            "--gt",
            str(mot_data["gt"]),
            "--pred",
            f"a={mot_data['alpha']},a={mot_data['beta']}",
            "--out",
            str(tmp_path / "x.html"),
        ]
    )
    assert rc == 2 and "given twice" in capsys.readouterr().err


def test_check_and_screenshot_options(
    browser: Browser, mot_data: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    png = tmp_path / "shot.png"
    assert build(mot_data, tmp_path / "r.html", "--check", "--screenshot", str(png)) == 0
    out = capsys.readouterr().out
    assert "0 console error(s)" in out and "loaded in" in out
    assert cv2.imread(str(png)) is not None
