"""Devices over time (issue 20): networks trained with SGD, HA-SGD and WVAT (the
variation-aware ones with the Gaussian HSV at σ = 10 % of the range and with the
PCM model as their training noise), read on PCM chips 1 s, 1 h, 1 day and 1
year after programming, with and without global drift compensation; on chips
with 0.5 / 1 / 2 % of devices stuck (half at G_min, half at G_max); and their
worst-case chip at ζ = 5 / 10 % (Büchel et al. 2022). Every model starts from
the same initial weights and meets the same chips.

    python benchmarks/device_models.py [--dataset mnist] [--model fc2] [--spiking]
        [--data-root ../shared/data] [--epochs 10] [--batch-size 128] [--wvat-alpha 0.01]
        [--hasgd-samples 4]
        [--draws 10] [--seed 0] [--methods sgd,hasgd,wvat,hasgd+pcm,wvat+pcm]
        [--json benchmarks/results/devices_fc2_mnist.json]

The default is WVAT Table 1's FC network (784-512-512-10 ReLU ANN) on MNIST, SGD
with lr 0.05 and a cosine schedule, batch 128 (as ``paper_tables.py fc_mnist``).
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

import snnvar
from snnvar import Variation, datasets
from snnvar.evaluation import worst_case_attack
from snnvar.hardware import PCM, IdealDevice, StuckAt
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

TIMES = (1.0, 3600.0, 86400.0, 3.15576e7)
FAULTS = (0.005, 0.01, 0.02)
ZETAS = (0.05, 0.10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="fc2")
    parser.add_argument("--spiking", action="store_true")
    parser.add_argument("--encoder", default="direct")
    parser.add_argument("--time-steps", type=int, default=5)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train-samples", type=int)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hasgd-samples", type=int, default=4)
    parser.add_argument("--wvat-alpha", type=float, default=0.01,
                        help="WVAT's α (0.01 for the FC ANN at SGD lr 0.05; the paper's 0.1 "
                        "for Spiking-CNN2 with Adam)")  # fmt: skip
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--attack-samples", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="sgd,hasgd,wvat,hasgd+pcm,wvat+pcm",
                        help="comma-separated subset of the five trainings")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = {} if args.dataset == "digits" else {"root": args.data_root, "download": False}
    train = datasets.get(args.dataset, **opts)
    test = datasets.get(args.dataset, train=False, **opts)
    if args.train_samples is not None:
        train = torch.utils.data.Subset(train, range(min(args.train_samples, len(train))))
    encoder = args.encoder if args.spiking else "none"
    base = RunSpec(
        model=args.model, spiking=args.spiking, dataset=args.dataset, optimizer=args.optimizer,
        lr=args.lr, variation=Variation(0.1),
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, encoder=encoder,
                          time_steps=args.time_steps, seed=args.seed, progress=False),
    )  # fmt: skip
    pcm = PCM()
    wvat = {"w_th": 0.5, "alpha": args.wvat_alpha}
    hasgd = {"samples": args.hasgd_samples}
    runs = {
        "sgd": replace(base, method="sgd"),
        "hasgd": replace(base, method="hasgd", method_options=hasgd),
        "wvat": replace(base, method="wvat", method_options=wvat),
        "hasgd+pcm": replace(base, method="hasgd", method_options=hasgd, device=pcm),
        "wvat+pcm": replace(base, method="wvat", method_options=wvat, device=pcm),
    }
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(runs))
    if unknown or not methods:
        parser.error(f"unknown --methods {unknown or args.methods!r}; allowed: {list(runs)}")
    runs = {name: runs[name] for name in methods}
    trained, stages = {}, {}
    for name, spec in runs.items():
        t0 = time.perf_counter()
        trainer = build_trainer(spec, data=train)
        trainer.fit(train)
        trained[name] = trainer.model.eval()
        stages[f"train_{name}_s"] = time.perf_counter() - t0
        print(f"trained {name} in {stages[f'train_{name}_s'] / 60:.1f} min", flush=True)
    io = {"encoder": encoder, "time_steps": args.time_steps, "spikes": False}
    t0 = time.perf_counter()
    drift = snnvar.evaluate(
        trained, test, {"pcm": pcm, "pcm + global compensation": replace(pcm,
                        compensation="global")},
        times=TIMES, draws=args.draws, seed=args.seed, **io,
    )  # fmt: skip
    stages["evaluate_drift_s"] = time.perf_counter() - t0
    # What a year of drift does, without noise: conductance-dependent exponents, one
    # exponent for all (every weight times the same factor, biases off the devices
    # unchanged), and that with the biases scaled to match (a ReLU ANN without
    # BatchNorm then computes its clean function, times a constant)
    t0 = time.perf_counter()
    quiet = PCM(noise_scale=0.0, read_noise=False)
    nu = 0.06
    uniform = replace(quiet, drift_nu=(nu, 0.0))
    factor = (TIMES[-1] / pcm.t0) ** -nu
    scaled = {f"{name} / biases too": _biases_scaled(m, factor) for name, m in trained.items()}
    probe = snnvar.evaluate(
        trained, test, {"drift only": quiet, "uniform drift": uniform},
        times=(TIMES[-1],), draws=args.draws, seed=args.seed, **io,
    )  # fmt: skip
    probe_scaled = snnvar.evaluate(  # the same chips (same seed, same device keys)
        scaled, test, {"uniform drift": uniform}, times=(TIMES[-1],), draws=args.draws,
        seed=args.seed, **io,
    )  # fmt: skip
    stages["evaluate_drift_probe_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    faults = snnvar.evaluate(
        trained, test,
        {f"stuck {100 * f:g} %": IdealDevice(faults=StuckAt(low=f / 2, high=f / 2))
         for f in FAULTS},
        draws=args.draws, seed=args.seed, **io,
    )  # fmt: skip
    stages["evaluate_faults_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gauss = snnvar.evaluate(trained, test, Variation(0.0), sigmas=(0.0, 0.10), draws=args.draws,
                            seed=args.seed, **io)  # fmt: skip
    worst = {
        (name, z): worst_case_attack(
            model,
            test,
            zeta=z,
            steps=10,
            seed=args.seed,
            attack_samples=args.attack_samples,
            encoder=encoder,
            time_steps=args.time_steps,
        )
        for name, model in trained.items()
        for z in ZETAS
    }
    stages["evaluate_worst_case_s"] = time.perf_counter() - t0

    wall = time.perf_counter() - start
    kind = f"SNN ({encoder}, T = {args.time_steps})" if args.spiking else "ANN"
    lines = [
        f"{args.model} {kind} on {args.dataset} ({len(train)} training, {len(test)} test "
        f"samples), {args.optimizer} lr {args.lr}, batch {args.batch_size}, {args.epochs} "
        f"epochs, WVAT w_th 0.5 α {args.wvat_alpha}, HA-SGD {args.hasgd_samples} samples, "
        f"seed {args.seed}; "
        f"{args.draws} chips per row; PCM: g_max 25 µS, Nandakumar et al. 2019 σ(g), drift "
        "and 1/f read noise",
        "",
        "| method | clean | σ = 10 % (range) | PCM 1 s | 1 h | 1 day | 1 year | 1 year, "
        "compensated | worst PCM chip, 1 year, compensated |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in trained:
        row = [name, f"{100 * gauss.row(name, 0.0).accuracy_mean:.2f}",
               f"{100 * gauss.row(name, 0.1).accuracy_mean:.2f} ± "
               f"{100 * gauss.row(name, 0.1).accuracy_std:.2f}"]  # fmt: skip
        for t in TIMES:
            r = drift.row(name, variation="pcm", time=t)
            row.append(f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}")
        comp = drift.row(name, variation="pcm + global compensation", time=TIMES[-1])
        row += [f"{100 * comp.accuracy_mean:.2f} ± {100 * comp.accuracy_std:.2f}",
                f"{100 * comp.accuracy_min:.2f}"]  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| method | compensated at 1 s | 1 h | 1 day |", "|---|---|---|---|"]
    for name in trained:
        comp = [drift.row(name, variation="pcm + global compensation", time=t) for t in TIMES[:3]]
        cells = [f"{100 * r.accuracy_mean:.2f}" for r in comp]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"| method | clean | drift only, 1 year | one exponent ν = {nu:g} "
        f"(weights × {factor:.3f}), 1 year | the same, biases scaled to match |",
        "|---|---|---|---|---|",
    ]
    for name in trained:
        cells = [
            gauss.row(name, 0.0),
            probe.row(name, variation="drift only", time=TIMES[-1]),
            probe.row(name, variation="uniform drift", time=TIMES[-1]),
            probe_scaled.row(f"{name} / biases too", variation="uniform drift", time=TIMES[-1]),
        ]
        lines.append(f"| {name} | " + " | ".join(f"{100 * r.accuracy_mean:.2f}"
                                                  for r in cells) + " |")  # fmt: skip
    head = " | ".join(f"stuck {100 * f:g} %" for f in FAULTS)
    zs = " | ".join(f"worst case ζ = {100 * z:g} %" for z in ZETAS)
    lines += ["", f"| method | {head} | {zs} |", "|---" * (1 + len(FAULTS) + len(ZETAS)) + "|"]
    for name in trained:
        cells = []
        for f in FAULTS:
            r = faults.row(name, variation=f"stuck {100 * f:g} %")
            cells.append(f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}")
        cells += [f"{100 * worst[(name, z)].accuracy:.2f}" for z in ZETAS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "stages (min): " + ", ".join(f"{k[:-2]} {v / 60:.1f}" for k, v in stages.items()),
        f"wall time {wall / 60:.1f} min on {platform.platform()} "
        f"({torch.get_num_threads()} threads)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "table": text, "seed": args.seed, "stages_s": stages,
            "drift": drift.to_dict(), "drift_probe": probe.to_dict(),
            "drift_probe_biases_scaled": probe_scaled.to_dict(), "faults": faults.to_dict(),
            "gaussian": gauss.to_dict(),
            "worst_case": [{"method": n, "zeta": z, "accuracy": w.accuracy,
                            "clean_accuracy": w.clean_accuracy, "steps": w.steps,
                            "seed": w.seed} for (n, z), w in worst.items()],
        }, indent=1))  # fmt: skip


def _biases_scaled(model: torch.nn.Module, factor: float) -> torch.nn.Module:
    """A copy of ``model`` whose k-th Linear / Conv layer (in module order) has its bias
    multiplied by ``factor ** k``: with every weight times ``factor``, a chain of such
    layers and ReLUs then computes its clean function times ``factor ** depth``."""
    out = copy.deepcopy(model)
    depth = 0
    with torch.no_grad():
        for m in out.modules():
            if isinstance(m, torch.nn.Linear | torch.nn.modules.conv._ConvNd):
                depth += 1
                if m.bias is not None:
                    m.bias.mul_(factor**depth)
    return out


if __name__ == "__main__":
    main()
