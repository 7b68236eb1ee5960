"""Every loss against a value computed by hand on a tiny batch."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import ConfigError  # noqa: E402
from trackkit.reid import losses as L  # noqa: E402

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
    terms = L.parse_objective("triplet-hard + 0.5*center+ce")
    assert [(w, t.name) for w, t in terms] == [(1.0, "triplet-hard"), (0.5, "center"), (1.0, "ce")]
    with pytest.raises(ConfigError, match="valid names"):
        L.parse_objective("triplet-hardest")
    with pytest.raises(ConfigError, match="weight"):
        L.parse_objective("x*ce")


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
    }
    for name, term in L.LOSSES.items():
        state = L.CenterLoss(3, 4) if term.needs_module else None
        value = term.fn(out, y, state)
        assert value.ndim == 0 and torch.isfinite(value), name
        value.backward()
