"""Training objectives of the ReID trainer: weighted sums of registered loss terms.

:data:`LOSS_REGISTRY` holds one factory per ``--loss`` name; each takes the loss's
hyper-parameters as keyword arguments (defaults: the values used before they were exposed,
e.g. ``triplet-hard`` margin 0.3, ``ce`` smoothing 0.1), validates them and returns a
:class:`LossTerm`. :func:`build_loss` builds one; :func:`parse_objective` reads weighted sums
such as ``"triplet-hard+ce"``, ``"0.5*triplet-soft+ce"`` or
``"triplet-hard(margin=0.3)+0.0005*center+ce"``. A term with learnable state (``center``)
makes it with :meth:`LossTerm.build_module`. :data:`LOSSES` maps every name to its
default-configured term. The loss functions themselves are :mod:`trackkit.reid.losses`'.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from trackkit.errors import ConfigError
from trackkit.registry import Registry
from trackkit.reid.distill import (
    FeatureProjection,
    feature_distill_loss,
    rank_distill_loss,
    similarity_distill_loss,
)
from trackkit.reid.losses import (
    CenterLoss,
    contrastive_loss,
    cross_entropy_label_smoothing,
    group_loss,
    improved_triplet_loss,
    lifted_structure_loss,
    margin_sample_mining_loss,
    metric_mutual_loss,
    mutual_kl_loss,
    quadruplet_loss,
    triplet_loss,
)

__all__ = ["LOSSES", "LOSS_REGISTRY", "LossTerm", "build_loss", "parse_objective"]

Outputs = dict[str, Tensor]
ParamValue = float | int | None


@dataclass(frozen=True)
class LossTerm:
    """One named term of a training objective, with its hyper-parameters bound.

    Attributes:
        name: the registered ``--loss`` name (``"triplet-hard"``); also the key the trainer
            uses for the term's module and its log column.
        fn: ``fn(outputs, labels, state) -> scalar``. ``outputs`` maps ``"feat"`` (pooled
            feature before the BNNeck), ``"emb"`` (after it), ``"logits"`` and, with a peer
            network (mutual learning), ``"peer_feat"`` / ``"peer_logits"``, and with teachers
            (distillation) ``"teacher"``; ``state`` is the module :meth:`build_module` made
            for the term, or ``None``.
        needs_module: the term owns learnable parameters (built by :meth:`build_module`).
        needs_peer: the term needs a second network trained alongside (mutual learning).
        needs_teacher: a distillation term: it needs the teachers' embeddings and no identity
            labels (it also sees a batch's unlabelled images).
        params: the hyper-parameters in effect, ``((name, value), ...)``, defaults included.
        spec: canonical text of the term (``"triplet-hard(margin=0.2)"``; only the values
            that differ from the defaults are written); the name when empty.
        module_factory: ``f(num_classes, embed_dim) -> nn.Module`` (a distillation term:
            ``f(teacher_dim, embed_dim)``) for a term with learnable state, else ``None``.
    """

    name: str
    fn: Callable[[Outputs, Tensor, nn.Module | None], Tensor] = field(compare=False)
    needs_module: bool = False
    needs_peer: bool = False
    needs_teacher: bool = False
    params: tuple[tuple[str, ParamValue], ...] = ()
    spec: str = ""
    module_factory: Callable[[int, int], nn.Module] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.spec:
            object.__setattr__(self, "spec", self.name)
        if self.module_factory is not None:
            object.__setattr__(self, "needs_module", True)
        elif self.needs_module:
            raise ConfigError(f"loss {self.name!r}: needs_module=True needs a module_factory")

    def build_module(
        self, num_classes: int, embed_dim: int, teacher_dim: int | None = None
    ) -> nn.Module | None:
        """The term's learnable state for ``num_classes`` identities and ``embed_dim``-d
        features (e.g. a :class:`CenterLoss`; a distillation term's projection onto
        ``teacher_dim``), freshly initialised from torch's global RNG; ``None`` for a
        stateless term (no random numbers are drawn then)."""
        if self.module_factory is None:
            return None
        if self.needs_teacher:
            if teacher_dim is None:
                raise ConfigError(f"loss {self.name!r} needs a teacher (--teacher)")
            num_classes = teacher_dim
        for what, v in (("num_classes", num_classes), ("embed_dim", embed_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"loss {self.name!r}: {what} must be an integer >= 1, got {v!r}")
        return self.module_factory(num_classes, embed_dim)


LOSS_REGISTRY: Registry[LossTerm] = Registry("ReID loss")


def _number(
    loss: str, param: str, value: object, kind: str, low: float, high: float | None
) -> float:
    """``value`` as a float; a :class:`ConfigError` naming ``loss`` and ``param`` unless it is
    a finite number (an integer if ``kind`` says so) in ``[low, high)``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind == "an integer" and not isinstance(value, int))
    ):
        raise ConfigError(f"loss {loss!r}: {param} must be {kind}, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number >= high):
        rng = f">= {low:g}" + ("" if high is None else f" and < {high:g}")
        raise ConfigError(f"loss {loss!r}: {param} must be {kind} {rng}, got {value!r}")
    return number


def _float(
    loss: str, param: str, value: object, low: float = 0.0, high: float | None = None
) -> float:
    """``value`` as a float, checked by :func:`_number`."""
    return _number(loss, param, value, "a finite number", low, high)


def _opt_float(loss: str, param: str, value: object) -> float | None:
    """``None`` or a float ``>= 0``, checked by :func:`_number`."""
    if value is None:
        return None
    return _number(loss, param, value, "none or a finite number", 0.0, None)


def _int(loss: str, param: str, value: object, low: int = 0) -> int:
    """``value`` as an int, checked by :func:`_number`."""
    return int(_number(loss, param, value, "an integer", low, None))


def _on(key: str, fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    return lambda out, y, _state: fn(out[key], y)


@LOSS_REGISTRY.register("ce")
def _ce(epsilon: float = 0.1) -> LossTerm:
    """Cross-entropy with label smoothing ``epsilon`` on the logits (Szegedy et al. 2016)."""
    eps = _float("ce", "epsilon", epsilon, high=1.0)
    fn = _on("logits", lambda x, y: cross_entropy_label_smoothing(x, y, eps))
    return LossTerm("ce", fn, params=(("epsilon", eps),))


@LOSS_REGISTRY.register("ce-plain")
def _ce_plain() -> LossTerm:
    """Plain softmax cross-entropy on the logits."""
    return LossTerm("ce-plain", _on("logits", F.cross_entropy))


def _triplet(name: str, margin: object, mining: str) -> LossTerm:
    m = _opt_float(name, "margin", margin)
    fn = _on("feat", lambda x, y: triplet_loss(x, y, m, mining))
    return LossTerm(name, fn, params=(("margin", m),))


@LOSS_REGISTRY.register("triplet-hard")
def _triplet_hard(margin: float | None = 0.3) -> LossTerm:
    """Batch-hard triplet loss on ``feat`` (Hermans, Beyer & Leibe 2017); ``margin=none``:
    soft margin."""
    return _triplet("triplet-hard", margin, "hard")


@LOSS_REGISTRY.register("triplet-all")
def _triplet_all(margin: float | None = 0.3) -> LossTerm:
    """Batch-all triplet loss on ``feat`` (Hermans, Beyer & Leibe 2017)."""
    return _triplet("triplet-all", margin, "all")


@LOSS_REGISTRY.register("triplet-soft")
def _triplet_soft() -> LossTerm:
    """Batch-hard soft-margin triplet loss on ``feat`` (Hermans, Beyer & Leibe 2017)."""
    return LossTerm("triplet-soft", _on("feat", lambda x, y: triplet_loss(x, y, None, "hard")))


def _margin_term(
    name: str, margin: object, loss: Callable[[Tensor, Tensor, float], Tensor]
) -> LossTerm:
    """A term on ``feat`` whose one hyper-parameter is ``margin`` (a number >= 0)."""
    m = _float(name, "margin", margin)
    return LossTerm(name, _on("feat", lambda x, y: loss(x, y, m)), params=(("margin", m),))


@LOSS_REGISTRY.register("contrastive")
def _contrastive(margin: float = 1.0) -> LossTerm:
    """Contrastive loss on ``feat`` (Hadsell, Chopra & LeCun, CVPR 2006)."""
    return _margin_term("contrastive", margin, contrastive_loss)


@LOSS_REGISTRY.register("improved-triplet")
def _improved_triplet(margin: float = 1.0, tau2: float = 0.01, beta: float = 0.002) -> LossTerm:
    """Improved triplet loss on ``feat`` (Cheng et al., CVPR 2016)."""
    name = "improved-triplet"
    m, t, b = (_float(name, k, v) for k, v in (("margin", margin), ("tau2", tau2), ("beta", beta)))
    fn = _on("feat", lambda x, y: improved_triplet_loss(x, y, m, t, b))
    return LossTerm(name, fn, params=(("margin", m), ("tau2", t), ("beta", b)))


@LOSS_REGISTRY.register("quadruplet")
def _quadruplet(margin1: float = 0.3, margin2: float = 0.15) -> LossTerm:
    """Batch-hard quadruplet loss on ``feat`` (Chen et al., CVPR 2017)."""
    m1 = _float("quadruplet", "margin1", margin1)
    m2 = _float("quadruplet", "margin2", margin2)
    fn = _on("feat", lambda x, y: quadruplet_loss(x, y, m1, m2))
    return LossTerm("quadruplet", fn, params=(("margin1", m1), ("margin2", m2)))


@LOSS_REGISTRY.register("msml")
def _msml(margin: float = 0.3) -> LossTerm:
    """Margin sample mining loss on ``feat`` (Xiao et al. 2017)."""
    return _margin_term("msml", margin, margin_sample_mining_loss)


@LOSS_REGISTRY.register("lifted")
def _lifted(margin: float = 1.0) -> LossTerm:
    """Lifted structured embedding loss on ``feat`` (Song et al., CVPR 2016)."""
    return _margin_term("lifted", margin, lifted_structure_loss)


@LOSS_REGISTRY.register("group")
def _group(n_iter: int = 2, n_anchors: int = 1) -> LossTerm:
    """Group loss on ``feat`` and the logits (Elezi et al., ECCV 2020)."""
    it = _int("group", "n_iter", n_iter, low=1)
    na = _int("group", "n_anchors", n_anchors)
    fn = lambda o, y, _s: group_loss(o["feat"], o["logits"], y, it, na)  # noqa: E731
    return LossTerm("group", fn, params=(("n_iter", it), ("n_anchors", na)))


def _center(out: Outputs, y: Tensor, state: nn.Module | None) -> Tensor:
    if state is None:
        raise ConfigError("the center loss needs its CenterLoss module (LossTerm.build_module)")
    return state(out["feat"], y)


@LOSS_REGISTRY.register("center")
def _center_loss() -> LossTerm:
    """Center loss on ``feat`` with learned class centers (Wen et al., ECCV 2016)."""
    return LossTerm("center", _center, module_factory=CenterLoss)


@LOSS_REGISTRY.register("dml-kl")
def _dml_kl() -> LossTerm:
    """Deep mutual learning KL term on the logits (Zhang et al., CVPR 2018)."""
    fn = lambda o, y, _s: mutual_kl_loss(o["logits"], o["peer_logits"])  # noqa: E731
    return LossTerm("dml-kl", fn, needs_peer=True)


@LOSS_REGISTRY.register("dml-metric")
def _dml_metric() -> LossTerm:
    """Metric mutual learning on distance matrices (AlignedReID, Zhang et al. 2017)."""
    fn = lambda o, y, _s: metric_mutual_loss(o["feat"], o["peer_feat"])  # noqa: E731
    return LossTerm("dml-metric", fn, needs_peer=True)


@LOSS_REGISTRY.register("kd-sim")
def _kd_sim() -> LossTerm:
    """Relational distillation: the batch cosine-similarity matrix of ``feat`` matched to the
    teachers' (metric mutual learning against a fixed teacher; :mod:`trackkit.reid.distill`)."""
    fn = lambda o, y, _s: similarity_distill_loss(o["feat"], o["teacher"])  # noqa: E731
    return LossTerm("kd-sim", fn, needs_teacher=True)


@LOSS_REGISTRY.register("kd-rank")
def _kd_rank(tau: float = 0.1) -> LossTerm:
    """Relational distillation, listwise (DarkRank, Chen et al. AAAI 2018): each anchor's
    softmax over the batch's cosine similarities / ``tau``, KL(teacher || student)."""
    t = _float("kd-rank", "tau", tau)
    if t <= 0:
        raise ConfigError(f"loss 'kd-rank': tau must be > 0, got {tau!r}")
    fn = lambda o, y, _s: rank_distill_loss(o["feat"], o["teacher"], t)  # noqa: E731
    return LossTerm("kd-rank", fn, needs_teacher=True, params=(("tau", t),))


def _kd_feat_fn(out: Outputs, y: Tensor, state: nn.Module | None) -> Tensor:
    if state is None:
        raise ConfigError("the kd-feat loss needs its projection (LossTerm.build_module)")
    return feature_distill_loss(state(out["feat"]), out["teacher"])


def _projection(teacher_dim: int, embed_dim: int) -> nn.Module:
    return FeatureProjection(embed_dim, teacher_dim)


@LOSS_REGISTRY.register("kd-feat")
def _kd_feat() -> LossTerm:
    """Feature distillation: ``1 - cos(P feat, teacher)`` with a learned projection ``P``."""
    return LossTerm("kd-feat", _kd_feat_fn, needs_teacher=True, module_factory=_projection)


def build_loss(name: str, **params: Any) -> LossTerm:
    """The term registered as ``name`` with hyper-parameters ``params`` (the rest default).

    Raises:
        ConfigError: unknown name (listing the valid names), unknown parameter (listing the
            loss's parameters) or a bad value (naming the loss and the parameter).
    """
    factory = LOSS_REGISTRY.get(name)
    sig = inspect.signature(factory)
    unknown = [k for k in params if k not in sig.parameters]
    if unknown:
        valid = ", ".join(sig.parameters) or "(none)"
        raise ConfigError(
            f"loss {name!r} has no parameter {unknown[0]!r}; valid parameters: {valid}"
        )
    term = LOSS_REGISTRY.build(name, **params)
    defaults = {k: p.default for k, p in sig.parameters.items()}
    changed = [f"{k}={v}" for k, v in term.params if k not in defaults or v != defaults[k]]
    if changed:
        term = replace(term, spec=f"{term.name}({','.join(changed)})")
    return term


# the default-configured term of every registered name (kept for compatibility)
LOSSES: Mapping[str, LossTerm] = MappingProxyType(
    {name: build_loss(name) for name in LOSS_REGISTRY.available()}
)

_EXPONENT_PREFIX = re.compile(r"(?:\d+\.?\d*|\.\d+)[eE]")
_TERM = re.compile(r"(?:(?P<weight>[^*()]*)\*)?(?P<name>[^*()=,]+)(?:\((?P<args>[^()]*)\))?")


def _split_terms(spec: str, text: str) -> list[str]:
    """``text`` (no whitespace) cut at the ``+`` outside parentheses and exponents."""
    parts, current, depth = [], "", 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(
                    f"unbalanced parentheses in loss {spec!r}: ')' without a matching '('"
                )
        elif ch == "+" and depth == 0 and not _EXPONENT_PREFIX.fullmatch(current):
            parts.append(current)
            current = ""
            continue
        current += ch
    if depth:
        raise ConfigError(f"unbalanced parentheses in loss {spec!r}: '(' not closed")
    return [*parts, current]


def _parse_value(text: str) -> ParamValue:
    if text.lower() == "none":
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return float(text)  # ValueError for anything else


def _parse_term(spec: str, part: str) -> tuple[float, LossTerm]:
    if not part:
        raise ConfigError(f"empty term in loss {spec!r}")
    match = _TERM.fullmatch(part)
    if match is None:
        raise ConfigError(f"malformed term {part!r} in loss {spec!r}; expected W*NAME(K=V,...)")
    weight_text, name, args = match["weight"], match["name"], match["args"]
    weight = 1.0
    if weight_text is not None:
        try:
            weight = float(weight_text)
        except ValueError:
            raise ConfigError(f"bad loss weight {weight_text!r} in {spec!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ConfigError(
                f"loss weight must be finite and >= 0, got {weight_text!r} in {spec!r}"
            )
    params: dict[str, Any] = {}
    for item in args.split(",") if args else []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(
                f"bad parameter {item!r} of loss {name!r} in {spec!r}; use NAME=VALUE"
            )
        if key in params:
            raise ConfigError(f"parameter {key!r} of loss {name!r} given twice in {spec!r}")
        try:
            params[key] = _parse_value(value)
        except ValueError:
            raise ConfigError(
                f"bad value {value!r} for parameter {key!r} of loss {name!r} in {spec!r}"
            ) from None
    try:
        return weight, build_loss(name, **params)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {spec!r})") from None


def parse_objective(spec: str) -> list[tuple[float, LossTerm]]:
    """Read a weighted sum of loss terms: ``[(weight, term), ...]`` in the order written.

    Grammar: terms joined by ``+``; each is ``[WEIGHT*]NAME[(KEY=VALUE,...)]`` with a float
    weight (default 1), a registered name (:data:`LOSS_REGISTRY`) and keyword
    hyper-parameters (numbers, or ``none``). Whitespace is ignored. Examples:
    ``"triplet-hard+0.5*center+ce"``, ``"triplet-hard(margin=0.2)+ce"``,
    ``"triplet-hard(margin=0.3)+0.0005*center+ce"``, ``"0.5*triplet-soft+ce"``.

    Raises:
        ConfigError: naming ``spec`` for an empty string, unbalanced parentheses, a bad
            weight or value, an unknown loss or parameter, or a value out of range.
    """
    text = "".join(spec.split())
    if not text:
        raise ConfigError("empty loss specification")
    return [_parse_term(spec, part) for part in _split_terms(spec, text)]
