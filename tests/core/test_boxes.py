import numpy as np
import pytest

from trackkit.core import boxes as B


def test_converters_round_trip() -> None:
    xywh = np.array([[10.0, 20.0, 30.0, 40.0], [0.5, 1.5, 2.0, 3.0]])
    xyxy = B.xywh_to_xyxy(xywh)
    np.testing.assert_allclose(xyxy, [[10, 20, 40, 60], [0.5, 1.5, 2.5, 4.5]])
    np.testing.assert_allclose(B.xyxy_to_xywh(xyxy), xywh)
    cxcywh = B.xyxy_to_cxcywh(xyxy)
    np.testing.assert_allclose(cxcywh[0], [25, 40, 30, 40])
    np.testing.assert_allclose(B.cxcywh_to_xyxy(cxcywh), xyxy)


def test_converters_do_not_mutate_and_keep_shape() -> None:
    b = np.array([[1.0, 2.0, 3.0, 4.0]])
    before = b.copy()
    B.xywh_to_xyxy(b)
    B.xyxy_to_cxcywh(b)
    np.testing.assert_array_equal(b, before)
    assert B.xywh_to_xyxy(np.zeros((2, 3, 4))).shape == (2, 3, 4)


def test_iou_matrix_hand_computed() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], float)
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    iou = B.iou_matrix(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == pytest.approx(25 / 175)
    assert iou[0, 1] == pytest.approx(1.0)
    assert iou[0, 2] == 0.0
    assert iou[1, 1] == pytest.approx(4 / 100)


def test_iou_continuous_convention_no_plus_one() -> None:
    # two unit-wide boxes that touch at x=1 do not overlap
    assert B.iou_matrix([[0, 0, 1, 1]], [[1, 0, 2, 1]])[0, 0] == 0.0


def test_iou_degenerate_and_empty() -> None:
    assert B.iou_matrix([[5, 5, 5, 10]], [[0, 0, 10, 10]])[0, 0] == 0.0
    assert B.iou_matrix(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)


def test_giou_hand_computed() -> None:
    a = [[0, 0, 2, 2]]
    b = [[3, 0, 5, 2]]
    # IoU 0, enclosing 5x2=10, union 8 -> GIoU = -2/10
    assert B.giou_matrix(a, b)[0, 0] == pytest.approx(-0.2)
    assert B.giou_matrix(a, a)[0, 0] == pytest.approx(1.0)
    iou = B.iou_matrix([[0, 0, 10, 10]], [[5, 5, 15, 15]])[0, 0]
    g = B.giou_matrix([[0, 0, 10, 10]], [[5, 5, 15, 15]])[0, 0]
    assert g == pytest.approx(iou - (225 - 175) / 225)


def test_iou_pairwise_matches_matrix_diagonal() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (20, 2))
    a = np.concatenate([xy, xy + rng.uniform(1, 30, (20, 2))], 1)
    xy2 = rng.uniform(0, 50, (20, 2))
    b = np.concatenate([xy2, xy2 + rng.uniform(1, 30, (20, 2))], 1)
    np.testing.assert_allclose(B.iou_pairwise(a, b), np.diag(B.iou_matrix(a, b)))
