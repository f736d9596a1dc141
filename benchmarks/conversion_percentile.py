"""Threshold balancing of a deep network: maximum vs percentile, against T (issues 7, 39).

Trains VGG-16 (quarter width, 15 ReLU layers; or ``--model`` with ``--option``s, e.g. a
half-width ResNet-20, 19 ReLU layers across its skips) as an ANN on the embedded
digits upsampled to 32x32 (``--size``; Adam 1e-3, 4 epochs, seed 0), converts it with
thresholds at the maximum or a percentile of each layer's input current
(128 calibration images, direct input) for each T, and prints the converted
SNN's accuracy on the first 200 test digits beside the ANN's. No download.

    python benchmarks/conversion_percentile.py [--time-steps 32 64 128]
        [--percentiles 100 99.9 99 97] [--model vgg16] [--option width=0.25]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import time
import warnings
from pathlib import Path

import torch

from snnvar import datasets
from snnvar.conversion import convert
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time-steps", dest="time_steps", type=int, nargs="+", default=[32, 64, 128]
    )
    parser.add_argument("--percentiles", type=float, nargs="+", default=[100.0, 99.9, 99.0, 97.0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument(
        "--option", action="append", default=[], help="a model option KEY=VALUE (repeatable; "
        "default for vgg16: width=0.25)",
    )  # fmt: skip
    parser.add_argument(
        "--size", type=int, default=32, help="digits upsampled to SIZE x SIZE (8: as they are)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = {"width": 0.25} if args.model == "vgg16" and not args.option else {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--option takes KEY=VALUE, got {item!r}")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value  # a bare word: a string option (block=sew)

    start = time.perf_counter()
    train = datasets.get("digits", size=args.size)
    test = datasets.get("digits", train=False, size=args.size)
    spec = RunSpec(
        model=args.model, model_options=options, spiking=False, dataset="digits",
        dataset_options={"size": args.size}, lr=1e-3, cosine=False,
        train=TrainConfig(epochs=4, batch_size=64, encoder="none", seed=args.seed, progress=False),
    )  # fmt: skip
    trainer = build_trainer(spec, data=train)  # SGD's run: Adam at a constant rate
    trainer.fit(train)
    ann = trainer.model.eval()
    x, y = test.images[:200, None], test.targets[:200]
    calibration = train.images[:128, None]

    @torch.no_grad()
    def accuracy(model: torch.nn.Module) -> float:
        return 100 * (model(x).argmax(1) == y).float().mean().item()

    rows = {"ann": accuracy(ann)}
    print(f"ANN: {rows['ann']:.1f} %")
    print("| T | " + " | ".join(f"p = {p:g}" for p in args.percentiles) + " |")
    print("|---" * (len(args.percentiles) + 1) + "|")
    for t in args.time_steps:
        cells = []
        for p in args.percentiles:
            with warnings.catch_warnings():  # silent deep layers are what is measured
                warnings.simplefilter("ignore")
                snn = convert(
                    ann, calibration, time_steps=t, encoder="direct", percentile=p, seed=args.seed
                )
            rows[f"T{t}_p{p:g}"] = accuracy(snn)
            cells.append(f"{rows[f'T{t}_p{p:g}']:.1f}")
        print(f"| {t} | " + " | ".join(cells) + " |", flush=True)
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s on {platform.platform()} ({torch.get_num_threads()} threads)")
    if args.json:
        args.json.write_text(json.dumps({
            "model": args.model, "options": options, "size": args.size, "accuracy": rows,
            "wall_s": wall,
            "seed": args.seed, "machine": platform.platform(),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
