"""HCF (hierarchical convolutional features + per-layer correlation filters, Ma 2015)."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, moving_target
from scipy.signal import fftconvolve

from trackkit.cli.main import main
from trackkit.config import parse_overrides
from trackkit.errors import ConfigError, DataNotFoundError, TrackkitError
from trackkit.metrics.otb import evaluate_sequence
from trackkit.sot import build
from trackkit.sot.ops.dcf import subpixel_peak
from trackkit.sot.ops.hierarchical import LayerFilters
from trackkit.sot.runner import find_sequences, run_sequence
from trackkit.sot.trackers.hcf import HCFConfig


def _weights(shared: Path) -> str:
    found = sorted((shared / "weights" / "nanotrack_v3").glob("*state_dict.pt"))
    if not found:
        pytest.skip("no NanoTrack v3 state dict in the shared folder")
    return str(found[0])


@pytest.mark.timeout(10)
def test_config_defaults_are_the_papers_and_validated() -> None:
    cfg = HCFConfig()
    assert (cfg.padding, cfg.reg, cfg.learning_rate, cfg.output_sigma_factor) == (
        1.8, 1e-4, 0.01, 0.1
    )  # fmt: skip
    assert cfg.layer_weights[-1] == 1.0 and cfg.layer_weights == (0.25, 0.5, 1.0)
    assert HCFConfig(**parse_overrides(["layers=1,3,9"])).layers == (1, 3, 9)
    bad = [
        {"layers": (9, 3, 6)},
        {"layers": (3, 6, 10)},
        {"layers": ()},
        {"backbone": "nanotrack_v2", "layers": (3, 6, 9)},
        {"layer_weights": (1.0, 0.5)},
        {"layer_weights": (0.0, 0.0, 0.0)},
        {"layer_weights": (1.0, -0.5, 1.0)},
        {"backbone": "vgg19"},
        {"learning_rate": 0.0},
        {"reg": 0.0},
        {"cell": 0},
        {"input_size": 8},
        {"padding": -1.0},
        {"threads": 0},
        {"layers": "abc"},
    ]
    for kw in bad:
        with pytest.raises(ConfigError):
            HCFConfig(**kw)
    with pytest.raises(ConfigError, match="valid options"):
        build("hcf", paddng=2.0)


@pytest.mark.timeout(10)
def test_layer_filters_find_a_circular_shift() -> None:
    rng = np.random.default_rng(0)
    grid = (40, 48)
    feats = [rng.standard_normal((c, *grid)).astype(np.float32) for c in (8, 16)]
    # Smooth spatially, as real features are (the cosine window and label assume it).
    k = np.hanning(7)[:, None] * np.hanning(7)[None, :]
    feats = [fftconvolve(f, k[None], mode="same", axes=(1, 2)).astype(np.float32) for f in feats]
    before = [f.copy() for f in feats]
    cf = LayerFilters(grid, sigma=2.0, reg=1e-4, weights=(0.5, 1.0))
    assert not cf.trained
    cf.train(cf.spectra(feats), 1.0)
    assert cf.trained
    for f, b in zip(feats, before, strict=True):
        np.testing.assert_array_equal(f, b)  # inputs untouched
    dy, dx, peak = subpixel_peak(cf.response(cf.spectra(feats)))
    assert abs(dy) < 0.5 and abs(dx) < 0.5 and peak == pytest.approx(1.5, abs=1e-3)
    moved = [np.roll(f, (3, -4), axis=(1, 2)) for f in feats]
    dy, dx, _ = subpixel_peak(cf.response(cf.spectra(moved)))
    assert abs(dy - 3) < 0.5 and abs(dx + 4) < 0.5
    # A small learning rate moves the model only a little towards a new sample.
    num0 = [n.copy() for n in cf._num]
    cf.train(cf.spectra(moved), 0.01)
    for n0, n1, x in zip(num0, cf._num, cf.spectra(moved), strict=True):
        new = cf.label_f[None] * np.conj(x) / float(x.shape[0] * grid[0] * grid[1])
        np.testing.assert_allclose(n1, 0.99 * n0 + 0.01 * new, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        cf.spectra([np.zeros((4, 10, 10), np.float32)])


torch_needed = pytest.mark.skipif(find_spec("torch") is None, reason="needs torch")


@torch_needed
@pytest.mark.timeout(60)
def test_follows_a_moving_textured_target(shared: Path) -> None:
    frames, boxes = moving_target(n=20)
    copies = [f.copy() for f in frames]
    tracker = build("hcf", weights=_weights(shared))
    ious = follow(tracker, frames, boxes)
    assert np.mean(ious) > 0.6 and min(ious) > 0.3, ious
    for f, c in zip(frames, copies, strict=True):
        np.testing.assert_array_equal(f, c)  # frames untouched
    # Gray frames work; reset() forgets the target; a re-init gives the same run.
    gray = [f.mean(axis=2).astype(np.uint8) for f in frames[:6]]
    assert np.mean(follow(tracker, gray, boxes[:6])) > 0.5
    tracker.reset()
    assert not tracker.initialized
    with pytest.raises(TrackkitError):
        tracker.update(frames[1])
    again = follow(tracker, frames, boxes)
    np.testing.assert_allclose(again, ious, atol=1e-6)
    # The cheaper variants still follow it.
    for kw in ({"reuse_features": True}, {"cell": 8, "scale_estimation": False}):
        cheap = build("hcf", weights=_weights(shared), **kw)
        assert np.mean(follow(cheap, frames[:12], boxes[:12])) > 0.5


@torch_needed
@pytest.mark.timeout(10)
def test_missing_weights_is_one_line(tmp_path: Path) -> None:
    frames, boxes = moving_target(n=2)
    tracker = build("hcf", weights=str(tmp_path / "none.pt"))
    with pytest.raises(DataNotFoundError, match="none.pt"):
        tracker.init(frames[0], boxes[0])


def _first_frames(shared: Path, name: str, n: int, root: Path) -> Path:
    """An OTB folder with links to the first ``n`` frames of a shared sequence (nothing is
    copied)."""
    src = shared / "data" / "otb" / name
    seq = root / name
    (seq / "img").mkdir(parents=True)
    for img in sorted((src / "img").glob("*.jpg"))[:n]:
        (seq / "img" / img.name).symlink_to(img)
    lines = (src / "groundtruth_rect.txt").read_text().splitlines()[:n]
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return seq


@torch_needed
@pytest.mark.timeout(60)
def test_shared_sequence_and_eval_cli(shared: Path, tmp_path: Path) -> None:
    _weights(shared)
    _first_frames(shared, "Crossing", 40, tmp_path / "data")
    [seq] = find_sequences(tmp_path / "data")
    run = run_sequence(build("hcf"), list(seq.iter_frames()), seq.init_box)
    assert evaluate_sequence(run.boxes, seq.boxes).success_auc > 0.6
    js = tmp_path / "hcf.json"
    assert main(["eval", "sot", str(tmp_path / "data"), "--tracker", "hcf", "--json", str(js)]) == 0
    rep = json.loads(js.read_text())["sequences"]["Crossing"]
    assert rep["frames"] == 40 and rep["success_auc"] > 0.6
    bad = ["eval", "sot", str(tmp_path / "data"), "--tracker", "hcf", "--set", "layers=9,3"]
    assert main(bad) == 2
