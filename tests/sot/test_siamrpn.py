"""SiamRPN / DaSiamRPN-style tracking on the NanoTrack networks (ONNX and own PyTorch modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import follow, iou, moving_target

from trackkit.errors import ConfigError, DataNotFoundError, FormatError, TrackkitError
from trackkit.sot import build
from trackkit.sot.nets.onnx_io import _parse, _serialize, make_dims_dynamic
from trackkit.sot.ops.crops import context_size, crop_region, crop_square
from trackkit.sot.trackers.siamrpn import SiamRPNTracker

pytest.importorskip("onnxruntime")


def _v(shared: Path, version: str) -> Path:
    path = shared / "weights" / f"nanotrack_{version}"
    if not path.is_dir():
        pytest.skip(f"{path} missing")
    return path


def test_crop_region_geometry() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[10:20, 30:40] = 255  # a white square covering x 30..40, y 10..20
    # A crop of exactly that square at 1:1 scale is all white.
    out = crop_region(img, (35.0, 15.0), (10.0, 10.0), (10, 10))
    assert out.shape == (10, 10, 3) and out.min() == 255
    # Twice the region at half resolution: the square is the central 5x5 block.
    out = crop_square(img, (35.0, 15.0), 20.0, 10, fill=7.0)
    assert out[4:6, 4:6].min() > 200 and out[0, 0, 0] < 60
    # Outside the image: the fill colour.
    out = crop_square(img, (-100.0, -100.0), 20.0, 8, fill=(1.0, 2.0, 3.0))
    assert out.reshape(-1, 3).tolist() == [[1, 2, 3]] * 64
    assert context_size(10, 30) == pytest.approx(np.sqrt(30 * 50))


def test_onnx_patch_roundtrip_and_dynamic_dims(shared: Path) -> None:
    import onnxruntime as ort

    path = _v(shared, "v2") / "nanotrack_backbone_sim.onnx"
    data = path.read_bytes()
    assert _serialize(_parse(data)) == data  # the wire-format codec is lossless
    sess = ort.InferenceSession(
        make_dims_dynamic(data, ["input"]), providers=["CPUExecutionProvider"]
    )
    for side, feat in ((127, 8), (255, 16)):
        out = sess.run(None, {"input": np.zeros((1, 3, side, side), np.float32)})[0]
        assert out.shape == (1, 48, feat, feat)
    with pytest.raises(ValueError):
        _parse(b"\x0a\xff\x01")  # length beyond the buffer


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_torch_modules_match_onnx(shared: Path, version: str) -> None:
    pytest.importorskip("torch")
    from trackkit.sot.nets.nanotrack import load_nanotrack

    folder = _v(shared, version)
    onnx_net = load_nanotrack(folder)
    torch_net = load_nanotrack(folder, backend="torch")
    assert onnx_net.version == torch_net.version == version
    rng = np.random.default_rng(0)
    z = rng.integers(0, 256, (127, 127, 3), dtype=np.uint8)
    x = rng.integers(0, 256, (255, 255, 3), dtype=np.uint8)
    onnx_net.set_template(z)
    torch_net.set_template(z)
    s1, l1, _ = onnx_net.track(x)
    s2, l2, _ = torch_net.track(x)
    n = 16 if version == "v2" else 15
    assert s1.shape == (n, n) and l1.shape == (4, n, n)
    np.testing.assert_allclose(s1, s2, atol=1e-4)
    np.testing.assert_allclose(l1, l2, rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_follows_synthetic_target(shared: Path, backend: str) -> None:
    if backend == "torch":
        pytest.importorskip("torch")
        weights = next(_v(shared, "v2").glob("*.pt"))
    else:
        weights = _v(shared, "v2")
    frames, boxes = moving_target(n=24)
    tracker = build("siamrpn", weights=str(weights), backend=backend)
    ious = follow(tracker, frames, boxes)
    assert np.mean(np.array(ious) > 0.5) >= 0.9
    # gray frames work too
    gray = [f.mean(axis=2).astype(np.uint8) for f in frames]
    assert np.mean(np.array(follow(tracker, gray, boxes)) > 0.5) >= 0.8


def _lost_and_found(flat: bool, event: str) -> tuple[list[np.ndarray], np.ndarray, int, int]:
    """Frames, boxes and the event's frames ``[start, end)``: the target is hidden for 7 frames
    (``"hide"``) or jumps 10 path steps (~150 px, beyond the normal search region; ``"jump"``)."""
    if event == "hide":
        frames, boxes = moving_target(n=34, hide=(15, 22), flat=flat)
        return frames, boxes, 15, 22
    frames, boxes = moving_target(n=40, flat=flat)
    keep = list(range(12)) + list(range(22, 40))
    return [frames[i] for i in keep], boxes[keep], 12, 13


@pytest.mark.parametrize(("flat", "event"), [(True, "hide"), (False, "hide"), (False, "jump")])
def test_long_term_search_region_grows_while_lost_and_returns_when_found(
    shared: Path, flat: bool, event: str
) -> None:
    frames, boxes, start, end = _lost_and_found(flat, event)
    weights = str(_v(shared, "v2"))
    # DaSiamRPN's long-term mode as in the paper, on the distractor-aware scores (on a textured
    # background the plain scores of the hidden target's surroundings stay high)
    tracker = SiamRPNTracker(weights=weights, long_term=True, distractors=True)
    cfg = tracker.config
    tracker.init(frames[0], boxes[0])
    growth, ious = [0], [1.0]  # growth[k]: search region used for frame k + 1
    for f, b in zip(frames[1:], boxes[1:], strict=True):
        box = tracker.update(f).box
        growth.append(tracker.search_growth)
        ious.append(iou(box, b))
    g = np.array(growth)
    assert np.all(g[:start] == 0)  # a followed target never triggers it
    # the mode triggers at the event and the region grows by grow_cells per lost frame
    assert g[start : end + 3].max() >= 2 * cfg.grow_cells
    assert g.max() <= cfg.max_grow_cells
    for a, b in zip(g[:-1], g[1:], strict=True):
        assert b in (0, min(a + cfg.grow_cells, cfg.max_grow_cells))
    # found again: back to the normal region for good, and on the target
    back = end + int(np.argmax(g[end:] == 0))
    assert back <= end + 4
    assert np.all(g[back:] == 0)
    assert np.mean(np.array(ious[back + 1 :]) > 0.5) >= 0.8
    # without the mode the target is not recovered
    without = follow(
        SiamRPNTracker(weights=weights, long_term=False, distractors=True), frames, boxes
    )
    assert np.mean(np.array(without[back:]) > 0.5) < 0.3


def test_bad_input_and_weights(shared: Path, tmp_path: Path) -> None:
    v2, v3 = _v(shared, "v2"), _v(shared, "v3")
    with pytest.raises(ConfigError):
        SiamRPNTracker(backend="tensorrt")
    with pytest.raises(ConfigError):
        SiamRPNTracker(lost_ratio=0.99, found_ratio=0.5)
    frame = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(DataNotFoundError):
        SiamRPNTracker(weights=str(tmp_path / "nothing")).init(frame, [10, 10, 30, 30])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError):
        SiamRPNTracker(weights=str(empty)).init(frame, [10, 10, 30, 30])
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a_backbone.onnx").symlink_to(v2 / "nanotrack_backbone_sim.onnx")
    (mixed / "b_head.onnx").symlink_to(v3 / "nanotrack_head.onnx")
    with pytest.raises(FormatError, match="mismatched"):
        SiamRPNTracker(weights=str(mixed)).init(frame, [10, 10, 30, 30])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a state dict")
    pytest.importorskip("torch")
    with pytest.raises(FormatError):
        SiamRPNTracker(weights=str(junk)).init(frame, [10, 10, 30, 30])
    t = SiamRPNTracker(weights=str(v2))
    with pytest.raises(TrackkitError):
        t.update(frame)
    with pytest.raises(TrackkitError):
        t.init(frame, [10, 10, 10, 30])  # zero width
