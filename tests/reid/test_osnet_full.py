"""OSNet as published: torchreid-layout loading (every width, classifier optional), the input
convention inside the model (BGR 0..255 in, RGB + ImageNet statistics inside), fine-tuning
starts (--init), and the known answer of the MSMT17 release on VIPeR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import FormatError  # noqa: E402
from trackkit.reid.models import (  # noqa: E402
    OSNET_WIDTHS,
    OSNet,
    build_model,
    load_pretrained,
    load_torchreid_state,
    save_model,
    torchreid_width,
)
from trackkit.reid.training import load_init  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _as_torchreid(model: OSNet, classes: int = 7) -> dict[str, torch.Tensor]:
    """The model's parameters under torchreid's names, plus a classifier."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith("body."):
            out[k[5:]] = v.clone()
        elif k.startswith("fc."):
            out[k] = v.clone()
    out["classifier.weight"] = torch.zeros(classes, model.embed_dim)
    out["classifier.bias"] = torch.zeros(classes)
    return out


@pytest.mark.parametrize("width", sorted(OSNET_WIDTHS))
def test_every_width_has_the_published_layout(width: str) -> None:
    torch.manual_seed(0)
    model = build_model(f"osnet-{width}", input_size=(64, 32))
    state = _as_torchreid(model)
    c0, c1, c2, c3 = OSNET_WIDTHS[width]
    assert state["conv1.conv.weight"].shape == (c0, 3, 7, 7)
    assert state["conv2.0.conv2d.3.conv2.weight"].shape == (c1 // 4, 1, 3, 3)  # depthwise
    assert state["conv2.0.gate.fc1.weight"].shape == (max(c1 // 64, 1), c1 // 4, 1, 1)
    assert state["conv2.2.0.conv.weight"].shape == (c1, c1, 1, 1)  # transition after stage 2
    assert "conv4.2.0.conv.weight" not in state  # conv4 keeps its resolution
    assert state["conv5.conv.weight"].shape == (c3, c3, 1, 1)
    assert state["fc.0.weight"].shape == (512, c3)
    # 567 tensors in the x0.25 release (2 classifier tensors included)
    if width == "x0.25":
        assert len(state) == 567
    assert torchreid_width(state) == width
    # a fresh model loads it (classifier dropped, module. prefix accepted): same outputs
    other = build_model(f"osnet-{width}", input_size=(64, 32))
    load_torchreid_state(other, {f"module.{k}": v for k, v in state.items()})
    x = torch.rand(2, 3, 64, 32) * 255
    assert torch.equal(model.eval()(x), other.eval()(x))


def test_input_convention_bgr_in_rgb_imagenet_inside() -> None:
    model = build_model("osnet-x0.25", input_size=(32, 16)).eval()
    seen: list[torch.Tensor] = []
    model.body.conv1.conv.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    bgr = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1).expand(1, 3, 32, 16)
    model(bgr)
    # channel 0 of the network input is red = 30, normalised with the red ImageNet statistics
    expect = [
        (30 / 255 - 0.485) / 0.229,
        (20 / 255 - 0.456) / 0.224,
        (10 / 255 - 0.406) / 0.225,
    ]
    got = seen[0][0, :, 0, 0].tolist()
    assert got == pytest.approx(expect, abs=1e-6)
    # the released feature: fc output after ReLU, 512-d, non-negative
    assert model.embedding == "pooled" and model(bgr).shape == (1, 512)
    assert bool((model(bgr) >= 0).all())


def test_bad_state_dicts_are_named(tmp_path: Path) -> None:
    model = build_model("osnet-x0.25", input_size=(64, 32))
    state = _as_torchreid(model)
    with pytest.raises(FormatError, match="no published width"):
        torchreid_width({"conv1.conv.weight": torch.zeros(20, 3, 7, 7)}, "f.pth")
    with pytest.raises(FormatError, match="missing"):
        load_torchreid_state(model, {k: v for k, v in state.items() if "conv5" not in k}, "f.pth")
    bad = dict(state, **{"fc.0.weight": torch.zeros(512, 7)})
    with pytest.raises(FormatError, match=r"fc\.0\.weight: shape"):
        load_torchreid_state(model, bad, "f.pth")
    with pytest.raises(FormatError, match="x0.5"):
        load_torchreid_state(build_model("osnet-x0.5"), state, "f.pth")


def test_init_and_load_pretrained_from_files(tmp_path: Path) -> None:
    torch.manual_seed(1)
    src = build_model("osnet-x0.25", input_size=(64, 32))
    pth = tmp_path / "osnet_x0_25_test.pth"
    torch.save(_as_torchreid(src), pth)
    loaded = load_pretrained(pth)
    assert isinstance(loaded, OSNet) and loaded.config["width"] == "x0.25"
    x = torch.rand(2, 3, 256, 128) * 255
    src_256 = build_model("osnet-x0.25")
    load_torchreid_state(src_256, _as_torchreid(src))
    assert torch.equal(loaded(x), src_256.eval()(x))
    # --init: a torchreid file into a model of another input size, and a trackkit .pt
    target = build_model("osnet-x0.25", input_size=(64, 32))
    load_init(target, pth)
    assert torch.equal(target.body.conv1.conv.weight, src.body.conv1.conv.weight)
    own = tmp_path / "own.pt"
    save_model(src, own)
    again = build_model("osnet-x0.25", input_size=(64, 32))
    load_init(again, own)
    assert torch.equal(again.fc[0].weight, src.fc[0].weight)
    with pytest.raises(FormatError, match="cannot start a ResNetReID"):
        load_init(build_model("resnet-tiny"), pth)
    with pytest.raises(FormatError, match="do not fit"):
        load_init(build_model("osnet-x0.5"), own)
    # a saved OSNet reloads as a trackkit model with its own settings
    assert load_pretrained(own).input_size == (64, 32)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_msmt17_release_known_answer_on_viper(shared: Path, tmp_path: Path) -> None:
    """SOURCE.txt of the weights: VIPeR (10 trials) rank-1 31.3 %, mAP 40.8 %."""
    pytest.importorskip("onnxruntime")
    from trackkit.reid.data.datasets import load_dataset
    from trackkit.reid.embedder import OnnxEmbedder
    from trackkit.reid.evaluate import evaluate_embedder
    from trackkit.reid.models import export_onnx

    pth = shared / "weights" / "osnet_x0_25_msmt17" / "osnet_x0_25_msmt17.pth"
    model = load_pretrained(pth)
    assert model.config["width"] == "x0.25"
    onnx = tmp_path / "osnet.onnx"
    export_onnx(model, onnx)  # onnxruntime: ~6x faster than torch here, same numbers
    x = np.random.default_rng(0).integers(0, 255, (2, 256, 128, 3), dtype=np.uint8)
    emb = OnnxEmbedder(onnx, threads=2)
    with torch.no_grad():
        ref = model(torch.from_numpy(x).permute(0, 3, 1, 2).float()).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.allclose(emb.embed_resized(x), ref, atol=1e-4)
    dataset = load_dataset("viper", shared / "data" / "reid" / "viper")
    result = evaluate_embedder(emb, dataset).result
    assert 100 * result.rank(1) == pytest.approx(31.3, abs=0.5)
    assert 100 * result.mAP == pytest.approx(40.8, abs=0.5)


@pytest.mark.slow
def test_cli_osnet_file_in_eval_export_and_train_init_teacher(tmp_path: Path) -> None:
    """``--model osnet:PATH`` in eval/export, ``--init`` and ``--teacher`` in train."""
    import json

    from test_cli_shared import make_folder_dataset

    from trackkit.cli.main import main

    torch.manual_seed(2)
    pth = tmp_path / "osnet_x0_25_tiny.pth"
    torch.save(_as_torchreid(build_model("osnet-x0.25", input_size=(64, 32))), pth)
    data = tmp_path / "data"
    make_folder_dataset(data, n_ids=4)
    ev = ["reid", "eval", "--dataset", "folder", "--root", str(data), "--threads", "1"]
    assert main([*ev, "--model", f"osnet:{pth}", "--json", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["queries"] == 16
    teacher = tmp_path / "teacher.pt"
    save_model(build_model("resnet-tiny", input_size=(32, 16)).eval(), teacher)
    run = tmp_path / "run"
    train = [
        "reid", "train", "--dataset", "folder", "--root", str(data), "--model", "osnet-x0.25",
        "--init", str(pth), "--teacher", str(teacher), "--loss", "ce+kd-sim+kd-feat",
        "--epochs", "1", "--warmup", "0", "--batch-p", "2", "--batch-k", "2",
        "--input-size", "32", "16", "--threads", "1", "--out", str(run),
    ]  # fmt: skip
    assert main(train) == 0
    from trackkit.training.weights import read_weights

    w = read_weights(run / "model.pt")
    assert w.trained_on["init"] == str(pth) and w.trained_on["teachers"] == [str(teacher)]
    assert "--teacher" in (w.command or "") and len(list((run / "teacher-cache").glob("*.npy")))
    pytest.importorskip("onnxruntime")
    onnx = tmp_path / "o.onnx"
    assert main(["reid", "export", "--model", f"osnet:{pth}", "--out", str(onnx)]) == 0
    assert main([*ev, "--model", str(onnx), "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["mAP"] == pytest.approx(a["mAP"], abs=1e-6)


@pytest.mark.slow
def test_onnx_runtime_embedder_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from trackkit.reid.embedder import TorchEmbedder, load_embedder

    torch.manual_seed(3)
    model = build_model("osnet-x0.25", input_size=(64, 32), embedding="centered")
    crops = np.random.default_rng(1).integers(0, 255, (5, 64, 32, 3), dtype=np.uint8)
    onnx = TorchEmbedder(model, runtime="onnx")
    assert np.allclose(
        onnx.embed_resized(crops), TorchEmbedder(model).embed_resized(crops), atol=1e-5
    )
    onnx.flip = True
    flipped = TorchEmbedder(model, flip=True).embed_resized(crops)
    assert np.allclose(onnx.embed_resized(crops), flipped, atol=1e-5)
    pth = tmp_path / "osnet.pth"
    torch.save(_as_torchreid(model), pth)
    assert load_embedder(f"osnet:{pth}").runtime == "onnx"  # type: ignore[attr-defined]
    assert load_embedder(f"osnet:{pth}", runtime="torch").runtime == "torch"  # type: ignore[attr-defined]


def test_init_lr_factor_scales_only_the_pretrained_parameters(tmp_path: Path) -> None:
    from helpers.reid_data import REID_SIZE, reid_identities
    from trackkit.errors import ConfigError
    from trackkit.reid.training import TrainConfig, Trainer

    torch.manual_seed(3)
    src = build_model("osnet-x0.25", input_size=REID_SIZE)
    pth = tmp_path / "start.pth"
    torch.save(_as_torchreid(src), pth)
    images, crops = reid_identities()
    lr, factor = 1e-2, 0.25
    cfg = TrainConfig(
        model="osnet-x0.25", loss="triplet-hard+ce", epochs=1, p=3, k=2, warmup_epochs=0,
        lr=lr, weight_decay=0.0, input_size=REID_SIZE, max_batches=1, threads=1,
        init=str(pth), init_lr_factor=factor,
    )  # fmt: skip
    trainer = Trainer(cfg, images, tmp_path / "run", crops, progress=False)
    trainer.setup()
    groups = trainer.optimizer.param_groups
    assert [g["lr_factor"] for g in groups] == [factor, 1.0]
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    head_before = trainer.head.fc.weight.detach().clone()
    batch = next(iter(trainer.batches(0, _epoch_random(cfg.seed))))
    trainer.step(batch, 0, 0)
    # Adam's first step moves every parameter with a gradient by lr * g / (|g| + eps), i.e.
    # by (almost exactly) its group's learning rate: lr * factor for the file's weights (the
    # stem's convolution), lr for the new BNNeck and classifier
    stem = (trainer.model.body.conv1.conv.weight.detach() - before["body.conv1.conv.weight"]).abs()
    assert float(stem.max()) == pytest.approx(lr * factor, rel=1e-3)
    neck = (trainer.model.neck.weight.detach() - before["neck.weight"]).abs()
    assert float(neck.max()) == pytest.approx(lr, rel=1e-3)
    head = (trainer.head.fc.weight.detach() - head_before).abs()
    assert float(head.max()) == pytest.approx(lr, rel=1e-3)
    # factor 1 keeps the single group of earlier checkpoints; a factor needs --init
    plain = Trainer(
        TrainConfig(**{**cfg.__dict__, "init_lr_factor": 1.0}), images, tmp_path / "b", crops,
        progress=False,
    )  # fmt: skip
    plain.setup()
    assert len(plain.optimizer.param_groups) == 1
    with pytest.raises(ConfigError, match="--init"):
        TrainConfig(init_lr_factor=0.5)
    with pytest.raises(ConfigError, match="init_lr_factor"):
        TrainConfig(init=str(pth), init_lr_factor=0.0)


def _epoch_random(seed: int):  # type: ignore[no-untyped-def]
    from trackkit.training.task import EpochRandom

    return EpochRandom(np.random.default_rng(seed), seed, 0)
