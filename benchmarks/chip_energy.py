"""The energy of an SNN against its ANN on the same chip (issue 37), and what the wires'
resistance costs them.

SGD trains Spiking-CNN2 as an SNN (direct input, T = ``--time-steps``) and as an
ANN (the same layers, ReLU for the neurons) on MNIST; both are deployed on one chip:
arrays of ``--rows`` rows, an 8-bit DAC over ±1, each tile's 6-bit ADC at ±10 × its
full scale, output noise ``--output-noise`` of that full scale on every read, the
bias digital. Every model is evaluated on ``--draws`` chips (σ = 0: the output noise
alone, and σ = 5 % of each layer's range) and its inference priced with
:class:`snnvar.hardware.EnergyCosts`' defaults; the SNN at several T (fewer steps:
fewer reads and neuron updates, and a lower accuracy). Then both at T = its training
T on chips whose wires have ρ = r·g_max from 1e-6 to 1e-4 (first-order IR drop).

    python benchmarks/chip_energy.py [--data-root ../shared/data] [--epochs 1]
        [--test-samples 1000] [--draws 3] [--rows 256] [--output-noise 0.04] [--seed 0]
        [--json benchmarks/results/chip_energy.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar.hardware import EnergyCosts, Restrictions, deploy, restrict
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

STEPS = (1, 2, 3, 5, 8)
WIRES = (0.0, 1e-6, 1e-5, 3e-5, 1e-4)
SIGMA = 0.05
EVENTS = ("dac", "drive", "devices", "adc", "additions", "activations", "neurons", "spikes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="spiking_cnn2")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--output-noise", type=float, default=0.04)
    parser.add_argument("--time-steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = {} if args.dataset == "digits" else {"root": args.data_root, "download": False}
    train = datasets.get(args.dataset, **opts)
    test = datasets.get(args.dataset, train=False, **opts)
    test = torch.utils.data.Subset(test, range(min(args.test_samples, len(test))))
    trained = {}
    for spiking in (True, False):
        spec = RunSpec(
            model=args.model, spiking=spiking, dataset=args.dataset,
            train=TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed,
                              encoder="direct" if spiking else "none",
                              time_steps=args.time_steps, progress=False),
        )  # fmt: skip
        trainer = build_trainer(spec, data=train)
        trainer.fit(train)
        trained["snn" if spiking else "ann"] = trainer.model.eval()
    train_s = time.perf_counter() - start
    chip = Restrictions(
        array_rows=args.rows, input_range=1.0, input_bits=8, output_bound=10.0, output_bits=6,
        output_noise=args.output_noise, digital_bias=True,
    )  # fmt: skip
    costs = EnergyCosts()

    # the SNN at several T and the ANN, on the same chips
    models = {"ann": deploy(restrict(trained["ann"], chip))}
    snn_chip = deploy(restrict(trained["snn"], chip))
    for t in STEPS:
        models[f"snn T={t}"] = snn_chip
    encoders = {k: "none" if k == "ann" else "direct" for k in models}
    steps = {k: 1 if k == "ann" else int(k.split("=")[1]) for k in models}
    report = snnvar.evaluate(models, test, Variation(0.0), sigmas=(0.0, SIGMA),
                             draws=args.draws, seed=args.seed, encoder=encoders,
                             time_steps=steps, spikes=False, energy=costs)  # fmt: skip
    ann = report.row("ann", 0.0)
    lines = [
        f"{args.model} on {args.dataset} ({len(train)} training, {len(test)} test images), "
        f"SGD (Adam 1e-3) {args.epochs} epoch(s), seed {args.seed}; the SNN trained at T = "
        f"{args.time_steps} (direct input). Chip: {chip.label()}; {args.draws} chips; "
        f"EnergyCosts() defaults.",
        "",
        "| model | accuracy σ 0 (%) | σ 5 % (%) | energy (nJ) | array and converters (nJ) | "
        + " | ".join(EVENTS) + " | latency (µs) |",
        "|---" * (6 + len(EVENTS)) + "|",
    ]  # fmt: skip
    for name in models:
        clean, noisy = report.row(name, 0.0), report.row(name, SIGMA)
        e = clean.energy
        assert e is not None
        pj = e["energy_pj"]
        lines.append(
            f"| {name} | {100 * clean.accuracy_mean:.2f} ± {100 * clean.accuracy_std:.2f} | "
            f"{100 * noisy.accuracy_mean:.2f} ± {100 * noisy.accuracy_std:.2f} | "
            f"{pj['total'] / 1e3:.4g} | "
            f"{(pj['total'] - pj['neurons'] - pj['spikes']) / 1e3:.4g} | "
            + " | ".join(f"{pj[k] / 1e3:.3g}" for k in EVENTS)
            + f" | {e['latency_ns'] / 1e3:.3g} |"
        )  # fmt: skip
    equal = [n for n in models if n != "ann"
             and report.row(n, 0.0).accuracy_mean >= ann.accuracy_mean - 0.01]  # fmt: skip
    if equal:
        first = report.row(equal[0], 0.0).energy["energy_pj"]  # type: ignore[index]
        theirs = ann.energy["energy_pj"]  # type: ignore[index]
        bare = (first["total"] - first["neurons"] - first["spikes"]) / theirs["total"]
        lines += ["", f"at equal accuracy (within 1 point of the ANN's "
                  f"{100 * ann.accuracy_mean:.2f} %): {equal[0]}, "
                  f"{first['total'] / theirs['total']:.3g} × the ANN's energy with Loihi's "
                  f"neurons, {bare:.3g} × with neurons and spikes free"]  # fmt: skip
    else:
        lines += ["", "no T reaches the ANN's accuracy within 1 point"]

    # the wires: one evaluation per ρ (a chip whose first-order drop is too large is
    # refused by its layers: the cell says so)
    lines += ["", f"wires (ρ = r·g_max per segment, {args.rows}-row arrays; accuracy % on "
              f"{args.draws} chips of output noise, σ = 0):", "",
              "| model | " + " | ".join(f"ρ {r:g}" for r in WIRES) + " |",
              "|---" * (len(WIRES) + 1) + "|"]  # fmt: skip
    wires: dict[str, Any] = {}
    for kind in ("ann", "snn"):
        cells = []
        for rho in WIRES:
            chip_w = deploy(restrict(trained[kind], replace(chip, wire_resistance=rho)))
            try:
                found = snnvar.evaluate(
                    {kind: chip_w}, test, Variation(0.0), sigmas=(0.0,), draws=args.draws,
                    seed=args.seed, encoder="none" if kind == "ann" else "direct",
                    time_steps=args.time_steps, spikes=False,
                ).row(kind, 0.0)  # fmt: skip
            except ValueError as err:
                wires[f"{kind} ρ={rho:g}"] = str(err)
                cells.append(f"refused ({str(err).split(' by ')[1].split(' to ')[0]} drop)")
                continue
            wires[f"{kind} ρ={rho:g}"] = found.accuracies
            cells.append(f"{100 * found.accuracy_mean:.2f} ± {100 * found.accuracy_std:.2f}")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", f"training {train_s / 60:.1f} min, wall time "
              f"{(time.perf_counter() - start) / 60:.1f} min on {platform.platform()} "
              f"({torch.get_num_threads()} threads)"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            {"table": text, "seed": args.seed, "chip": chip.to_dict(),
             "costs": costs.to_dict(), "report": report.to_dict(),
             "wires": wires}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
