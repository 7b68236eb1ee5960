"""The model registry: fetch from a folder and a file:// URL, sha256 checks, atomic installs,
one-line errors, resolve() by name or path. Never the network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from trackkit import zoo
from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.zoo import catalog
from trackkit.zoo.cache import cache_dir, check_file, find_installed
from trackkit.zoo.catalog import ModelFile, ModelInfo

pytestmark = pytest.mark.timeout(60)

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes
PAYLOAD2 = b"second file of a two-file model" * 10


def _spec(name: str, data: bytes) -> ModelFile:
    return ModelFile(name, len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache and no shared folder, no mirror; two fake models in the registry."""
    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRACKKIT_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.delenv("TRACKKIT_MIRROR", raising=False)
    one = ModelInfo("tiny-det", "detect", (_spec("tiny.onnx", PAYLOAD),), "MIT", "none",
                    "none", folder="tiny_det", kind="yolox")  # fmt: skip
    files = (_spec("a_backbone.onnx", PAYLOAD), _spec("a_head.onnx", PAYLOAD2))
    two = ModelInfo("tiny-pair", "sot", files, "MIT", "none", "none", folder="tiny_pair")
    for m in (one, two):
        monkeypatch.setitem(catalog.MODELS, m.name, m)
        monkeypatch.setitem(catalog._BY_KEY, m.name, m)
    return tmp_path / "home"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A folder laid out like ../shared/weights with both fake models."""
    root = tmp_path / "mirror"
    (root / "tiny_det").mkdir(parents=True)
    (root / "tiny_det" / "tiny.onnx").write_bytes(PAYLOAD)
    (root / "tiny_pair").mkdir()
    (root / "tiny_pair" / "a_backbone.onnx").write_bytes(PAYLOAD)
    (root / "tiny_pair" / "a_head.onnx").write_bytes(PAYLOAD2)
    return root


def _leftovers(home: Path) -> list[Path]:
    """Anything but complete files of models in the cache."""
    models = home / "models"
    return [p for p in models.rglob("*") if ".part" in p.name] if models.exists() else []


def test_fetch_from_folder_then_resolve_by_name(home: Path, mirror: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"'trackkit models fetch tiny-det"):
        zoo.resolve("tiny-det")
    r = zoo.fetch("tiny-det", mirror, progress=False)
    assert r.action == "installed" and r.path == home / "models" / "tiny-det" / "tiny.onnx"
    assert r.path.read_bytes() == PAYLOAD
    assert zoo.resolve("tiny_det", "detect") == r.path  # "_" and "-" are the same
    assert zoo.fetch("tiny-det", mirror, progress=False).action == "present"
    pair = zoo.fetch("tiny-pair", mirror, progress=False)
    assert pair.path.is_dir() and sorted(p.name for p in pair.path.iterdir()) == [
        "a_backbone.onnx", "a_head.onnx"]  # fmt: skip
    assert zoo.status(catalog.MODELS["tiny-pair"]) == ("cached", pair.path)
    assert _leftovers(home) == []


def test_fetch_from_file_url_and_mirror_variable(
    home: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = zoo.fetch("tiny-pair", mirror.as_uri(), progress=False)
    assert r.action == "installed" and r.source.startswith("file://")
    monkeypatch.setenv("TRACKKIT_MIRROR", mirror.as_uri())
    assert zoo.fetch("tiny-det", progress=False).action == "installed"
    assert zoo.resolve("tiny-det").read_bytes() == PAYLOAD


def test_wrong_hash_and_truncated_files_are_refused(home: Path, mirror: Path) -> None:
    (mirror / "tiny_det" / "tiny.onnx").write_bytes(PAYLOAD[::-1])  # same size, other bytes
    with pytest.raises(FormatError, match=r"tiny-det: sha256 .*not installed"):
        zoo.fetch("tiny-det", mirror, progress=False)
    (mirror / "tiny_pair" / "a_head.onnx").write_bytes(PAYLOAD2[:-7])
    with pytest.raises(FormatError, match=r"tiny-pair: \d+ bytes, expected"):
        zoo.fetch("tiny-pair", mirror.as_uri(), progress=False)
    # nothing half-written: not the good first file of the pair, no temporary file
    assert find_installed(catalog.MODELS["tiny-pair"]) is None
    assert not (home / "models" / "tiny-pair").exists()
    assert not (home / "models" / "tiny-det").exists()
    assert _leftovers(home) == []


def test_missing_file_unreachable_url_and_bad_folder(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match=r"tiny-det: tiny.onnx not found .*--from DIR"):
        zoo.fetch("tiny-det", empty, progress=False)
    with pytest.raises(DataNotFoundError, match=r"tiny-det: tiny.onnx not found"):
        zoo.fetch("tiny-det", empty.as_uri(), progress=False)
    # port 9 (discard) on the loopback interface: refused at once, no network involved
    with pytest.raises(DataNotFoundError, match=r"tiny-det: cannot reach http://127.0.0.1:9/"):
        zoo.fetch("tiny-det", "http://127.0.0.1:9/weights", progress=False)
    with pytest.raises(DataNotFoundError, match="no such folder"):
        zoo.fetch("tiny-det", tmp_path / "nowhere", progress=False)
    with pytest.raises(DataNotFoundError, match="no download URL"):
        zoo.fetch("tiny-det", progress=False)  # the fake file has no URL and no mirror is set
    with pytest.raises(ConfigError, match="unknown model 'nope'.*yolox-nano"):
        zoo.fetch("nope", empty, progress=False)
    assert _leftovers(home) == []


def test_damaged_cache_is_a_clear_error_and_force_repairs(home: Path, mirror: Path) -> None:
    path = zoo.fetch("tiny-det", mirror, progress=False).path
    data = bytearray(PAYLOAD)
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"cached model tiny-det is damaged .*--force"):
        zoo.resolve("tiny-det")
    path.write_bytes(PAYLOAD[:1000])
    with pytest.raises(FormatError, match="truncated"):
        zoo.resolve("tiny-det")
    assert zoo.fetch("tiny-det", mirror, progress=False).action == "installed"  # not "present"
    assert zoo.resolve("tiny-det").read_bytes() == PAYLOAD


def test_resolve_paths_names_and_tasks(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x")
    assert zoo.resolve(f, "detect") == f  # an existing path is used as it is
    with pytest.raises(DataNotFoundError, match="no such file"):
        zoo.resolve(tmp_path / "missing.onnx", "detect")
    with pytest.raises(ConfigError, match="neither a file nor a detect model name"):
        zoo.resolve("yolo-giant", "detect")
    with pytest.raises(ConfigError, match="unknown detect model 'tiny-pair'"):
        zoo.resolve("tiny-pair", "detect")  # a sot model asked for as a detector
    own = zoo.resolve("siamfc", "sot")  # trackkit's own, in the package
    assert own.name == "siamfc.pt" and own.is_file()
    assert cache_dir() == home / "models"


def test_cli_models_verbs(home: Path, mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trackkit.cli.main import main

    assert main(["models", "fetch", "tiny-det", "--from", str(mirror), "-q"]) == 0
    assert "tiny-det: installed from" in capsys.readouterr().out
    assert main(["models", "path", "tiny-det"]) == 0
    assert capsys.readouterr().out.strip() == str(home / "models" / "tiny-det" / "tiny.onnx")
    assert main(["models", "list", "--task", "detect"]) == 0
    out = capsys.readouterr().out
    assert "tiny-det" in out and "cached" in out and "picodet-s" in out
    assert main(["models", "info", "yolox-nano"]) == 0
    out = capsys.readouterr().out
    assert "695e750a5d5754bb" in out and "Apache-2.0" in out and "letterbox" in out
    assert main(["models", "verify"]) == 0
    assert "tiny-det: ok" in capsys.readouterr().out
    (home / "models" / "tiny-det" / "tiny.onnx").write_bytes(PAYLOAD[:10])
    assert main(["models", "verify"]) == 1
    assert "tiny-det: DAMAGED" in capsys.readouterr().out
    assert main(["models", "path", "tiny-pair"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "trackkit models fetch tiny-pair" in err
    assert main(["models", "fetch"]) == 2  # neither names nor --all


def test_registry_matches_the_files(shared: Path) -> None:
    """Every registered size and sha256 is the real file's (shared weights, packaged assets)."""
    for m in zoo.MODELS.values():
        for f in m.files:
            path = (zoo.resolve(m.name).parent / f.name if m.packaged
                    else shared / "weights" / m.folder / f.name)  # fmt: skip
            assert check_file(path, f) is None, (m.name, f.name, check_file(path, f))
        assert m.task in catalog.TASKS and m.licence and m.release and m.convention
        if m.task == "detect":
            from trackkit.detectors import DETECTORS

            assert m.kind in DETECTORS and m.person_rank > 0


def test_default_detector_is_the_best_cached_one(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackkit.detectors.defaults import default_person_detector

    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    chosen = default_person_detector()  # nothing cached (../shared does not count)
    assert chosen.spec == "hog" and "trackkit models fetch yolox-nano" in chosen.note
    zoo.fetch("fastestdet", shared / "weights", progress=False)
    chosen = default_person_detector()
    assert chosen.spec == "fastestdet" and chosen.options == {"classes": ("person",)}
    zoo.fetch("yolox-nano", (shared / "weights").as_uri(), progress=False)
    chosen = default_person_detector()
    assert chosen.spec == "yolox-nano" and "best person detector" in chosen.note


def test_track_without_detector_or_cache_falls_back_to_hog(
    shared: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trackkit.cli.main import main

    video = shared / "data" / "videos" / "room_entrance_one_by_one.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not in the shared folder")
    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    out = tmp_path / "room.txt"
    assert main(["track", str(video), "--out", str(out), "--max-frames", "2", "-q"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("detector: hog") and "trackkit models fetch yolox-nano" in said[0]
    assert "tracked 2 frames with hog" in said[1] and "frames/s" in said[1]


def test_sot_weights_and_reid_models_by_name(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--weights / --reid NAME: the cached copy once fetched, ../shared before, as today."""
    pytest.importorskip("onnxruntime")
    from trackkit.reid.embedder import load_embedder
    from trackkit.sot.nets import resolve_weights

    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    before = resolve_weights("nanotrack-v3", "nanotrack_v2")
    assert before == shared / "weights" / "nanotrack_v3"  # read in place
    zoo.fetch("nanotrack-v3", shared / "weights", progress=False)
    zoo.fetch("omz-0248", (shared / "weights").as_uri(), progress=False)
    cached = tmp_path / "home" / "models"
    assert resolve_weights("nanotrack_v3", "nanotrack_v2") == cached / "nanotrack-v3"
    assert resolve_weights(None, "nanotrack_v3") == cached / "nanotrack-v3"
    assert resolve_weights("vit-tracker", "udt").name == "object_tracking_vittrack_2023sep.onnx"
    emb = load_embedder("omz-0248", threads=1)
    assert getattr(emb, "path", cached / "omz-0248").parent == cached / "omz-0248"
    assert emb.dim == 256
    with pytest.raises(ConfigError, match="unknown reid model 'yolox-nano'"):
        load_embedder("yolox-nano")


def test_fetch_all_from_the_shared_folder(
    shared: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One command fills the cache from ../shared/weights; every file then verifies."""
    from trackkit.cli.main import main

    monkeypatch.setenv("TRACKKIT_HOME", str(tmp_path / "home"))
    assert main(["models", "fetch", "--all", "--from", str(shared / "weights"), "-q"]) == 0
    out = capsys.readouterr().out
    fetched = [m for m in zoo.MODELS.values() if not m.packaged]
    assert out.count("installed from") == len(fetched)
    assert all(zoo.status(m)[0] == "cached" for m in fetched)
    assert main(["models", "verify"]) == 0
    assert "0 with problems" in capsys.readouterr().out
