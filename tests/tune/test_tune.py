"""trackkit tune: search spaces, samplers, leave-one-out selection, the recorded resumable
search on synthetic scenes, the best-config file and ``trackkit track --config``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.cli.main import main
from trackkit.datasets.synthetic import SceneConfig, SyntheticScene
from trackkit.errors import ConfigError
from trackkit.metrics.mot import combine_mot
from trackkit.mot.botsort import BoTSortConfig
from trackkit.mot.bytetrack import ByteTrackConfig
from trackkit.tune.best import apply_config_option, read_best_config
from trackkit.tune.cv import best_trial, loo, split
from trackkit.tune.search import TuneSettings, tune, write_best
from trackkit.tune.space import LocalSampler, RandomSampler, parse_space, search_space
from trackkit.tune.trial import load_sequences, objective, parse_objective, subsample

SCORE = 0.45  # every true detection scores 0.45: below ByteTrack's default thresholds


def _write_scene(root: Path, name: str, seed: int) -> None:
    cfg = SceneConfig(
        width=320, height=240, num_frames=60, num_objects=4, min_height=40, max_height=90,
        seed=seed, fps=20.0,
    )  # fmt: skip
    scene = SyntheticScene(cfg)
    seq = scene.write_mot_sequence(root, name, images=False)
    rng = np.random.default_rng(seed)
    lines = []
    for f, _, x, y, w, h, _ in scene.gt_rows():
        if rng.random() < 0.1:  # missed detection
            continue
        x, y = x + rng.normal(0, 1.5), y + rng.normal(0, 1.5)
        lines.append(f"{f},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{SCORE}\n")
    for f in range(1, cfg.num_frames + 1, 7):  # a few false positives
        lines.append(f"{f},-1,{rng.uniform(0, 250):.2f},{rng.uniform(0, 150):.2f},30,60,0.3\n")
    (seq / "det").mkdir(exist_ok=True)
    (seq / "det" / "det.txt").write_text("".join(lines))


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    _write_scene(root, "SYN-01", 1)
    _write_scene(root, "SYN-02", 2)
    return root


def test_space_rules_and_merging() -> None:
    space = parse_space("a float [0.1, 10] log; b int [1, 4]; c choice (True, False, 'x')")
    assert space["a"] is not None and space["a"].log and space["a"].high == 10.0
    assert space["c"] is not None and space["c"].choices == (True, False, "x")
    for bad in ("a float 0.1, 1", "a float [1, 0]", "a float [0, 1] log", "a kind [0, 1]", "a"):
        with pytest.raises(ConfigError, match="SEARCH_SPACE"):
            parse_space(bad)
    merged = search_space(BoTSortConfig)
    assert {"max_age", "report_lost", "track_thresh", "match_thresh"} <= set(merged)
    assert set(merged) == set(search_space(ByteTrackConfig))
    rng = np.random.default_rng(0)
    for p in merged.values():
        for _ in range(20):
            v = p.sample(rng)
            if p.kind == "choice":
                assert v in p.choices
            else:
                assert p.low <= v <= p.high and isinstance(v, int if p.kind == "int" else float)
                w = p.perturb(v, rng, 0.2)
                assert p.low <= w <= p.high
    log_draws = [parse_space("x float [0.01, 100] log")["x"].sample(rng) for _ in range(400)]  # type: ignore[union-attr]
    assert 0.3 < np.mean(np.array(log_draws) < 1.0) < 0.7  # log-uniform: half below 1


def test_objective_parsing() -> None:
    assert parse_objective("HOTA") == {"HOTA": 1.0}
    assert parse_objective("0.5*hota + 0.25*MOTA+0.25*IDF1") == {
        "HOTA": 0.5, "MOTA": 0.25, "IDF1": 0.25,
    }  # fmt: skip
    for bad in ("AssA", "x*HOTA", "*HOTA"):
        with pytest.raises(ConfigError, match="--objective"):
            parse_objective(bad)


@pytest.mark.timeout(120)
def test_search_improves_objective_resumes_and_writes_best(
    scenes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_sequences(scenes)
    assert [s.name for s in data] == ["SYN-01", "SYN-02"] and data[0].frame_rate == 20.0
    rules = "track_thresh float [0.2, 0.6]; new_track_thresh float [0.2, 0.6]; min_hits int [1, 3]"
    space = {k: p for k, p in parse_space(rules).items() if p is not None}
    settings = TuneSettings("bytetrack", space, trials=4, sampler="random", seed=3)
    first = tune(settings, data, tmp_path / "run", resume=False)
    assert len(first.params) == 4
    # trial 0 is the defaults: nothing scores >= their track threshold, nothing is tracked
    assert first.params[0]["track_thresh"] == mot.build("bytetrack").config.track_thresh > SCORE
    values = [objective({"HOTA": 1.0}, combine_mot(list(m.values()))) for m in first.metrics]
    assert values[0] < 1.0
    with (tmp_path / "run" / "trials.jsonl").open("a") as fh:
        fh.write('{"trial": 4, "tracker": "byte')  # a record cut by an interruption
    more = TuneSettings("bytetrack", space, trials=10, sampler="local", seed=3)
    result = tune(more, data, tmp_path / "run", resume=True)
    lines = (tmp_path / "run" / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 10 and len(result.params) == 10
    assert [json.loads(x)["params"] for x in lines[:4]] == first.params  # kept, not redone
    csv_rows = (tmp_path / "run" / "trials.csv").read_text().splitlines()
    assert len(csv_rows) == 11 and csv_rows[0].startswith("trial,objective")
    best = objective({"HOTA": 1.0}, result.choice.in_sample)
    assert best > values[0] + 20.0  # the search found thresholds that track the 0.45 boxes
    assert result.best_params["track_thresh"] <= SCORE
    # leave-one-out: each fold's trial is the best on the other sequence alone
    scored = list(enumerate(result.metrics))
    assert result.choice.fold_trials["SYN-01"] == best_trial(scored, ["SYN-02"], {"HOTA": 1})[0]
    held = combine_mot(
        [result.metrics[result.choice.fold_trials[s]][s] for s in ("SYN-01", "SYN-02")]
    )
    assert result.choice.held_out is not None
    assert objective({"HOTA": 1}, held) == objective({"HOTA": 1}, result.choice.held_out)
    val = split(scored, {"HOTA": 1.0}, ["SYN-02"])
    assert (
        val.chosen_on == ("SYN-01",) and val.trial == best_trial(scored, ["SYN-01"], {"HOTA": 1})[0]
    )
    # the best-config file drives trackkit track --config
    path = write_best(tmp_path / "best.json", more, result, "trackkit tune ...")
    cfg = read_best_config(path)
    assert cfg.tracker == "bytetrack" and cfg.options == result.best_params
    out = tmp_path / "tracked"
    assert (
        main(["track", str(scenes / "SYN-01"), "--config", str(path), "--out", str(out), "-q"]) == 0
    )
    assert (out / "SYN-01.txt").read_text().strip()  # boxes scoring 0.45 were tracked
    capsys.readouterr()
    with pytest.raises(ConfigError, match="tuned for tracker bytetrack"):
        apply_config_option(argparse.Namespace(config=[str(path)], tracker="sort", set=[]))


@pytest.mark.timeout(60)
def test_cli_tune_and_variants(
    scenes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    args = ["tune", "--tracker", "sort", "--gt", str(scenes), "--trials", "3", "--out", str(out)]
    assert main([*args, "--strides", "1,2", "-q", "--params", "iou_threshold", "min_hits"]) == 0
    text = capsys.readouterr().out
    assert "leave-one-sequence-out" in text and "HOTA" in text
    best = json.loads((out / "best.json").read_text())
    assert best["tracker"] == "sort" and set(best["options"]) == {"iou_threshold", "min_hits"}
    assert best["held_out_kind"] == "loo" and best["held_out"]["HOTA"] >= 0
    # one trial per task on trackkit.batch's engine (local: in this process)
    engine = ["--engine", "local", "--no-resume", "--params", "min_hits"]
    assert main([*args, *engine, "--out", str(tmp_path / "eng"), "-q"]) == 0
    assert len((tmp_path / "eng" / "trials.jsonl").read_text().splitlines()) == 3
    assert main([*args, "--params", "nope"]) == 2
    assert "not tunable" in capsys.readouterr().err
    assert main([*args, "--objective", "AssA"]) == 2
    seq = load_sequences(scenes)[0]
    half = subsample(seq, 2)
    assert half.name == "SYN-01@2" and half.frame_rate == 10.0 and half.num_frames == 30
    assert set(np.unique(half.gt.frames).tolist()) <= set(range(1, 31))


def test_loo_needs_two_sequences() -> None:
    with pytest.raises(ConfigError, match="two sequences"):
        loo([], {"HOTA": 1.0})
    sampler = LocalSampler(search_space(ByteTrackConfig), seed=0, startup=2)
    hist = [({"max_age": 60}, 1.0), ({"max_age": 30}, 2.0)]
    assert set(sampler.propose(hist)) == set(search_space(ByteTrackConfig))
    assert set(RandomSampler(parse_space("a int [1, 2]"), 0).propose([])) == {"a"}  # type: ignore[arg-type]
