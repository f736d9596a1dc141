"""ANN -> SNN hybrid conversion on the CIFAR-10 subset, SGD vs WVAT (issue 7).

For each of SGD and WVAT (HSV σ = 10 %, w_th = 0.5, α = --wvat-alpha): train a VGG ANN on the
CIFAR-10 subset of ../shared/data (4,000 training images), convert it
(threshold balancing on 256 training images, direct input, T steps), fine-tune
the SNN with spikes (Adam, --finetune-lr) and the same method for --finetune-epochs on the first
--finetune-samples training images, then evaluate
ANN, converted SNN and fine-tuned SNN at σ = 0 / 5 / 10 % on the same --chips
simulated chips over the first --test test images. Prints and writes a JSON
with the accuracies, the seeds and the wall time of every stage.

    python benchmarks/conversion_cifar.py [--model vgg5] [--width 0.5] [--epochs 10]
        [--time-steps 32] [--percentile 100] [--finetune-epochs 1] [--finetune-samples 1000]
        [--finetune-lr 1e-4]
        [--chips 10] [--test 500] [--wvat-alpha 0.01] [--json out.json]

WVAT's α defaults to 0.01, the low end of the paper's 0.01-0.1: with α = 0.1 the
gradient-ascent variation (α · ‖Δw‖ along the gradient, 6 % of each layer's
weight norm at this σ) makes VGG-5 diverge from scratch (training loss 9.2 in
the first epoch with GAV only, every ReLU of the third conv layer dead).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import Subset

import snnvar
from snnvar import Variation, datasets
from snnvar.conversion import convert
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg5")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--time-steps", dest="time_steps", type=int, default=32)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument(
        "--finetune-samples", type=int, default=1000, help="training images for fine-tuning"
    )
    parser.add_argument(
        "--finetune-lr",
        type=float,
        default=1e-4,
        help="Adam learning rate for spike fine-tuning (SGD 1e-3 + momentum diverged)",
    )
    parser.add_argument("--percentile", type=float, default=100.0)
    parser.add_argument("--wvat-alpha", type=float, default=0.01, help="WVAT's GAV size α")
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    start = time.perf_counter()
    train = datasets.get("cifar10", root=args.data_root, download=False)
    test = Subset(
        datasets.get("cifar10", root=args.data_root, train=False, download=False), range(args.test)
    )
    calib = torch.stack([train[i][0] for i in range(256)])
    variation = Variation(sigma=0.10)
    nets: dict[str, torch.nn.Module] = {}
    stages: dict[str, float] = {}
    for method in ("sgd", "wvat"):
        t0 = time.perf_counter()
        spec = RunSpec(
            model=args.model, model_options={"width": args.width}, spiking=False,
            dataset="cifar10", method=method,
            method_options={"w_th": 0.5, "alpha": args.wvat_alpha} if method == "wvat" else {},
            variation=variation, optimizer="sgd", lr=0.05, weight_decay=5e-4,
            train=TrainConfig(epochs=args.epochs, batch_size=64, encoder="none", seed=args.seed,
                              progress=False),
        )  # fmt: skip
        trainer = build_trainer(spec, data=train)
        trainer.fit(train)
        ann = trainer.model
        stages[f"{method}_ann_train_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        snn = convert(
            ann,
            calib,
            time_steps=args.time_steps,
            encoder="direct",
            seed=args.seed,
            percentile=args.percentile,
        )
        stages[f"{method}_convert_s"] = time.perf_counter() - t0
        nets[f"{method}/ann"], nets[f"{method}/converted"] = ann, snn

        t0 = time.perf_counter()
        tuned = copy.deepcopy(snn)  # the converted SNN, fine-tuned from here (Adam, constant lr)
        tune = replace(
            spec, optimizer="adam", lr=args.finetune_lr, cosine=False, weight_decay=0.0,
            train=TrainConfig(epochs=args.finetune_epochs, batch_size=32, encoder="direct",
                              time_steps=args.time_steps, seed=args.seed, progress=False),
        )  # fmt: skip
        build_trainer(tune, tuned).fit(Subset(train, range(min(args.finetune_samples, len(train)))))
        stages[f"{method}_finetune_s"] = time.perf_counter() - t0
        nets[f"{method}/finetuned"] = tuned

    t0 = time.perf_counter()
    anns = {k: m for k, m in nets.items() if k.endswith("/ann")}
    snns = {k: m for k, m in nets.items() if not k.endswith("/ann")}
    common = {"sigmas": (0.0, 0.05, 0.10), "draws": args.chips, "seed": args.seed}
    report = snnvar.evaluate(anns, test, variation, encoder="none", spikes=False, **common)
    report = report.merge(
        snnvar.evaluate(
            snns,
            test,
            variation,
            encoder="direct",
            time_steps=args.time_steps,
            spikes=False,
            **common,
        )
    )
    stages["evaluate_s"] = time.perf_counter() - t0
    print(report.markdown())
    result = {
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "stages_s": stages,
        "wall_s": time.perf_counter() - start,
        "table": report.markdown(),
        "rows": [
            {
                k: getattr(r, k)
                for k in ("method", "sigma", "accuracy_mean", "accuracy_std", "accuracy_min")
            }
            for r in report.results
        ],
        "thresholds": {k: m.thresholds for k, m in snns.items()},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
