"""Every loss against a value computed by hand on a tiny batch."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import ConfigError  # noqa: E402
from trackkit.reid import losses as L  # noqa: E402
from trackkit.reid import objective as O  # noqa: E402

# 1-D features at 0, 1, 3, 6; identities 0, 0, 1, 1.
# Distances: d01=1 d02=3 d03=6 d12=2 d13=5 d23=3.
X = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
Y = torch.tensor([0, 0, 1, 1])


def close(value: torch.Tensor, expected: float) -> None:
    assert float(value.detach()) == pytest.approx(expected, abs=1e-5)


def test_pairwise_distance() -> None:
    d = L.pairwise_distance(X)
    close(d[0, 3], 6.0)
    close(d[1, 2], 2.0)
    close(L.pairwise_distance(X, squared=True)[0, 2], 9.0)


def test_contrastive() -> None:
    # pairs: (0,1)+ 1/2*1^2; (1,2)- 1/2*(2.5-2)^2; (2,3)+ 1/2*3^2; other negatives beyond margin
    close(L.contrastive_loss(X, Y, margin=2.5), (0.5 + 0.125 + 4.5) / 6)


def test_triplet_batch_hard() -> None:
    # anchors: hardest pos / neg = (1,3), (1,2), (3,2), (3,5): only anchor 2 is active
    close(L.triplet_loss(X, Y, 0.3, "hard"), (3 - 2 + 0.3) / 4)


def test_triplet_soft_margin() -> None:
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    close(L.triplet_loss(X, Y, None, "hard"), (sp(-2) + sp(-1) + sp(1) + sp(-2)) / 4)


def test_triplet_batch_all() -> None:
    # active triplets: (2,3,0): 3-3+.3 and (2,3,1): 3-2+.3; mean over active ones
    close(L.triplet_loss(X, Y, 0.3, "all"), (0.3 + 1.3) / 2)
    with pytest.raises(ConfigError):
        L.triplet_loss(X, Y, 0.3, "semi")


def test_improved_triplet() -> None:
    # squared distances: d01=1 d02=9 d03=36 d12=4 d13=25 d23=9; margin 1, tau2 2, beta .5
    # anchors 0,1 (d_ap=1 < tau2): nothing; anchor 2: (9-9+1)+3.5, (9-4+1)+3.5;
    # anchor 3: 0+3.5 twice.  8 triplets.
    value = L.improved_triplet_loss(X, Y, margin=1.0, tau2=2.0, beta=0.5)
    close(value, (4.5 + 9.5 + 3.5 + 3.5) / 8)


def test_quadruplet() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0], [11.0]])
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    # anchor 2: [3-2+.3]+ = 1.3, second term [3-9+1.5]+ = 0
    # anchors 4, 5: first term 0, second [1-2+1.5]+ = 0.5 each (closest id0-id1 pair: 1..3)
    close(L.quadruplet_loss(x, y, margin1=0.3, margin2=1.5), (1.3 + 0.5 + 0.5) / 6)


def test_margin_sample_mining() -> None:
    # hardest positive pair 3 (2,3), hardest negative pair 2 (1,2)
    close(L.margin_sample_mining_loss(X, Y, margin=0.3), 1.3)


def test_lifted_structure() -> None:
    e = math.exp
    lse0, lse1 = e(1 - 3) + e(1 - 6), e(1 - 2) + e(1 - 5)
    lse2, lse3 = e(1 - 3) + e(1 - 2), e(1 - 6) + e(1 - 5)
    j01 = math.log(lse0 + lse1) + 1.0
    j23 = math.log(lse2 + lse3) + 3.0
    close(L.lifted_structure_loss(X, Y, margin=1.0), (j01**2 + j23**2) / 4)


def test_group_loss() -> None:
    # anchors: images 0 (class 0) and 2 (class 1); image 1 starts at softmax([0, ln 3]).
    # Pearson correlations: f0.f1 = 1/2, f1.f2 = 1/2, f0.f2 < 0 -> 0: W row 1 = [.5, 0, .5]
    # one step: x1 * (W x)_1 = [.25*.5, .75*.5] -> [.25, .75]; NLL = -log(.25) / 3
    f = torch.tensor([[1.0, 0.0, -1.0], [1.0, -1.0, 0.0], [0.0, -1.0, 1.0]])
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [0.0, 0.0]])
    y = torch.tensor([0, 0, 1])
    close(L.group_loss(f, logits, y, n_iter=1), -math.log(0.25) / 3)
    # image 2 orthogonal to image 1: support only from class 0 -> x1 = [1, 0], loss 0
    f2 = torch.tensor([[1.0, 0.0, -1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]])
    close(L.group_loss(f2, logits, y, n_iter=1), 0.0)


def test_cross_entropy_label_smoothing() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = [.25, .75]; target [.95, .05]
    expected = -(0.95 * math.log(0.25) + 0.05 * math.log(0.75))
    close(L.cross_entropy_label_smoothing(logits, torch.tensor([0]), 0.1), expected)


def test_center_loss() -> None:
    center = L.CenterLoss(2, 2)
    with torch.no_grad():
        center.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    f = torch.tensor([[1.0, 0.0], [1.0, 3.0]])
    close(center(f, torch.tensor([0, 1])), 0.5 * (1.0 + 4.0) / 2)


def test_mutual_losses_and_stop_gradient() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    peer = torch.tensor([[0.0, 0.0]], requires_grad=True)
    kl = L.mutual_kl_loss(logits, peer)
    close(kl, 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))
    kl.backward()
    assert peer.grad is None and logits.grad is not None
    a = torch.tensor([[0.0], [1.0]], requires_grad=True)
    b = torch.tensor([[0.0], [3.0]], requires_grad=True)
    mm = L.metric_mutual_loss(a, b)
    close(mm, (0 + 4 + 4 + 0) / 4)
    mm.backward()
    assert b.grad is None


def test_parse_objective() -> None:
    terms = O.parse_objective("triplet-hard + 0.5*center+ce")
    assert [(w, t.name) for w, t in terms] == [(1.0, "triplet-hard"), (0.5, "center"), (1.0, "ce")]
    assert [t.needs_module for _, t in terms] == [False, True, False]
    assert not any(t.needs_peer for _, t in terms) and O.LOSSES["dml-kl"].needs_peer
    with pytest.raises(ConfigError, match="valid names"):
        O.parse_objective("triplet-hardest")
    with pytest.raises(ConfigError, match="weight"):
        O.parse_objective("x*ce")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("triplet-hard(margin=0.2)+ce", [(1.0, "triplet-hard", 0.2), (1.0, "ce", 0.1)]),
        ("0.5*triplet-soft+ce", [(0.5, "triplet-soft", None), (1.0, "ce", 0.1)]),
        (
            "triplet-hard(margin=0.3)+0.0005*center+ce",
            [(1.0, "triplet-hard", 0.3), (0.0005, "center", None), (1.0, "ce", 0.1)],
        ),
        ("1e-4*center + 2E+1*ce( epsilon = 0.2 )", [(1e-4, "center", None), (20.0, "ce", 0.2)]),
        ("triplet-all(margin=none)+ce()", [(1.0, "triplet-all", None), (1.0, "ce", 0.1)]),
    ],
)
def test_parse_parameterised_objective(
    spec: str, expected: list[tuple[float, str, float | None]]
) -> None:
    terms = O.parse_objective(spec)
    got = [
        (w, t.name, dict(t.params).get("margin", dict(t.params).get("epsilon"))) for w, t in terms
    ]
    assert got == expected


def test_term_spec_is_canonical_and_round_trips() -> None:
    (_, default), (_, explicit) = O.parse_objective("triplet-hard+triplet-hard(margin=0.3)")
    assert default == explicit and default.spec == "triplet-hard"
    (_, term), (_, group) = O.parse_objective("triplet-hard(margin=0.2)+group(n_iter=3)")
    assert term.spec == "triplet-hard(margin=0.2)" and group.spec == "group(n_iter=3)"
    assert dict(group.params) == {"n_iter": 3, "n_anchors": 1}
    assert O.parse_objective(term.spec)[0][1] == term


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("triplet-hard(margin=0.2+ce", r"unbalanced parentheses.*'\(' not closed"),
        ("ce)+ce", r"unbalanced parentheses.*'\)' without a matching"),
        ("ce(epsilon=0.1)(x=1)", "malformed term"),
        ("tri+ce", "unknown ReID loss 'tri'; valid names: ce, ce-plain, center"),
        ("x*ce", "bad loss weight 'x'"),
        ("-1*ce", "loss weight must be finite and >= 0"),
        ("inf*ce", "loss weight must be finite"),
        (
            "triplet-hard(margin=abc)",
            "bad value 'abc' for parameter 'margin' of loss 'triplet-hard'",
        ),
        ("triplet-hard(margin)", "bad parameter 'margin'.*NAME=VALUE"),
        ("triplet-hard(marg=1)", "no parameter 'marg'; valid parameters: margin"),
        ("improved-triplet(m=1)", "valid parameters: margin, tau2, beta"),
        ("center(x=1)", "valid parameters: \\(none\\)"),
        ("triplet-hard(margin=-0.1)", "loss 'triplet-hard': margin must be .*>= 0"),
        ("ce(epsilon=1)", "loss 'ce': epsilon must be .*< 1"),
        ("group(n_iter=1.5)", "loss 'group': n_iter must be an integer"),
        ("group(n_iter=0)", "loss 'group': n_iter must be an integer >= 1"),
        ("ce(epsilon=0.1,epsilon=0.2)", "given twice"),
        ("ce++ce", "empty term"),
    ],
)
def test_parse_objective_errors_name_the_string(spec: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as info:
        O.parse_objective(spec)
    assert repr(spec) in str(info.value)


def test_build_loss_validates_programmatic_values() -> None:
    with pytest.raises(ConfigError, match="empty loss specification"):
        O.parse_objective("  ")
    assert O.build_loss("quadruplet", margin1=0.5).spec == "quadruplet(margin1=0.5)"
    with pytest.raises(ConfigError, match="loss 'triplet-hard': margin must be"):
        O.build_loss("triplet-hard", margin="0.2")
    with pytest.raises(ConfigError, match="loss 'group': n_anchors must be an integer"):
        O.build_loss("group", n_anchors=True)
    with pytest.raises(ConfigError, match="valid parameters: margin1, margin2"):
        O.build_loss("quadruplet", margin=0.1)
    assert sorted(O.LOSSES) == O.LOSS_REGISTRY.available()


def _value(spec: str, feats: torch.Tensor = X, labels: torch.Tensor = Y) -> torch.Tensor:
    logits = torch.cat([feats, -feats, feats**2], 1)[:, :3]
    out = {"feat": feats, "emb": feats, "logits": logits}
    total = feats.new_zeros(())
    for weight, term in O.parse_objective(spec):
        total = total + weight * term.fn(out, labels, None)
    return total


def test_a_parameter_changes_the_value() -> None:
    # batch-hard gaps d(a,p) - d(a,n) per anchor: -2, -1, 1, -2 (see test_triplet_batch_hard)
    close(_value("triplet-hard"), (1 + 0.3) / 4)
    close(_value("triplet-hard(margin=1.5)"), (0.5 + 2.5) / 4)
    close(_value("triplet-hard(margin=0)"), 1 / 4)
    close(_value("0.5*triplet-hard(margin=1.5)"), 0.5 * 3 / 4)
    close(_value("msml(margin=1)"), 2.0)
    torch.testing.assert_close(_value("ce(epsilon=0)"), _value("ce-plain"))
    assert not torch.equal(_value("ce(epsilon=0.2)"), _value("ce"))


def test_old_syntax_equals_explicit_default_syntax_bit_for_bit() -> None:
    torch.manual_seed(0)
    f = torch.randn(8, 5)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    pairs = [
        ("triplet-hard+ce", "triplet-hard(margin=0.3)+ce(epsilon=0.1)"),
        ("triplet-all+contrastive", "triplet-all(margin=0.3)+contrastive(margin=1.0)"),
        ("improved-triplet", "improved-triplet(margin=1,tau2=0.01,beta=0.002)"),
        (
            "quadruplet+msml+lifted",
            "quadruplet(margin1=0.3,margin2=0.15)+msml(margin=0.3)+lifted(margin=1)",
        ),
        ("0.5*group", "0.5*group(n_iter=2,n_anchors=1)"),
    ]
    for old, new in pairs:
        assert torch.equal(_value(old, f, y), _value(new, f, y)), old


def test_build_module() -> None:
    (_, center), (_, ce) = O.parse_objective("0.0005*center+ce")
    assert ce.build_module(10, 4) is None and O.LOSSES["dml-kl"].build_module(10, 4) is None
    torch.manual_seed(3)
    module = center.build_module(10, 4)
    after = torch.rand(2)
    assert isinstance(module, L.CenterLoss) and module.centers.shape == (10, 4)
    torch.manual_seed(3)  # the same random draws as constructing CenterLoss directly
    direct = L.CenterLoss(10, 4)
    assert torch.equal(module.centers, direct.centers) and torch.equal(after, torch.rand(2))
    with pytest.raises(ConfigError, match="num_classes"):
        center.build_module(0, 4)
    with pytest.raises(ConfigError, match="build_module"):
        center.fn({"feat": X}, Y, None)


def test_every_registered_loss_runs_and_backpropagates() -> None:
    torch.manual_seed(0)
    feat = torch.randn(8, 4, requires_grad=True)
    logits = torch.randn(8, 3, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    out = {
        "feat": feat,
        "emb": feat,
        "logits": logits,
        "peer_feat": torch.randn(8, 4),
        "peer_logits": torch.randn(8, 3),
        "teacher": torch.randn(8, 5),  # distillation terms
    }
    for name, term in O.LOSSES.items():
        state = term.build_module(3, 4, teacher_dim=5)
        assert (state is not None) == term.needs_module, name
        value = term.fn(out, y, state)
        assert value.ndim == 0 and torch.isfinite(value), name
        value.backward()
