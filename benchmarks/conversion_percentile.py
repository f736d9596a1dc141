"""Threshold balancing of a deep network: maximum vs percentile, against T (issue 7).

Trains VGG-16 (quarter width, 15 ReLU layers) as an ANN on the embedded
digits upsampled to 32x32 (Adam 1e-3, 4 epochs, seed 0), converts it with
thresholds at the maximum or a percentile of each layer's input current
(128 calibration images, direct input) for each T, and prints the converted
SNN's accuracy on the first 200 test digits beside the ANN's. No download.

    python benchmarks/conversion_percentile.py [--time-steps 32 64 128]
        [--percentiles 100 99.9 99 97] [--json out.json]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    start = time.perf_counter()
    train = datasets.get("digits", size=32)
    test = datasets.get("digits", train=False, size=32)
    spec = RunSpec(
        model="vgg16", model_options={"width": 0.25}, spiking=False, dataset="digits",
        dataset_options={"size": 32}, lr=1e-3, cosine=False,
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
        args.json.write_text(json.dumps({"accuracy": rows, "wall_s": wall, "seed": args.seed}))


if __name__ == "__main__":
    main()
