"""Training-step and inference speed of a trackkit ReID network, channels-last (NHWC) against
the default NCHW layout, in the same process (the NCHW run is the anchor).

    OMP_NUM_THREADS=2 python benchmarks/reid_train_speed.py [--threads 2] [--repeat 5]

A training step is what ``trackkit reid train --loss triplet-hard+ce`` does per batch: forward,
batch-hard triplet + label-smoothed cross-entropy, backward, Adam step, on a P x K = 16 x 4
batch of random 160x64 crops. Inference embeds a batch of 32 crops. The two layouts are timed
alternately, ``--repeat`` rounds, and the best round of each is reported (the machine is
noisy). The default network is the project's default model's architecture.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from trackkit.reid.losses import cross_entropy_label_smoothing, triplet_loss
from trackkit.reid.models import ClassifierHead, build_model
from trackkit.reid.models.common import channels_last

SIZE = (160, 64)


def _trainer_step(nhwc: bool, widths: list[int]) -> Callable[[], None]:
    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, widths=widths, stem=widths[0], parts=2)
    if nhwc:
        channels_last(model)
    head = ClassifierHead(model.embed_dim, 743)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-3)
    x = torch.rand(64, 3, *SIZE) * 255
    if nhwc:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(16).repeat_interleave(4)
    model.train()

    def step() -> None:
        feat, emb = model.forward_train(x)
        loss = triplet_loss(feat, y) + cross_entropy_label_smoothing(head(emb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _embed_batch(nhwc: bool, widths: list[int]) -> Callable[[], None]:
    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, widths=widths, stem=widths[0], parts=2)
    model.eval()
    if nhwc:
        channels_last(model)
    # the embedder's input: a permuted view of (N, H, W, 3) uint8 crops
    crops = torch.randint(0, 256, (32, *SIZE, 3), dtype=torch.uint8)

    def run() -> None:
        with torch.inference_mode():
            model(crops.permute(0, 3, 1, 2).float())

    return run


def _best_rate(fn: Callable[[], None], items: int, calls: int) -> float:
    fn()  # warm-up (oneDNN primitive creation)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return items * calls / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--widths", default="32,64,128,256")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    print(
        f"## ReID speed, widths {widths}, {SIZE[0]}x{SIZE[1]}, {args.threads} thread(s), "
        f"best of {args.repeat}\n"
    )
    print("| work | NCHW (anchor) | channels-last | x anchor |")
    print("|---|---:|---:|---:|")
    for name, make, items, calls, unit in [
        ("training step, batch 64", _trainer_step, 64, 5, "img/s"),
        ("inference, batch 32", _embed_batch, 32, 10, "crops/s"),
    ]:
        fns = {nhwc: make(nhwc, widths) for nhwc in (False, True)}
        best = {False: 0.0, True: 0.0}
        for _ in range(args.repeat):
            for nhwc in (False, True):
                best[nhwc] = max(best[nhwc], _best_rate(fns[nhwc], items, calls))
        print(
            f"| {name} | {best[False]:.0f} {unit} | {best[True]:.0f} {unit} | "
            f"{best[True] / best[False]:.2f} |"
        )


if __name__ == "__main__":
    main()
