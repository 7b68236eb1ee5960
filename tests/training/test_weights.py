"""The one weights format (trained_on, command), the one loader of every older format, and
the safety rules: weights_only loading refuses pickled objects; saves are atomic."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import REID_SIZE, reid_identities  # noqa: E402
from trackkit.cli.main import main  # noqa: E402
from trackkit.errors import FormatError  # noqa: E402
from trackkit.reid.models import load_model  # noqa: E402
from trackkit.reid.training import TrainConfig, Trainer  # noqa: E402
from trackkit.sot.nets import default_weights  # noqa: E402
from trackkit.sot.nets.weights import load_weights  # noqa: E402
from trackkit.training import atomic_save, read_weights, save_weights  # noqa: E402
from trackkit.training.weights import FORMAT, make_weights  # noqa: E402

ASSETS = Path(__file__).parents[2] / "src" / "trackkit" / "assets"


class Payload:
    """An arbitrary picklable object (what weights_only loading must refuse)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("unpickled!",))


def test_sot_train_records_command_and_sequences(sot_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["sot", "train", "--model", "siamfc", "--data", str(sot_data), "--out", str(out),
            "--epochs", "1", "--steps", "1", "--batch-size", "2", "--quiet",
            "--set", "width=0.125"]  # fmt: skip
    assert main(argv) == 0
    blob = torch.load(out / "model.pt", weights_only=True)
    assert blob["format"] == FORMAT and blob["version"] == 1
    assert (blob["task"], blob["arch"], blob["config"]) == ("sot", "siamfc", {"width": 0.125})
    assert blob["trained_on"] == {"datasets": [sot_data.name], "sequences": ["Syn1", "Syn2"]}
    cmd = blob["command"]
    assert cmd.startswith("trackkit sot train --model siamfc --data ")
    assert "--epochs 1" in cmd and "--set width=0.125" in cmd and "--quiet" not in cmd
    # the tracker loads it; the checkpoint holds the same weights
    from trackkit.sot.nets.siamfc_net import load_siamfc

    net = load_siamfc(out / "model.pt")
    assert net.width == 0.125
    ckpt = read_weights(out / "checkpoint.pt")
    for k, v in blob["state_dict"].items():
        assert torch.equal(ckpt.state_dict[k], v)


def test_reid_weights_record_identities_and_command(tmp_path: Path) -> None:
    images, crops = reid_identities()
    cfg = TrainConfig(epochs=1, p=3, k=2, warmup_epochs=0, input_size=REID_SIZE, max_batches=1)
    Trainer(cfg, images, tmp_path, crops, progress=False, dataset="toy",
            command="trackkit reid train --dataset toy").run()  # fmt: skip
    w = read_weights(tmp_path / "model.pt", task="reid")
    assert (w.task, w.arch, w.legacy) == ("reid", "resnet-tiny", False)
    assert w.trained_on == {"datasets": ["toy"], "identities": [10, 11, 12, 13, 14, 15]}
    assert w.command == "trackkit reid train --dataset toy"
    model = load_model(tmp_path / "model.pt")
    x = torch.rand(2, 3, *REID_SIZE) * 255
    assert model(x).shape[0] == 2


def _legacy_net(name: str) -> tuple[dict[str, object], dict[str, torch.Tensor]]:
    """A small network of ``name`` in the old ``{"arch", "state_dict"}`` layout (the format
    of the assets before the trackkit-weights format), with seeded random tensors."""
    torch.manual_seed(0)
    if name == "siamfc":
        from trackkit.sot.nets.siamfc_net import SiamFCNet

        return {"model": "siamfc", "width": 0.125}, SiamFCNet(width=0.125).state_dict()
    if name == "goturn":
        from trackkit.sot.nets.goturn_net import GoturnNet

        arch = {"model": "goturn", "size": 64, "width": 8, "reduced": 8, "fc": 32}
        return arch, GoturnNet(size=64, width=8, reduced=8, fc=32).state_dict()
    from trackkit.sot.nets.mdnet_net import MDNet

    arch = {"model": "mdnet", "domains": 2, "size": 32, "width": 8, "fc": 32}
    return arch, MDNet(domains=2, size=32, width=8, fc=32).state_dict()


@pytest.mark.parametrize("name", ["siamfc", "goturn", "mdnet"])
def test_legacy_sot_weights_load_identically(name: str, tmp_path: Path) -> None:
    arch0, state0 = _legacy_net(name)
    path = tmp_path / f"{name}.pt"
    torch.save({"arch": arch0, "state_dict": state0}, path)
    arch, state = load_weights(path, name)
    assert arch == arch0
    assert state.keys() == state0.keys()
    assert all(torch.equal(state[k], v) for k, v in state0.items())
    w = read_weights(path)
    assert (w.task, w.arch, w.legacy) == ("sot", name, True)
    # re-saved in the current format: same arch and tensors
    save_weights(tmp_path / "new.pt", w)
    arch2, state2 = load_weights(tmp_path / "new.pt", name)
    assert arch2 == arch and all(torch.equal(state2[k], v) for k, v in state.items())
    with pytest.raises(FormatError, match="not"):
        load_weights(path, "goturn" if name != "goturn" else "siamfc")


@pytest.mark.parametrize(
    "path", sorted(p for p in ASSETS.glob("*.pt") if not p.name.startswith("reid_")),
    ids=lambda p: p.stem,
)  # fmt: skip
def test_packaged_sot_weights_are_current_format(path: Path) -> None:
    blob = torch.load(path, weights_only=True)
    assert blob.get("format") == FORMAT, f"{path.name}: re-make it by its documented command"
    w = read_weights(path)
    assert w.legacy is False and w.task == "sot"
    assert w.command.startswith("trackkit sot train --model "), path.name
    assert w.trained_on["sequences"], path.name


def test_packaged_reid_model_loads_identically(tmp_path: Path) -> None:
    from trackkit.reid.models import build_model

    path = ASSETS / "reid_resnet_w32_parts_cuhk03.pt"
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "trackkit-reid"
    cfg = dict(raw["config"])
    cfg["input_size"] = tuple(cfg["input_size"])
    ref = build_model(raw["arch"], **cfg)
    ref.load_state_dict(raw["state_dict"])
    ref.eval()
    model = load_model(path)
    x = torch.rand(2, 3, *cfg["input_size"], generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))
    save_weights(tmp_path / "new.pt", read_weights(path))
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "new.pt")(x), ref(x))


@pytest.mark.parametrize(
    "parts", [("dcfnet", "param.pth"), ("udt", "udt_model_best_state_dict.pt")]
)
def test_shared_pretrained_dcf_weights_load(shared: Path, parts: tuple[str, str]) -> None:
    from trackkit.sot.nets.dcfnet_net import load_feature_weights

    path = shared / "weights" / parts[0] / parts[1]
    w = read_weights(path)
    assert w.legacy and w.arch == "" and set(w.state_dict) >= {"feature.0.weight"}
    feats = load_feature_weights(path)
    assert torch.equal(feats["0.weight"], w.state_dict["feature.0.weight"])


def test_pickled_objects_are_refused(tmp_path: Path, sot_data: Path) -> None:
    from trackkit.sot.train.base import TrainOptions, build_trainer, fit

    out = tmp_path / "run"
    out.mkdir()
    torch.save({"epoch": 1, "optimizer": {}, "payload": Payload()}, out / "checkpoint.pt")
    opts = TrainOptions(data=(sot_data,), out=out, epochs=2, steps_per_epoch=1, batch_size=2,
                        resume=True, extra={"width": 0.125})  # fmt: skip
    with pytest.raises(FormatError, match="safely"):
        fit(build_trainer("siamfc", opts), progress=False)
    torch.save({"format": FORMAT, "state_dict": {}, "x": Payload()}, tmp_path / "w.pt")
    with pytest.raises(FormatError, match="safely"):
        read_weights(tmp_path / "w.pt")
    with pytest.raises(FormatError):
        load_model(tmp_path / "w.pt")


def test_atomic_save_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.pt"
    atomic_save({"a": torch.ones(2)}, path)
    atomic_save({"a": torch.zeros(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.zeros(3))
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]  # no temporary file left
    buf = io.BytesIO()
    torch.save({"a": np.float64(1.0)}, buf)  # numpy scalars are not plain types ...
    with pytest.raises(ValueError):
        save_weights(path, {"format": "other"})  # ... and only current-format dicts are saved


@pytest.mark.parametrize("name", ["siamfc", "goturn", "mdnet"])
def test_training_starts_from_packaged_weights(name: str, sot_data: Path, tmp_path: Path) -> None:
    from trackkit.sot.train.base import TrainOptions, build_trainer, fit

    opts = TrainOptions(data=(sot_data,), out=tmp_path, epochs=1, steps_per_epoch=1,
                        batch_size=1, lr=1e-6, init_weights=default_weights(name))  # fmt: skip
    w = read_weights(fit(build_trainer(name, opts), progress=False), arch=name)
    old = read_weights(default_weights(name))
    assert {k: v for k, v in w.config.items() if k != "domains"} == {
        k: v for k, v in old.config.items() if k != "domains"
    }


def _tensor_key(v: torch.Tensor) -> tuple[str, tuple[int, ...], bytes]:
    return (str(v.dtype), tuple(v.shape), v.numpy().tobytes())


def _shared_tensors(shared: Path) -> dict[tuple[str, tuple[int, ...], bytes], str]:
    out = {}
    for f in sorted((shared / "weights").glob("nanotrack_v*/*state_dict.pt")):
        for k, v in torch.load(f, weights_only=True).items():
            if v.numel() > 1:
                out[_tensor_key(v)] = f"{f.name}:{k}"
    return out


def test_packaged_weights_hold_no_copy_of_a_shared_file(shared: Path) -> None:
    """Frozen pretrained tensors are references, not copies (nothing from ../shared is
    committed); reading the file restores them."""
    known = _shared_tensors(shared)
    for path in sorted(ASSETS.glob("*.pt")):
        raw = torch.load(path, weights_only=True)
        state = raw["state_dict"]
        copies = [k for k, v in state.items() if v.numel() > 1 and _tensor_key(v) in known]
        assert not copies, f"{path.name} stores {len(copies)} tensors of a shared file"
        full = read_weights(path).state_dict
        refs = raw.get("from_pretrained", {}).get("keys", {})
        assert set(full) == set(raw["state_dict"]) | set(refs)


def test_frozen_pretrained_tensors_are_stored_as_references(shared: Path, tmp_path: Path) -> None:
    import hashlib

    src = shared / "weights" / "nanotrack_v3" / "nanotrackv3_state_dict.pt"
    pre = torch.load(src, weights_only=True)
    key = next(k for k, v in pre.items() if v.numel() > 100)
    own = torch.rand(3, 4)
    record = {"sequences": ["S"], "pretrained": {
        "backbone": "nanotrack_v3", "file": src.name,
        "sha256": hashlib.sha256(src.read_bytes()).hexdigest()}}  # fmt: skip
    w = make_weights("sot", "toy", {}, {"frozen": pre[key].clone(), "own": own}, record, "cmd")
    save_weights(tmp_path / "w.pt", w)
    raw = torch.load(tmp_path / "w.pt", weights_only=True)
    assert list(raw["state_dict"]) == ["own"]
    assert raw["from_pretrained"]["keys"] == {"frozen": key}
    back = read_weights(tmp_path / "w.pt").state_dict
    assert torch.equal(back["frozen"], pre[key]) and torch.equal(back["own"], own)
    # a pretrained file with another sha256 is refused in one line
    raw["from_pretrained"]["sha256"] = "0" * 64
    torch.save(raw, tmp_path / "bad.pt")
    with pytest.raises(FormatError, match="another file; install that one"):
        read_weights(tmp_path / "bad.pt")
