"""MemTrack's dynamic memory of templates (Yang & Chan, "Learning Dynamic Memory Networks for
Object Tracking", ECCV 2018) and the MemTrack network.

A SiamFC embedding (:class:`~trackkit.sot.nets.siamfc_net.SiamFCNet`: the AlexNet-style net, or
a pretrained NanoTrack backbone + 1x1 neck) gives exemplar features ``(C, h, w)`` (127 crop) and
search features ``(C, H, W)`` (255 crop). Instead of one fixed exemplar, a memory of ``N``
template slots ``M (N, C, h, w)`` is read and written each frame ``t`` by an LSTM controller:

1. **controller input**: attention pooling of the search features ``f_t`` (centre scale) over
   the positions ``i``: ``a_i = softmax_i(v . tanh(W_f f_t,i + W_h h_{t-1}))``,
   ``f*_t = sum_i a_i f_t,i`` (``C``); ``(h_t, c_t) = LSTM(f*_t, (h_{t-1}, c_{t-1}))``.
2. **read**: key ``k_t = W_k h_t`` (``C``), strength ``beta_t = 1 + softplus(W_b h_t)``; slot
   keys are the slots' spatial means; ``w^r_t(j) = softmax_j(beta_t cos(k_t, key(M(j))))``;
   read template ``T^r_t = sum_j w^r_t(j) M(j)``.
3. **template**: ``T_t = T_0 + r_t * T^r_t`` with the channel-wise residual gate
   ``r_t = sigmoid(W_r h_t)`` (``C``) and ``T_0`` the first frame's exemplar; the response is
   SiamFC's cross-correlation of ``T_t`` with the search features.
4. **write** (after the target is located, the new exemplar ``T^new_t`` at the tracked box):
   gates ``(g^w, g^r, g^a) = softmax(W_g h_t)`` mix the last write weights, the last read weights
   and the allocation weights ``w^a_t`` (one-hot on the least-used slot):
   ``w^w_t = g^w w^w_{t-1} + g^r w^r_{t-1} + g^a w^a_t``; erase factor
   ``e_t = sigmoid(W_e h_t)``; ``M(j) <- (1 - w^w_t(j) e_t) M(j) + w^w_t(j) e_t T^new_t``
   (erase, then add the new template with the same factor); usage
   ``u_t = lambda u_{t-1} + w^r_t + w^w_t``.

The memory starts with every slot holding ``T_0`` and the usage of slot 0 at 1 (it was
written), so the first reads return ``T_0`` and the first writes go to the unused slots.
The functions :func:`read_weights`, :func:`read`, :func:`allocation_weights` and :func:`write`
are the memory's operations on batched tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trackkit.sot.nets.siamfc_net import SiamFCNet

__all__ = [
    "Control",
    "MemTrackNet",
    "MemoryController",
    "MemoryState",
    "allocation_weights",
    "load_memtrack",
    "read",
    "read_weights",
    "slot_keys",
    "write",
]


@dataclass
class MemoryState:
    """The recurrent state of a batch of ``B`` tracks.

    Attributes:
        slots: ``(B, N, C, h, w)`` the template memory.
        usage: ``(B, N)`` decayed access counts.
        write_w, read_w: ``(B, N)`` the last write and read weights.
        h, c: ``(B, hidden)`` the LSTM controller's state.
        first: ``(B, C, h, w)`` the first frame's exemplar ``T_0``.
    """

    slots: torch.Tensor
    usage: torch.Tensor
    write_w: torch.Tensor
    read_w: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor
    first: torch.Tensor

    def detach(self) -> MemoryState:
        """The same state cut from the autograd graph."""
        return MemoryState(*(t.detach() for t in self.__dict__.values()))


@dataclass
class Control:
    """The controller's outputs for one frame (all ``(B, ...)``)."""

    h: torch.Tensor
    c: torch.Tensor
    read_w: torch.Tensor  # (B, N)
    gates: torch.Tensor  # (B, 3): previous-write, previous-read, allocation
    erase: torch.Tensor  # (B, 1)
    residual: torch.Tensor  # (B, C)


def slot_keys(slots: torch.Tensor) -> torch.Tensor:
    """``(B, N, C, h, w)`` slots -> ``(B, N, C)`` keys (spatial means)."""
    return slots.mean(dim=(-2, -1))


def read_weights(key: torch.Tensor, keys: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """Content addressing: ``softmax_j(strength * cos(key, keys[j]))``.

    Args:
        key: ``(B, C)`` read key.
        keys: ``(B, N, C)`` slot keys.
        strength: ``(B, 1)`` read strength (>= 1).

    Returns:
        ``(B, N)`` read weights (rows sum to 1).
    """
    cos = F.cosine_similarity(key[:, None, :], keys, dim=-1, eps=1e-6)
    return torch.softmax(strength * cos, dim=-1)


def read(slots: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(B, N, C, h, w)`` slots and ``(B, N)`` weights -> ``(B, C, h, w)`` weighted sum."""
    return torch.einsum("bn,bnchw->bchw", weights, slots)


def allocation_weights(usage: torch.Tensor) -> torch.Tensor:
    """``(B, N)`` usage -> ``(B, N)`` one-hot on the least-used slot (the first on ties)."""
    idx = usage.argmin(dim=-1)
    return F.one_hot(idx, usage.shape[-1]).to(usage.dtype)


def write(
    slots: torch.Tensor, weights: torch.Tensor, erase: torch.Tensor, new: torch.Tensor
) -> torch.Tensor:
    """``M(j) <- (1 - w(j) e) M(j) + w(j) e new``.

    Args:
        slots: ``(B, N, C, h, w)``.
        weights: ``(B, N)`` write weights.
        erase: ``(B, 1)`` erase factor in [0, 1].
        new: ``(B, C, h, w)`` the new template.
    """
    we = (weights * erase)[:, :, None, None, None]
    return (1 - we) * slots + we * new[:, None]


class MemoryController(nn.Module):
    """The LSTM controller, its attention pooling and its read / write heads.

    Args:
        channels: feature channels ``C``.
        slots: memory slots ``N``.
        hidden: LSTM hidden size.
        attention: width of the attention pooling's hidden layer.
        decay: usage decay ``lambda``.
    """

    def __init__(
        self,
        channels: int,
        slots: int = 8,
        hidden: int = 128,
        attention: int = 64,
        decay: float = 0.99,
    ) -> None:
        super().__init__()
        self.slots = slots
        self.hidden = hidden
        self.decay = decay
        self.att_f = nn.Conv2d(channels, attention, 1)
        self.att_h = nn.Linear(hidden, attention, bias=False)
        self.att_v = nn.Conv2d(attention, 1, 1)
        self.lstm = nn.LSTMCell(channels, hidden)
        self.key = nn.Linear(hidden, channels)
        self.strength = nn.Linear(hidden, 1)
        self.gates = nn.Linear(hidden, 3)
        self.erase = nn.Linear(hidden, 1)
        self.residual = nn.Linear(hidden, channels)

    def start(self, first: torch.Tensor) -> MemoryState:
        """The state after the first frame's exemplar ``first (B, C, h, w)``."""
        b, n = first.shape[0], self.slots
        slots = first[:, None].expand(b, n, *first.shape[1:]).contiguous()
        one = F.one_hot(torch.zeros(b, dtype=torch.long), n).to(first.dtype)
        zeros = first.new_zeros(b, self.hidden)
        return MemoryState(slots, one.clone(), one.clone(), one.clone(), zeros, zeros, first)

    def pool(self, feats: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Attention pooling of ``feats (B, C, H, W)`` guided by ``h (B, hidden)`` -> ``(B, C)``."""
        e = torch.tanh(self.att_f(feats) + self.att_h(h)[:, :, None, None])
        a = torch.softmax(self.att_v(e).flatten(1), dim=-1)  # (B, H*W)
        return torch.einsum("bp,bcp->bc", a, feats.flatten(2))

    def control(self, state: MemoryState, feats: torch.Tensor) -> Control:
        """One controller step on the search features ``feats (B, C, H, W)``."""
        h, c = self.lstm(self.pool(feats, state.h), (state.h, state.c))
        strength = 1 + F.softplus(self.strength(h))
        w_r = read_weights(self.key(h), slot_keys(state.slots), strength)
        return Control(
            h=h,
            c=c,
            read_w=w_r,
            gates=torch.softmax(self.gates(h), dim=-1),
            erase=torch.sigmoid(self.erase(h)),
            residual=torch.sigmoid(self.residual(h)),
        )

    def template(self, state: MemoryState, ctl: Control) -> torch.Tensor:
        """``T_0 + r * read(M)``: ``(B, C, h, w)``."""
        return state.first + ctl.residual[:, :, None, None] * read(state.slots, ctl.read_w)

    def skip(self, state: MemoryState, ctl: Control) -> MemoryState:
        """The state after a frame without a write (the controller and the read still count)."""
        usage = self.decay * state.usage + ctl.read_w
        zero = torch.zeros_like(state.write_w)
        return MemoryState(state.slots, usage, zero, ctl.read_w, ctl.h, ctl.c, state.first)

    def write(self, state: MemoryState, ctl: Control, new: torch.Tensor) -> MemoryState:
        """The state after writing the new exemplar ``new (B, C, h, w)``."""
        g = ctl.gates
        w_a = allocation_weights(state.usage)
        w_w = g[:, :1] * state.write_w + g[:, 1:2] * state.read_w + g[:, 2:3] * w_a
        slots = write(state.slots, w_w, ctl.erase, new)
        usage = self.decay * state.usage + ctl.read_w + w_w
        return MemoryState(slots, usage, w_w, ctl.read_w, ctl.h, ctl.c, state.first)


class MemTrackNet(nn.Module):
    """SiamFC's embedding and correlation (:class:`SiamFCNet`, as ``siam``) + the memory
    controller (``memory``).

    Args:
        width, backbone, neck: :class:`SiamFCNet`'s.
        slots, hidden: :class:`MemoryController`'s.
    """

    def __init__(
        self,
        width: float = 1.0,
        backbone: str = "",
        neck: int = 64,
        slots: int = 8,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        self.siam = SiamFCNet(width=width, backbone=backbone, neck=neck)
        channels = int(self.siam.embed.out_channels)  # type: ignore[arg-type]
        self.memory = MemoryController(channels, slots, hidden)
        #: set by :meth:`freeze_embedding`
        self.frozen_embedding = False

    def freeze_embedding(self) -> None:
        """Fix the embedding and the response adjustment (``siam``): no gradients, and its
        batch normalisations stay in eval mode (running statistics) under ``train()``; only
        the memory controller trains."""
        for p in self.siam.parameters():
            p.requires_grad_(False)
        self.frozen_embedding = True
        self.siam.eval()

    def train(self, mode: bool = True) -> MemTrackNet:
        super().train(mode)
        if self.frozen_embedding:
            self.siam.eval()
        return self

    @property
    def backbone(self) -> str:
        return str(self.siam.backbone)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` BGR 0..255 -> features."""
        return self.siam.embed(x)  # type: ignore[no-any-return]

    def correlate(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """SiamFC's response ``(B, 1, 17, 17)``."""
        return self.siam.correlate(zf, xf)

    def forward(self, z0: torch.Tensor, xs: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
        """Responses of a batch of clips (training, the new exemplars given).

        Args:
            z0: ``(B, 3, 127, 127)`` the first frames' exemplar crops.
            xs: ``(B, T, 3, 255, 255)`` search crops of frames ``1..T``.
            zs: ``(B, T, 3, 127, 127)`` exemplar crops at the target in frames ``1..T`` (the
                templates written after each frame).

        Returns:
            ``(B, T, 17, 17)`` response logits.
        """
        b, t = xs.shape[:2]
        xf = self.embed(xs.flatten(0, 1)).unflatten(0, (b, t))
        zf = self.embed(zs.flatten(0, 1)).unflatten(0, (b, t))
        state = self.memory.start(self.embed(z0))
        out = []
        for k in range(t):
            ctl = self.memory.control(state, xf[:, k])
            tmpl = self.memory.template(state, ctl)
            out.append(self.correlate(tmpl, xf[:, k])[:, 0])
            state = self.memory.write(state, ctl, zf[:, k])
        return torch.stack(out, dim=1)


def load_memtrack(path: str | Path) -> MemTrackNet:
    """A :class:`MemTrackNet` loaded from a trackkit weights file (eval mode).

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold MemTrack weights that fit the architecture.
    """
    from trackkit.sot.nets import load_network

    net = load_network(
        path, "memtrack", MemTrackNet, width=1.0, backbone="", neck=64, slots=8, hidden=128
    )
    return net.eval()  # type: ignore[no-any-return]
