"""The regression losses of trackkit.training.losses against hand-computed values."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import ConfigError  # noqa: E402
from trackkit.training.losses import (  # noqa: E402
    REGRESSION_LOSSES,
    l1_loss,
    l2_loss,
    l3_loss,
    regression_loss,
    shrinkage_loss,
)

pytestmark = pytest.mark.timeout(30)


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_shrinkage_hand_computed() -> None:
    # l = 0.1: 0.01 / (1 + e^(10 * 0.1)) = 0.01 / (1 + e) = 0.002689414...
    # l = 0.5: 0.25 / (1 + e^(-3)) = 0.2381435...
    # l = 0.2 (= c): 0.04 / 2 = 0.02;  l = 0: 0
    pred = _t(0.1, 0.5, 0.0, 0.2)
    target = _t(0.0, 1.0, 0.0, 0.0)
    got = shrinkage_loss(pred, target, reduction="none")
    want = [0.01 / (1 + math.e), 0.25 / (1 + math.exp(-3.0)), 0.0, 0.02]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    assert got.tolist()[0] == pytest.approx(0.0026894142, rel=1e-8)
    assert got.tolist()[1] == pytest.approx(0.2381435317, rel=1e-8)
    assert float(shrinkage_loss(pred, target)) == pytest.approx(sum(want) / 4, rel=1e-12)
    assert float(shrinkage_loss(pred, target, reduction="sum")) == pytest.approx(sum(want))


def test_shrinkage_target_weight_and_parameters() -> None:
    # The paper's final form multiplies by exp(y): y = 1, l = 0.5 -> e * 0.238143...
    got = shrinkage_loss(_t(0.5), _t(1.0), target_weight=True, reduction="none")
    assert float(got[0]) == pytest.approx(math.e * 0.25 / (1 + math.exp(-3.0)), rel=1e-12)
    # a = 5, c = 0.5, l = 0.3: 0.09 / (1 + e^(1)) = 0.024205...
    got = shrinkage_loss(_t(0.3), _t(0.0), a=5.0, c=0.5, reduction="none")
    assert float(got[0]) == pytest.approx(0.09 / (1 + math.e), rel=1e-12)


def test_shrinkage_shrinks_easy_keeps_hard() -> None:
    easy = shrinkage_loss(_t(0.05), _t(0.0)) / l2_loss(_t(0.05), _t(0.0))
    hard = shrinkage_loss(_t(0.9), _t(0.0)) / l2_loss(_t(0.9), _t(0.0))
    assert float(easy) < 0.2  # 1 / (1 + e^1.5) = 0.182
    assert float(hard) > 0.99  # 1 / (1 + e^-7)


def test_shrinkage_gradient_matches_formula() -> None:
    # d/dp [l^2 s(a(l - c))] = 2 l s + a l^2 s (1 - s), for p > y.
    p = _t(0.4).requires_grad_(True)
    shrinkage_loss(p, _t(0.1), reduction="sum").backward()
    l, a, c = 0.3, 10.0, 0.2
    s = 1 / (1 + math.exp(-a * (l - c)))
    assert float(p.grad[0]) == pytest.approx(2 * l * s + a * l * l * s * (1 - s), rel=1e-10)
    # large differences do not overflow
    big = shrinkage_loss(_t(1e4), _t(0.0), reduction="none")
    assert torch.isfinite(big).all() and float(big[0]) == pytest.approx(1e8)


def test_l2_l3_l1_hand_computed() -> None:
    pred, target = _t(0.5, -1.0, 2.0), _t(0.0, 1.0, 2.0)
    assert l2_loss(pred, target, "none").tolist() == [0.25, 4.0, 0.0]
    assert l3_loss(pred, target, "none").tolist() == [0.125, 8.0, 0.0]
    assert l1_loss(pred, target, "none").tolist() == [0.5, 2.0, 0.0]
    assert float(l2_loss(pred, target)) == pytest.approx(4.25 / 3)
    # broadcasting: a map against a scalar target
    assert l2_loss(torch.ones(2, 3), torch.tensor(0.0), "none").shape == (2, 3)


def test_lookup_and_errors() -> None:
    assert set(REGRESSION_LOSSES) == {"l1", "l2", "l3", "shrinkage"}
    assert regression_loss("shrinkage") is shrinkage_loss
    with pytest.raises(ConfigError, match="valid: l1, l2, l3, shrinkage") as exc:
        regression_loss("huber")
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="reduction"):
        l2_loss(_t(1.0), _t(0.0), reduction="max")
    with pytest.raises(ConfigError, match="a must be > 0"):
        shrinkage_loss(_t(1.0), _t(0.0), a=0.0)


def test_trainers_take_the_loss_with_unchanged_defaults() -> None:
    from trackkit.sot.train.dcfnet import DCFNetTrainConfig
    from trackkit.sot.train.goturn import GoturnTrainConfig

    assert GoturnTrainConfig().loss == "l1" and DCFNetTrainConfig().loss == "l2"
    assert GoturnTrainConfig(loss="shrinkage").loss == "shrinkage"
    assert DCFNetTrainConfig(loss="l3").loss == "l3"
    for cls in (GoturnTrainConfig, DCFNetTrainConfig):
        with pytest.raises(ConfigError, match="valid: l1, l2, l3, shrinkage"):
            cls(loss="huber")


def test_cli_loss_flag_reaches_the_trainer(tmp_path: Any, capsys: Any) -> None:
    from trackkit.cli.main import main

    data = tmp_path / "data"
    data.mkdir()
    code = main(["sot", "train", "--model", "goturn", "--loss", "huber", "--data", str(data),
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "loss 'huber': valid: l1, l2, l3, shrinkage" in err
    assert len(err.splitlines()) == 1
