"""Dataset file names, protocols, crops and the P x K sampler (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.reid.data import names
from trackkit.reid.data.datasets import load_dataset
from trackkit.reid.data.images import crop_boxes, load_crops
from trackkit.reid.data.sampler import PKSampler


def touch_images(folder: Path, files: list[str], size: tuple[int, int] = (16, 8)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(files):
        img = np.full((*size, 3), i % 255, dtype=np.uint8)
        assert cv2.imwrite(str(folder / name), img)


@pytest.mark.parametrize(
    ("parser", "name", "pid", "cam"),
    [
        (names.parse_market, "0002_c1s1_000451_03.jpg", 2, 0),
        (names.parse_market, "-1_c3s2_012345_01.jpg", -1, 2),
        (names.parse_market, "0001_c2_f0046182.jpg", 1, 1),
        (names.parse_cuhk03, "1000_04.jpg", 1000, 0),
        (names.parse_cuhk03, "0007_05.jpg", 7, 1),
        (names.parse_viper, "316_45_1.png", 316, 0),
        (names.parse_viper, "000_90_2.png", 0, 1),
        (names.parse_prid2011, "0353_a.png", 353, 0),
        (names.parse_prid2011, "0707_b.png", 707, 1),
        (names.parse_cuhk01, "0001002.png", 1, 0),
        (names.parse_cuhk01, "0971003.jpg", 971, 1),
        (names.parse_grid, "0001_2_25004_107_32_106_221.jpeg", 1, 1),
    ],
)
def test_file_name_parsers(parser, name: str, pid: int, cam: int) -> None:  # type: ignore[no-untyped-def]
    im = parser(Path("/d") / name)
    assert (im.pid, im.camid) == (pid, cam)


@pytest.mark.parametrize(
    ("parser", "name"),
    [
        (names.parse_market, "0002_1_000451.jpg"),
        (names.parse_cuhk03, "1000_12.jpg"),
        (names.parse_cuhk03, "1000-01.jpg"),
        (names.parse_viper, "316_45_3.png"),
        (names.parse_prid2011, "0353_c.png"),
        (names.parse_cuhk01, "0001005.png"),
        (names.parse_grid, "0001_2.jpeg"),
    ],
)
def test_bad_file_names_name_the_file(parser, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match=name.replace(".", r"\.")):
        parser(Path("/d") / name)


def test_cuhk03_protocol(tmp_path: Path) -> None:
    touch_images(tmp_path / "train", ["1000_00.jpg", "1000_06.jpg", "1001_01.jpg", "1001_07.jpg"])
    touch_images(
        tmp_path / "test",
        ["0000_00.jpg", "0000_01.jpg", "0000_05.jpg", "0001_02.jpg", "0001_09.jpg"],
    )
    ds = load_dataset("cuhk03", tmp_path)
    assert len(ds.train) == 4 and len(ds.trials) == 1
    q, g = ds.trials[0].query, ds.trials[0].gallery
    assert {im.path.name for im in q} == {"0000_00.jpg", "0000_01.jpg", "0001_02.jpg"}
    assert {im.path.name for im in g} == {"0000_05.jpg", "0001_09.jpg"}


def test_cuhk03_bad_name_and_empty_query(tmp_path: Path) -> None:
    touch_images(tmp_path / "test", ["0000_05.jpg", "0001_06.jpg"])
    with pytest.raises(TrackkitError, match="empty query set"):
        load_dataset("cuhk03", tmp_path)
    touch_images(tmp_path / "test", ["person_3.jpg"])
    with pytest.raises(FormatError, match="person_3.jpg"):
        load_dataset("cuhk03", tmp_path)


def test_viper_random_trials(tmp_path: Path) -> None:
    files = [f"{p:03d}_0_{c}.png" for p in range(632) for c in (1, 2)]
    for name in files:  # empty files are enough: the protocol does not read pixels
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    ds = load_dataset("viper", tmp_path, n_trials=3, seed=5)
    assert len(ds.trials) == 3
    t0 = ds.trials[0]
    assert len(t0.query) == 316 and len(t0.gallery) == 316
    assert all(im.camid == 0 for im in t0.query) and all(im.camid == 1 for im in t0.gallery)
    test_ids = {im.pid for im in t0.query}
    assert not test_ids & {im.pid for im in ds.train} and len(ds.train) == 632
    assert {im.pid for im in ds.trials[1].query} != test_ids
    again = load_dataset("viper", tmp_path, n_trials=1, seed=5)
    assert {im.pid for im in again.trials[0].query} == test_ids


def test_prid2011_protocol(tmp_path: Path) -> None:
    files = [f"{p:04d}_a.png" for p in range(1, 386)] + [f"{p:04d}_b.png" for p in range(1, 750)]
    for name in files:
        (tmp_path / name).touch()
    ds = load_dataset("prid2011", tmp_path, n_trials=2)
    t = ds.trials[0]
    test = {im.pid for im in t.query}
    assert len(t.query) == 100 and test <= set(range(1, 201))
    # gallery: every camera-b image except the other 100 shared identities
    assert len(t.gallery) == 749 - 100
    assert {im.pid for im in t.gallery} == test | set(range(201, 750))
    assert {im.pid for im in ds.train} == set(range(1, 201)) - test


def test_grid_and_cuhk01_protocols(tmp_path: Path) -> None:
    grid = tmp_path / "grid"
    grid.mkdir()
    for p in range(1, 251):
        (grid / f"{p:04d}_1_100_0_0_10_20.jpeg").touch()
        (grid / f"{p:04d}_{3 + p % 2}_200_0_0_10_20.jpeg").touch()
    for p in (0, 300, 301):
        (grid / f"{p:04d}_5_300_0_0_10_20.jpeg").touch()
    t = load_dataset("grid", grid, n_trials=1).trials[0]
    assert len(t.query) == 125 and all(im.camid == 0 for im in t.query)
    assert len(t.gallery) == 125 + 3
    c01 = tmp_path / "c01"
    c01.mkdir()
    for p in range(1, 972):
        for i in range(1, 5):
            (c01 / f"{p:04d}{i:03d}.png").touch()
    t = load_dataset("cuhk01", c01, n_trials=1).trials[0]
    assert len(t.query) == 486 * 2 and len(t.gallery) == 486 * 2


def test_market_and_folder_layouts(tmp_path: Path) -> None:
    m = tmp_path / "market"
    touch_images(
        m / "bounding_box_train",
        ["0002_c1s1_000451_03.jpg", "0002_c2s1_000451_03.jpg", "-1_c1s1_000001_01.jpg"],
    )
    touch_images(m / "query", ["0005_c1s1_000001_01.jpg"])
    touch_images(m / "bounding_box_test", ["0005_c2s1_000001_01.jpg", "0000_c1s1_000002_01.jpg"])
    ds = load_dataset("market1501", m)
    assert len(ds.train) == 2  # junk dropped from training
    assert len(ds.trials[0].gallery) == 2
    f = tmp_path / "folder"
    touch_images(f / "alice", ["camA_1.jpg", "camB_1.jpg"])
    touch_images(f / "bob", ["camA_1.jpg", "camB_7.jpg"])
    ds = load_dataset("folder", f)
    assert [(im.pid, im.camid) for im in ds.trials[0].query] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    touch_images(f / "carol", ["nocamera.jpg"])
    with pytest.raises(FormatError, match="nocamera.jpg"):
        load_dataset("folder", f)
    with pytest.raises(DataNotFoundError):
        load_dataset("folder", tmp_path / "missing")


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(TrackkitError, match="viper"):
        load_dataset("vipr", ".")


def test_load_crops_and_unreadable_image(tmp_path: Path) -> None:
    touch_images(tmp_path, ["a.jpg"], size=(40, 20))
    crops = load_crops([tmp_path / "a.jpg"], (32, 16))
    assert crops.shape == (1, 32, 16, 3) and crops.dtype == np.uint8
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(FormatError, match="bad.jpg"):
        load_crops([tmp_path / "bad.jpg"], (32, 16))


def test_crop_boxes_clips_to_frame() -> None:
    frame = np.zeros((100, 50, 3), dtype=np.uint8)
    frame[10:30, 5:15] = 200
    crops = crop_boxes(frame, np.array([[5.0, 10.0, 15.0, 30.0], [-20, -20, -10, -10]]), (8, 4))
    assert crops.shape == (2, 8, 4, 3)
    assert (crops[0] == 200).all()


def test_pk_sampler() -> None:
    labels = np.repeat(np.arange(6), [2, 3, 4, 5, 6, 9])
    s = PKSampler(labels, p=3, k=2)
    batches = s.epoch(seed=0, epoch=0)
    assert batches and all(b.size == 6 for b in batches)
    for b in batches:
        lab = labels[b].reshape(3, 2)
        assert (lab[:, 0] == lab[:, 1]).all() and len(set(lab[:, 0])) == 3
    again = s.epoch(seed=0, epoch=0)
    assert all((a == b).all() for a, b in zip(batches, again))
    assert any((a != b).any() for a, b in zip(batches, s.epoch(seed=0, epoch=1)))


def test_pk_sampler_rejects_single_image_identity() -> None:
    with pytest.raises(TrackkitError, match="identity 7 has a single image .*x.jpg"):
        PKSampler([7, 8, 8, 9, 9], p=2, k=2, paths=["x.jpg", "a", "b", "c", "d"])
    with pytest.raises(TrackkitError, match=">= 3 identities"):
        PKSampler([1, 1, 2, 2], p=3, k=2)


def test_histogram_embedder_and_factory_errors() -> None:
    from trackkit.errors import ConfigError
    from trackkit.reid.embedder import HistogramEmbedder, load_embedder

    emb = HistogramEmbedder(stripes=2, bins=4)
    frame = np.zeros((60, 40, 3), dtype=np.uint8)
    frame[:, 20:] = (0, 0, 255)
    out = emb.embed(frame, np.array([[0.0, 0.0, 20.0, 60.0], [20.0, 0.0, 40.0, 60.0]]))
    assert out.shape == (2, 2 * (16 + 4)) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    assert float(out[0] @ out[1]) < 0.9
    assert emb.embed_crops([]).shape == (0, emb.dim)
    with pytest.raises(ConfigError, match="omz-0248"):
        load_embedder("omz-9999")
    with pytest.raises(DataNotFoundError, match="nothing.pt"):
        load_embedder("nothing.pt")
    with pytest.raises(ConfigError, match="trackkit .pt models only"):
        load_embedder("model.onnx", embedding="centered")


def test_validation_split_holds_out_whole_identities_seen_by_two_cameras() -> None:
    from trackkit.reid.data.datasets import validation_split
    from trackkit.reid.data.names import ReIDImage

    images = [
        ReIDImage(Path(f"{pid}_{cam}_{j}.jpg"), pid, cam)
        for pid in range(20)
        for cam in ((0, 1) if pid < 15 else (0,))  # ids 15-19: one camera only
        for j in range(2)
    ] + [ReIDImage(Path("junk.jpg"), -1, 0)]
    rest, val = validation_split(images, 0.2, seed=3)
    held = {im.pid for im in val.gallery}
    assert len(held) == 4 and held.isdisjoint({im.pid for im in rest})
    assert all(pid < 15 for pid in held)  # a held-out query needs a second camera
    assert len(rest) + len(val.gallery) == len(images)
    assert sorted((q.pid, q.camid) for q in val.query) == sorted(
        {(pid, cam) for pid in held for cam in (0, 1)}
    )
    assert any(im.pid == -1 for im in rest)
    assert validation_split(images, 0.2, seed=3)[1] == val  # seeded
    assert {im.pid for im in validation_split(images, 0.2, seed=4)[1].gallery} != held
    with pytest.raises(TrackkitError, match="in \\(0, 1\\)"):
        validation_split(images, 1.5)
    with pytest.raises(TrackkitError, match="cannot hold out"):
        validation_split(images[:4], 0.5)
