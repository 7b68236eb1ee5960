"""A synthetic multi-object scene with known ground truth.

Several textured rectangles move over a static textured background: they enter and leave
through the image borders, cross each other's paths, occlude one another (each object has a
depth; nearer ones are drawn last) and grow or shrink while they move. Every frame is rendered
on demand from a fixed seed, so a scene of any length streams in constant memory and the same
configuration always gives the same pixels and the same ground truth.

Objects live in ``num_objects`` *slots*; each slot shows one object at a time and, after a
short gap, a new one (a new identity) once the previous object has left the image. The first
frame is empty background, which lets background-subtraction detectors learn the scene.

Ground truth per frame: identities (``>= 1``), ``xyxy`` boxes (float64, continuous pixels,
clipped to the image; exactly the painted pixels) and the *visibility* of each object — the
fraction of its full box that is painted and not hidden by a nearer object or by the image
border (MOTChallenge's visibility column). Objects fully outside the image are not listed;
fully occluded ones are, with visibility 0.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config

__all__ = ["FrameTruth", "SceneConfig", "SyntheticScene"]


@dataclass(frozen=True)
class SceneConfig(Config):
    """Parameters of a synthetic scene.

    Attributes:
        width, height: frame size in pixels.
        num_frames: length of the scene.
        num_objects: number of slots, i.e. objects on screen at the same time at most.
        seed: random seed; the same config gives the same scene.
        fps: frame rate reported for the scene.
        min_height, max_height: range of object heights (pixels) at entry and exit.
        min_aspect, max_aspect: range of width / height of objects.
        min_speed, max_speed: range of speeds in pixels per frame.
        max_gap: largest number of frames a slot stays empty between two objects.
        noise: standard deviation of the Gaussian sensor noise added to each frame
            (grey levels; 0 disables it).
    """

    RANGES: ClassVar[str] = (
        "width >= 32; height >= 32; num_frames >= 1; num_objects >= 1; fps > 0; "
        "min_height > 0; max_height >= min_height; min_aspect > 0; max_aspect >= min_aspect; "
        "min_speed > 0; max_speed >= min_speed; max_gap >= 0; noise >= 0"
    )

    width: int = 640
    height: int = 480
    num_frames: int = 300
    num_objects: int = 6
    seed: int = 0
    fps: float = 25.0
    min_height: float = 50.0
    max_height: float = 150.0
    min_aspect: float = 0.4
    max_aspect: float = 0.8
    min_speed: float = 1.5
    max_speed: float = 4.5
    max_gap: int = 20
    noise: float = 2.0


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame (rows ordered nearest object last).

    Attributes:
        ids: ``(N,)`` int64 identities, ``>= 1``.
        xyxy: ``(N, 4)`` float64 boxes, continuous pixels, clipped to the image.
        visibility: ``(N,)`` float64 visible fraction of each object's full box in ``[0, 1]``.
    """

    ids: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    visibility: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class _Life:
    """One object's passage through the image (one identity)."""

    track_id: int
    start: int  # first frame (1-based) of the passage
    duration: int  # frames from entry to exit
    c0: tuple[float, float]  # centre at entry
    c1: tuple[float, float]  # centre at exit
    h0: float
    h1: float
    aspect: float
    depth: float
    texture: NDArray[np.uint8] = field(repr=False)

    def box(self, t: int) -> NDArray[np.float64]:
        """Full (unclipped) ``xyxy`` box at frame ``t`` (integers as floats)."""
        u = (t - self.start) / max(self.duration - 1, 1)
        cx = self.c0[0] + u * (self.c1[0] - self.c0[0])
        cy = self.c0[1] + u * (self.c1[1] - self.c0[1])
        h = self.h0 + u * (self.h1 - self.h0)
        w = h * self.aspect
        return np.round([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]).astype(np.float64)


def _texture(rng: np.random.Generator) -> NDArray[np.uint8]:
    """A 32x32 colourful pattern: saturated cells plus stripes, distinct from the background."""
    cells = rng.integers(2, 5)
    hue = rng.integers(0, 180)
    hsv = np.zeros((cells * 2, cells, 3), np.uint8)
    hsv[..., 0] = (hue + rng.integers(-20, 21, (cells * 2, cells))) % 180
    hsv[..., 1] = rng.integers(150, 256, (cells * 2, cells))
    hsv[..., 2] = rng.integers(110, 256, (cells * 2, cells))
    small = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    tex = cv2.resize(small, (32, 64), interpolation=cv2.INTER_NEAREST)
    stripe = rng.integers(0, 64)
    tex[stripe : stripe + 4] = 255 - tex[stripe : stripe + 4]
    return np.ascontiguousarray(tex)


class SyntheticScene:
    """A deterministic synthetic scene; frames and ground truth are made on demand.

    Args:
        config: the scene parameters (default: 640x480, 300 frames, 6 objects, seed 0).

    Frames are ``(H, W, 3)`` uint8 BGR arrays numbered from 1. Iterating yields
    ``(frame_id, frame)`` like :class:`trackkit.io.video.VideoReader`.
    """

    def __init__(self, config: SceneConfig | None = None) -> None:
        self.config = config or SceneConfig()
        self._lives: list[list[_Life]] = [[] for _ in range(self.config.num_objects)]
        self._starts: list[list[int]] = [[] for _ in range(self.config.num_objects)]
        self._background = self._make_background()

    # -- scene construction -------------------------------------------------------------
    def _make_background(self) -> NDArray[np.uint8]:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 7919])
        yy, xx = np.mgrid[0 : cfg.height, 0 : cfg.width].astype(np.float32)
        base = np.zeros((cfg.height, cfg.width), np.float32)
        for _ in range(6):
            fx, fy = rng.uniform(0.005, 0.05, 2)
            phase = rng.uniform(0, 2 * np.pi)
            base += np.sin(fx * xx + fy * yy + phase).astype(np.float32)
        noise = rng.normal(0, 1, (cfg.height // 8 + 1, cfg.width // 8 + 1)).astype(np.float32)
        base += cv2.resize(noise, (cfg.width, cfg.height), interpolation=cv2.INTER_CUBIC)
        base = (base - base.min()) / max(float(np.ptp(base)), 1e-6)
        grey = 70 + 90 * base
        bg = np.stack([grey * 0.95, grey, grey * 1.05], axis=-1)
        # Paving lines give the background structure (edges) like a real street scene.
        bg[:: max(cfg.height // 6, 2), :, :] *= 0.7
        bg[:, :: max(cfg.width // 8, 2), :] *= 0.8
        return np.clip(bg, 0, 255).astype(np.uint8)

    def _new_life(self, slot: int, gen: int, start: int) -> _Life:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, slot, gen])
        h0, h1 = rng.uniform(cfg.min_height, cfg.max_height, 2)
        aspect = float(rng.uniform(cfg.min_aspect, cfg.max_aspect))
        speed = float(rng.uniform(cfg.min_speed, cfg.max_speed))
        w_img, h_img = cfg.width, cfg.height
        side = int(rng.integers(0, 4))  # 0 left, 1 right, 2 top, 3 bottom

        def on_side(s: int, h: float) -> tuple[float, float]:
            w = h * aspect
            if s == 0:
                return -w / 2, float(rng.uniform(0.2, 0.8)) * h_img
            if s == 1:
                return w_img + w / 2, float(rng.uniform(0.2, 0.8)) * h_img
            if s == 2:
                return float(rng.uniform(0.15, 0.85)) * w_img, -h / 2
            return float(rng.uniform(0.15, 0.85)) * w_img, h_img + h / 2

        # Mostly horizontal walks (like pedestrians), sometimes vertical ones.
        if (side < 2 and rng.random() < 0.8) or (side >= 2 and rng.random() < 0.3):
            side = int(rng.integers(0, 2))
        exit_side = {0: 1, 1: 0, 2: 3, 3: 2}[side]
        c0 = on_side(side, h0)
        c1 = on_side(exit_side, h1)
        dist = float(np.hypot(c1[0] - c0[0], c1[1] - c0[1]))
        duration = max(int(np.ceil(dist / speed)), 2)
        return _Life(
            track_id=gen * cfg.num_objects + slot + 1,
            start=start,
            duration=duration,
            c0=c0,
            c1=c1,
            h0=float(h0),
            h1=float(h1),
            aspect=aspect,
            depth=float(rng.uniform()),
            texture=_texture(rng),
        )

    def _life_at(self, slot: int, t: int) -> _Life | None:
        lives, starts = self._lives[slot], self._starts[slot]
        while not lives or lives[-1].start + lives[-1].duration <= t:
            gen = len(lives)
            if gen == 0:
                rng = np.random.default_rng([self.config.seed, slot, 10**6])
                start = 2 + slot * 6 + int(rng.integers(0, 6))
            else:
                rng = np.random.default_rng([self.config.seed, slot, 10**6 + gen])
                start = (
                    lives[-1].start
                    + lives[-1].duration
                    + int(rng.integers(0, self.config.max_gap + 1))
                )
            lives.append(self._new_life(slot, gen, start))
            starts.append(start)
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return None
        life = lives[i]
        return life if t < life.start + life.duration else None

    # -- public API ---------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.config.num_frames

    def __len__(self) -> int:
        return self.config.num_frames

    def _render(self, t: int) -> tuple[NDArray[np.uint8], FrameTruth]:
        cfg = self.config
        if not 1 <= t <= cfg.num_frames:
            raise IndexError(f"frame {t} outside 1..{cfg.num_frames}")
        lives = [life for s in range(cfg.num_objects) if (life := self._life_at(s, t))]
        lives.sort(key=lambda life: life.depth)  # far first; nearer objects painted over
        img = self._background.copy()
        owner = np.full((cfg.height, cfg.width), -1, np.int32)
        full_boxes = []
        for k, life in enumerate(lives):
            box = life.box(t)
            full_boxes.append(box)
            x1, y1, x2, y2 = (int(v) for v in box)
            w, h = x2 - x1, y2 - y1
            if w <= 0 or h <= 0:
                continue
            cx1, cy1 = max(x1, 0), max(y1, 0)
            cx2, cy2 = min(x2, cfg.width), min(y2, cfg.height)
            if cx2 <= cx1 or cy2 <= cy1:
                continue
            patch = cv2.resize(life.texture, (w, h), interpolation=cv2.INTER_LINEAR)
            img[cy1:cy2, cx1:cx2] = patch[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
            owner[cy1:cy2, cx1:cx2] = k
        counts = np.bincount(owner.ravel() + 1, minlength=len(lives) + 1)[1:]
        ids, boxes, vis = [], [], []
        for k, life in enumerate(lives):
            box = full_boxes[k]
            full_area = (box[2] - box[0]) * (box[3] - box[1])
            clipped = np.array(
                [
                    max(box[0], 0),
                    max(box[1], 0),
                    min(box[2], cfg.width),
                    min(box[3], cfg.height),
                ]
            )
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1] or full_area <= 0:
                continue
            ids.append(life.track_id)
            boxes.append(clipped)
            vis.append(float(counts[k]) / full_area)
        if cfg.noise > 0:
            rng = np.random.default_rng([cfg.seed, 104729, t])
            noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * cfg.noise
            noisy = img.astype(np.float32) + noise[..., None]
            img = np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)
        truth = FrameTruth(
            np.asarray(ids, np.int64),
            np.asarray(boxes, np.float64).reshape(-1, 4),
            np.clip(np.asarray(vis, np.float64), 0.0, 1.0),
        )
        return img, truth

    def frame(self, frame_id: int) -> NDArray[np.uint8]:
        """The ``(H, W, 3)`` uint8 BGR image of frame ``frame_id`` (1-based)."""
        return self._render(frame_id)[0]

    def truth(self, frame_id: int) -> FrameTruth:
        """The ground truth of frame ``frame_id`` (1-based)."""
        return self._render(frame_id)[1]

    def __iter__(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        for t in range(1, self.config.num_frames + 1):
            yield t, self._render(t)[0]

    def iter_with_truth(self) -> Iterator[tuple[int, NDArray[np.uint8], FrameTruth]]:
        """Yield ``(frame_id, frame, truth)`` for every frame."""
        for t in range(1, self.config.num_frames + 1):
            img, truth = self._render(t)
            yield t, img, truth

    def gt_rows(self) -> Iterator[tuple[int, int, float, float, float, float, float]]:
        """MOTChallenge ground-truth rows ``(frame, id, x, y, w, h, visibility)`` (``xywh``).

        Renders ownership masks only (no noise), frame by frame.
        """
        for t in range(1, self.config.num_frames + 1):
            truth = self._render(t)[1]
            for tid, b, v in zip(truth.ids, truth.xyxy, truth.visibility, strict=True):
                yield t, int(tid), b[0], b[1], b[2] - b[0], b[3] - b[1], float(v)

    @staticmethod
    def gt_lines(frame_id: int, truth: FrameTruth) -> str:
        """MOTChallenge ``gt.txt`` lines ``frame,id,x,y,w,h,1,1,visibility`` of one frame."""
        out = []
        for tid, b, v in zip(truth.ids, truth.xyxy, truth.visibility, strict=True):
            out.append(
                f"{frame_id},{tid},{b[0]:.0f},{b[1]:.0f},{b[2] - b[0]:.0f},"
                f"{b[3] - b[1]:.0f},1,1,{v:.5f}\n"
            )
        return "".join(out)

    def write_seqinfo(self, seq: str | Path, name: str) -> Path:
        """Write ``seq/seqinfo.ini`` for this scene; returns its path."""
        cfg = self.config
        path = Path(seq) / "seqinfo.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "[Sequence]\n"
            f"name={name}\nimDir=img1\nframeRate={cfg.fps:g}\nseqLength={cfg.num_frames}\n"
            f"imWidth={cfg.width}\nimHeight={cfg.height}\nimExt=.jpg\n",
            encoding="utf-8",
        )
        return path

    def stream_with_gt(
        self, folder: str | Path, name: str = "SYNTH-01", images: bool = False
    ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """Yield ``(frame_id, frame)`` while writing the MOTChallenge sequence ``folder/name``.

        ``seqinfo.ini`` is written first; each frame's ground truth is appended (and
        flushed) to ``gt/gt.txt`` — and its image saved to ``img1/`` when ``images`` — as
        the frame is yielded, so frames are rendered once.
        """
        seq = Path(folder) / name
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        if images:
            (seq / "img1").mkdir(exist_ok=True)
        self.write_seqinfo(seq, name)
        with open(seq / "gt" / "gt.txt", "w", encoding="utf-8") as gt:
            for t, img, truth in self.iter_with_truth():
                gt.write(self.gt_lines(t, truth))
                gt.flush()
                if images:
                    cv2.imwrite(str(seq / "img1" / f"{t:06d}.jpg"), img)
                yield t, img

    def write_mot_sequence(
        self, folder: str | Path, name: str = "SYNTH-01", images: bool = True
    ) -> Path:
        """Write the scene as a MOTChallenge sequence ``folder/name``; returns that folder.

        Writes ``seqinfo.ini``, ``gt/gt.txt`` (``frame,id,x,y,w,h,1,1,visibility``) and,
        when ``images``, ``img1/000001.jpg ...``.
        """
        for _ in self.stream_with_gt(folder, name, images):
            pass
        return Path(folder) / name
