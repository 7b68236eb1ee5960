"""MemTrack: SiamFC with a dynamic memory of templates (Yang & Chan, "Learning Dynamic Memory
Networks for Object Tracking", ECCV 2018).

Tracking is SiamFC's (:mod:`trackkit.sot.trackers.siamfc`: multi-scale search, cosine window,
damped scale update) with the exemplar replaced by the memory's template
(:mod:`trackkit.sot.nets.memory`):

1. init: the first exemplar ``T_0`` fills every memory slot; the controller state is zero;
2. each frame: the search features of the centre scale drive one LSTM controller step, which
   reads the memory (cosine attention over slot keys) into ``T_t = T_0 + r_t * read``; ``T_t``
   is correlated with every scale's search features and the target is located as in SiamFC.
   With ``read_below < 1`` (default 0.73; the paper: 1) the read is used only on frames where
   ``T_0``'s own response peaks below that probability, ``T_0`` alone otherwise (a deviation:
   on the shared sequences every read of a confident frame fed the drift, docs/sot-memtrack.md);
3. the exemplar at the new box is written to the memory (write / read / allocation gates,
   erase factor, usage-based allocation of the least-used slot) when the peak probability is at
   least ``update_score`` (0: every frame, as in the paper).

Training: :mod:`trackkit.sot.train.memtrack` (``trackkit sot train --model memtrack``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.sot.base import SOT_TRACKERS, SOTResult
from trackkit.sot.nets import trained_weights
from trackkit.sot.nets.layered import single_threaded
from trackkit.sot.trackers.siamfc import SiamFCConfig, SiamFCTracker

__all__ = ["MemTrackConfig", "MemTrackTracker"]


@dataclass(frozen=True)
class MemTrackConfig(SiamFCConfig):
    """Configuration of :class:`MemTrackTracker`: :class:`SiamFCConfig`'s search parameters
    (the SiamFC paper's values), and

    Attributes:
        weights: weights file written by ``trackkit sot train --model memtrack`` (default
            ``trackkit/assets/memtrack.pt``).
        update_score: peak probability needed to write the new exemplar to the memory (0:
            every frame, the paper's rule).
        read_below: the memory's read is added to ``T_0`` only on frames where ``T_0``'s own
            response is unsure: its peak probability (over the scales) below this (1: every
            frame, the paper's rule; 0: never, SiamFC's fixed exemplar). The controller
            steps and the memory is written on every frame either way.
        template_lr: unused (the memory replaces SiamFC's running average); kept at 0.
        threads: unused: MemTrack runs on one torch thread (its output does not depend on
            the caller's thread count).
        lost_threshold: peak probability below which a frame is reported lost (0.73:
            Youden's threshold of ``benchmarks/sot_lost.py`` for the packaged weights, 0.732;
            0.80, the earlier weights' value, flags 7 % of in-view frames).
    """

    RANGES: ClassVar[str] = SiamFCConfig.RANGES + "; update_score in [0, 1]; read_below in [0, 1]"

    template_lr: float = 0.0
    update_score: float = 0.0
    read_below: float = 0.73
    lost_threshold: float | None = 0.73


@SOT_TRACKERS.register("memtrack")
class MemTrackTracker(SiamFCTracker):
    """MemTrack (Yang & Chan 2018): SiamFC with an LSTM-controlled memory of templates."""

    config_class = MemTrackConfig
    config: MemTrackConfig
    kind = "memtrack"
    engine_threads = 1

    def _load_network(self) -> Any:
        from trackkit.sot.nets.memory import load_memtrack
        from trackkit.sot.nets.siamfc_net import fuse_conv_bn

        return fuse_conv_bn(load_memtrack(trained_weights(self.config.weights, self.kind)))

    def _embedding(self) -> Any:
        return self._network().siam.embed

    @single_threaded
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        super()._init(frame, box)
        with torch.inference_mode():
            self._state = self._network().memory.start(self._zf)
        self._control: Any = None

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        """SiamFC's search step with the memory's template, on one torch thread (the output
        does not depend on the thread count)."""
        return super()._update(frame)

    def _response(self, xf: Any) -> Any:
        """One controller step on the centre scale's features, then the responses to
        ``T_0`` when its peak probability reaches ``read_below`` (computed once, reused),
        else to the memory's template ``T_0 + r_t * read``."""
        net = self._network()
        memory = net.memory
        mid = xf.shape[0] // 2
        self._control = memory.control(self._state, xf[mid : mid + 1])
        if self.config.read_below < 1.0:
            resp = net.correlate(self._state.first, xf)
            if 1.0 / (1.0 + np.exp(-float(resp.amax()))) >= self.config.read_below:
                return resp
        return net.correlate(memory.template(self._state, self._control), xf)

    def _refresh(
        self, img: NDArray[np.uint8], avg: tuple[float, float, float], score: float
    ) -> None:
        import torch

        memory = self._network().memory
        if score >= self.config.update_score:
            new = self._exemplar_at_box(img, avg)
            with torch.inference_mode():
                self._state = memory.write(self._state, self._control, new)
        else:
            with torch.inference_mode():
                self._state = memory.skip(self._state, self._control)

    def read_weights(self) -> NDArray[np.float64]:
        """The last frame's read weights over the memory slots ``(N,)``."""
        return np.asarray(self._state.read_w[0].numpy(), dtype=np.float64)
