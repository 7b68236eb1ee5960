"""Knowledge distillation from fixed ReID teachers: the loss functions and the teacher cache.

A student learns from a stronger, slower teacher (Hinton et al., "Distilling the Knowledge in
a Neural Network", 2015) through two kinds of terms, registered in
:mod:`trackkit.reid.objective` and weighted in ``--loss`` like the others:

- relational: the student's batch similarity structure matched to the teacher's — the matrix
  of cosine similarities itself (:func:`similarity_distill_loss`, metric mutual learning of
  AlignedReID against a fixed teacher instead of a peer), or each anchor's softmax
  distribution over the other images of the batch (:func:`rank_distill_loss`, the listwise
  transfer of cross-sample similarities of DarkRank, Chen et al. AAAI 2018);
- feature: the student's embedding mapped by a learned linear projection onto the teacher's
  space, regressed by cosine (:func:`feature_distill_loss`, :class:`FeatureProjection`;
  FitNets-style hints, Romero et al. ICLR 2015).

Teacher embeddings never change, so :class:`TeacherCache` computes them once per training
image and keeps them in a memory-mapped ``.npy`` file per teacher, keyed by the teacher (its
file's size and SHA-256) and the image paths; a build killed part-way continues where
it stopped. Several teachers give one target: each L2-normalised, concatenated and divided by
``sqrt(T)``, so its cosine similarities are the mean of the teachers'.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from trackkit.errors import ConfigError
from trackkit.io.atomic import write_text

__all__ = [
    "FeatureProjection",
    "TeacherCache",
    "feature_distill_loss",
    "rank_distill_loss",
    "similarity_distill_loss",
    "teacher_embeddings",
]

log = logging.getLogger(__name__)


def _cosine_matrix(x: Tensor) -> Tensor:
    z = F.normalize(x, dim=1)
    return z @ z.t()


def similarity_distill_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``mean_{i != j} (cos_s(i, j) - cos_t(i, j))^2`` over a batch.

    Args:
        student: ``(N, D_s)`` student features; teacher: ``(N, D_t)`` teacher embeddings
            (constants), N >= 2.
    """
    n = student.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=student.device)
    diff = _cosine_matrix(student) - _cosine_matrix(teacher.detach())
    return diff[off].pow(2).mean()


def rank_distill_loss(student: Tensor, teacher: Tensor, tau: float = 0.1) -> Tensor:
    """Listwise similarity transfer (DarkRank): for each anchor ``i``, the distributions
    ``p(j | i) = softmax_{j != i}(cos(i, j) / tau)`` of teacher and student;
    ``mean_i KL(p_t(. | i) || p_s(. | i))``.

    Args:
        student: ``(N, D_s)``; teacher: ``(N, D_t)`` (constants), N >= 2; tau > 0.
    """
    n = student.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=student.device)
    s = (_cosine_matrix(student) / tau).masked_fill(eye, float("-inf"))
    t = (_cosine_matrix(teacher.detach()) / tau).masked_fill(eye, float("-inf"))
    log_ps = F.log_softmax(s, dim=1)
    log_pt = F.log_softmax(t, dim=1)
    kl = (log_pt.exp() * (log_pt - log_ps)).masked_fill(eye, 0.0)
    return kl.sum(dim=1).mean()


def feature_distill_loss(projected: Tensor, teacher: Tensor) -> Tensor:
    """``mean_i (1 - cos(P s_i, t_i))``: ``projected`` ``(N, D_t)`` = the student features
    through the learned projection, ``teacher`` ``(N, D_t)`` (constants)."""
    return (1.0 - F.cosine_similarity(projected, teacher.detach(), dim=1)).mean()


class FeatureProjection(nn.Module):
    """The learned linear map ``D_s -> D_t`` (with bias) of :func:`feature_distill_loss`."""

    def __init__(self, student_dim: int, teacher_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(student_dim, teacher_dim)

    def forward(self, feat: Tensor) -> Tensor:
        """``(N, D_s)`` -> ``(N, D_t)``."""
        return self.fc(feat)


# -- the teacher cache ------------------------------------------------------------------------


def _teacher_key(spec: str) -> str:
    """A stable identity of a teacher: its name, and its file's size and SHA-256 when it names
    a file (or an OMZ model found in the shared folder). The content, not the modification
    time: a copied or re-mounted file is the same teacher."""
    path: Path | None = Path(spec) if Path(spec).is_file() else None
    if path is None and spec.lower().startswith("omz-"):
        from trackkit.shared import shared_path

        path = shared_path(
            "weights", "omz_person_reid", f"person-reidentification-retail-{spec[4:]}.onnx"
        )
    if path is None:
        return spec
    from trackkit.zoo.cache import sha256_file

    return f"{spec}|{path.stat().st_size}|sha256:{sha256_file(path)}"


class TeacherCache:
    """Teacher embeddings of a fixed list of images, computed once, memory-mapped.

    Files in ``folder`` (name ``teacher-<sha1(teacher key, paths)[:16]>``): ``.npy``, the
    ``(N, D)`` float32 L2-normalised embeddings in the order of ``paths``; ``.paths``, the
    paths one per line (the key of each row); ``.done``, the number of rows filled so far
    (written after each flushed chunk, so a killed build resumes where it stopped).

    Rows are keyed by the image path: a new image list (a subset, e.g. training identities
    with some held out for validation, or another order) copies the rows of every image that
    a complete cache of the same teacher in ``folder`` already holds (a sibling counts as the
    same teacher only when its file name is the hash of this teacher's key and its own
    ``.paths``) and computes only the others.

    Args:
        spec: the teacher (``omz-0248``, an ``.onnx`` or trackkit ``.pt`` file; anything
            :func:`trackkit.reid.embedder.load_embedder` takes).
        paths: the images, in the order of the rows.
        folder: where the files go.
    """

    chunk = 256

    def __init__(self, spec: str, paths: Sequence[str | Path], folder: str | Path) -> None:
        self.spec = spec
        self.paths = [str(p) for p in paths]
        text = _teacher_key(spec) + "\n" + "\n".join(self.paths)
        digest = hashlib.sha1(text.encode()).hexdigest()[:16]
        self.folder = Path(folder)
        self.stem = self.folder / f"teacher-{digest}"

    @property
    def done_rows(self) -> int:
        """Rows already computed (0 when no cache exists)."""
        done = self.stem.with_suffix(".done")
        return int(done.read_text()) if done.is_file() else 0

    def build(
        self,
        read: Callable[[NDArray[np.int64]], list[NDArray[np.uint8]] | NDArray[np.uint8]],
        threads: int = 1,
        stop_after_chunks: int | None = None,
    ) -> NDArray[np.float32]:
        """Compute the missing rows and return the memory-mapped ``(N, D)`` array.

        Args:
            read: ``read(indices)`` -> the images (BGR uint8, any size) at those rows.
            threads: the teacher's CPU threads.
            stop_after_chunks: raise :class:`KeyboardInterrupt` after this many chunks
                (simulates a kill; tests).
        """
        from trackkit.reid.embedder import load_embedder

        n = len(self.paths)
        npy = self.stem.with_suffix(".npy")
        start = self.done_rows if npy.is_file() else 0
        if start >= n:
            return np.load(npy, mmap_mode="r")
        embedder = load_embedder(self.spec, threads=threads)
        self.folder.mkdir(parents=True, exist_ok=True)
        if start == 0:
            write_text(self.stem.with_suffix(".paths"), "\n".join(self.paths) + "\n")
            shape = (n, embedder.dim)
            arr = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=shape)
        else:
            arr = np.load(npy, mmap_mode="r+")
        found = self._reusable()
        todo = sum(1 for p in self.paths[start:] if p not in found)
        log.info(
            "teacher %s: embedding %d of %d images (%d rows copied from earlier caches)",
            self.spec,
            todo,
            n,
            n - start - todo,
        )
        chunks = 0
        for lo in range(start, n, self.chunk):
            idx = np.arange(lo, min(lo + self.chunk, n), dtype=np.int64)
            new = np.array([i for i in idx if self.paths[i] not in found], dtype=np.int64)
            for i in idx:
                if self.paths[i] in found:
                    rows, row = found[self.paths[i]]
                    arr[i] = rows[row]
            if new.size:
                arr[new] = embedder.embed_crops(read(new))
            arr.flush()
            write_text(self.stem.with_suffix(".done"), str(int(idx[-1]) + 1))
            chunks += 1
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                raise KeyboardInterrupt
        del arr
        return np.load(npy, mmap_mode="r")

    def _reusable(self) -> dict[str, tuple[NDArray[np.float32], int]]:
        """``path -> (memory-mapped rows, row)`` of the wanted images held by complete caches
        of the same teacher in the folder (earliest file name first wins)."""
        if not self.folder.is_dir():
            return {}
        key = _teacher_key(self.spec)
        wanted = set(self.paths)
        found: dict[str, tuple[NDArray[np.float32], int]] = {}
        for listing in sorted(self.folder.glob("teacher-*.paths")):
            stem = listing.with_suffix("")
            if stem == self.stem or not stem.with_suffix(".npy").is_file():
                continue
            theirs = listing.read_text().splitlines()
            digest = hashlib.sha1((key + "\n" + "\n".join(theirs)).encode()).hexdigest()[:16]
            done = stem.with_suffix(".done")
            if stem.name != f"teacher-{digest}" or not done.is_file():
                continue  # another teacher (or a foreign file)
            if int(done.read_text()) < len(theirs):
                continue  # an unfinished build
            rows = np.load(stem.with_suffix(".npy"), mmap_mode="r")
            for row, path in enumerate(theirs):
                if path in wanted and path not in found:
                    found[path] = (rows, row)
        return found


def teacher_embeddings(
    specs: Sequence[str],
    paths: Sequence[str | Path],
    folder: str | Path,
    read: Callable[[NDArray[np.int64]], list[NDArray[np.uint8]] | NDArray[np.uint8]],
    threads: int = 1,
) -> NDArray[np.float32]:
    """The distillation target of every image: each teacher's L2-normalised embedding (from
    its :class:`TeacherCache`), concatenated and divided by ``sqrt(len(specs))``;
    ``(N, sum D_t)`` float32 in memory."""
    if not specs:
        raise ConfigError("distillation needs at least one teacher (--teacher NAME|PATH)")
    parts = [np.asarray(TeacherCache(s, paths, folder).build(read, threads)) for s in specs]
    return (np.concatenate(parts, axis=1) / np.sqrt(len(specs))).astype(np.float32)
