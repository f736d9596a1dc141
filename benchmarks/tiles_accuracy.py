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

``--methods sgd,hrat,hrat+wvat`` trains HRAT (and HRAT + WVAT at σ = 5 %) on the
chip of ``--train-rows`` rows with a 6-bit ADC (and the output noise), and deploys
each trained model on every configuration (its weights loaded into that chip);
``--output-noise`` adds that noise (relative to each tile's full scale) to every
configuration; ``--energy`` prices each configuration's inference
(:class:`snnvar.hardware.EnergyCosts` defaults). ``--convert`` (with an ANN) also
converts each trained ANN into an SNN (threshold balancing on 256 training images,
direct input, ``--time-steps`` steps) and deploys the SNN on every configuration,
on the same chips as its ANN (each SNN weight draws its ANN weight's noise).

VGG-5 on the CIFAR subset (the issue's second network):

    python benchmarks/tiles_accuracy.py --dataset cifar10 --model vgg5 --width 0.5
        --optimizer sgd --lr 0.05 --weight-decay 5e-4 --epochs 10 --wvat-alpha 0.01 --convert
        --time-steps 32 --methods sgd,hrat,hrat+wvat --output-noise 0.04
        --test-samples 100 --draws 2 --energy

    python benchmarks/tiles_accuracy.py [--dataset mnist] [--model spiking_cnn2]
        [--spiking] [--data-root ../shared/data] [--epochs 1] [--test-samples 2000]
        [--draws 5] [--bound 10] [--seed 0] [--methods sgd] [--output-noise 0]
        [--train-rows 256] [--energy] [--convert] [--width 1] [--optimizer adam]
        [--weight-decay 0] [--wvat-alpha 0.1]
        [--json benchmarks/results/tiles_accuracy.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar.conversion import convert
from snnvar.hardware import EnergyCosts, Restrictions, deploy, restrict
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
    parser.add_argument("--methods", default="sgd", help="sgd, hrat, hrat+wvat (comma-separated)")
    parser.add_argument("--output-noise", type=float, default=0.0)
    parser.add_argument("--train-rows", type=int, default=256, help="HRAT's arrays")
    parser.add_argument("--energy", action="store_true")
    parser.add_argument("--convert", action="store_true", help="also the ANNs' converted SNNs")
    parser.add_argument("--width", type=float, help="the model's width option (VGG)")
    parser.add_argument("--optimizer", default="adam", help="adam or sgd (momentum 0.9)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--wvat-alpha", type=float, default=0.1, help="WVAT's GAV size α")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - {"sgd", "hrat", "hrat+wvat"})
    if unknown:
        parser.error(f"unknown methods {unknown}; allowed: sgd, hrat, hrat+wvat")
    if args.convert and args.spiking:
        parser.error("--convert converts the ANN; leave out --spiking")
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
        model_options={} if args.width is None else {"width": args.width},
        optimizer=args.optimizer, weight_decay=args.weight_decay, variation=Variation(SIGMA),
        train=TrainConfig(epochs=args.epochs, batch_size=64, encoder=encoder, seed=args.seed,
                          time_steps=args.time_steps, progress=False),
    )  # fmt: skip

    def chip_of(rows: int | None, bits: int) -> Restrictions:
        return Restrictions(
            array_rows=rows, input_range=1.0, input_bits=8, output_bound=args.bound,
            output_bits=bits, digital_bias=True, output_noise=args.output_noise,
        )  # fmt: skip

    trained: dict[str, torch.nn.Module] = {}
    train_s: dict[str, float] = {}
    for method in methods:
        t0 = time.perf_counter()
        hw = None if method == "sgd" else chip_of(args.train_rows, 6)
        wvat = method == "hrat+wvat"
        run = replace(spec, method="wvat" if wvat else "sgd", hardware=hw,
                      method_options={"alpha": args.wvat_alpha} if wvat else {})  # fmt: skip
        trainer = build_trainer(run, data=train)
        trainer.fit(train)
        trained[method] = trainer.model.eval()
        train_s[method] = time.perf_counter() - t0
        _progress(start, f"{method} trained")
    base = build_trainer(spec, data=train).model  # the architecture, to restrict anew

    kinds = {"": (trained, encoder)}
    if args.convert:  # each trained ANN's weights in the plain ANN, converted
        calib = torch.stack([train[i][0] for i in range(min(256, len(train)))])
        snns = {}
        for method, model in trained.items():
            t0 = time.perf_counter()
            plain = copy.deepcopy(base)
            plain.load_state_dict(model.state_dict())
            snns[method] = convert(plain.eval(), calib, time_steps=args.time_steps,
                                   encoder="direct", seed=args.seed)  # fmt: skip
            train_s[f"{method} (converted)"] = time.perf_counter() - t0
            _progress(start, f"{method} converted")
        kinds["SNN "] = (snns, "direct")
    sigmas = (0.0, SIGMA)
    report = energy = None
    for prefix, (nets, enc) in kinds.items():
        chips: dict[str, torch.nn.Module] = {f"{prefix}unrestricted": nets.get("sgd", base)}
        if prefix and "sgd" not in nets:
            chips = {}
        for method, model in nets.items():
            plain = base if not prefix else model
            for bits in BITS:
                for rows in ROWS:
                    chip = restrict(plain, chip_of(rows, bits))
                    chip.load_state_dict(model.state_dict())  # HRAT's weights on this chip
                    chips[prefix + _name(method, bits, rows)] = deploy(chip)
        io = {"encoder": enc, "time_steps": args.time_steps, "spikes": False}
        part = snnvar.evaluate(chips, test, Variation(0.0), sigmas=sigmas, draws=args.draws,
                               seed=args.seed, **io)  # fmt: skip
        report = part if report is None else report.merge(part)
        _progress(start, f"{prefix or 'ANN '}chips evaluated ({len(chips)} models)")
        if args.energy:  # one clean pass per configuration on the first 200 test images
            few = torch.utils.data.Subset(test, range(min(200, len(test))))
            priced = {k: m for k, m in chips.items() if k.startswith(prefix + methods[0] + ":")}
            part = snnvar.evaluate(priced, few, Variation(0.0), sigmas=(0.0,), draws=1,
                                   seed=args.seed, energy=EnergyCosts(), **io)  # fmt: skip
            energy = part if energy is None else energy.merge(part)
    assert report is not None
    noise = f", output noise {args.output_noise:g} of each tile's full scale" if (
        args.output_noise) else ""  # fmt: skip
    lines = [
        f"{args.model} {'SNN' if args.spiking else 'ANN'} on {args.dataset} ({len(train)} "
        f"training, {len(test)} test samples), {args.optimizer} lr {args.lr}, "
        f"{args.epochs} epochs, seed {args.seed}; ADC range ±{args.bound:g} × tile full "
        f"scale, 8-bit DAC over ±1, bias digital{noise}; {args.draws} chips at σ = "
        f"{SIGMA:.0%} of each layer's range; HRAT trained on {args.train_rows} rows, 6-bit ADC"
        + (f"; converted SNNs at T = {args.time_steps}" if args.convert else ""),
    ]
    for prefix, (nets, _) in kinds.items():
        for method in nets:
            took = train_s[method if not prefix else f"{method} (converted)"]
            lines += ["", f"**{prefix}{method}** ({'conversion' if prefix else 'training'} "
                      f"{took / 60:.1f} min)", "",
                      "| ADC | " + " | ".join(f"{r} rows" if r else "one array" for r in ROWS)
                      + " |", "|---" * (len(ROWS) + 1) + "|"]  # fmt: skip
            for bits in BITS:
                cells = []
                for rows in ROWS:
                    name = prefix + _name(method, bits, rows)
                    c, n = report.row(name, 0.0), report.row(name, SIGMA)
                    cell = (f"{100 * c.accuracy_mean:.2f} / {100 * n.accuracy_mean:.2f} ± "
                            f"{100 * n.accuracy_std:.2f}")  # fmt: skip
                    if energy is not None and method == methods[0]:
                        e = energy.row(name, 0.0).energy
                        cell += f" ({e['energy_pj']['total'] / 1e3:.3g} nJ)"  # type: ignore[index]
                    cells.append(cell)
                lines.append(f"| {bits} bits | " + " | ".join(cells) + " |")
    plain_rows = []
    for prefix in kinds:
        if "sgd" in kinds[prefix][0] or not prefix:
            c = report.row(f"{prefix}unrestricted", 0.0).accuracy_mean
            n = report.row(f"{prefix}unrestricted", SIGMA)
            plain_rows.append(
                f"unrestricted {prefix or 'model '}{100 * c:.2f} / "
                f"{100 * n.accuracy_mean:.2f} ± {100 * n.accuracy_std:.2f}"
            )
    lines += [
        "",
        f"each cell: clean chip / σ = {SIGMA:.0%} (mean ± std of the chips)"
        + (" (energy per inference, the first method)" if energy is not None else "")
        + "; "
        + "; ".join(plain_rows),
        f"wall time {(time.perf_counter() - start) / 60:.1f} min on {platform.platform()} "
        f"({torch.get_num_threads()} threads)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            {"table": text, "report": report.to_dict(), "seed": args.seed, "bound": args.bound,
             "output_noise": args.output_noise, "methods": methods, "convert": args.convert,
             "time_steps": args.time_steps, "stages_s": train_s,
             "wvat_alpha": args.wvat_alpha, "args": {k: str(v) for k, v in vars(args).items()},
             "energy": None if energy is None else energy.to_dict()},
            indent=1))  # fmt: skip


def _progress(start: float, what: str) -> None:
    """A line on stderr: what is done, and the minutes since ``start``."""
    print(f"[{(time.perf_counter() - start) / 60:.1f} min] {what}", file=sys.stderr, flush=True)


def _name(method: str, bits: int, rows: int | None) -> str:
    return f"{method}: {bits}-bit ADC, {rows or 'one array'} rows"


if __name__ == "__main__":
    main()
