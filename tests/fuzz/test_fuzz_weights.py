"""Fuzzing weight files: truncated or random-bytes ``.pt`` and ``.onnx`` files, and valid torch
files holding the wrong structure. Each gives a loaded network or one error naming the file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fuzzlib import EXAMPLES, FUZZ, clean
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from trackkit.sot.nets import load_network  # noqa: E402
from trackkit.sot.nets.siamfc_net import SiamFCNet  # noqa: E402
from trackkit.sot.nets.weights import load_weights  # noqa: E402
from trackkit.training.weights import read_weights  # noqa: E402

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

ASSETS = Path(__file__).resolve().parents[2] / "src" / "trackkit" / "assets"
_names = itertools.count()


def _file(folder: Path, data: bytes, name: str) -> Path:
    sub = folder / f"case{next(_names)}"
    sub.mkdir()
    p = sub / name
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def siamfc_bytes() -> bytes:
    return (ASSETS / "siamfc.pt").read_bytes()


@FUZZ
@given(st.floats(0, 0.999), st.booleans())
def test_truncated_weights(tmp_path: Path, siamfc_bytes: bytes, frac: float, flip: bool) -> None:
    data = bytearray(siamfc_bytes[: int(len(siamfc_bytes) * frac)])
    if flip and data:
        data[len(data) // 2] ^= 0xFF
    p = _file(tmp_path, bytes(data), "siamfc.pt")
    net = clean(lambda: load_network(p, "siamfc", SiamFCNet, width=1.0), p)
    assert net is None or frac > 0.99  # only an (almost) whole file can load


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_weights(tmp_path: Path, data: bytes) -> None:
    p = _file(tmp_path, data, "w.pt")
    assert clean(lambda: load_weights(p, "siamfc"), p) is None


leaf = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-1, 1),
    st.text(max_size=4),
    st.sampled_from(["trackkit-weights", "trackkit-checkpoint", "trackkit-reid", "siamfc"]),
    st.builds(lambda n: torch.zeros(n), st.integers(0, 3)),
)
structure = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "format",
                        "arch",
                        "config",
                        "state_dict",
                        "model",
                        "weights",
                        "task",
                        "width",
                        "features.0.weight",
                    ]
                ),  # fmt: skip
                st.integers(0, 2),
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


keys = st.sampled_from(
    ["format", "arch", "config", "state_dict", "model", "weights", "task", "width"]
)
top = st.one_of(structure, st.dictionaries(keys, structure, min_size=1, max_size=4))


@FUZZ
@given(top)
def test_torch_files_of_the_wrong_structure(tmp_path: Path, obj: object) -> None:
    sub = tmp_path / f"case{next(_names)}"
    sub.mkdir()
    p = sub / "siamfc.pt"
    torch.save(obj, p)
    clean(lambda: read_weights(p), p)
    net = clean(lambda: load_network(p, "siamfc", SiamFCNet, width=1.0), p)
    assert net is None  # no random structure holds SiamFC's tensors


@FUZZ
@given(st.data())
def test_valid_weights_with_one_part_replaced(tmp_path: Path, data: st.DataObject) -> None:
    """The packaged SiamFC weights with one entry (top level, architecture or a tensor)
    replaced by something else: loads (an equivalent value) or a clear error."""
    blob = torch.load(ASSETS / "siamfc.pt", weights_only=True)
    where = data.draw(st.sampled_from(["top", "arch", "state"]))
    target = {"top": blob, "arch": blob.get("arch"), "state": blob["state_dict"]}[where]
    if not isinstance(target, dict) or not target:
        return
    key = data.draw(st.sampled_from(sorted(target, key=str)))
    target[key] = data.draw(leaf)
    sub = tmp_path / f"case{next(_names)}"
    sub.mkdir()
    p = sub / "siamfc.pt"
    torch.save(blob, p)
    clean(lambda: load_network(p, "siamfc", SiamFCNet, width=1.0), p)


@pytest.fixture(scope="module")
def onnx_bytes(shared: Path) -> bytes:
    return (shared / "weights" / "nanotrack_v3" / "nanotrack_backbone.onnx").read_bytes()


@settings(FUZZ, max_examples=max(15, EXAMPLES // 3))
@given(st.floats(0, 0.999), st.binary(max_size=64), st.sampled_from(["trunc", "random"]))
def test_truncated_and_random_onnx(
    tmp_path: Path, onnx_bytes: bytes, frac: float, junk: bytes, kind: str
) -> None:
    pytest.importorskip("onnxruntime")
    from trackkit.sot.nets.onnx_io import onnx_session

    data = onnx_bytes[: int(len(onnx_bytes) * frac)] if kind == "trunc" else junk
    p = _file(tmp_path, data, "model.onnx")
    assert clean(lambda: onnx_session(p, dynamic_inputs=["input"]), p) is None
    assert clean(lambda: onnx_session(p), p) is None
