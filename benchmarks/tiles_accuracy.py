"""Arrays of finite size (issue 37): a trained network deployed on chips whose layers are
split over arrays of 64 to 512 rows (or one array per layer), each tile with its own
ADC of 4, 6 or 8 bits at a range relative to the tile's full scale, on the same chips
per configuration.

SGD trains the model once (unrestricted); every configuration deploys it with
``Restrictions(array_rows=R, input_range=1, input_bits=8, output_bound=B,
output_bits=b, digital_bias=True)`` (aihwkit's mapping: 8-bit DAC over the pixels'
±1, the bias added digitally) and evaluates the clean chip and ``--draws`` chips at
σ = 5 % of each layer's range (static, on the programmed weights). A smaller array
sums fewer products per ADC, so its partial sums clip less at a given bound and
quantise on a finer grid; more arrays add more ADCs, whose rounding errors add up.

    python benchmarks/tiles_accuracy.py [--dataset mnist] [--model spiking_cnn2]
        [--spiking] [--data-root ../shared/data] [--epochs 1] [--test-samples 2000]
        [--draws 5] [--bound 10] [--seed 0] [--json benchmarks/results/tiles_accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar.hardware import Restrictions, deploy, restrict
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

ROWS = (64, 128, 256, 512, None)
BITS = (4, 6, 8)
SIGMA = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="spiking_cnn2")
    parser.add_argument("--spiking", action="store_true", help="the SNN (default: the ANN)")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train-samples", type=int, help="the first N training samples")
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--bound", type=float, default=10.0, help="output_bound of the ADCs")
    parser.add_argument("--time-steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = {} if args.dataset == "digits" else {"root": args.data_root, "download": False}
    train = datasets.get(args.dataset, **opts)
    test = datasets.get(args.dataset, train=False, **opts)
    if args.train_samples is not None:
        train = torch.utils.data.Subset(train, range(min(args.train_samples, len(train))))
    test = torch.utils.data.Subset(test, range(min(args.test_samples, len(test))))
    encoder = "direct" if args.spiking else "none"
    spec = RunSpec(
        model=args.model, spiking=args.spiking, dataset=args.dataset, lr=args.lr,
        train=TrainConfig(epochs=args.epochs, batch_size=64, encoder=encoder, seed=args.seed,
                          time_steps=args.time_steps, progress=False),
    )  # fmt: skip
    trainer = build_trainer(spec, data=train)
    trainer.fit(train)
    model = trainer.model.eval()
    train_s = time.perf_counter() - start

    chips: dict[str, torch.nn.Module] = {"unrestricted": model}
    for bits in BITS:
        for rows in ROWS:
            hw = Restrictions(
                array_rows=rows, input_range=1.0, input_bits=8, output_bound=args.bound,
                output_bits=bits, digital_bias=True,
            )  # fmt: skip
            chips[f"{bits}-bit ADC, {rows or 'one array'} rows"] = deploy(restrict(model, hw))
    io = {"encoder": encoder, "time_steps": args.time_steps, "spikes": False}
    report = snnvar.evaluate(chips, test, Variation(0.0), sigmas=(0.0, SIGMA),
                             draws=args.draws, seed=args.seed, **io)  # fmt: skip
    lines = [
        f"{args.model} {'SNN' if args.spiking else 'ANN'} on {args.dataset} ({len(train)} "
        f"training, {len(test)} test samples), SGD (Adam lr {args.lr}) {args.epochs} epochs, "
        f"seed {args.seed}; ADC range ±{args.bound:g} × tile full scale, 8-bit DAC over ±1, "
        f"bias digital; {args.draws} chips at σ = {SIGMA:.0%} of each layer's range",
        "",
        "| ADC | " + " | ".join(f"{r} rows" if r else "one array" for r in ROWS) + " |",
        "|---" * (len(ROWS) + 1) + "|",
    ]
    clean = report.row("unrestricted", 0.0).accuracy_mean
    noisy = report.row("unrestricted", SIGMA)
    for bits in BITS:
        cells = []
        for rows in ROWS:
            name = f"{bits}-bit ADC, {rows or 'one array'} rows"
            c, n = report.row(name, 0.0), report.row(name, SIGMA)
            cells.append(f"{100 * c.accuracy_mean:.2f} / {100 * n.accuracy_mean:.2f} ± "
                         f"{100 * n.accuracy_std:.2f}")  # fmt: skip
        lines.append(f"| {bits} bits | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"each cell: clean chip / σ = {SIGMA:.0%} (mean ± std of the chips); unrestricted "
        f"model {100 * clean:.2f} / {100 * noisy.accuracy_mean:.2f} ± "
        f"{100 * noisy.accuracy_std:.2f}",
        f"training {train_s / 60:.1f} min, wall time {(time.perf_counter() - start) / 60:.1f} "
        f"min on {platform.platform()} ({torch.get_num_threads()} threads)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            {"table": text, "report": report.to_dict(), "seed": args.seed, "bound": args.bound},
            indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
