"""HRAT (issue 19): SGD deployed onto a restricted chip against
HRAT and HRAT + WVAT trained on it, with and without device variation, on the same
chips; what each restriction costs alone; the cost of `restrict` per training step.

The chip: 4-bit signed weights (15 levels, zero exact), an 8-bit input DAC over ±1, learned input
scales, an output swing set from the data (99.9th percentile of the SGD model's
fused layer outputs) with a 6-bit ADC, an 8-bit bias DAC, BatchNorm fused. The
default model is spiking_cnn1's ANN with BatchNorm (hidden 64) on the digits.
Every run starts from the same initial weights; HRAT + WVAT is WVAT (w_th = 0.2,
α = 0.1) on the restricted model at σ = 10 % of each layer's range.

    python benchmarks/hardware_hrat.py [--dataset digits] [--model spiking_cnn1]
        [--data-root ../shared/data] [--train-samples N] [--epochs 30] [--draws 20]
        [--seed 0] [--json benchmarks/results/hardware_digits.json]

``--model fc4`` and ``--model lenet5`` are HRAT's MNIST networks (with BatchNorm).
``--spiking`` trains and tests the SNN instead of the ANN (``--encoder direct``,
``--time-steps 5`` by default), for example WVAT's Spiking-CNN2 on MNIST:

    python benchmarks/hardware_hrat.py --dataset mnist --model spiking_cnn2 --spiking \
        --epochs 5 --draws 5 --lr 1e-3 --json benchmarks/results/hardware_cnn2_mnist.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar.datasets import encode
from snnvar.hardware import Restrictions, ablation, deploy, output_swing_from_data, restrict
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

SIGMAS = (0.0, 0.05, 0.10)


def step_time(spec: RunSpec, data, steps: int = 20) -> float:
    """Seconds per training step of ``spec`` (after two warm-up steps)."""
    trainer = build_trainer(spec, data=data)
    x, y = next(iter(torch.utils.data.DataLoader(data, batch_size=spec.train.batch_size)))
    x = trainer.encode(x, datasets.encoding_generator(spec.train.seed, 0, 0))

    def closure():
        loss = torch.nn.functional.cross_entropy(trainer.model(x), y)
        loss.backward()
        return loss

    trainer.model.train()
    for _ in range(2):
        trainer.optimizer.step(closure, x)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.optimizer.step(closure, x)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="spiking_cnn1")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train-samples", type=int, help="the first N training samples")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spiking", action="store_true", help="the SNN (default: the ANN)")
    parser.add_argument("--encoder", default="direct", help="input encoding of the SNN")
    parser.add_argument("--time-steps", type=int, default=5, help="time steps of the SNN")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = {} if args.dataset == "digits" else {"root": args.data_root, "download": False}
    train = datasets.get(args.dataset, **opts)
    test = datasets.get(args.dataset, train=False, **opts)
    if args.train_samples is not None:
        train = torch.utils.data.Subset(train, range(min(args.train_samples, len(train))))
    encoder = args.encoder if args.spiking else "none"
    options = {"batch_norm": True, **({"hidden": 64} if args.model == "spiking_cnn1" else {})}
    base = RunSpec(
        model=args.model, model_options=options, spiking=args.spiking, dataset=args.dataset,
        lr=args.lr, variation=Variation(0.1),
        train=TrainConfig(epochs=args.epochs, batch_size=64, encoder=encoder, seed=args.seed,
                          time_steps=args.time_steps, progress=False),
    )  # fmt: skip
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    sgd = build_trainer(base, data=train)
    sgd.fit(train)
    stages["train_sgd_s"] = time.perf_counter() - t0
    calibration = torch.stack([train[i][0] for i in range(256)])
    calibration = encode(calibration, encoder, args.time_steps, torch.Generator().manual_seed(0))
    swing = output_swing_from_data(sgd.model.eval(), calibration, percentile=99.9)
    chip = Restrictions(
        weight_levels=15, input_bits=8, input_range=1.0, learn_input_scale=True,
        output_swing=round(swing, 3), output_bits=6, bias_bits=8, fuse_batchnorm=True,
    )  # fmt: skip
    trained = {"sgd": sgd.model.eval()}
    for name, method, options in (("hrat", "sgd", {}),
                                  ("hrat+wvat", "wvat", {"w_th": 0.2, "alpha": 0.1})):  # fmt: skip
        t0 = time.perf_counter()
        trainer = build_trainer(
            replace(base, method=method, method_options=options, hardware=chip), data=train
        )
        trainer.fit(train)
        trained[name] = trainer.model.eval()
        stages[f"train_{name}_s"] = time.perf_counter() - t0

    # every model on the restricted chip (the HRAT models are restricted already)
    on_chip = {
        "sgd (unrestricted)": trained["sgd"],
        "sgd on the chip": deploy(restrict(trained["sgd"], chip)),
        "hrat": deploy(trained["hrat"]),
        "hrat+wvat": deploy(trained["hrat+wvat"]),
    }
    t0 = time.perf_counter()
    io = {"encoder": encoder, "time_steps": args.time_steps, "spikes": False}
    common = {"sigmas": SIGMAS, "draws": args.draws, "seed": args.seed, **io}
    report = snnvar.evaluate(on_chip, test, Variation(0.0), **common)
    stages["evaluate_s"] = time.perf_counter() - t0

    # the ablation: SGD's model with one restriction at a time, clean (σ = 0)
    single = {k: m for k, m in ablation(trained["sgd"], chip).items() if k != "all"}
    ablated = snnvar.evaluate(
        single, test, Variation(0.0), sigmas=(0.0,), draws=1, seed=args.seed, **io
    )
    plain = replace(base, method="sgd")
    times = {"unrestricted": step_time(plain, train), "restricted": step_time(
        replace(plain, hardware=chip), train)}  # fmt: skip
    t0 = time.perf_counter()
    snnvar.evaluate(trained["sgd"], test, Variation(0.1), draws=5, seed=1, **io)
    eval_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    snnvar.evaluate(on_chip["sgd on the chip"], test, Variation(0.1), draws=5, seed=1, **io)
    eval_chip = time.perf_counter() - t0

    wall = time.perf_counter() - start
    kind = f"SNN ({encoder} input, T = {args.time_steps})" if args.spiking else "ANN"
    lines = [
        f"{args.model} {kind} with BatchNorm on {args.dataset} ({len(train)} training, "
        f"{len(test)} test samples), Adam lr {args.lr}; "
        f"chip: {chip.label()}; {args.epochs} epochs, seed {args.seed}, {args.draws} chips "
        f"per σ (relative to each layer's range of the programmed weights)",
        "",
        "| model | " + " | ".join(f"σ = {s:.0%}" for s in SIGMAS) + " | worst chip at 10 % |",
        "|---" * (len(SIGMAS) + 2) + "|",
    ]
    for name in on_chip:
        cells = [f"{100 * report.row(name, s)['accuracy_mean']:.2f} ± "
                 f"{100 * report.row(name, s)['accuracy_std']:.2f}" for s in SIGMAS]  # fmt: skip
        worst = 100 * report.row(name, 0.10).accuracy_min
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {worst:.2f} |")
    clean = 100 * report.row("sgd (unrestricted)", 0.0).accuracy_mean
    lines += ["", "| SGD's model with one restriction | clean accuracy (%) | cost (points) |",
              "|---|---|---|"]  # fmt: skip
    for name in single:
        acc = 100 * ablated.row(name, 0.0).accuracy_mean
        lines.append(f"| {name} | {acc:.2f} | {clean - acc:+.2f} |")
    lines += [
        "",
        f"time per training step: restricted / unrestricted = "
        f"{times['restricted'] / times['unrestricted']:.2f} ({1e3 * times['restricted']:.1f} "
        f"vs {1e3 * times['unrestricted']:.1f} ms, batch 64, same run); evaluation of 5 "
        f"chips: deployed / unrestricted = {eval_chip / eval_plain:.2f}",
        f"wall time {wall / 60:.1f} min on {platform.platform()} "
        f"({torch.get_num_threads()} threads)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "chip": chip.to_dict(), "table": text, "stages_s": stages, "step_s": times,
            "report": report.to_dict(), "ablation": ablated.to_dict(), "seed": args.seed,
        }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
