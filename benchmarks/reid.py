"""Re-identification benchmark: trackkit's default model, the three OMZ models, a
colour-histogram baseline and hand-crafted features + KISSME (trained on CUHK03 train) on
every shared dataset with a camera protocol, plus throughput and k-reciprocal re-ranking (gain
and the 3,000 x 15,000 timing).

    python benchmarks/reid.py [--models default,default@bnneck,omz-0248,...,kissme]
                              [--datasets cuhk03,viper,prid2011] [--threads 2]
                              [--adapt] [--skip-rerank-timing]

OSNet rows and the teacher/student comparison (issue 14):

    python benchmarks/reid.py --models omz-0248,omz-0287,osnet-msmt17,osnet-market1501,\
        default,default+onnx,old-default --skip-rerank-timing

``osnet-msmt17`` / ``osnet-market1501`` are the torchreid OSNet x0.25 releases in
../shared/weights (scored as released: 256x128, their 512-d feature); ``NAME+onnx`` runs a
torch model through onnxruntime (exported in memory, same embeddings, other speed);
``old-default`` is the previous default (ResNet, CUHK03 only, 160x64). caviar4reid and
ilids (``--datasets``) are scored all-vs-all (every image queries all the others); the new
default model trains on them, so its numbers there are not held out.

Accuracy: rank-1 / rank-5 / mAP / mINP in %, averaged over the protocol's trials (10 random
splits for VIPeR and PRID2011, the fixed split for CUHK03). Throughput: crops/s at each
model's own input size (batch 32 where the graph allows it; the OMZ ONNX graphs fix batch 1),
embedding only (decoding excluded), with the speed ratio against OMZ 0248 measured in the
same run. caviar4reid and i-LIDS in ../shared do not encode cameras, so they have no
cross-camera protocol and are not scored.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

from trackkit.metrics.rank import RankResult, average_results
from trackkit.reid.data.datasets import ReIDDataset, load_dataset
from trackkit.reid.data.images import load_crops
from trackkit.reid.embedder import Embedder, TorchEmbedder, load_embedder
from trackkit.reid.evaluate import dataset_paths, evaluate_embedder, score_trials
from trackkit.reid.rerank import k_reciprocal_rerank
from trackkit.shared import shared_path

ROOTS = {
    "cuhk03": "cuhk03-labeled",
    "viper": "viper",
    "prid2011": "prid2011",
    "caviar4reid": "caviar4reid",
    "ilids": "ilids",
}
OSNET = {
    "osnet-msmt17": ("osnet_x0_25_msmt17", "osnet_x0_25_msmt17.pth"),
    "osnet-market1501": ("osnet_x0_25_market1501", "osnet_x0_25_market1501.pth"),
}


def throughput(embedder: object, n: int = 256) -> tuple[float, float]:
    """Crops/s on random crops at the embedder's input size (after one warm-up batch): per
    wall-clock second and per CPU second of this process (all threads summed; on a shared
    machine the CPU figure times the thread count estimates the idle-machine speed)."""
    h, w = embedder.input_size  # type: ignore[attr-defined]
    crops = np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    embedder.embed_resized(crops[:32])  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter(), time.process_time()
    embedder.embed_resized(crops)  # type: ignore[attr-defined]
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


def rerank_timing(nq: int = 3000, ng: int = 15000, dim: int = 256) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident memory (GB) of re-ranking a synthetic
    clustered problem."""
    rng = np.random.default_rng(0)
    n_ids = (nq + ng) // 6
    ids = rng.integers(0, n_ids, nq + ng)
    centres = rng.normal(size=(n_ids, dim)).astype(np.float32)
    feats = (centres[ids] + rng.normal(size=(nq + ng, dim))).astype(np.float32)
    start, cpu = time.perf_counter(), time.process_time()
    k_reciprocal_rerank(feats[:nq], feats[nq:])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def kissme_results(
    train: ReIDDataset, datasets: dict[str, ReIDDataset], size: tuple[int, int] = (128, 48)
) -> dict[str, RankResult]:
    """Hand-crafted features + KISSME fitted on ``train``'s training split, scored on every
    dataset's trials with the learned (Mahalanobis) distance."""
    from trackkit.reid.kissme import Kissme, handcrafted_features

    images = list(train.train)
    feats = handcrafted_features(load_crops([im.path for im in images], size))
    model = Kissme(pca_dim=150).fit(
        feats, np.array([im.pid for im in images]), np.array([im.camid for im in images])
    )
    out = {}
    for name, ds in datasets.items():
        paths = dataset_paths(ds)
        f = handcrafted_features(load_crops(paths, size))
        results = score_trials(f, paths, ds, model.distance)
        out[name] = average_results(results)
    return out


def _embedder(spec: str, threads: int) -> Embedder:
    """``NAME`` or ``NAME@pooled`` / ``NAME@bnneck`` (a trackkit model's retrieval feature);
    ``NAME+onnx``: the torch model run by onnxruntime; OSNet release names (:data:`OSNET`)."""
    spec, onnx, _ = spec.partition("+onnx")
    name, _, embedding = spec.partition("@")
    if name in OSNET:
        found = shared_path("weights", *OSNET[name])
        if found is None:
            raise SystemExit(f"{name}: not found in the shared weights folder")
        name = f"osnet:{found}"
    elif name == "old-default":
        from trackkit.reid.embedder import previous_default_model_path

        name = str(previous_default_model_path())
    embedder = load_embedder(name, threads=threads, embedding=embedding or None)
    if not onnx or not isinstance(embedder, TorchEmbedder):
        return embedder
    import tempfile

    from trackkit.reid.embedder import OnnxEmbedder
    from trackkit.reid.models import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        export_onnx(embedder.model, path)
        return OnnxEmbedder(path, threads=threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default="default,omz-0248,omz-0287,omz-0288,histogram,kissme",
        help="comma-separated: default, a .pt/.onnx path, omz-0248/0287/0288, histogram, "
        "kissme; NAME@bnneck or NAME@pooled picks a trackkit model's retrieval feature",
    )
    parser.add_argument("--datasets", default="cuhk03,viper,prid2011")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--adapt",
        action="store_true",
        help="also score trackkit models with per-camera batch-norm adaptation ('NAME +adapt')",
    )
    parser.add_argument("--skip-rerank-timing", action="store_true")
    parser.add_argument(
        "--speed-only", action="store_true", help="throughput table only (no accuracy)"
    )
    parser.add_argument("--only-rerank-timing", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.only_rerank_timing:
        seconds, cpu, gb = rerank_timing()
        print(
            f"re-ranking 3000 x 15000 (256-d): {seconds:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {gb:.2f} GB"
        )
        return 0
    reid_root = shared_path("data", "reid")
    if reid_root is None:
        print("shared data folder not found (set TRACKKIT_SHARED)", file=sys.stderr)
        return 2
    datasets = {
        name: load_dataset(name, reid_root / ROOTS[name]) for name in args.datasets.split(",")
    }
    rows = []
    speeds: dict[str, tuple[float, float]] = {}
    for spec in args.models.split(","):
        if spec == "kissme":
            cuhk = datasets.get("cuhk03") or load_dataset("cuhk03", reid_root / ROOTS["cuhk03"])
            for name, res in kissme_results(cuhk, datasets).items():
                rows.append((spec, name, res.rank(1), res.rank(5), res.mAP, res.mINP))
            continue
        embedder = _embedder(spec, args.threads)
        speeds[spec] = throughput(embedder)
        variants = [(spec, False)]
        if args.adapt and isinstance(embedder, TorchEmbedder):
            variants.append((f"{spec} +adapt", True))
        for label, adapt in variants:
            for name, ds in datasets.items() if not args.speed_only else ():
                res = evaluate_embedder(embedder, ds, adapt=adapt).result
                rows.append((label, name, res.rank(1), res.rank(5), res.mAP, res.mINP))
                print(
                    f"  {label:10s} {name:9s} R1 {100 * res.rank(1):5.1f}  "
                    f"mAP {100 * res.mAP:5.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    print(f"\n## accuracy (% ; {', '.join(datasets)})\n")
    print("| model | dataset | rank-1 | rank-5 | mAP | mINP |")
    print("|---|---|---:|---:|---:|---:|")
    for spec, name, r1, r5, ap, inp in rows:
        cells = " | ".join(f"{100 * v:.1f}" for v in (r1, r5, ap, inp))
        print(f"| {spec} | {name} | {cells} |")
    anchor = speeds.get("omz-0248")
    print(f"\n## throughput ({args.threads} threads, batch 32 where possible, embedding only)\n")
    print("| model | input HxW | crops/s (wall) | crops per CPU-s | x OMZ 0248 (CPU) |")
    print("|---|---|---:|---:|---:|")
    sizes = {spec: _embedder(spec, args.threads).input_size for spec in speeds}
    for spec, (wall, cpu) in speeds.items():
        h, w = sizes[spec]
        ratio = f"{cpu / anchor[1]:.2f}" if anchor else "-"
        print(f"| {spec} | {h}x{w} | {wall:.0f} | {cpu:.0f} | {ratio} |")
    if "default" in args.models.split(",") and "cuhk03" in datasets and not args.speed_only:
        embedder = load_embedder("default", threads=args.threads)
        print("\n## k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3), default model\n")
        print("| dataset | rank-1 | mAP | re-ranked rank-1 | re-ranked mAP |")
        print("|---|---:|---:|---:|---:|")
        for name, ds in datasets.items():
            a = evaluate_embedder(embedder, ds).result
            b = evaluate_embedder(embedder, ds, rerank={"k1": 20, "k2": 6, "lambda_value": 0.3})
            print(
                f"| {name} | {100 * a.rank(1):.1f} | {100 * a.mAP:.1f} | "
                f"{100 * b.result.rank(1):.1f} | {100 * b.result.mAP:.1f} |"
            )
    if not args.skip_rerank_timing:
        seconds, cpu, gb = rerank_timing()
        print(
            f"\nre-ranking 3000 x 15000 (256-d): {seconds:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {gb:.2f} GB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
