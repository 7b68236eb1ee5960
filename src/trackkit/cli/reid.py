"""``trackkit reid train|eval|embed|export``: person re-identification from the command line.

Torch and onnxruntime are imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_key_values, add_train_flag, from_args
from trackkit.errors import ConfigError
from trackkit.io.atomic import write_text
from trackkit.reid.embedder import default_model_path, load_embedder

__all__ = ["add_parser"]

log = logging.getLogger(__name__)

_DATASETS = (
    "market1501, dukemtmc, cuhk03, viper, prid2011, cuhk01, grid, caviar4reid, ilids, folder; "
    "several for training: cuhk03+market1501 with --root A,B"
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "reid",
        help="person re-identification: train, evaluate, embed, export",
        description="Person re-identification by deep metric learning.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    tr = actions.add_parser(
        "train",
        help="train a model",
        description="Train a ReID model on a dataset's training split. Writes OUT/checkpoint.pt "
        "(every epoch), OUT/model.pt and OUT/log.csv; --resume continues a killed run exactly.",
    )
    _dataset_args(tr)
    tr.add_argument(
        "--model",
        default="resnet-tiny",
        help="architecture (resnet-tiny, resnet-small, osnet-tiny, osnet-x0.25, osnet-x0.5, "
        "osnet-x0.75, osnet-x1.0); default resnet-tiny",
    )
    tr.add_argument(
        "--init",
        help="start from these weights (fine-tuning): a trackkit .pt of the same architecture "
        "or a torchreid OSNet state_dict (e.g. osnet_x0_25_msmt17.pth); the classifier is "
        "made anew for the training identities",
    )
    tr.add_argument(
        "--teacher",
        help="teachers for the distillation terms kd-sim/kd-rank/kd-feat, comma-separated: "
        "omz-0248, omz-0287, omz-0288, an .onnx or trackkit .pt file (embeddings computed "
        "once per image into a cache)",
    )
    tr.add_argument(
        "--teacher-cache",
        help="folder of the teacher cache (default OUT/teacher-cache); share it between runs",
    )
    tr.add_argument(
        "--unlabelled",
        type=Path,
        action="append",
        default=[],
        help="folder of images without identity labels, used by the distillation terms only "
        "(repeatable; --set unlabelled_batch=N appends N of them to every batch)",
    )
    tr.add_argument(
        "--loss",
        default="triplet-hard+ce",
        help="weighted objective, e.g. 'triplet-hard+ce', 'triplet-soft+0.0005*center"
        "+ce' (names: ce, ce-plain, triplet-hard, triplet-all, triplet-soft, center, "
        "contrastive, improved-triplet, quadruplet, msml, lifted, group, dml-kl, dml-metric; "
        "distillation with --teacher: kd-sim, kd-rank(tau=0.1), kd-feat)",
    )
    add_train_flag(tr, "--epochs", default=60)
    tr.add_argument("--batch-p", type=int, default=16, help="identities per batch (P)")
    tr.add_argument("--batch-k", type=int, default=4, help="images per identity (K)")
    tr.add_argument(
        "--optimizer", choices=("adam", "sgd"), default="adam", help="adam, or sgd (Nesterov)"
    )
    add_train_flag(tr, "--lr", default=1e-3, help="peak learning rate (e.g. 1e-3 adam, 0.05 sgd)")
    tr.add_argument("--warmup", type=int, default=5, help="warm-up epochs")
    tr.add_argument("--input-size", type=int, nargs=2, default=(128, 48), metavar=("H", "W"))
    add_train_flag(tr, "--seed")
    add_train_flag(tr, "--threads")
    tr.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    add_train_flag(tr, "--out", default=Path("runs/reid"))
    add_train_flag(tr, "--resume")
    tr.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="every N epochs, score rank-1 and mAP on identities held out from the training "
        "set (--val-fraction; never a test split), logged as val_rank1, val_mAP (0 = never)",
    )
    tr.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="with --eval-every: the fraction of training identities held out (not trained on) "
        "for validation (default 0.1, drawn with --seed)",
    )
    add_key_values(
        tr,
        "--set",
        "other TrainConfig fields (pad, flip_prob, erase_prob, weight_decay, min_lr_factor, "
        "max_batches, unlabelled_batch, color_jitter, gray_prob, init_lr_factor: learning-rate "
        "multiplier of the --init weights)",
    )
    add_key_values(
        tr,
        "--model-set",
        "architecture options (e.g. parts=2 for part-based pooling, widths=[32,64,128,256], "
        "ibn=true)",
    )
    tr.set_defaults(func=_train, train_parser=tr)

    ev = actions.add_parser(
        "eval",
        help="evaluate a model (CMC, mAP, mINP)",
        description="CMC rank-1/5/10/20, mAP and mINP on a dataset's protocol, averaged over its "
        "trials. --model is a trackkit .pt, an .onnx file, omz-0248/omz-0287/omz-0288 "
        "(from the shared weights folder), osnet:PATH (a torchreid OSNet state_dict), "
        "'histogram' or 'default' (the project's model).",
    )
    _dataset_args(ev)
    _model_args(ev)
    ev.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    ev.add_argument("--k1", type=int, default=20, help="k-reciprocal neighbourhood (20)")
    ev.add_argument("--k2", type=int, default=6, help="query-expansion neighbourhood (6)")
    ev.add_argument(
        "--lambda",
        dest="lambda_value",
        type=float,
        default=0.3,
        help="weight of the original distance (0.3)",
    )
    ev.add_argument(
        "--adapt",
        action="store_true",
        help="trackkit .pt models: embed each camera's images with batch-norm statistics "
        "re-estimated on them (AdaBN per camera; uses no labels, but the test images: "
        "report it beside the plain score, like --rerank)",
    )
    ev.add_argument("--json", type=Path, help="write the results as JSON (fractions)")
    ev.add_argument("--plot", type=Path, help="write the CMC curve as an image")
    ev.add_argument(
        "--report",
        type=Path,
        help="write the results and the worst queries of trial 1 with their top-10 gallery "
        "images as JSON for `trackkit report --reid FILE`",
    )
    ev.set_defaults(func=_eval)

    em = actions.add_parser(
        "embed",
        help="embed a folder of crops",
        description="Embed every image in a folder (sorted by name) into an .npz file holding "
        "'embeddings' (N, D) float32 L2-normalised and 'paths'.",
    )
    em.add_argument("folder", type=Path)
    _model_args(em)
    em.add_argument("--out", type=Path, required=True, help="output .npz file")
    em.set_defaults(func=_embed)

    ad = actions.add_parser(
        "adapt",
        help="adapt a trackkit model to a new camera (no labels)",
        description="Re-estimate a trackkit .pt model's batch-norm statistics on a folder of "
        "unlabelled person crops from the target camera (AdaBN, Li et al. 2017) and save the "
        "adapted model: its weights are unchanged, only the statistics follow the new camera's "
        "colours and lighting. Use one folder per camera.",
    )
    ad.add_argument("folder", type=Path, help="crops from the target camera (>= 2 images)")
    ad.add_argument("--model", default="default", help="trackkit .pt model (default model)")
    ad.add_argument("--out", type=Path, required=True, help="adapted model (.pt)")
    ad.set_defaults(func=_adapt)

    ex = actions.add_parser(
        "export",
        help="export a trackkit model to ONNX",
        description="Export a trackkit .pt model or a torchreid OSNet state_dict (osnet:PATH) "
        "to ONNX (NCHW BGR 0..255).",
    )
    ex.add_argument("--model", default="default")
    ex.add_argument("--out", type=Path, required=True)
    _embedding_arg(ex)
    ex.set_defaults(func=_export)


def _embedding_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--embedding",
        choices=("centered", "pooled", "bnneck"),
        help="trackkit .pt models: retrieve with the pooled feature centred on its training "
        "mean, the pooled feature itself, or the batch-normalised one after the BNNeck "
        "(default: the model's own setting, 'centered' for models trained since the option "
        "exists, 'bnneck' for older files)",
    )


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"dataset ({_DATASETS})")
    p.add_argument("--root", type=Path, required=True, help="dataset folder")
    p.add_argument("--trials", type=int, default=10, help="random splits (where random)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the random splits")


def _dataset(args: argparse.Namespace) -> Any:
    """The dataset of :func:`_dataset_args`' options."""
    from trackkit.reid.data.datasets import load_dataset

    return load_dataset(args.dataset, args.root, n_trials=args.trials, seed=args.split_seed)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default", help="model (default: the project's model)")
    p.add_argument("--flip", action="store_true", help="average with the mirrored crop")
    _embedding_arg(p)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (2)")
    p.add_argument("--batch-size", type=int, default=32, help="crops per forward pass (32)")


def _embedder(args: argparse.Namespace) -> Any:
    """The embedder of :func:`_model_args`' options."""
    return load_embedder(
        args.model,
        flip=args.flip,
        threads=args.threads,
        batch_size=args.batch_size,
        embedding=args.embedding,
    )


def _own_model(name: str) -> tuple[Path, Any]:
    """(path, model) of a trackkit .pt model named on the command line (``default``: the
    project's model)."""
    from trackkit.reid.models import load_pretrained

    name = name[len("osnet:") :] if name.lower().startswith("osnet:") else name
    path = default_model_path() if name == "default" else Path(name)
    return path, load_pretrained(path)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _train(args: argparse.Namespace) -> int:
    from trackkit.config import make_config, parse_overrides
    from trackkit.reid.data.datasets import list_images
    from trackkit.reid.training import TrainConfig, Trainer
    from trackkit.training import command_line

    dataset = _dataset(args)
    if not dataset.train:
        raise ConfigError(f"{args.root}: the dataset has no training images")
    cfg = make_config(
        TrainConfig,
        **from_args(
            args,
            "model loss epochs optimizer lr seed threads device",
            p="batch_p",
            k="batch_k",
            warmup_epochs="warmup",
        ),
        input_size=tuple(args.input_size),
        model_options=parse_overrides(args.model_set),
        init=args.init,
        teacher=args.teacher,
        teacher_cache=args.teacher_cache,
        **parse_overrides(args.set),
    )
    hook = None
    train = dataset.train
    if args.eval_every > 0:
        from trackkit.reid.data.datasets import validation_split

        train, val = validation_split(train, args.val_fraction, args.seed, args.root)
        hook = _eval_hook(dataset, val, args.eval_every)
    command = command_line("trackkit reid train", args.train_parser, args, skip=("resume",))
    unlabelled = [p for folder in args.unlabelled for p in list_images(folder)]
    Trainer(
        cfg,
        train,
        args.out,
        progress=sys.stderr.isatty(),
        on_epoch_end=hook,
        dataset=dataset.name,
        command=command,
        unlabelled=unlabelled,
    ).run(resume=args.resume)
    print(f"model written to {args.out / 'model.pt'}; log in {args.out / 'log.csv'}")
    return 0


def _eval_hook(dataset: Any, val: Any, every: int) -> Any:
    """Every ``every`` epochs: rank-1 and mAP on the validation trial ``val``."""
    from trackkit.reid.data.datasets import ReIDDataset
    from trackkit.reid.embedder import TorchEmbedder
    from trackkit.reid.evaluate import evaluate_embedder

    held_out = ReIDDataset(dataset.name, dataset.root, (), (val,))

    def hook(epoch: int, model: Any) -> dict[str, float]:
        if epoch % every:
            return {}
        r = evaluate_embedder(TorchEmbedder(model), held_out).result
        return {"val_rank1": r.rank(1), "val_mAP": r.mAP}

    return hook


def _eval(args: argparse.Namespace) -> int:
    from trackkit.reid.evaluate import evaluate_embedder

    dataset = _dataset(args)
    embedder = _embedder(args)
    rerank = None
    if args.rerank:
        rerank = {"k1": args.k1, "k2": args.k2, "lambda_value": args.lambda_value}
    first: dict[int, Any] = {}  # trial 0's distances, for --report
    report = evaluate_embedder(
        embedder,
        dataset,
        rerank=rerank,
        adapt=args.adapt,
        progress=sys.stderr.isatty(),
        on_trial=(lambda t, d: first.setdefault(t, d)) if args.report else None,
    )
    res = report.result.as_dict()
    print(
        f"{args.dataset} ({len(report.trials)} trial(s), {report.result.num_queries} queries, "
        f"model {args.model}{', re-ranked' if args.rerank else ''}"
        f"{', adapted per camera' if args.adapt else ''})"
    )
    print("  ".join(f"{k} {100 * v:.1f}" for k, v in res.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            **res,
            "trials": len(report.trials),
            "queries": report.result.num_queries,
            "cmc": report.result.cmc.tolist(),
            "model": args.model,
            "dataset": args.dataset,
            "rerank": bool(args.rerank),
            "adapt": bool(args.adapt),
        }
        write_text(args.json, json.dumps(payload, indent=2))
    if args.plot:
        from trackkit.viz.cmc import plot_cmc

        plot_cmc({args.model: report.result.cmc}, args.plot, title=args.dataset)
    if args.report:
        from trackkit.report.reid import write_reid_eval

        meta = {"model": args.model, "dataset": args.dataset, "rerank": bool(args.rerank)}
        write_reid_eval(args.report, report, dataset.trials[0], first[0], meta)
        print(f"report data: {args.report} (trackkit report --reid {args.report} --out FILE)")
    return 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    from trackkit.reid.data.datasets import list_images
    from trackkit.reid.evaluate import embed_paths

    paths = list_images(args.folder)
    embedder = _embedder(args)
    emb, speed = embed_paths(embedder, paths, progress=sys.stderr.isatty())
    from trackkit.io.atomic import atomic_open

    out = args.out if args.out.suffix == ".npz" else args.out.with_name(args.out.name + ".npz")
    with atomic_open(out, "wb") as fh:  # np.savez adds .npz to a name without it
        np.savez(fh, embeddings=emb, paths=np.array([str(p) for p in paths]))
    args.out = out
    print(f"{len(paths)} embeddings ({emb.shape[1]}-d, {speed:.0f} crops/s) -> {args.out}")
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from trackkit.reid.adapt import adapt_batchnorm
    from trackkit.reid.data.datasets import list_images
    from trackkit.reid.data.images import load_crops
    from trackkit.reid.models import save_model

    path, model = _own_model(args.model)
    paths = list_images(args.folder)
    crops = load_crops(paths, model.input_size, progress=sys.stderr.isatty())
    save_model(adapt_batchnorm(model, crops), args.out)
    print(f"{path.name} adapted to {len(paths)} images of {args.folder} -> {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from trackkit.reid.models import export_onnx

    _, model = _own_model(args.model)
    if args.embedding is not None:
        model.set_embedding(args.embedding)
    export_onnx(model, args.out)
    print(f"ONNX model written to {args.out}")
    return 0
