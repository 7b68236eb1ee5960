"""Hand-computed cases for CLEAR, Identity and HOTA, and the benchmark preprocessing."""

import math

import pytest

from trackkit.io.mot_txt import MOTTable
from trackkit.metrics import MOTSequenceData, evaluate_mot, preprocess_mot
from trackkit.metrics.mot import evaluate_mot_sequence

BOX = {  # well separated unit boxes
    "A": [0, 0, 10, 10],
    "B": [100, 0, 110, 10],
    "C": [200, 0, 210, 10],
}


def seq(frames: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]], name: str = "s"):
    """Build a sequence from per-frame ([(gt_id, box_key)], [(tracker_id, box_key)])."""
    gt: dict[str, list] = {"frames": [], "ids": [], "xyxy": [], "classes": [], "flags": []}
    tr: dict[str, list] = {"frames": [], "ids": [], "xyxy": []}
    for f, (g, t) in enumerate(frames, start=1):
        for i, k in g:
            gt["frames"].append(f)
            gt["ids"].append(i)
            gt["xyxy"].append(BOX[k] if isinstance(k, str) else k)
            gt["classes"].append(1)
            gt["flags"].append(1)
        for i, k in t:
            tr["frames"].append(f)
            tr["ids"].append(i)
            tr["xyxy"].append(BOX[k] if isinstance(k, str) else k)
    gt_table = MOTTable.from_rows(
        "gt", gt["frames"], gt["ids"], gt["xyxy"], gt["flags"], gt["classes"]
    )
    tr_table = MOTTable.from_rows("result", tr["frames"], tr["ids"], tr["xyxy"])
    return preprocess_mot(name, len(frames), gt_table, tr_table, "MOT17")


def metrics(data: MOTSequenceData) -> dict:
    return evaluate_mot_sequence(data).as_dict()


def test_perfect_tracker() -> None:
    m = metrics(seq([([(1, "A"), (2, "B")], [(7, "A"), (9, "B")])] * 3))
    assert m["MOTA"] == 1 and m["MOTP"] == 1 and m["IDF1"] == 1 and m["HOTA"] == pytest.approx(1)
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDSW"], m["Frag"]) == (6, 0, 0, 0, 0)
    assert (m["MT"], m["PT"], m["ML"]) == (2, 0, 0)
    assert m["DetA"] == pytest.approx(1) and m["AssA"] == pytest.approx(1)
    assert m["LocA"] == pytest.approx(1)


def test_no_confusion_with_a_miss_and_a_false_positive() -> None:
    # gt 1 tracked by 5 on frames 1-4 except frame 3 (a miss); a false positive on frame 2.
    frames = [
        ([(1, "A")], [(5, "A")]),
        ([(1, "A")], [(5, "A"), (6, "C")]),
        ([(1, "A")], [(6, "C")]),
        ([(1, "A")], [(5, "A")]),
    ]
    m = metrics(seq(frames))
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDSW"]) == (3, 1, 2, 0)
    assert m["MOTA"] == pytest.approx((3 - 2 - 0) / 4)
    assert m["Frag"] == 1  # tracked, lost in frame 3 (a processed frame), tracked again
    # Identity: gt 1 <-> tracker 5 agree on 3 frames; tracker 6 is unmatched (2 boxes).
    assert (m["IDTP"], m["IDFN"], m["IDFP"]) == (3, 1, 2)
    assert m["IDF1"] == pytest.approx(3 / (3 + 0.5 * 1 + 0.5 * 2))
    # HOTA: every match has IoU 1; TPA = 3, FNA = 1, FPA = 0 for every true positive.
    assert m["DetA"] == pytest.approx(3 / (3 + 1 + 2))
    assert m["AssA"] == pytest.approx(3 / 4)
    assert m["HOTA"] == pytest.approx(math.sqrt(0.5 * 0.75))


def test_one_id_switch() -> None:
    frames = [([(1, "A")], [(1, "A")])] * 2 + [([(1, "A")], [(2, "A")])] * 2
    m = metrics(seq(frames))
    assert (m["CLR_TP"], m["IDSW"]) == (4, 1)
    assert m["MOTA"] == pytest.approx(0.75)
    assert (m["IDTP"], m["IDFN"], m["IDFP"]) == (2, 2, 2)
    assert m["IDF1"] == pytest.approx(0.5)
    assert m["AssA"] == pytest.approx(0.5) and m["HOTA"] == pytest.approx(math.sqrt(0.5))


def test_frame_without_tracker_boxes_keeps_the_previous_state_like_the_kit() -> None:
    # The official kit skips frames with no tracker boxes without resetting the
    # "matched in the previous frame" state: this gap is not a fragmentation.
    frames = [([(1, "A")], [(5, "A")]), ([(1, "A")], []), ([(1, "A")], [(5, "A")])]
    m = metrics(seq(frames))
    assert (m["CLR_TP"], m["CLR_FN"], m["Frag"], m["IDSW"]) == (2, 1, 0, 0)


def test_mostly_tracked_partly_lost() -> None:
    five = [([(1, "A"), (2, "B"), (3, "C")], [(1, "A"), (2, "B")])] * 4
    five.append(([(1, "A"), (2, "B"), (3, "C")], [(2, "B"), (3, "C")]))
    m = metrics(seq(five))
    # gt 1: 4/5 = 0.8 -> partly (MT needs > 0.8); gt 2: 5/5 -> mostly; gt 3: 1/5 = 0.2 -> partly
    assert (m["MT"], m["PT"], m["ML"]) == (1, 2, 0)
    assert m["MTR"] == pytest.approx(1 / 3)


def test_empty_tracker_output() -> None:
    m = metrics(seq([([(1, "A"), (2, "B")], [])] * 3))
    assert (m["CLR_FN"], m["CLR_TP"], m["CLR_FP"]) == (6, 0, 0)
    assert m["MOTA"] == 0 and m["IDF1"] == 0 and m["HOTA"] == 0 and m["ML"] == 2
    assert m["MLR"] == 1 and m["IDFN"] == 6 and m["HOTA_FN"] == 6 and m["LocA"] == 1


def test_empty_ground_truth() -> None:
    m = metrics(seq([([], [(1, "A")])] * 2))
    assert (m["CLR_FP"], m["IDFP"], m["HOTA_FP"]) == (2, 2, 2)
    assert m["MOTA"] == 0 and m["HOTA"] == 0 and m["MT"] == 0


def test_tie_broken_by_continuity_bonus() -> None:
    # Frame 2: gt 1 and gt 2 stand on the same box; tracker 5 overlaps both equally.
    # CLEAR keeps last frame's pairing (1 <-> 5): no identity switch, gt 2 is missed.
    frames = [
        ([(1, "A"), (2, "B")], [(5, "A")]),
        ([(1, "A"), (2, "A")], [(5, "A")]),
    ]
    m = metrics(seq(frames))
    assert (m["CLR_TP"], m["CLR_FN"], m["IDSW"]) == (2, 2, 0)
    # the other way round: last frame matched gt 2, so 2 keeps tracker 5
    frames[0] = ([(1, "B"), (2, "A")], [(5, "A")])
    m = metrics(seq(frames))
    assert (m["CLR_TP"], m["IDSW"]) == (2, 0)


def test_partial_overlap_thresholds() -> None:
    # IoU of [0,0,10,10] and [0,0,10,5] is 0.5: a CLEAR match (>= 0.5) but HOTA counts
    # it only for alphas <= 0.5 (10 of 19).
    m = metrics(seq([([(1, "A")], [(1, [0, 0, 10, 5])])]))
    assert m["CLR_TP"] == 1 and m["MOTP"] == pytest.approx(0.5)
    assert m["HOTA_TP"] == pytest.approx(10 / 19)
    assert m["LocA(0)"] == pytest.approx(0.5)


def test_combined_sums_counts_and_weights_association() -> None:
    a = seq([([(1, "A")], [(1, "A")])] * 2 + [([(1, "A")], [(2, "A")])] * 2, "a")
    b = seq([([(1, "A"), (2, "B")], [(7, "A")])] * 4, "b")
    ev = evaluate_mot([a, b]).as_dict()
    c = ev["combined"]
    sa, sb = ev["sequences"]["a"], ev["sequences"]["b"]
    assert c["CLR_TP"] == sa["CLR_TP"] + sb["CLR_TP"] and c["IDSW"] == 1
    assert c["MOTA"] == pytest.approx((8 - 0 - 1) / 12)
    assert c["IDF1"] == pytest.approx(6 / (6 + 0.5 * (2 + 6)))
    # AssA combined = TP-weighted mean of the sequences' AssA
    assert c["AssA"] == pytest.approx((sa["AssA"] * 4 + sb["AssA"] * 4) / 8)
    with pytest.raises(ValueError):
        evaluate_mot([a, a])


def gt_dict(rows):  # rows: (frame, id, box, class, flag)
    return MOTTable.from_rows(
        "gt",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        conf=[r[4] for r in rows],
        classes=[r[3] for r in rows],
    )


def tr_dict(rows):  # rows: (frame, id, box)
    return MOTTable.from_rows(
        "result", [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    )


def test_distractor_matches_are_removed_and_ignored_gt_dropped() -> None:
    gt = gt_dict([(1, 1, BOX["A"], 1, 1), (1, 2, BOX["B"], 7, 1), (1, 3, BOX["C"], 1, 0)])
    tr = tr_dict([(1, 10, BOX["A"]), (1, 11, BOX["B"]), (1, 12, BOX["C"])])
    m17 = metrics(preprocess_mot("s", 1, gt, tr, "MOT17"))
    # box on the static person (class 7) is removed; the flag-0 pedestrian is dropped, so the
    # box on it is a false positive.
    assert (m17["CLR_TP"], m17["CLR_FP"], m17["CLR_FN"]) == (1, 1, 0)
    m15 = metrics(preprocess_mot("s", 1, gt, tr, "MOT15"))
    # MOT15: no classes, no distractors; flag 0 still dropped
    assert (m15["CLR_TP"], m15["CLR_FP"], m15["CLR_FN"]) == (2, 1, 0)


def test_distractor_removal_uses_optimal_assignment_over_all_gt() -> None:
    # The tracker box overlaps a pedestrian better than a distractor: the assignment gives
    # it to the pedestrian, so it is not removed.
    ped = [0, 0, 10, 10]
    dis = [0, 0, 10, 8]  # IoU with the tracker box 0.8 < 1.0
    gt = gt_dict([(1, 1, ped, 1, 1), (1, 2, dis, 8, 1)])
    tr = tr_dict([(1, 10, ped)])
    assert metrics(preprocess_mot("s", 1, gt, tr, "MOT17"))["CLR_TP"] == 1
    # class 6 is a distractor only for MOT20
    gt6 = gt_dict([(1, 2, ped, 6, 1)])
    assert metrics(preprocess_mot("s", 1, gt6, tr, "MOT17"))["CLR_FP"] == 1
    assert metrics(preprocess_mot("s", 1, gt6, tr, "MOT20"))["CLR_FP"] == 0


def test_invalid_inputs() -> None:
    from trackkit.errors import TrackkitError

    with pytest.raises(TrackkitError, match="invalid class"):
        preprocess_mot("s", 1, gt_dict([(1, 1, BOX["A"], 42, 1)]), tr_dict([]), "MOT17")
    with pytest.raises(TrackkitError, match="outside"):
        preprocess_mot("s", 1, gt_dict([(2, 1, BOX["A"], 1, 1)]), tr_dict([]), "MOT17")
    with pytest.raises(TrackkitError, match="repeated"):
        MOTSequenceData.from_frames("s", [[1, 1]], [[2]], [[[0.5], [0.5]]])
    with pytest.raises(TrackkitError, match=r"\[0, 1\]"):
        MOTSequenceData.from_frames("s", [[1]], [[2]], [[[1.5]]])


def test_from_frames_relabels_arbitrary_ids() -> None:
    d = MOTSequenceData.from_frames("s", [[1000, 5], [5]], [[7], [-3]], [[[1.0], [0.0]], [[1.0]]])
    assert d.num_gt_ids == 2 and d.num_tracker_ids == 2
    assert d.gt_ids[0].tolist() == [1, 0] and d.tracker_ids[1].tolist() == [0]
    m = metrics(d)
    assert (m["CLR_TP"], m["IDSW"], m["IDTP"]) == (2, 0, 2)  # two different people
