"""ResNet-20 on the CIFAR-10 subset under weight variation, and its converted SNN (issue 39).

The WVAT paper's Fig. 13 setting (ResNet-18 on CIFAR-10 there) at 2-core CPU scale:
a ResNet-20 ANN (He et al.'s CIFAR ResNet, projection shortcuts) is trained on the
4,000 training images of ``../shared/data`` with SGD, SWA and WVAT under the
Gaussian HSV (σ = 10 % of each layer's range) and WVAT under the uniform HSV of the
same standard deviation, all from the same initial weights. Every model meets the
same chips of three test distributions, Gaussian, uniform and Weibull (k = 1.5,
right-skewed), at σ = 0 / 5 / 10 / 15 %: train under one distribution, test under
another. Then the SGD and the WVAT ANN are converted to spiking ResNets (threshold
balancing across the skips, the --percentile of each layer's current, direct
input, T steps), optionally fine-tuned with spikes, and tested under the Gaussian
HSV at σ = 0 / 5 / 10 % on chips paired with the ANN's (the same noise on the
same device weight).

    python benchmarks/resnet_cifar.py [--epochs 20] [--width 1.0] [--chips 10] [--test 1000]
        [--time-steps 64] [--percentile 99.9] [--snn-test 500] [--snn-chips 5]
        [--finetune-epochs 0] [--json benchmarks/results/resnet20_cifar.json]
    python benchmarks/resnet_cifar.py --render benchmarks/results/resnet20_cifar.json
    python benchmarks/resnet_cifar.py --dataset digits --time-steps 128 --percentile 99 ...

``--dataset digits`` runs the same on the embedded 8 x 8 digits, where the converted
ResNet-20 reaches its ANN within T = 128 (BENCHMARKS.md).

Every stage's figures are written to the JSON as soon as they are measured.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

import snnvar
from snnvar import Variation, datasets
from snnvar.conversion import convert
from snnvar.hardware import Restrictions, deploy, restrict
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

TEST_DISTRIBUTIONS = ("gaussian", "uniform", "weibull")
SIGMAS = (0.0, 0.05, 0.10, 0.15)
SNN_SIGMAS = (0.0, 0.05, 0.10)
METHODS = {
    # label: (method, training distribution)
    "sgd": ("sgd", "gaussian"),
    "swa": ("swa", "gaussian"),
    "wvat": ("wvat", "gaussian"),
    "wvat-uniform": ("wvat", "uniform"),
}


def spec(label: str, args: argparse.Namespace) -> RunSpec:
    """The training run of a method: SGD with momentum, weight decay 5e-4, cosine
    schedule (SWA: constant rate, averaging over the last quarter of the epochs; WVAT:
    α = --wvat-alpha after a third of the epochs of plain SGD, as VGG-5 needs)."""
    method, distribution = METHODS[label]
    base = RunSpec(
        model="resnet20", model_options={"width": args.width}, spiking=False,
        dataset=args.dataset, optimizer="sgd", lr=0.05, weight_decay=5e-4,
        variation=Variation(sigma=0.10, distribution=distribution),
        train=TrainConfig(epochs=args.epochs, batch_size=64, encoder="none", seed=args.seed,
                          progress=False),
    )  # fmt: skip
    if method == "swa":
        return replace(base, method="sgd", cosine=False, swa_start=max(1, 3 * args.epochs // 4))
    if method == "wvat":
        return replace(
            base, method="wvat", method_options={"w_th": 0.5, "alpha": args.wvat_alpha},
            train=replace(base.train, warmup_epochs=args.epochs // 3),
        )  # fmt: skip
    return replace(base, method="sgd")


def rows(report: snnvar.evaluation.Report) -> list[dict[str, Any]]:
    """The report's rows as flat records (accuracies in %)."""
    return [
        {
            "method": r.method, "variation": r.variation_label, "sigma": r.sigma,
            "mean": 100 * r.accuracy_mean, "std": 100 * r.accuracy_std,
            "min": 100 * r.accuracy_min, "chips": r.draws, "chip_seeds": r.seeds,
        }
        for r in report.results
    ]  # fmt: skip


def render(result: dict[str, Any]) -> str:
    """Markdown tables of a result JSON."""
    out = []
    ann = result.get("ann_rows", [])
    if ann:
        head = ["trained with"] + [
            f"{d} {100 * s:g} %" for d in TEST_DISTRIBUTIONS for s in SIGMAS if s > 0
        ]
        out.append("| " + " | ".join([*head[:1], "clean", *head[1:]]) + " |")
        out.append("|" + "---|" * (len(head) + 1))
        for label in METHODS:
            cells = {(r["variation"], round(r["sigma"], 4)): r for r in ann if r["method"] == label}
            if not cells:
                continue
            clean = next(r for (d, s), r in cells.items() if s == 0.0)
            line = [label, f"{clean['mean']:.2f}"]
            for d in TEST_DISTRIBUTIONS:
                for s in SIGMAS[1:]:
                    r = cells.get((d, s))
                    line.append("-" if r is None else f"{r['mean']:.2f} ± {r['std']:.2f}")
            out.append("| " + " | ".join(line) + " |")
    ptq = result.get("ptq_rows", [])
    if ptq:
        out += ["", "| quantised model (Gaussian chips) | "
                + " | ".join(f"σ = {100 * s:g} %" for s in SIGMAS) + " |",
                "|---|" + "---|" * len(SIGMAS)]  # fmt: skip
        for name in dict.fromkeys(r["method"] for r in ptq):
            cells = {round(r["sigma"], 4): r for r in ptq if r["method"] == name}
            out.append("| " + " | ".join([name] + [
                "-" if s not in cells else f"{cells[s]['mean']:.2f} ± {cells[s]['std']:.2f}"
                for s in SIGMAS
            ]) + " |")  # fmt: skip
    snn = result.get("snn_rows", [])
    if snn:
        out += ["", "| model | " + " | ".join(f"σ = {100 * s:g} %" for s in SNN_SIGMAS) + " |",
                "|---|" + "---|" * len(SNN_SIGMAS)]  # fmt: skip
        for name in dict.fromkeys(r["method"] for r in snn):
            cells = {round(r["sigma"], 4): r for r in snn if r["method"] == name}
            line = [name] + [
                "-" if s not in cells else f"{cells[s]['mean']:.2f} ± {cells[s]['std']:.2f}"
                for s in SNN_SIGMAS
            ]
            out.append("| " + " | ".join(line) + " |")
    stages = result.get("stages_s", {})
    if stages:
        out += ["", "stages (min): " + ", ".join(f"{k} {v / 60:.1f}" for k, v in stages.items())]
    if "wall_s" in result:
        out.append(f"wall time {result['wall_s'] / 60:.1f} min on {result['machine']} "
                   f"({result['threads']} threads)")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", choices=("cifar10", "digits"), default="cifar10",
        help="digits: the embedded 8 x 8 digits, where the converted ResNet converges",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--wvat-alpha", type=float, default=0.01)
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--test", type=int, default=1000, help="test images for the ANNs")
    parser.add_argument("--time-steps", type=int, default=64)
    parser.add_argument("--percentile", type=float, default=99.9)
    parser.add_argument("--calibration", type=int, default=256, help="images to balance on")
    parser.add_argument("--snn-test", type=int, default=500, help="test images for the SNNs")
    parser.add_argument("--snn-chips", type=int, default=5)
    parser.add_argument("--convert", default="sgd,wvat", help="methods whose ANN is converted")
    parser.add_argument(
        "--ptq-levels", default="",
        help="weight levels (e.g. 255,15): every ANN quantised after training "
        "(hardware.restrict + deploy, the WVAT paper's PTQ of Fig. 10) and met by the "
        "Gaussian chips",
    )  # fmt: skip
    parser.add_argument("--finetune-epochs", type=int, default=0)
    parser.add_argument("--finetune-samples", type=int, default=1000)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=Path, help="keep the trained ANNs here, reuse them")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--render", type=Path, help="print the tables of a result JSON")
    args = parser.parse_args()
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return
    labels = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(labels) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; allowed: {list(METHODS)}")

    start = time.perf_counter()
    result: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()}, "machine": platform.platform(),
        "threads": torch.get_num_threads(), "stages_s": {}, "histories": {}, "runs": {},
    }  # fmt: skip

    def save() -> None:
        result["wall_s"] = time.perf_counter() - start
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=str))

    try:
        where = {"root": args.data_root, "download": False} if args.dataset == "cifar10" else {}
        train = datasets.get(args.dataset, **where)
        full_test = datasets.get(args.dataset, train=False, **where)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    test = Subset(full_test, range(min(args.test, len(full_test))))
    anns: dict[str, torch.nn.Module] = {}
    for label in labels:
        t0 = time.perf_counter()
        run = spec(label, args)
        result["runs"][label] = run.to_dict()
        kept = None if args.models is None else args.models / f"resnet20_{args.dataset}_{label}.pt"
        trainer = build_trainer(run, data=train)
        if kept is not None and kept.exists():
            trainer.model.load_state_dict(torch.load(kept, weights_only=True))
        else:
            result["histories"][label] = trainer.fit(train)
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                torch.save(trainer.model.state_dict(), kept)
        anns[label] = trainer.model.eval()
        result["stages_s"][f"train_{label}"] = time.perf_counter() - t0
        print(f"trained {label} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
        save()

    t0 = time.perf_counter()
    levels = {d: Variation(sigma=0.0, distribution=d) for d in TEST_DISTRIBUTIONS}
    report = snnvar.evaluate(
        anns, test, levels, sigmas=SIGMAS, draws=args.chips, seed=args.seed, encoder="none",
        spikes=False, progress=False,
    )  # fmt: skip
    result["ann_rows"] = rows(report)
    result["stages_s"]["evaluate_anns"] = time.perf_counter() - t0
    print(render(result), flush=True)
    save()

    levels = [int(v) for v in args.ptq_levels.split(",") if v]
    if levels:
        t0 = time.perf_counter()
        quantized = {
            f"{label}/ptq{n}": deploy(restrict(anns[label], Restrictions(weight_levels=n)))
            for label in labels for n in levels
        }  # fmt: skip
        report = snnvar.evaluate(
            quantized, test, Variation(sigma=0.0), sigmas=SIGMAS, draws=args.chips,
            seed=args.seed, encoder="none", spikes=False, progress=False,
        )  # fmt: skip
        result["ptq_rows"] = rows(report)
        result["stages_s"]["evaluate_ptq"] = time.perf_counter() - t0
        save()

    calib = torch.stack([train[i][0] for i in range(args.calibration)])
    snns: dict[str, torch.nn.Module] = {}
    for label in [m for m in args.convert.split(",") if m in anns]:
        t0 = time.perf_counter()
        snn = convert(
            anns[label], calib, time_steps=args.time_steps, encoder="direct", seed=args.seed,
            percentile=args.percentile,
        )  # fmt: skip
        snns[f"{label}/converted"] = snn
        result.setdefault("thresholds", {})[label] = snn.thresholds
        result["stages_s"][f"convert_{label}"] = time.perf_counter() - t0
        if args.finetune_epochs > 0:
            t0 = time.perf_counter()
            tuned = copy.deepcopy(snn)
            tune = replace(
                spec(label, args), optimizer="adam", lr=args.finetune_lr, cosine=False,
                weight_decay=0.0, swa_start=None,
                train=TrainConfig(epochs=args.finetune_epochs, batch_size=32, encoder="direct",
                                  time_steps=args.time_steps, seed=args.seed, progress=False),
            )  # fmt: skip
            subset = Subset(train, range(min(args.finetune_samples, len(train))))
            build_trainer(tune, tuned).fit(subset)
            snns[f"{label}/finetuned"] = tuned
            result["stages_s"][f"finetune_{label}"] = time.perf_counter() - t0
        save()
    if snns:
        t0 = time.perf_counter()
        snn_test = Subset(full_test, range(min(args.snn_test, len(full_test))))
        report = snnvar.evaluate(
            {**{f"{k}/ann": anns[k] for k in args.convert.split(",") if k in anns}},
            snn_test, Variation(sigma=0.10), sigmas=SNN_SIGMAS, draws=args.snn_chips,
            seed=args.seed, encoder="none", spikes=False, progress=False,
        ).merge(
            snnvar.evaluate(
                snns, snn_test, Variation(sigma=0.10), sigmas=SNN_SIGMAS, draws=args.snn_chips,
                seed=args.seed, encoder="direct", time_steps=args.time_steps, spikes=False,
                progress=False,
            )
        )  # fmt: skip
        result["snn_rows"] = rows(report)
        result["stages_s"]["evaluate_snns"] = time.perf_counter() - t0
    save()
    print(render(result))


if __name__ == "__main__":
    main()
