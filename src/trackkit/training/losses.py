"""Element-wise regression losses for dense (response-map) and box regression trainers.

The shrinkage loss of Lu, Ma, Ni, Yang, Reid, Yang: "Deep Regression Tracking with Shrinkage
Loss", ECCV 2018 (DSLT). With the absolute difference ``l = |p - y|`` between a prediction
``p`` and its regression target ``y``:

- ``L2 = l^2`` (the squared loss of CREST, DCFNet, ...);
- ``L3 = l^3``, the paper's comparison "L3": the focal-loss idea (Lin et al. 2017) for
  regression, ``l^gamma * l^2`` with ``gamma = 1``; it shrinks the easy samples (small ``l``)
  but also the hard ones below ``l = 1``;
- shrinkage ``LS = l^2 / (1 + exp(a (c - l)))`` (paper eq. 5, ``a = 10``, ``c = 0.2``): a
  sigmoid modulating factor that down-weights only the easy samples (``l < c``, in a response
  map: the background) and keeps the loss of the hard ones (``l > c``) close to ``l^2``;
- the paper's final form (eq. 6) also multiplies by ``exp(y)``, so that the few samples with
  a high target (the target's centre) keep their weight: ``LS = exp(y) l^2 / (1 + exp(a (c -
  l)))``. :func:`shrinkage_loss` takes it with ``target_weight=True``; the default is eq. 5
  (the loss without the label weighting, the form of the function's signature);
  :class:`trackkit.sot.trackers.dslt.DSLTConfig` uses eq. 6 by default, as the paper's tracker.

Every function is pure torch, works on any shape (``pred`` and ``target`` broadcast to one
shape ``(...)``, float tensors) and reduces with ``reduction``: ``"mean"`` (default, a 0-d
tensor), ``"sum"`` or ``"none"`` (the element-wise ``(...)`` tensor). Gradients flow into
``pred`` (and into ``target`` if it requires them). torch is imported by the caller: this
module needs it only when a loss is called.

:data:`REGRESSION_LOSSES` maps the names ``l2``, ``l1``, ``l3``, ``shrinkage`` to the functions;
:func:`regression_loss` looks one up (a one-line :class:`~trackkit.errors.ConfigError` lists the
valid names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackkit.errors import ConfigError

__all__ = [
    "REGRESSION_LOSSES",
    "l1_loss",
    "l2_loss",
    "l3_loss",
    "regression_loss",
    "shrinkage_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: Any, reduction: str) -> Any:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ConfigError(f"reduction {reduction!r}: valid: {', '.join(_REDUCTIONS)}")


def l2_loss(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """Squared error ``(pred - target)^2``.

    Args:
        pred, target: float tensors of one (broadcast) shape ``(...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        a 0-d tensor, or ``(...)`` with ``reduction="none"``.
    """
    return _reduce((pred - target) ** 2, reduction)


def l1_loss(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """Absolute error ``|pred - target|`` (GOTURN's box loss); shapes as :func:`l2_loss`."""
    return _reduce((pred - target).abs(), reduction)


def l3_loss(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """``|pred - target|^3``: the focal-style "L3" loss of the DSLT paper's comparison
    (``l^gamma * l^2``, ``gamma = 1``); shapes as :func:`l2_loss`."""
    return _reduce((pred - target).abs() ** 3, reduction)


def shrinkage_loss(
    pred: Any,
    target: Any,
    a: float = 10.0,
    c: float = 0.2,
    target_weight: bool = False,
    reduction: str = "mean",
) -> Any:
    """Shrinkage loss (Lu et al., ECCV 2018): ``l^2 / (1 + exp(a (c - l)))``, ``l = |p - y|``.

    Args:
        pred, target: float tensors of one (broadcast) shape ``(...)``; for a response map
            the target is a Gaussian label in ``[0, 1]``.
        a: shrinkage speed (paper: 10).
        c: localisation: the difference at which the modulating factor is 1/2 (paper: 0.2).
        target_weight: multiply by ``exp(target)`` (the paper's final form, eq. 6: keeps the
            weight of the rare samples with a high target); ``False``: eq. 5.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        a 0-d tensor, or ``(...)`` with ``reduction="none"``.

    Raises:
        ConfigError: ``a <= 0`` or an unknown reduction.
    """
    import torch

    if not a > 0:
        raise ConfigError(f"shrinkage loss: a must be > 0, got {a}")
    diff = (pred - target).abs()
    # 1 / (1 + exp(a (c - l))) is the logistic sigmoid of a (l - c): stable for any l.
    values = diff**2 * torch.sigmoid(a * (diff - c))
    if target_weight:
        values = values * torch.exp(target)
    return _reduce(values, reduction)


#: regression loss name -> function ``(pred, target, reduction="mean") -> tensor``
REGRESSION_LOSSES: dict[str, Callable[..., Any]] = {
    "l1": l1_loss,
    "l2": l2_loss,
    "l3": l3_loss,
    "shrinkage": shrinkage_loss,
}


def regression_loss(name: str) -> Callable[..., Any]:
    """The loss function registered as ``name`` in :data:`REGRESSION_LOSSES`.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    try:
        return REGRESSION_LOSSES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"loss {name!r}: valid: {', '.join(sorted(REGRESSION_LOSSES))}") from None
