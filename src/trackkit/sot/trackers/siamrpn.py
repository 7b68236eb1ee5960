"""SiamRPN-style tracking (Li et al. CVPR 2018) with DaSiamRPN's additions (Zhu et al. ECCV 2018).

The network is NanoTrack v2 / v3 (anchor-free, SiamBAN-style decoding: each output cell ``(i, j)``
has a point ``p = ((j - n//2) s, (i - n//2) s)`` relative to the search-crop centre, stride
``s = 16``, a foreground score and distances ``(l, t, r, b)`` to the box sides), run either from
the released ONNX files (onnxruntime) or from the state_dict (trackkit's PyTorch modules); see
:mod:`trackkit.sot.nets.nanotrack`. Or it is trackkit's own SiamRPN head (``weights`` a file of
arch ``siamrpn-own`` from ``trackkit sot train --model siamrpn``, or ``"siamrpn-own"``: the
packaged ``assets/siamrpn.pt``; preset ``siamrpn-own``): NanoTrack's backbone + an anchor head
(:mod:`trackkit.sot.nets.rpn_head`), each cell reporting its best anchor's score and box. The
tracking logic is trackkit's:

1. exemplar: a square of side ``s_z = sqrt((w + p)(h + p))``, ``p = (w + h) / 2``, around the
   first box, resized to 127 (outside filled with the frame's mean colour);
2. each frame, the search region of side ``s_x = s_z 255 / 127`` around the last centre, resized
   to 255; every cell's box is decoded; a size-change and aspect-change penalty
   ``exp(-k (max(r, 1/r) max(s, 1/s) - 1))`` multiplies the score; a cosine (Hanning) window
   is blended in with weight ``window_influence``; the best cell gives the new centre, and the
   size is damped: ``size = (1 - lr') size + lr' size_new``, ``lr' = lr * penalty * score``;
3. DaSiamRPN distractor-aware re-scoring (``distractors=True``): other strong peaks of the
   response are distractors; their exemplars (8x8 windows of the search features around each
   peak) are kept and the next response is ``f(z, x) - alpha sum_i beta_i f(d_i, x) / sum_i
   beta_i``;
4. DaSiamRPN long-term mode (``long_term=True``): while the best score stays below
   ``lost_ratio`` times the running mean score of confidently tracked frames (score at least
   ``found_ratio`` times that mean), the state is frozen and the
   search region grows by ``grow_cells`` feature cells per frame (up to ``max_grow_cells``),
   without the cosine window; a score of at least ``found_ratio`` times that mean in the large
   region moves the target there and the region shrinks back to normal;
5. first-frame box calibration (``calibrate=True``, trackkit's addition in the spirit of
   MDNet's first-frame bounding-box regression): the network's size prediction for the known
   first-frame target (median over a 3x3 grid of slightly shifted search crops) gives per-axis
   factors ``true / predicted`` (at most ``max_calibration`` either way) that scale every later
   prediction — it removes the annotation-style bias between the network's training data and
   the sequence (e.g. OTB's tight pedestrian boxes are ~25 % narrower than NanoTrack predicts).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import resolve_weights
from trackkit.sot.ops.crops import as_bgr, context_size, crop_square, mean_color

__all__ = ["DEFAULT_NETWORK", "OWN", "SiamRPNConfig", "SiamRPNTracker"]

logger = logging.getLogger(__name__)

#: The network ``siamrpn`` loads without weights. NanoTrack v2 and v3 (neither trained on
#: the shared sequences) tie on them: mean success AUC 77.5 (v2) vs 77.0 (v3) over the 13
#: shared OTB/VOT/sot-extra sequences, v2 ahead on 8 of 13 and faster (docs/benchmarks.md,
#: ``trackkit eval sot ../shared/data --tracker siamrpn-v2|siamrpn-v3``); v2 is the default.
DEFAULT_NETWORK = "nanotrack_v2"
#: ``weights`` naming trackkit's own SiamRPN head, packaged as ``trackkit/assets/siamrpn.pt``
#: (``trackkit sot train --model siamrpn``; docs/sot-siamrpn.md)
OWN = "siamrpn-own"

# Tracking hyper-parameters (window influence, penalty k, lr): those of the NanoTrack releases,
# and for trackkit's own head (``own``) DaSiamRPN's published window influence and lr (0.42,
# 0.295) and DaSiamRPN's penalty k 0.055, chosen by nested k-fold on the packaged recipe's
# fold models (benchmarks/sot_nested.py --grid penalty_k=0.055,0.1,0.15,0.25; docs/sot-siamrpn.md).
_DEFAULTS = {
    "v2": (0.490, 0.150, 0.385),
    "v3": (0.455, 0.138, 0.348),
    "own": (0.42, 0.055, 0.295),
}


@dataclass(frozen=True)
class SiamRPNConfig(NetTrackerConfig):
    """Configuration of :class:`SiamRPNTracker`.

    Attributes:
        weights: NanoTrack folder (``*backbone*.onnx`` + ``*head*.onnx``) or state_dict file,
            or ``nanotrack_v2`` / ``nanotrack_v3``; default :data:`DEFAULT_NETWORK`
            (``<shared>/weights/nanotrack_v2``, chosen by score on the shared sequences).
        backend: ``"auto"`` (ONNX for folders, torch for files), ``"onnx"`` or ``"torch"``.
        threads: CPU threads for the network.
        window_influence, penalty_k, lr: tracking hyper-parameters; ``None`` takes the values
            released with the network version (v2: 0.490 / 0.150 / 0.385, v3: 0.455 / 0.138 /
            0.348).
        context: context amount of the exemplar region.
        min_size: smallest box side in pixels.
        calibrate, distractors, long_term: the three additions to NanoTrack's logic (items 5,
            3, 4 above). Defaults chosen by 3-fold cross-validation by sequence on the 13
            shared sequences (``benchmarks/siamrpn_defaults.py``, docs/sot-siamrpn.md):
            calibration and long-term mode on, distractor-aware re-scoring off (held-out AUC
            of the choice 0.784 vs 0.765 with all three off, TrackerNano 0.747).
        distractor_ratio: a peak is a distractor when its score is at least this fraction of
            the best score (after penalties).
        distractor_alpha: weight ``alpha`` of the distractor term.
        max_distractors: distractor exemplars kept per frame.
        long_term: DaSiamRPN long-term (growing search region) mode.
        lost_ratio, found_ratio: the target counts as lost when the best score falls below
            ``lost_ratio`` times the running mean of the scores of confidently tracked frames
            (those reaching ``found_ratio`` times that mean), and as found
            again (in the enlarged region) when it reaches ``found_ratio`` times that mean.
        grow_cells, max_grow_cells: search-region growth per lost frame and its maximum, in
            feature cells (16 pixels of the 255 crop each).
        lost_threshold: a frame whose best score is below it is reported as lost (0.985,
            chosen on the shared sequences with ``benchmarks/sot_lost.py``: the scores of
            NanoTrack saturate near 1 while the target is in view); the long-term mode's
            search frames are reported as lost too.
    """

    RANGES: ClassVar[str] = (
        "window_influence in [0, 1]; lr in [0, 1]; penalty_k >= 0; "
        "context >= 0; min_size > 0; aspect_lr in [0, 1]; max_calibration >= 1; "
        "distractor_ratio in (0, 1]; distractor_alpha in [0, 1]; max_distractors >= 0; "
        "grow_cells >= 0; max_grow_cells >= 0; lost_ratio in [0, found_ratio]; "
        "found_ratio <= 1"
    )

    backend: str = "auto"
    window_influence: float | None = None
    penalty_k: float | None = None
    lr: float | None = None
    context: float = 0.5
    min_size: float = 10.0
    aspect_lr: float = 1.0
    calibrate: bool = True
    max_calibration: float = 1.5
    distractors: bool = False
    distractor_ratio: float = 0.5
    distractor_alpha: float = 0.5
    max_distractors: int = 2
    long_term: bool = True
    lost_ratio: float = 0.8
    found_ratio: float = 0.98
    grow_cells: int = 6
    max_grow_cells: int = 24
    lost_threshold: float | None = 0.985

    def validate(self) -> None:
        require(self.backend in ("auto", "onnx", "torch"), "backend must be auto, onnx or torch")


def _own_head(path: Path) -> bool:
    """A weights file of trackkit's own SiamRPN head (a folder, e.g. ONNX files, is not)."""
    if not path.is_file():
        return False
    from trackkit.sot.nets.rpn_head import is_own_weights

    return is_own_weights(path)


def _change(r: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(r, 1.0 / r)


@SOT_TRACKERS.register("siamrpn")
class SiamRPNTracker(SOTTracker):
    """SiamRPN / DaSiamRPN-style on NanoTrack (default v2: AUC 77.5 vs v3 77.0, shared data)."""

    # ``siamrpn-v2`` / ``siamrpn-v3`` (presets below) name the network version

    exemplar_size = 127
    instance_size = 255
    stride = 16

    config_class = SiamRPNConfig
    config: SiamRPNConfig

    # ------------------------------------------------------------------ network
    def _load_network(self) -> Any:
        from trackkit.sot.nets.nanotrack import load_nanotrack

        own = self.config.weights == OWN or self.config.weights == _own_asset()
        if own:  # trackkit's packaged own head
            from trackkit.sot.nets import packaged_asset

            weights = packaged_asset("siamrpn.pt")
        else:
            weights = resolve_weights(self.config.weights, DEFAULT_NETWORK)
        if self.config.weights is None:
            logger.info("siamrpn: default network %s (%s)", DEFAULT_NETWORK, weights)
        net: Any
        if _own_head(Path(weights)):  # trackkit's own head (trackkit sot train --model siamrpn)
            from trackkit.sot.nets.rpn_head import OwnRPNNet

            net = OwnRPNNet(weights, self.config.threads)
        else:
            net = load_nanotrack(weights, self.config.backend, self.config.threads)
        # the released hyper-parameters of this network version (and the default weights)
        # fill the unset fields, so that self.config is the configuration that runs
        wi, k, lr = _DEFAULTS[net.version]
        c = self.config
        self.config = dataclasses.replace(
            c,
            weights=str(weights) if c.weights is None else c.weights,
            window_influence=wi if c.window_influence is None else c.window_influence,
            penalty_k=k if c.penalty_k is None else c.penalty_k,
            lr=lr if c.lr is None else c.lr,
        )
        self._wi = float(self.config.window_influence)  # type: ignore[arg-type]
        self._k = float(self.config.penalty_k)  # type: ignore[arg-type]
        self._lr = float(self.config.lr)  # type: ignore[arg-type]
        return net

    # ------------------------------------------------------------------ protocol
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        net = self._network()
        img = as_bgr(frame)
        self._center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        self._size = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float64)
        self._frame_hw = img.shape[:2]
        s_z = context_size(self._size[0], self._size[1], self.config.context)
        z = crop_square(img, (self._center[0], self._center[1]), s_z, 127, mean_color(img))
        self._zf = net.set_template(z)
        self._grow = 0
        self._dfeats: list[NDArray[np.float32]] = []
        self._dweights: list[float] = []
        self._windows: dict[int, NDArray[np.float64]] = {}
        self._calib = np.ones(2)
        self._score_mean = 1.0
        if self.config.calibrate:
            self._calibrate(img)

    def _calibrate(self, img: NDArray[np.uint8]) -> None:
        """First-frame box calibration: the ratio of the true size to the size the network
        predicts for the (known) first-frame target scales every later prediction (cf. MDNet's
        first-frame bounding-box regression). Median over a 3x3 grid of crops shifted by a
        quarter cell (4 crop pixels), so that one unlucky crop does not set the factors."""
        w, h = self._size
        s_z = context_size(w, h, self.config.context)
        scale = self.exemplar_size / s_z
        s_x = s_z * self.instance_size / self.exemplar_size
        ratios = []
        center = self._center.copy()
        q = self.stride / 4 / scale
        for dx in (-q, 0.0, q):
            for dy in (-q, 0.0, q):
                self._center = center + np.array([dx, dy])
                score, ltrb, _, _ = self._score_region(img, s_x, 0)
                best = np.unravel_index(int(np.argmax(score)), score.shape)
                pw = (ltrb[0][best] + ltrb[2][best]) / scale
                ph = (ltrb[1][best] + ltrb[3][best]) / scale
                ratios.append(np.log([w / max(pw, 1e-3), h / max(ph, 1e-3)]))
        self._center = center
        lim = np.log(self.config.max_calibration)
        self._calib = np.exp(np.clip(np.median(np.array(ratios), axis=0), -lim, lim))

    def _window(self, n: int) -> NDArray[np.float64]:
        if n not in self._windows:
            h = np.hanning(n)
            self._windows[n] = np.outer(h, h)
        return self._windows[n]

    def _score_region(
        self, img: NDArray[np.uint8], s_x: float, grow: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], Any]:
        """Score map, ltrb maps and cell points (crop pixels, relative to the crop centre).

        ``grow`` extra feature cells enlarge the crop beyond 255 at the same pixel scale; the
        head (fixed 16x16 search features) then runs on overlapping windows of the features.
        """
        net = self._network()
        n = net.score_size
        side = self.instance_size + self.stride * grow
        region = s_x * side / self.instance_size
        c = (self._center[0], self._center[1])
        x = crop_square(img, c, region, side, mean_color(img))
        xf = net.embed(x)
        feat = xf.shape[-1]
        half = n // 2
        if feat <= 16:
            score, ltrb = net.head(self._zf, xf)
            score = self._suppress_distractors(score.astype(np.float64), xf)
            idx = (np.arange(n) - half) * self.stride
            return score, ltrb.astype(np.float64), idx, xf
        # Large region: tile the head over 16x16 feature windows; each output cell is taken
        # from the window whose centre is nearest to it.
        starts = list(range(0, feat - 16, 8)) + [feat - 16]
        m = feat - 16 + n
        score = np.zeros((m, m))
        ltrb = np.zeros((4, m, m))
        best = np.full(m, np.inf)
        owner = np.zeros(m, dtype=int)
        for s in starts:
            d = np.abs(np.arange(m) - (s + (n - 1) / 2))
            sel = d < best
            owner[sel] = s
            best[sel] = d[sel]
        for sy in starts:
            for sx in starts:
                ys = np.nonzero(owner == sy)[0]
                xs = np.nonzero(owner == sx)[0]
                if len(ys) == 0 or len(xs) == 0:
                    continue
                sc, lt = net.head(self._zf, xf[:, :, sy : sy + 16, sx : sx + 16])
                score[np.ix_(ys, xs)] = sc[np.ix_(ys - sy, xs - sx)]
                ltrb[:, ys[:, None], xs[None, :]] = lt[:, (ys - sy)[:, None], (xs - sx)[None, :]]
        idx = (np.arange(m) - (m - 1) / 2.0 + (n - 1) / 2.0 - half) * self.stride
        return score, ltrb, idx, None

    def _suppress_distractors(self, score: NDArray[np.float64], xf: Any) -> NDArray[np.float64]:
        """DaSiamRPN re-scoring with the distractor exemplars of the previous frame."""
        if not self.config.distractors or not self._dfeats:
            return score
        net = self._network()
        acc = np.zeros_like(score)
        for f, w in zip(self._dfeats, self._dweights, strict=True):
            acc += w * net.head(f, xf)[0]
        return score - self.config.distractor_alpha * acc / max(sum(self._dweights), 1e-9)

    def _collect_distractors(
        self, pscore: NDArray[np.float64], best: tuple[int, int], xf: Any
    ) -> None:
        """Keep the exemplar features of the strongest peaks other than the target."""
        self._dfeats, self._dweights = [], []
        c = self.config
        if not c.distractors or xf is None or c.max_distractors == 0:
            return
        n = pscore.shape[0]
        top = pscore[best]
        if top <= 0:
            return
        cand = pscore.copy()
        by, bx = best
        cand[max(0, by - 2) : by + 3, max(0, bx - 2) : bx + 3] = -np.inf
        feat = xf.shape[-1]
        for _ in range(c.max_distractors):
            i, j = np.unravel_index(int(np.argmax(cand)), cand.shape)
            v = cand[i, j]
            if not np.isfinite(v) or v < c.distractor_ratio * top:
                break
            cand[max(0, i - 2) : i + 3, max(0, j - 2) : j + 3] = -np.inf
            # cell (i, j) <-> feature (i, j) (v2) / (i + 0.5, j + 0.5) (v3); an 8x8 window.
            fi = int(i) + (1 if n < feat else 0)
            fj = int(j) + (1 if n < feat else 0)
            y0, x0 = fi - 4, fj - 4
            if y0 < 0 or x0 < 0 or y0 + 8 > feat or x0 + 8 > feat:
                continue
            self._dfeats.append(np.ascontiguousarray(xf[:, :, y0 : y0 + 8, x0 : x0 + 8]))
            self._dweights.append(float(v))

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        img = as_bgr(frame)
        cfg = self.config
        w, h = self._size
        s_z = context_size(w, h, cfg.context)
        scale = self.exemplar_size / s_z
        s_x = s_z * self.instance_size / self.exemplar_size
        grow = self._grow if cfg.long_term else 0
        score, ltrb, idx, xf = self._score_region(img, s_x, grow)
        px = idx[None, :]
        py = idx[:, None]
        bw = ltrb[0] + ltrb[2]
        bh = ltrb[1] + ltrb[3]
        bcx = px + (ltrb[2] - ltrb[0]) / 2
        bcy = py + (ltrb[3] - ltrb[1]) / 2
        bw = np.maximum(bw * self._calib[0], 1e-3)
        bh = np.maximum(bh * self._calib[1], 1e-3)
        s_c = _change(context_size(bw, bh) / context_size(np.array(w * scale), np.array(h * scale)))
        r_c = _change((w / h) / (bw / bh))
        penalty = np.exp(-(r_c * s_c - 1.0) * self._k)
        pscore = penalty * score
        wi = self._wi if grow == 0 else 0.0
        n = score.shape[0]
        pscore_w = pscore * (1 - wi) + self._window(n) * wi
        bi, bj = np.unravel_index(int(np.argmax(pscore_w)), pscore_w.shape)
        best = (int(bi), int(bj))
        best_score = float(score[best])
        ref = self._score_mean
        lost = cfg.long_term and (
            best_score < cfg.lost_ratio * ref or (grow > 0 and best_score < cfg.found_ratio * ref)
        )
        if lost:
            self._grow = min(self._grow + cfg.grow_cells, cfg.max_grow_cells)
            self._dfeats, self._dweights = [], []
            return SOTResult(box=self._box(), score=best_score, lost=True)
        self._grow = 0
        if best_score >= cfg.found_ratio * ref:
            # only confident frames feed the reference: a drift onto background (whose scores
            # are lower) must not lower the bar that re-detection has to pass
            self._score_mean = 0.9 * ref + 0.1 * best_score
        self._collect_distractors(pscore, best, xf)
        lr = float(penalty[best] * score[best] * self._lr) if grow == 0 else 1.0
        lr = min(max(lr, 0.0), 1.0)
        cx = self._center[0] + bcx[best] / scale
        cy = self._center[1] + bcy[best] / scale
        # Damped update of the size, as scale sqrt(w h) and log aspect ratio log(w / h); the
        # aspect ratio follows more slowly (aspect_lr) than the scale.
        area_new = np.sqrt(bw[best] * bh[best]) / scale
        s_new = np.sqrt(w * h) * (1 - lr) + area_new * lr
        log_a = np.log(w / h)
        log_a += lr * cfg.aspect_lr * (np.log(bw[best] / bh[best]) - log_a)
        nw = s_new * np.exp(log_a / 2)
        nh = s_new * np.exp(-log_a / 2)
        hh, ww = self._frame_hw = img.shape[:2]
        self._center = np.array([min(max(cx, 0.0), ww), min(max(cy, 0.0), hh)])
        self._size = np.array(
            [min(max(nw, cfg.min_size), ww), min(max(nh, cfg.min_size), hh)], dtype=np.float64
        )
        return SOTResult(box=self._box(), score=best_score)

    @property
    def search_growth(self) -> int:
        """Extra feature cells of the next frame's search region (0: the normal 255 crop;
        > 0: DaSiamRPN long-term mode, the target is considered lost)."""
        return int(self._grow) if self.config.long_term else 0

    def _box(self) -> NDArray[np.float64]:
        c, s = self._center, self._size
        return np.array([c[0] - s[0] / 2, c[1] - s[1] / 2, c[0] + s[0] / 2, c[1] + s[1] / 2])


for _version in ("v2", "v3"):
    SOT_TRACKERS.register_preset(
        f"siamrpn-{_version}",
        "siamrpn",
        f"SiamRPN on NanoTrack {_version} with its released hyper-parameters; needs the shared "
        "weights.",
        weights=f"nanotrack_{_version}",
    )


def _own_asset() -> str:
    """The path of the packaged own head (so that ``trackkit eval sot`` reads its record of
    training sequences); :func:`~trackkit.sot.nets.packaged_asset` reports a missing file."""
    from importlib import resources

    return str(resources.files("trackkit") / "assets" / "siamrpn.pt")


SOT_TRACKERS.register_preset(
    OWN,
    "siamrpn",
    "SiamRPN with trackkit's own anchor head (trained by 'trackkit sot train --model siamrpn', "
    "packaged) on NanoTrack v2's backbone; DaSiamRPN's tracking hyper-parameters.",
    weights=_own_asset(),
)
