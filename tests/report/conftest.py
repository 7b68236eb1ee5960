"""Fixtures of the report tests: a real headless Chromium and small synthetic evaluations.

The browser is the distribution's ``chromium`` (installed by ``.ci/run``) driven over the
DevTools protocol; the tests that need it skip with a clear reason only when it is absent
(and fail in CI, where it is always installed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.report.browser import Browser, find_chromium

W, H, FRAMES = 320, 240, 12


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (killed at its end)."""
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs chromium (.ci/run); it was not found")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Browser(timeout=30.0) as b:
        yield b


def gt_box(person: int, frame: int) -> tuple[float, float, float, float]:
    """``x, y, w, h`` of synthetic person 1..3 at 1-based ``frame`` (walking right)."""
    return (20.0 + 12 * frame + 5 * person, 30.0 + 60 * (person - 1), 30.0, 50.0)


def write_frame(path: Path, frame: int) -> None:
    rng = np.random.default_rng(frame)
    img = rng.integers(60, 120, (H, W, 3), dtype=np.uint8)
    for person in (1, 2, 3):
        x, y, w, h = gt_box(person, frame)
        colour = [(200, 60, 60), (60, 200, 60), (60, 60, 200)][person - 1]
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), colour, -1)
    cv2.imwrite(str(path), img)


def _line(frame: int, ident: int, box: tuple[float, float, float, float], tail: str) -> str:
    return f"{frame},{ident},{box[0]:.1f},{box[1]:.1f},{box[2]:.1f},{box[3]:.1f},{tail}\n"


@pytest.fixture(scope="session")
def mot_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A MOTChallenge layout (MOT15 conventions): sequence SYN-01 with frames 1..6 in
    ``img1/`` (of 12), tracker ``alpha`` with one identity switch (person 2: id 2 -> id 7 at
    frame 5), one fragmentation (person 3 missed in frames 7-8) and one false-positive track
    (id 99, frames 2-4); tracker ``beta`` perfect."""
    root = tmp_path_factory.mktemp("mot")
    seq = root / "gt" / "SYN-01"
    (seq / "gt").mkdir(parents=True)
    (seq / "img1").mkdir()
    (seq / "seqinfo.ini").write_text(
        "[Sequence]\nname=SYN-01\nimDir=img1\nframeRate=10\n"
        f"seqLength={FRAMES}\nimWidth={W}\nimHeight={H}\nimExt=.jpg\n"
    )
    for f in range(1, 7):
        write_frame(seq / "img1" / f"{f:06d}.jpg", f)
    gt, alpha, beta = [], [], []
    for f in range(1, FRAMES + 1):
        for p in (1, 2, 3):
            box = gt_box(p, f)
            gt.append(_line(f, p, box, "1,1,1"))
            beta.append(_line(f, p, box, "1,-1,-1,-1"))
            if p == 3 and f in (7, 8):
                continue
            ident = 7 if (p == 2 and f >= 5) else p
            alpha.append(_line(f, ident, box, "1,-1,-1,-1"))
        if 2 <= f <= 4:
            alpha.append(_line(f, 99, (250.0, 180.0, 40.0, 40.0), "1,-1,-1,-1"))
    (seq / "gt" / "gt.txt").write_text("".join(gt))
    for name, rows in (("alpha", alpha), ("beta", beta)):
        (root / name).mkdir()
        (root / name / "SYN-01.txt").write_text("".join(rows))
    return {"root": root, "gt": root / "gt", "alpha": root / "alpha", "beta": root / "beta"}
