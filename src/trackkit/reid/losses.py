"""Deep metric learning losses for person re-identification (torch).

Every loss takes a batch of features ``(N, D)`` float and integer identity labels ``(N,)``
(or logits ``(N, C)``) and returns a scalar tensor. Distances are Euclidean
``d(a, b) = ||f(a) - f(b)||_2`` unless a loss says otherwise; "positive" means same label,
"negative" a different label; the anchor itself is never its own positive.

- :func:`contrastive_loss` — Hadsell, Chopra & LeCun, CVPR 2006.
- :func:`triplet_loss` batch-all / batch-hard / soft-margin — Hermans, Beyer & Leibe 2017.
- :func:`improved_triplet_loss` — Cheng et al., CVPR 2016.
- :func:`quadruplet_loss` — Chen et al., CVPR 2017.
- :func:`margin_sample_mining_loss` — Xiao et al. 2017 (MSML).
- :func:`lifted_structure_loss` — Song et al., CVPR 2016.
- :func:`group_loss` — Elezi et al., ECCV 2020 (replicator dynamics).
- :func:`cross_entropy_label_smoothing` — Szegedy et al. 2016.
- :class:`CenterLoss` — Wen et al., ECCV 2016.
- :func:`mutual_kl_loss`, :func:`metric_mutual_loss` — deep mutual learning (Zhang et al.,
  CVPR 2018) and its metric form on batch distance matrices (AlignedReID, Zhang et al. 2017).

Training objectives built from these (``--loss triplet-hard(margin=0.2)+ce``) are
:mod:`trackkit.reid.objective`'s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackkit.errors import ConfigError

__all__ = [
    "CenterLoss",
    "contrastive_loss",
    "cross_entropy_label_smoothing",
    "group_loss",
    "improved_triplet_loss",
    "lifted_structure_loss",
    "margin_sample_mining_loss",
    "metric_mutual_loss",
    "mutual_kl_loss",
    "pairwise_distance",
    "quadruplet_loss",
    "triplet_loss",
]


def pairwise_distance(x: Tensor, y: Tensor | None = None, squared: bool = False) -> Tensor:
    """``(N, M)`` Euclidean distances between rows of ``x`` (N, D) and ``y`` (M, D).

    The square root is taken of ``max(d^2, 1e-12)`` so its gradient stays finite at 0.
    """
    y = x if y is None else y
    d2 = (x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1).unsqueeze(0) - 2.0 * x @ y.t()).clamp(
        min=0.0
    )
    return d2 if squared else d2.clamp(min=1e-12).sqrt()


def _masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(positive mask without the diagonal, negative mask), both ``(N, N)`` bool."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(labels.numel(), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def contrastive_loss(feats: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Contrastive loss over all pairs ``i < j`` (Hadsell et al. 2006).

    ``L = mean_pairs [ y d^2 / 2 + (1 - y) max(0, m - d)^2 / 2 ]`` with ``y = 1`` for a
    positive pair.
    """
    d = pairwise_distance(feats)
    pos, neg = _masks(labels)
    upper = torch.triu(torch.ones_like(pos), diagonal=1)
    terms = torch.where(pos, 0.5 * d.pow(2), 0.5 * F.relu(margin - d).pow(2))
    return terms[upper & (pos | neg)].mean()


def triplet_loss(
    feats: Tensor, labels: Tensor, margin: float | None = 0.3, mining: str = "hard"
) -> Tensor:
    """Triplet loss of Hermans et al. 2017 ("In Defense of the Triplet Loss").

    Args:
        margin: the margin ``m`` of the hinge ``[m + d(a,p) - d(a,n)]_+``; ``None`` for the
            soft margin ``log(1 + exp(d(a,p) - d(a,n)))``.
        mining: ``"hard"`` (batch hard: per anchor the farthest positive and the closest
            negative, averaged over anchors) or ``"all"`` (batch all: every valid triplet;
            the mean is taken over the triplets with a non-zero loss, as in the paper).
    """
    d = pairwise_distance(feats)
    pos, neg = _masks(labels)
    if mining == "hard":
        hardest_pos = torch.where(pos, d, torch.zeros_like(d)).amax(dim=1)
        hardest_neg = torch.where(neg, d, torch.full_like(d, float("inf"))).amin(dim=1)
        valid = pos.any(1) & neg.any(1)
        gap = (hardest_pos - hardest_neg)[valid]
        losses = F.softplus(gap) if margin is None else F.relu(gap + margin)
        return losses.mean()
    if mining == "all":
        gap = d.unsqueeze(2) - d.unsqueeze(1)  # [a, p, n] = d(a,p) - d(a,n)
        valid = pos.unsqueeze(2) & neg.unsqueeze(1)
        losses = F.softplus(gap[valid]) if margin is None else F.relu(gap[valid] + margin)
        active = losses > 1e-16
        return losses[active].mean() if bool(active.any()) else losses.sum() * 0.0
    raise ConfigError(f"unknown triplet mining {mining!r}; valid: hard, all")


def cross_entropy_label_smoothing(logits: Tensor, labels: Tensor, epsilon: float = 0.1) -> Tensor:
    """Softmax cross-entropy against ``(1 - eps) one_hot + eps / C`` targets."""
    logp = F.log_softmax(logits, dim=1)
    n_cls = logits.shape[1]
    target = torch.full_like(logp, epsilon / n_cls)
    target.scatter_(1, labels.unsqueeze(1), 1.0 - epsilon + epsilon / n_cls)
    return -(target * logp).sum(1).mean()


class CenterLoss(nn.Module):
    """Center loss (Wen et al. 2016): ``L = 1/2 mean_i ||f_i - c_{y_i}||^2``.

    The class centers ``(num_classes, D)`` are parameters learned by the optimizer.
    """

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, dim) * 0.01)

    def forward(self, feats: Tensor, labels: Tensor) -> Tensor:
        return 0.5 * (feats - self.centers[labels]).pow(2).sum(1).mean()


def improved_triplet_loss(
    feats: Tensor, labels: Tensor, margin: float = 1.0, tau2: float = 0.01, beta: float = 0.002
) -> Tensor:
    """Improved triplet loss (Cheng et al., CVPR 2016), over every triplet of the batch.

    With squared Euclidean distances ``d``, per triplet ``(a, p, n)``:
    ``[d(a,p) - d(a,n) + margin]_+ + beta [d(a,p) - tau2]_+`` — the usual inter-class
    constraint (the paper's ``max(d^n, tau1)`` with ``tau1 = -margin``, up to a constant)
    plus an intra-class term pulling positives within ``tau2``; averaged over triplets.
    """
    d = pairwise_distance(feats, squared=True)
    pos, neg = _masks(labels)
    valid = pos.unsqueeze(2) & neg.unsqueeze(1)
    inter = F.relu(d.unsqueeze(2) - d.unsqueeze(1) + margin)
    intra = F.relu(d - tau2).unsqueeze(2).expand_as(inter)
    return (inter[valid] + beta * intra[valid]).mean()


def quadruplet_loss(
    feats: Tensor, labels: Tensor, margin1: float = 0.3, margin2: float = 0.15
) -> Tensor:
    """Quadruplet loss (Chen et al., CVPR 2017) with batch-hard mining.

    Per anchor ``a``: ``[d(a,p) - d(a,n) + m1]_+ + [d(a,p) - d(l,k) + m2]_+`` with ``p`` the
    hardest positive, ``n`` the hardest negative, and ``(l, k)`` the closest pair of
    different identities that are both different from ``a``'s; averaged over anchors.
    """
    d = pairwise_distance(feats)
    pos, neg = _masks(labels)
    inf = torch.full_like(d, float("inf"))
    dap = torch.where(pos, d, torch.zeros_like(d)).amax(1)
    dan = torch.where(neg, d, inf).amin(1)
    # for each anchor, the closest negative pair (l, k) avoiding the anchor's identity
    other = labels.unsqueeze(0) != labels.unsqueeze(1)  # [a, l]: l's identity differs from a's
    pair_ok = neg.unsqueeze(0) & other.unsqueeze(2) & other.unsqueeze(1)  # [a, l, k]
    dlk = torch.where(pair_ok, d.unsqueeze(0).expand_as(pair_ok), float("inf")).flatten(1).amin(1)
    valid = pos.any(1) & torch.isfinite(dan) & torch.isfinite(dlk)
    losses = F.relu(dap - dan + margin1) + F.relu(dap - dlk + margin2)
    return losses[valid].mean()


def margin_sample_mining_loss(feats: Tensor, labels: Tensor, margin: float = 0.3) -> Tensor:
    """Margin sample mining loss (Xiao et al. 2017): one term per batch,
    ``[max_{positive pairs} d - min_{negative pairs} d + margin]_+``."""
    d = pairwise_distance(feats)
    pos, neg = _masks(labels)
    return F.relu(d[pos].max() - d[neg].min() + margin)


def lifted_structure_loss(feats: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Lifted structured embedding loss (Song et al., CVPR 2016).

    For each positive pair ``(i, j)``, ``i < j``:
    ``J_ij = log(sum_{k in N_i} exp(m - D_ik) + sum_{l in N_j} exp(m - D_jl)) + D_ij``;
    ``L = 1 / (2|P|) sum_{(i,j) in P} [J_ij]_+^2`` with Euclidean ``D``.
    """
    d = pairwise_distance(feats)
    pos, neg = _masks(labels)
    neg_term = torch.where(neg, margin - d, torch.full_like(d, float("-inf")))
    lse = torch.logsumexp(neg_term, dim=1)  # log sum_k exp(m - D_ik), per i
    pair_lse = torch.logaddexp(lse.unsqueeze(1), lse.unsqueeze(0))
    j = pair_lse + d
    upper = torch.triu(pos, diagonal=1)
    return F.relu(j[upper]).pow(2).sum() / (2.0 * upper.sum().clamp(min=1))


def group_loss(
    feats: Tensor, logits: Tensor, labels: Tensor, n_iter: int = 2, n_anchors: int = 1
) -> Tensor:
    """Group loss (Elezi et al., ECCV 2020): label propagation by replicator dynamics.

    1. ``X`` (N, C): softmax of the classifier ``logits``; the first ``n_anchors`` images of
       each identity in the batch are anchors whose rows are replaced by their one-hot label.
    2. ``W`` (N, N): Pearson correlation of the features, negatives set to 0, zero diagonal.
    3. ``n_iter`` replicator-dynamics steps ``X <- X * (W X) / rowsum(X * (W X))`` (anchor
       rows stay one-hot; a row with no support keeps its values).
    4. The loss is the negative log-likelihood of the labels under the refined ``X``.
    """
    n, c = logits.shape
    x = F.softmax(logits, dim=1)
    first_seen: dict[int, int] = {}
    anchor = torch.zeros(n, dtype=torch.bool, device=labels.device)
    for i, lab in enumerate(labels.tolist()):
        if first_seen.get(lab, 0) < n_anchors:
            anchor[i] = True
            first_seen[lab] = first_seen.get(lab, 0) + 1
    one_hot = F.one_hot(labels, c).to(x.dtype)
    x = torch.where(anchor.unsqueeze(1), one_hot, x)
    centred = feats - feats.mean(dim=1, keepdim=True)
    normed = centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-12)
    w = F.relu(normed @ normed.t())
    w = w * (1.0 - torch.eye(n, dtype=w.dtype, device=w.device))
    for _ in range(n_iter):
        support = x * (w @ x)
        total = support.sum(dim=1, keepdim=True)
        # a row without support keeps its distribution; anchors keep their labels
        x = torch.where(total > 0, support / total.clamp(min=1e-12), x)
        x = torch.where(anchor.unsqueeze(1), one_hot, x)
    return F.nll_loss(torch.log(x.clamp(min=1e-12)), labels)


def mutual_kl_loss(logits: Tensor, peer_logits: Tensor) -> Tensor:
    """Deep mutual learning term (Zhang et al., CVPR 2018): ``KL(p_peer || p)`` averaged over
    the batch, the peer's distribution treated as a constant target."""
    target = F.softmax(peer_logits.detach(), dim=1)
    return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")


def metric_mutual_loss(feats: Tensor, peer_feats: Tensor) -> Tensor:
    """Metric mutual learning on batch distance matrices (AlignedReID, Zhang et al. 2017):
    ``mean_ij (D_ij - D^peer_ij)^2``, the peer's Euclidean distances treated as constants."""
    return (pairwise_distance(feats) - pairwise_distance(peer_feats.detach())).pow(2).mean()


# -- objectives: named, parameterised terms ----------------------------------------------------
