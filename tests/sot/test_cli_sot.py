"""``trackkit sot`` and ``trackkit eval sot`` end to end on small made-up sequences."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main
from trackkit.cli.sot import parse_xywh
from trackkit.errors import ConfigError


def _frames(n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, size=(15, 20, 3), dtype=np.uint8)
    img = cv2.resize(small, (160, 120), interpolation=cv2.INTER_CUBIC)
    return [
        cv2.warpAffine(img, np.float64([[1, 0, 2 * t], [0, 1, 0]]), (160, 120)) for t in range(n)
    ]


def _otb(root: Path, n: int = 8) -> Path:
    seq = root / "Toy"
    (seq / "img").mkdir(parents=True)
    for i, f in enumerate(_frames(n), start=1):
        cv2.imwrite(str(seq / "img" / f"{i:04d}.png"), f)
    lines = [f"{61 + 2 * t},{41},30,30" for t in range(n)]  # 1-based x,y,w,h
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return seq


def test_parse_xywh() -> None:
    np.testing.assert_array_equal(parse_xywh("1,2,3,4"), [1, 2, 3, 4])
    for bad in ("1,2,3", "a,b,c,d", "1,2,0,4"):
        with pytest.raises(ConfigError):
            parse_xywh(bad)


def test_sot_on_image_folder_and_video(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = _frames()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i}.png"), f)
    out = tmp_path / "boxes.txt"
    assert main(["sot", str(folder), "--init", "60,40,30,30", "--out", str(out)]) == 0
    rows = np.loadtxt(out, delimiter=",")
    assert rows.shape == (8, 4)
    np.testing.assert_allclose(rows[0], [60, 40, 30, 30])
    assert abs(rows[-1, 0] - 74) < 2.0
    # The same through a video file, with --one-based and an annotated video.
    video = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for f in frames:
        w.write(f)
    w.release()
    out2 = tmp_path / "b2.txt"
    mp4 = tmp_path / "ann.mp4"
    args = ["sot", str(video), "--init", "61,41,30,30", "--one-based", "--out", str(out2)]
    assert main([*args, "--video", str(mp4)]) == 0
    rows2 = np.loadtxt(out2, delimiter=",")
    assert rows2.shape == (8, 4) and abs(rows2[-1, 0] - 75) < 2.5
    assert mp4.stat().st_size > 0


def test_sot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = _otb(tmp_path)
    assert main(["sot", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["sot", str(seq / "img")]) == 2
    assert "--init" in capsys.readouterr().err
    assert main(["sot", str(seq), "--init", "500,500,10,10"]) == 2
    err = capsys.readouterr().err
    assert "outside" in err and err.count("\n") == 1
    assert main(["sot", str(seq), "--tracker", "nope"]) == 2
    assert "valid names" in capsys.readouterr().err


def test_eval_sot_otb_and_vot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _otb(tmp_path / "data")
    js, png = tmp_path / "s.json", tmp_path / "s.png"
    code = main(
        ["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf", "--json", str(js),
         "--plot", str(png), "--results", str(tmp_path / "res")]
    )  # fmt: skip
    assert code == 0
    rep = json.loads(js.read_text())
    toy = rep["sequences"]["Toy"]
    assert set(toy) >= {"success_auc", "precision_20px", "fps", "frames"}
    assert toy["frames"] == 8 and toy["precision_20px"] == 1.0 and toy["success_auc"] > 0.7
    assert rep["mean"]["success_auc"] == toy["success_auc"]
    assert png.stat().st_size > 10_000
    assert len((tmp_path / "res" / "Toy.txt").read_text().splitlines()) == 8
    assert "Toy" in capsys.readouterr().out
    assert main(["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf", "--protocol", "vot",
                 "--json", str(js)]) == 0  # fmt: skip
    assert json.loads(js.read_text())["mean"]["failures"] == 0
    assert main(["eval", "sot", str(tmp_path / "none"), "--tracker", "kcf"]) == 2
    assert main(["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf", "--seqs", "X"]) == 2
