"""The shared SiamFC search step (trackkit.sot.ops.siamese)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from trackkit.sot.ops.siamese import hann_window, search_scales, siamese_step

CFG = SimpleNamespace(
    scale_penalty=0.97, scale_lr=0.5, window_influence=0.1, response_up=4, min_size=4.0
)


def test_peak_moves_the_centre_and_the_best_scale_the_size() -> None:
    scales = search_scales(3, 1.1)
    assert np.allclose(scales, [1 / 1.1, 1.0, 1.1])
    resp = np.zeros((3, 17, 17))
    resp[2, 8, 12] = 1.0  # larger scale, 4 cells right of centre
    center, size = np.array([100.0, 100.0]), np.array([20.0, 40.0])
    c, s, k = siamese_step(
        CFG, resp, np.array([0.1, 0.2, 1.0]), scales, center, size, 200.0, 255, 8, (300, 400)
    )
    assert k == 2
    assert c[0] > 100 and abs(c[1] - 100) < 1  # moved right only
    # 4 cells x 8 px x (200 / 255) frame px per crop px x 1.1, less the window's pull
    assert 20 < c[0] - 100 <= 4 * 8 * 200 / 255 * 1.1
    assert np.allclose(s, size * (0.5 + 0.5 * 1.1))
    assert np.array_equal(center, [100.0, 100.0])  # inputs untouched


def test_penalty_keeps_the_current_scale_on_a_near_tie_and_clips_to_the_frame() -> None:
    resp = np.ones((3, 5, 5))
    c, s, k = siamese_step(
        CFG, resp, np.array([1.0, 0.99, 1.0]), search_scales(3, 1.05), np.array([1.0, 1.0]),
        np.array([2.0, 900.0]), 50.0, 255, 8, (300, 400),
    )  # fmt: skip
    assert k == 1 and s[0] == 4.0 and s[1] == 300.0 and np.all(c >= 0)
    w = hann_window(20)
    assert w.shape == (20, 20) and np.isclose(w.sum(), 1.0) and not w.flags.writeable
