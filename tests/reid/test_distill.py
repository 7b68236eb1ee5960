"""Knowledge distillation: the loss terms on hand-made batches (values computed by hand), the
teacher cache (once per image, keyed by teacher + paths, resumable), unlabelled images, and
exact resume of a distilled run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers.reid_data import REID_SIZE, reid_identities  # noqa: E402
from trackkit.errors import ConfigError  # noqa: E402
from trackkit.reid.distill import (  # noqa: E402
    FeatureProjection,
    TeacherCache,
    feature_distill_loss,
    rank_distill_loss,
    similarity_distill_loss,
    teacher_embeddings,
)
from trackkit.reid.models import build_model, save_model  # noqa: E402
from trackkit.reid.objective import build_loss, parse_objective  # noqa: E402
from trackkit.reid.training import TrainConfig, Trainer  # noqa: E402
from trackkit.training.weights import read_weights  # noqa: E402

pytestmark = pytest.mark.timeout(60)

E = math.e


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_similarity_loss_by_hand() -> None:
    # student: orthogonal (cos 0); teacher: identical (cos 1): every off-diagonal pair (0-1)^2
    assert float(similarity_distill_loss(_t([[1, 0], [0, 1]]), _t([[1, 0], [2, 0]]))) == 1.0
    # student cos 1/sqrt(2), teacher cos 0: (1/sqrt 2)^2 = 0.5; scale of the rows is ignored
    s = similarity_distill_loss(_t([[3, 0], [1, 1]]), _t([[1, 0], [0, 5]]))
    assert float(s) == pytest.approx(0.5)
    # the diagonal never counts, and equal structures give 0
    assert float(similarity_distill_loss(_t([[1, 2], [3, 1]]), _t([[2, 4], [6, 2]]))) == 0.0


def test_rank_loss_by_hand() -> None:
    # student rows e1, e2, e1 -> cos s01 = 0, s02 = 1, s12 = 0
    # teacher rows e1, e1, e2 -> cos t01 = 1, t02 = 0, t12 = 0; tau = 1
    student = _t([[1, 0], [0, 1], [1, 0]])
    teacher = _t([[1, 0], [1, 0], [0, 1]])
    a, b = E / (1 + E), 1 / (1 + E)  # softmax of (1, 0)
    # anchor 0: p_t = (a, b) over (1, 2); p_s = (b, a) -> KL = a log(a/b) + b log(b/a)
    kl0 = a * math.log(a / b) + b * math.log(b / a)
    # anchor 1: p_t = (a, b) over (0, 2); student cos (0, 0) -> uniform
    kl1 = a * math.log(a / 0.5) + b * math.log(b / 0.5)
    # anchor 2: teacher cos (0, 0) -> uniform over (0, 1); student cos (1, 0) -> (a, b)
    kl2 = 0.5 * math.log(0.5 / a) + 0.5 * math.log(0.5 / b)
    got = float(rank_distill_loss(student, teacher, tau=1.0))
    assert got == pytest.approx((kl0 + kl1 + kl2) / 3, abs=1e-12)
    assert kl0 == pytest.approx((E - 1) / (E + 1))  # the closed form of anchor 0
    # a lower temperature sharpens both distributions: the same structure still gives 0
    assert float(rank_distill_loss(teacher * 3, teacher, tau=0.05)) == pytest.approx(0, abs=1e-9)


def test_feature_loss_by_hand_and_projection_term() -> None:
    # 1 - cos: row 0 aligned (0), row 1 orthogonal (1) -> mean 0.5
    assert float(feature_distill_loss(_t([[1, 0], [0, 2]]), _t([[3, 0], [1, 0]]))) == 0.5
    term = build_loss("kd-feat")
    assert term.needs_teacher and term.needs_module
    proj = term.build_module(5, 3, teacher_dim=2)
    assert isinstance(proj, FeatureProjection) and proj.fc.weight.shape == (2, 3)
    with torch.no_grad():
        proj.fc.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 0]]))
        proj.fc.bias.zero_()
    out = {"feat": torch.tensor([[1.0, 0, 7], [0, 1, 7]]), "teacher": torch.tensor([[1.0, 0]] * 2)}
    assert float(term.fn(out, torch.zeros(2), proj).detach()) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="needs a teacher"):
        term.build_module(5, 3)


def test_objective_parses_distillation_terms_and_config_checks() -> None:
    terms = parse_objective("triplet-hard+ce+10*kd-sim+kd-rank(tau=0.5)+kd-feat")
    assert [(w, t.spec) for w, t in terms][2:] == [
        (10.0, "kd-sim"),
        (1.0, "kd-rank(tau=0.5)"),
        (1.0, "kd-feat"),
    ]
    with pytest.raises(ConfigError, match="tau must be > 0"):
        parse_objective("kd-rank(tau=0)")
    with pytest.raises(ConfigError, match="needs --teacher"):
        TrainConfig(loss="ce+kd-sim")
    with pytest.raises(ConfigError, match="no distillation term"):
        TrainConfig(loss="ce", teacher="omz-0248")
    assert TrainConfig(loss="ce+kd-sim", teacher="a.pt, b.onnx").teachers == ["a.pt", "b.onnx"]


def _teacher_file(tmp_path: Path, seed: int = 5) -> Path:
    torch.manual_seed(seed)
    model = build_model("resnet-tiny", input_size=REID_SIZE, widths=(8, 8, 8, 8), stem=8)
    path = tmp_path / f"teacher{seed}.pt"
    save_model(model.eval(), path)
    return path


def test_teacher_cache_once_keyed_and_resumable(tmp_path: Path) -> None:
    _, crops = reid_identities()
    paths = [f"img{i}.jpg" for i in range(len(crops))]
    teacher = str(_teacher_file(tmp_path))
    calls: list[int] = []

    def read(idx: np.ndarray) -> np.ndarray:
        calls.extend(idx.tolist())
        return crops[idx]

    TeacherCache.chunk = 5
    try:
        straight = np.array(TeacherCache(teacher, paths, tmp_path / "a").build(read))
        assert calls == list(range(len(crops)))  # every image once
        calls.clear()
        again = np.array(TeacherCache(teacher, paths, tmp_path / "a").build(read))
        assert calls == [] and np.array_equal(straight, again)  # cached: nothing recomputed
        killed = TeacherCache(teacher, paths, tmp_path / "b")
        with pytest.raises(KeyboardInterrupt):
            killed.build(read, stop_after_chunks=2)
        assert killed.done_rows == 10
        calls.clear()
        resumed = np.array(TeacherCache(teacher, paths, tmp_path / "b").build(read))
        assert calls == list(range(10, len(crops)))  # only the missing rows
        assert np.array_equal(straight, resumed)
    finally:
        TeacherCache.chunk = 256
    assert np.allclose(np.linalg.norm(straight, axis=1), 1.0, atol=1e-5)
    # keyed by the paths and by the teacher
    other_paths = TeacherCache(teacher, paths[::-1], tmp_path / "a").stem
    other_teacher = TeacherCache(str(_teacher_file(tmp_path, 6)), paths, tmp_path / "a").stem
    stem = TeacherCache(teacher, paths, tmp_path / "a").stem
    assert len({stem, other_paths, other_teacher}) == 3
    lines = stem.with_suffix(".paths").read_text().splitlines()
    assert lines == paths
    # two teachers: concatenated / sqrt(2), so cosines are the mean of the teachers'
    t2 = str(_teacher_file(tmp_path, 6))
    both = teacher_embeddings([teacher, t2], paths, tmp_path / "a", lambda i: crops[i])
    single2 = np.array(TeacherCache(t2, paths, tmp_path / "a").build(lambda i: crops[i]))
    assert both.shape == (len(crops), 2 * straight.shape[1])
    expect = (straight @ straight.T + single2 @ single2.T) / 2
    assert np.allclose(both @ both.T, expect, atol=1e-5)


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        epochs=3, p=3, k=2, warmup_epochs=1, input_size=REID_SIZE, max_batches=2, threads=1,
        loss="triplet-hard+ce+kd-sim+kd-rank+kd-feat", unlabelled_batch=2,
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _unlabelled_data() -> tuple[list, np.ndarray, list[Path]]:
    images, crops = reid_identities()
    _, extra = reid_identities(n_ids=2, per_id=2, first_pid=50)
    return images, np.concatenate([crops, extra]), [Path(f"u{i}.jpg") for i in range(len(extra))]


def test_distilled_run_killed_and_resumed_matches_straight_run(tmp_path: Path) -> None:
    images, crops, unl = _unlabelled_data()
    cfg = _cfg(teacher=str(_teacher_file(tmp_path)))
    full = Trainer(cfg, images, tmp_path / "a", crops, progress=False, unlabelled=unl)
    full.run()
    killed = Trainer(cfg, images, tmp_path / "b", crops, progress=False, unlabelled=unl)
    with pytest.raises(KeyboardInterrupt):
        killed.run(stop_after=3)  # mid-epoch 2
    resumed = Trainer(cfg, images, tmp_path / "b", crops, progress=False, unlabelled=unl)
    resumed.run(resume=True)
    projection = {"kd-feat_0.fc.weight", "kd-feat_0.fc.bias"}
    assert set(full.modules()["loss_modules"].state_dict()) == projection
    for key, module in full.modules().items():
        for name, value in module.state_dict().items():
            assert torch.equal(value, resumed.modules()[key].state_dict()[name]), (key, name)
    a = read_weights(tmp_path / "a" / "model.pt")
    assert a.trained_on["teachers"] == [cfg.teacher] and a.trained_on["unlabelled_images"] == 4
    header = (tmp_path / "a" / "log.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,lr,loss_triplet-hard,loss_ce,loss_kd-sim,loss_kd-rank,")
    # the cache was built once (by the first run in each folder) and is one file per teacher
    assert len(list((tmp_path / "b" / "teacher-cache").glob("*.npy"))) == 1


def test_unlabelled_rows_reach_only_distillation_terms(tmp_path: Path) -> None:
    images, crops, unl = _unlabelled_data()
    trainer = Trainer(
        _cfg(teacher=str(_teacher_file(tmp_path))), images, tmp_path, crops, False, unlabelled=unl
    )
    trainer.setup()
    for m in trainer.modules().values():
        m.eval()  # batch statistics would mix the rows
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    teacher = trainer._teacher
    assert teacher is not None and teacher.shape[0] == len(crops)
    y = torch.from_numpy(np.concatenate([trainer.labels, -np.ones(len(unl), np.int64)]))
    n = len(images)
    with torch.no_grad():
        _, both = trainer._objective(x, y, teacher)
        assert trainer._last_logits.shape[0] == n  # the classifier sees labelled rows only
        _, lab = trainer._objective(x[:n], y[:n], teacher[:n])
    for name in ("triplet-hard", "ce"):
        assert both[name] == pytest.approx(lab[name], rel=1e-6)
    for name in ("kd-sim", "kd-rank"):
        assert both[name] != pytest.approx(lab[name], rel=1e-6)
    with pytest.raises(ConfigError, match="needs unlabelled images"):
        Trainer(_cfg(teacher="x.pt"), images, tmp_path, crops, False)


def test_teacher_cache_reuses_rows_of_a_complete_cache_of_the_same_teacher(
    tmp_path: Path,
) -> None:
    """A subset of the images (validation identities held out) in another order copies the
    rows an earlier complete cache of the same teacher holds; other teachers' caches and
    unfinished builds are never used."""
    _, crops = reid_identities()
    paths = [f"img{i}.jpg" for i in range(len(crops))]
    teacher, other = str(_teacher_file(tmp_path)), str(_teacher_file(tmp_path, 6))
    calls: list[int] = []

    def read_from(order: list[int]) -> object:
        def read(idx: np.ndarray) -> np.ndarray:
            calls.extend(order[i] for i in idx)
            return crops[[order[i] for i in idx]]

        return read

    folder = tmp_path / "c"
    everything = list(range(len(crops)))
    full = np.array(TeacherCache(teacher, paths, folder).build(read_from(everything)))
    TeacherCache(other, paths[:4], folder).build(read_from(everything[:4]))
    subset = everything[::-2] + [len(crops) + 1]  # reversed odd rows and one new image
    crops = np.concatenate([crops, crops[:2]])
    sub_paths = [paths[i] if i < len(paths) else f"new{i}.jpg" for i in subset]
    calls.clear()
    got = np.array(TeacherCache(teacher, sub_paths, folder).build(read_from(subset)))
    assert calls == [len(crops) - 1]  # only the new image went through the teacher
    assert np.array_equal(got[:-1], full[subset[:-1]])
    # a cache of another teacher holding the same paths is not reused
    calls.clear()
    TeacherCache(other, paths[:6], folder).build(read_from(everything[:6]))
    assert calls == [4, 5]
    # an unfinished build is not reused
    killed = TeacherCache(teacher, paths[:20], tmp_path / "d")
    TeacherCache.chunk = 5
    try:
        with pytest.raises(KeyboardInterrupt):
            killed.build(read_from(everything), stop_after_chunks=1)
        calls.clear()
        TeacherCache(teacher, paths[:3], tmp_path / "d").build(read_from(everything))
        assert calls == [0, 1, 2]
    finally:
        TeacherCache.chunk = 256
