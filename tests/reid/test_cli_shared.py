"""The ``trackkit reid`` verb, torch-free imports, and the OMZ anchor numbers on ../shared."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.cli.main import main

# CUHK03-test rank-1 / mAP (%) of the default model, src/trackkit/assets/
# reid_osnet_x0_25_distilled.pt (docs/reid.md, "The default model")
OSNET_RANK1, OSNET_MAP = 63.4, 60.7
# ... and of the previous default, src/trackkit/assets/reid_resnet_w32_parts_cuhk03.pt, with its
# own embedding (the centred pooled feature) and with the BNNeck output (docs/reid.md)
DEFAULT_RANK1, DEFAULT_MAP = 64.5, 61.7
BNNECK_RANK1, BNNECK_MAP = 58.1, 51.9


def test_torch_free_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import trackkit.cli.reid, trackkit.metrics.rank, trackkit.reid.data.datasets\n"
        "import trackkit.reid.embedder, trackkit.reid.rerank, trackkit.reid.evaluate\n"
        "import trackkit.viz.cmc\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def make_folder_dataset(root: Path, n_ids: int = 5) -> None:
    rng = np.random.default_rng(0)
    for pid in range(n_ids):
        colour = rng.integers(0, 255, 3)
        (root / f"id{pid}").mkdir(parents=True)
        for cam in ("a", "b"):
            for j in range(2):
                noise = rng.integers(-20, 20, (40, 20, 3))
                img = np.clip(colour + noise, 0, 255).astype(np.uint8)
                cv2.imwrite(str(root / f"id{pid}" / f"{cam}_{j}.jpg"), img)


def reid_eval(root: Path, *options: str) -> int:
    """The exit status of ``trackkit reid eval`` on the folder dataset ``root``."""
    return main(["reid", "eval", "--dataset", "folder", "--root", str(root), *options])


def test_cli_eval_histogram_json_plot_and_embed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_folder_dataset(tmp_path / "data")
    out = tmp_path / "r.json"
    plot = tmp_path / "cmc.png"
    code = reid_eval(
        tmp_path / "data", "--model", "histogram", "--json", str(out), "--plot", str(plot)
    )
    assert code == 0
    res = json.loads(out.read_text())
    assert set(res) >= {"rank1", "rank5", "rank10", "mAP", "mINP"}
    assert res["rank1"] == 1.0  # identities have distinct colours
    assert plot.stat().st_size > 0
    embed = ["reid", "embed", str(tmp_path / "data" / "id0"), "--model", "histogram"]
    code = main([*embed, "--out", str(tmp_path / "e.npz")])
    assert code == 0
    emb = np.load(tmp_path / "e.npz")["embeddings"]
    assert emb.shape[0] == 4 and emb.dtype == np.float32


def test_cli_bad_input_is_one_line_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "test").mkdir()
    cv2.imwrite(str(tmp_path / "test" / "0001_00.jpg"), np.zeros((8, 4, 3), np.uint8))
    (tmp_path / "test" / "0001_07.jpg").write_bytes(b"broken")
    evaluate = ["reid", "eval", "--dataset", "cuhk03", "--root", str(tmp_path)]
    code = main([*evaluate, "--model", "histogram"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "0001_07.jpg" in err
    code = main([*evaluate, "--model", str(tmp_path / "missing.pt")])
    assert code == 2


@pytest.mark.slow
def test_cli_train_then_eval_own_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    data = tmp_path / "data"
    make_folder_dataset(data, n_ids=4)
    args = [
        "reid",
        "train",
        "--dataset",
        "folder",
        "--root",
        str(data),
        "--epochs",
        "2",
        "--warmup",
        "1",
        "--batch-p",
        "2",
        "--batch-k",
        "2",
        "--input-size",
        "32",
        "16",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(args) == 0
    assert main([*args, "--resume"]) == 0  # already finished: nothing to do
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 3
    # --eval-every scores identities held out of training, never the test split
    make_folder_dataset(tmp_path / "data6", n_ids=6)
    val_run = [*args[:-1], str(tmp_path / "val"), "--eval-every", "1", "--val-fraction", "0.34"]
    val_run[val_run.index("--root") + 1] = str(tmp_path / "data6")
    assert main(val_run) == 0
    val_log = (tmp_path / "val" / "log.csv").read_text().splitlines()
    assert "val_rank1" in val_log[0] and "val_mAP" in val_log[0] and len(val_log) == 3
    own = str(tmp_path / "run" / "model.pt")
    rerank = ["--rerank", "--k1", "3", "--k2", "2"]
    assert reid_eval(data, "--model", own, *rerank, "--json", str(tmp_path / "r.json")) == 0
    assert json.loads((tmp_path / "r.json").read_text())["rerank"] is True
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        onnx_path = str(tmp_path / "m.onnx")
        assert main(["reid", "export", "--model", own, "--out", onnx_path]) == 0
        assert reid_eval(data, "--model", onnx_path, "--json", str(tmp_path / "o.json")) == 0
        # --embedding: the .pt evaluated with the BNNeck output scores what its export does
        bn_onnx = str(tmp_path / "bn.onnx")
        export = ["reid", "export", "--model", own, "--out", bn_onnx, "--embedding", "bnneck"]
        assert main(export) == 0
        pt_json, onnx_json = tmp_path / "pb.json", tmp_path / "ob.json"
        bn_args = ["--model", own, "--embedding", "bnneck", "--json", str(pt_json)]
        assert reid_eval(data, *bn_args) == 0
        assert reid_eval(data, "--model", bn_onnx, "--json", str(onnx_json)) == 0
        a, b = json.loads(pt_json.read_text()), json.loads(onnx_json.read_text())
        assert a["mAP"] == pytest.approx(b["mAP"], abs=1e-6)
        assert reid_eval(data, "--model", bn_onnx, "--embedding", "centered") == 2
    # batch-norm adaptation: per camera in eval, to a folder with `reid adapt`
    assert reid_eval(data, "--model", own, "--adapt", "--json", str(tmp_path / "a.json")) == 0
    assert json.loads((tmp_path / "a.json").read_text())["adapt"] is True
    assert reid_eval(data, "--model", "histogram", "--adapt") == 2
    adapted = tmp_path / "adapted.pt"
    folder = str(data / "id0")
    assert main(["reid", "adapt", folder, "--model", own, "--out", str(adapted)]) == 0
    from trackkit.reid.models import load_model

    a, b = load_model(own), load_model(adapted)
    assert int(b.neck.num_batches_tracked) == 1  # the 4 images of id0
    assert not torch.equal(a.neck.running_mean, b.neck.running_mean)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.slow
def test_omz_0248_cuhk03_anchor(shared: Path) -> None:
    """OMZ person-reidentification-retail-0248 on CUHK03-test: 44.3 % rank-1, 43.4 % mAP."""
    pytest.importorskip("onnxruntime")
    from trackkit.reid.data.datasets import load_dataset
    from trackkit.reid.embedder import OnnxEmbedder
    from trackkit.reid.evaluate import evaluate_embedder

    model = shared / "weights" / "omz_person_reid" / "person-reidentification-retail-0248.onnx"
    ds = load_dataset("cuhk03", shared / "data" / "reid" / "cuhk03-labeled")
    res = evaluate_embedder(OnnxEmbedder(model), ds).result
    assert res.num_queries == 451
    assert round(100 * res.rank(1), 1) == 44.3
    assert round(100 * res.mAP, 1) == 43.4


@pytest.mark.slow
def test_default_model_scores_documented_numbers(shared: Path) -> None:
    """The committed default model and the previous one on CUHK03-test (docs/reid.md)."""
    pytest.importorskip("torch")
    from trackkit.reid.data.datasets import load_dataset
    from trackkit.reid.embedder import load_embedder, previous_default_model_path
    from trackkit.reid.evaluate import evaluate_embedder

    ds = load_dataset("cuhk03", shared / "data" / "reid" / "cuhk03-labeled")
    new = load_embedder("default", threads=1)
    assert new.input_size == (160, 80) and new.dim == 512  # OSNet x0.25 (docs/reid.md)
    res = evaluate_embedder(new, ds).result
    assert 100 * res.rank(1) == pytest.approx(OSNET_RANK1, abs=0.25)
    assert 100 * res.mAP == pytest.approx(OSNET_MAP, abs=0.25)
    previous = str(previous_default_model_path())
    embedder = load_embedder(previous, threads=1)
    assert embedder.input_size == (160, 64) and embedder.dim == 768  # 256 x (1 + 2 parts)
    res = evaluate_embedder(embedder, ds).result
    assert 100 * res.rank(1) == pytest.approx(DEFAULT_RANK1, abs=0.25)
    assert 100 * res.mAP == pytest.approx(DEFAULT_MAP, abs=0.25)
    bnneck = load_embedder(previous, threads=1, embedding="bnneck")
    res = evaluate_embedder(bnneck, ds).result
    assert 100 * res.rank(1) == pytest.approx(BNNECK_RANK1, abs=0.25)
    assert 100 * res.mAP == pytest.approx(BNNECK_MAP, abs=0.25)


@pytest.mark.slow
def test_camera_adaptation_undoes_a_colour_cast(shared: Path, tmp_path: Path) -> None:
    """CUHK03-test identities with camera b's images colour-cast: the default model fails
    across the cameras (the previous default), per-camera adaptation recovers much of it."""
    pytest.importorskip("torch")
    from trackkit.reid.data.datasets import load_dataset
    from trackkit.reid.embedder import load_embedder, previous_default_model_path
    from trackkit.reid.evaluate import evaluate_embedder

    files = sorted((shared / "data" / "reid" / "cuhk03-labeled" / "test").glob("*.jpg"))[:400]
    for f in files:
        pid, shot = f.stem.split("_")
        cam = "a" if int(shot) < 5 else "b"
        img = cv2.imread(str(f)).astype(np.float32)
        if cam == "b":
            img = np.clip(img * np.array([0.6, 0.9, 1.4]) + 20, 0, 255)
        (tmp_path / pid).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / pid / f"{cam}_{shot}.png"), img.astype(np.uint8))
    ds = load_dataset("folder", tmp_path)
    # the previous default (the model these numbers were measured with)
    embedder = load_embedder(str(previous_default_model_path()), threads=1)
    plain = evaluate_embedder(embedder, ds).result
    adapted = evaluate_embedder(embedder, ds, adapt=True).result
    assert plain.num_queries == adapted.num_queries == 400
    assert adapted.rank(1) > plain.rank(1) + 0.25  # measured: 38.5 % against 0.0 %
    assert adapted.mAP > plain.mAP + 0.25
