import json
import shutil
from pathlib import Path

import pytest

from trackkit.cli.main import main

GT = "1,1,0,0,10,10,1,1,1\n2,1,0,0,10,10,1,1,1\n1,2,50,50,10,10,1,1,1\n"
INI = "[Sequence]\nname={}\nimDir=img1\nframeRate=30\nseqLength=2\nimWidth=100\nimHeight=100\n"


def evaluate(gt: Path, pred: Path, *options: str) -> int:
    """``trackkit eval mot --gt GT --pred PRED OPTIONS...``."""
    return main(["eval", "mot", "--gt", str(gt), "--pred", str(pred), *options])


def make(tmp_path: Path, seqs: dict[str, str]) -> tuple[Path, Path]:
    gt_root, pred = tmp_path / "gt", tmp_path / "pred"
    pred.mkdir()
    for name, result in seqs.items():
        (gt_root / name / "gt").mkdir(parents=True)
        (gt_root / name / "gt" / "gt.txt").write_text(GT)
        (gt_root / name / "seqinfo.ini").write_text(INI.format(name))
        (pred / f"{name}.txt").write_text(result)
    return gt_root, pred


def test_table_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred = make(
        tmp_path,
        {"MOT17-01-X": "1,5,0,0,10,10,1,-1,-1,-1\n2,5,0,0,10,10,1,-1,-1,-1\n", "MOT17-02-X": ""},
    )
    out = tmp_path / "r.json"
    rc = evaluate(gt, pred, "--json", str(out), "--csv", str(tmp_path / "r.csv"), "--quiet")
    assert rc == 0
    text = capsys.readouterr().out
    assert "benchmark MOT17" in text and "COMBINED" in text and "MOT17-02-X" in text
    res = json.loads(out.read_text())
    assert set(res) == {"benchmark", "sequences", "combined"}
    s1 = res["sequences"]["MOT17-01-X"]
    assert s1["CLR_TP"] == 2 and isinstance(s1["CLR_TP"], int) and s1["CLR_FN"] == 1
    assert s1["MOTA"] == pytest.approx(2 / 3) and 0 <= s1["HOTA"] <= 1
    assert res["sequences"]["MOT17-02-X"]["CLR_FN"] == 3  # empty result file: valid
    assert res["combined"]["CLR_FN"] == 4
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("sequence,") and len(rows) == 4


def test_result_without_ground_truth_lists_names(tmp_path: Path, capsys) -> None:
    gt, pred = make(tmp_path, {"MOT17-01-X": ""})
    (pred / "MOT17-09-Y.txt").write_text("")
    (pred / "MOT17-10-Z.txt").write_text("")
    assert evaluate(gt, pred, "--quiet") == 2
    err = capsys.readouterr().err
    assert "MOT17-09-Y, MOT17-10-Z" in err and "Traceback" not in err


def test_requested_sequence_without_results(tmp_path: Path, capsys) -> None:
    gt, pred = make(tmp_path, {"MOT17-01-X": ""})
    shutil.copytree(gt / "MOT17-01-X", gt / "MOT17-02-X")
    rc = evaluate(gt, pred, "--seqs", "MOT17-01-X", "MOT17-02-X", "--quiet")
    assert rc == 2 and "no result file for MOT17-02-X" in capsys.readouterr().err


def test_malformed_result_is_one_clear_line(tmp_path: Path, capsys) -> None:
    gt, pred = make(
        tmp_path, {"MOT17-01-X": "1,5,0,0,10,10,1,-1,-1,-1\n3,5,0,0,10,10,1,-1,-1,-1\n"}
    )
    assert evaluate(gt, pred, "--quiet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2" in err[0] and "beyond" in err[0]
    (pred / "MOT17-01-X.txt").write_text("1,5,0,0,10,10,1,-1,-1,-1\n1,5,1,1,10,10,1,-1,-1,-1\n")
    assert evaluate(gt, pred, "--quiet") == 2
    assert "appears twice in frame 1" in capsys.readouterr().err


def test_unknown_benchmark_names_need_the_option(tmp_path: Path, capsys) -> None:
    gt, pred = make(tmp_path, {"my-video": ""})
    assert evaluate(gt, pred, "--quiet") == 2
    assert "--benchmark" in capsys.readouterr().err
    assert evaluate(gt, pred, "--quiet", "--benchmark", "mot15") == 0


def test_help_explains_layout(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "mot", "--help"])
    out = capsys.readouterr().out
    assert "seqinfo.ini" in out and "distractor" in out


def test_corner_boxes_instead_of_sizes_are_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """x1, y1, x2, y2 written where x, y, w, h belong: a warning naming the fix."""
    seq = tmp_path / "gt" / "MOT17-05-X"
    (seq / "gt").mkdir(parents=True)
    ini = INI.replace("imWidth=100", "imWidth=640").replace("imHeight=100", "imHeight=480")
    (seq / "seqinfo.ini").write_text(ini.format("MOT17-05-X"))
    boxes = [(300 + 40 * k, 200 + 20 * k, 40, 90) for k in range(6)]
    (seq / "gt" / "gt.txt").write_text(
        "".join(
            f"{f},{k + 1},{x},{y},{w},{h},1,1,1\n"
            for f in (1, 2)
            for k, (x, y, w, h) in enumerate(boxes)
        )
    )
    pred = tmp_path / "pred"
    pred.mkdir()
    good = "".join(f"{f},{k + 1},{x},{y},{w},{h},1,-1,-1,-1\n" for f in (1, 2)
                   for k, (x, y, w, h) in enumerate(boxes))  # fmt: skip
    corners = "".join(f"{f},{k + 1},{x},{y},{x + w},{y + h},1,-1,-1,-1\n" for f in (1, 2)
                      for k, (x, y, w, h) in enumerate(boxes))  # fmt: skip
    (pred / "MOT17-05-X.txt").write_text(good)
    assert evaluate(tmp_path / "gt", pred, "--quiet") == 0
    assert "warning" not in capsys.readouterr().err
    (pred / "MOT17-05-X.txt").write_text(corners)
    assert evaluate(tmp_path / "gt", pred, "--quiet") == 0
    err = capsys.readouterr().err
    assert "MOT17-05-X.txt: 83% of the boxes end beyond the 640x480 image" in err
    assert "look like x1, y1, x2, y2" in err


def test_no_box_format_warning_for_boxes_cut_by_the_frame(shared: Path, capsys) -> None:
    """A real tracker's MOT17 results (MOT17-05: 13 % of its boxes, like 15 % of the ground
    truth's, end beyond the 640x480 image) are not mistaken for x1, y1, x2, y2."""
    gt = shared / "data" / "MOT17" / "train"
    pred = shared / "data" / "metrics" / "MOT17-tracker-A" / "data"
    assert evaluate(gt, pred, "--quiet", "--seqs", "MOT17-05-FRCNN") == 0
    assert "warning" not in capsys.readouterr().err
