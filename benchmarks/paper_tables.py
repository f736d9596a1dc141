"""Reproduce the WVAT paper's rows (Park et al., Tables 1 and 4) on real data (issue 9).

Each experiment trains every method from the same seed on the same data, then
evaluates all of them with :func:`snnvar.evaluate` on the same simulated chips
(static HSV, σ of each layer's weight range) at σ = 0 / 5 / 10 %, and writes a
Markdown table with the paper's numbers beside ours, plus a JSON with every
chip's accuracy, the seeds, the settings and the wall time of every stage.
With several ``--seeds`` the table shows mean ± std over training seeds of the
per-seed mean over chips.

    python benchmarks/paper_tables.py fc_mnist [--data-root ../shared/data] [--epochs N]
        [--train-samples N] [--test-samples N] [--seeds 0 1 2] [--chips 10]
        [--methods sgd wvat] [--out benchmarks/results] [--tag TAG]

Results go to ``OUT/EXPERIMENT.md`` and ``.json`` (``EXPERIMENT-TAG.*`` with
``--tag``, so that a partial run does not replace the full one).

Experiments: ``fc_mnist`` (FC 784-400-200-10 ANN on MNIST), ``snn_nmnist`` (a
spiking FC on the N-MNIST frames), ``cnn2_mnist`` (Spiking-CNN2 on MNIST),
``vgg5_cifar`` (VGG-5 ANN on CIFAR-10). The defaults are short schedules for a
2-core CPU, stated in the table; the paper trains for 100 (MNIST) or 200
(CIFAR-10) epochs.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

import snnvar
from snnvar import Variation, datasets
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

SIGMAS = (0.0, 0.05, 0.10)

# Accuracy (%) mean ± std at σ = 0 / 5 / 10 % as printed in the WVAT paper
# (Table 4: MNIST, N-MNIST; Table 1: CIFAR-10). "sgd" is the paper's baseline:
# SGD for the ANNs, SLAYER (N-MNIST) and TSSL-BP (Spiking-CNN2) for the SNNs.
PAPER: dict[str, dict[str, tuple[tuple[float, float] | None, ...]]] = {
    "fc_mnist": {
        "sgd": ((98.13, 0.09), (97.86, 0.14), (96.54, 0.23)),
        "swa": ((98.56, 0.12), (98.31, 0.71), (97.20, 1.54)),
        "wvat": ((98.47, 0.05), (98.39, 0.04), (97.98, 0.19)),
    },
    "snn_nmnist": {
        "sgd": ((98.64, 0.04), (72.01, 0.13), (38.76, 15.43)),
        "swa": ((98.61, 0.06), (78.97, 9.08), (39.83, 13.50)),
        "wvat": ((98.02, 0.05), (97.48, 0.13), (96.29, 0.63)),
    },
    "cnn2_mnist": {
        "sgd": ((99.38, 0.05), (98.81, 0.06), (86.17, 8.55)),
        "swa": ((99.34, 0.03), (98.23, 0.08), (89.73, 2.69)),
        "wvat": ((99.39, 0.03), (99.24, 0.08), (95.57, 1.87)),
    },
    "vgg5_cifar": {
        "sgd": (None, (79.08, 0.95), (53.39, 3.92)),
        "swa": (None, (80.62, 1.51), (57.14, 2.42)),
        "wvat": (None, (87.05, 0.25), (85.21, 0.19)),
    },
}


@dataclass(frozen=True)
class Experiment:
    """One row group of the paper: the run every method starts from, and the methods."""

    base: RunSpec
    """Data set, model, optimiser, schedule and the default (short, 2-core CPU) epochs;
    the training variation is the paper's HSV at σ = 10 %."""
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Method label -> the method's options (``swa``: SGD + SWA at a constant rate)."""
    warmup: dict[str, float] = field(default_factory=dict)
    """Method label -> fraction of the epochs trained with the plain base optimizer
    before the method takes over (``TrainConfig.warmup_epochs``; none by default)."""

    def spec(self, label: str, epochs: int | None = None, seed: int = 0) -> RunSpec:
        """The run of method ``label`` (``epochs``: None keeps the default schedule)."""
        epochs = epochs or self.base.train.epochs
        loop = replace(
            self.base.train, epochs=epochs, seed=seed,
            warmup_epochs=int(self.warmup.get(label, 0.0) * epochs),
        )  # fmt: skip
        if label == "swa":  # the paper: SWA from scratch with a constant learning rate
            return replace(
                self.base, method="sgd", cosine=False, swa_start=max(1, (3 * epochs) // 4),
                train=loop,
            )  # fmt: skip
        return replace(self.base, method=label, method_options=self.methods[label], train=loop)


def _run(dataset: str, model: str, spiking: bool, encoder: str, optimizer: str, lr: float,
         epochs: int, batch_size: int, time_steps: int = 1, **more: Any) -> RunSpec:  # fmt: skip
    """The base RunSpec of an experiment (σ = 10 % HSV, cosine schedule)."""
    return RunSpec(
        model=model, spiking=spiking, dataset=dataset, optimizer=optimizer, lr=lr,
        variation=Variation(sigma=0.10),
        train=TrainConfig(epochs=epochs, batch_size=batch_size, time_steps=time_steps,
                          encoder=encoder, progress=False),
        **more,
    )  # fmt: skip


WVAT = {"w_th": 0.5, "alpha": 0.1}  # the paper's defaults (p = 1, γ = 1)
# α = 0.1 diverges at these learning rates (fc_mnist: 52.8 % clean; VGG-5: dead
# ReLU layers; BENCHMARKS.md); 0.01 is the low end of the paper's range.
WVAT_SMALL_ALPHA = {"w_th": 0.5, "alpha": 0.01}
EXPERIMENTS: dict[str, Experiment] = {
    "fc_mnist": Experiment(
        _run("mnist", "fc2", False, "none", "sgd", 0.05, epochs=20, batch_size=128),
        methods={
            "sgd": {}, "swa": {}, "wvat": WVAT_SMALL_ALPHA, "hasgd": {"samples": 4},
        },
    ),
    "snn_nmnist": Experiment(
        _run("nmnist", "fc2", True, "frames", "adam", 1e-3, epochs=30, batch_size=32,
             model_options={"hidden": (400, 200)}, dataset_options={"time_bins": 25}),
        methods={
            "sgd": {}, "swa": {}, "wvat": {"w_th": 0.5, "alpha": 0.05}, "hasgd": {"samples": 4},
        },
    ),
    "cnn2_mnist": Experiment(
        # lr 1e-3 (the paper: 5e-4 for 100 epochs) reaches 98.2 % in one epoch, 5e-4 97.9 %;
        # the attack takes 3 steps instead of the library's 10 to fit the CPU budget.
        _run("mnist", "spiking_cnn2", True, "direct", "adam", 1e-3, epochs=5, batch_size=64,
             time_steps=5),
        methods={
            "sgd": {}, "swa": {}, "sam": {"rho": 0.05}, "awp": {},
            "adversarial": {"attack_steps": 3},
            "wvat": WVAT, "hasgd": {"samples": 4},
        },
    ),
    "vgg5_cifar": Experiment(
        # WVAT from scratch diverged here (loss 4.50 in epoch 1, then chance; HSV alone and
        # GAV alone stall too): it starts after the first third of the epochs of plain SGD.
        _run("cifar10", "vgg5", False, "none", "sgd", 0.05, epochs=15, batch_size=64,
             weight_decay=5e-4),
        methods={
            "sgd": {}, "swa": {}, "wvat": WVAT_SMALL_ALPHA, "hasgd": {"samples": 4},
        },
        warmup={"wvat": 1 / 3},
    ),
}  # fmt: skip


def first(data: Dataset, n: int | None) -> Dataset:
    """The first ``n`` samples of ``data`` (all when ``n`` is None)."""
    return data if n is None or n >= len(data) else Subset(data, range(n))


def train_method(spec: RunSpec, train: Dataset) -> tuple[torch.nn.Module, list[dict]]:
    """Train one method's run from its seed's initial weights."""
    trainer = build_trainer(spec, data=train)
    history = trainer.fit(train)
    return trainer.model.eval(), history


def cell(values: list[float]) -> str:
    """``mean ± std`` in % (std over training seeds; no std for one seed)."""
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def paper_cell(value: tuple[float, float] | None) -> str:
    return "–" if value is None else f"{value[0]:.2f} ± {value[1]:.2f}"


def table(name: str, results: dict[int, snnvar.evaluation.Report], chips: int) -> str:
    """The Markdown table: ours (mean over chips; ± over seeds) beside the paper's."""
    seeds = sorted(results)
    methods = results[seeds[0]].methods
    head = "| method | " + " | ".join(f"σ = {s:.0%}" for s in SIGMAS)
    head += " | worst chip at 10 % | chip std at 10 % | paper " + " | paper ".join(
        f"{s:.0%}" for s in SIGMAS
    )
    lines = [head + " |", "|---" * (2 * len(SIGMAS) + 3) + "|"]
    for m in methods:
        ours = [cell([results[s].row(m, sig).accuracy_mean for s in seeds]) for sig in SIGMAS]
        worst = min(results[s].row(m, 0.10).accuracy_min for s in seeds)
        chip_std = statistics.mean(results[s].row(m, 0.10).accuracy_std for s in seeds)
        paper = PAPER[name].get(m)
        ref = [paper_cell(p) for p in paper] if paper else ["–"] * len(SIGMAS)
        lines.append(
            f"| {m} | " + " | ".join(ours) + f" | {100 * worst:.2f} | {100 * chip_std:.2f} | "
            + " | ".join(ref) + " |"
        )  # fmt: skip
    return "\n".join(lines) + f"\n\nOurs: mean over {chips} chips per σ; seeds {seeds}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=list(EXPERIMENTS))
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, help="default: the experiment's short schedule")
    parser.add_argument("--train-samples", type=int, help="the first N training samples")
    parser.add_argument("--test-samples", type=int, help="the first N test samples")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--methods", nargs="+", help="a subset of the experiment's methods")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--tag", help="written as EXPERIMENT-TAG.md/.json, so a partial run keeps the full one"
    )
    args = parser.parse_args()

    exp = EXPERIMENTS[args.experiment]
    methods = args.methods or list(exp.methods)
    unknown = sorted(set(methods) - set(exp.methods))
    if unknown:
        parser.error(
            f"unknown methods {unknown} for {args.experiment}; allowed: {list(exp.methods)}"
        )
    if args.tag is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", args.tag):
        parser.error(f"--tag must be letters, digits, '_', '.' or '-', got {args.tag!r}")
    base = exp.base
    epochs = args.epochs or base.train.epochs
    start = time.perf_counter()
    opts = {"root": args.data_root, "download": False, **base.dataset_options}
    if base.dataset == "nmnist":
        opts["cache_dir"] = args.out / "nmnist-frames"
    try:
        train = first(datasets.get(base.dataset, **opts), args.train_samples)
        test = first(datasets.get(base.dataset, train=False, **opts), args.test_samples)
    except (FileNotFoundError, ValueError) as err:  # missing or corrupt files (as the CLI)
        parser.error(str(err))

    stages: dict[str, float] = {}
    reports: dict[int, snnvar.evaluation.Report] = {}
    histories: dict[str, list[dict]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for seed in args.seeds:
        trained = {}
        for label in methods:
            t0 = time.perf_counter()
            spec = exp.spec(label, epochs, seed)
            specs[f"{label}/{seed}"] = spec.to_dict()
            trained[label], histories[f"{label}/{seed}"] = train_method(spec, train)
            stages[f"train_{label}_seed{seed}_s"] = time.perf_counter() - t0
            print(f"trained {label} (seed {seed}) in {stages[f'train_{label}_seed{seed}_s']:.0f} s")
        t0 = time.perf_counter()
        reports[seed] = snnvar.evaluate(
            trained, test, Variation(sigma=0.0), sigmas=SIGMAS, draws=args.chips, seed=seed,
            encoder=base.encoder, time_steps=base.time_steps, dataset=base.dataset, spikes=False,
            progress=False,
        )  # fmt: skip
        stages[f"evaluate_seed{seed}_s"] = time.perf_counter() - t0

    wall = time.perf_counter() - start
    md = table(args.experiment, reports, args.chips)
    settings = (
        f"{base.model} ({'SNN' if base.spiking else 'ANN'}) on {base.dataset}: "
        f"{len(train)} training / {len(test)} test samples, {epochs} epochs, "
        f"{base.optimizer} lr {base.lr}, batch {base.train.batch_size}; "
        f"wall time {wall / 60:.1f} min "
        f"on {platform.platform()} ({torch.get_num_threads()} threads)"
    )
    print(f"{settings}\n\n{md}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.experiment + (f"-{args.tag}" if args.tag else "")
    (args.out / f"{stem}.md").write_text(f"{settings}\n\n{md}")
    result = {
        "experiment": args.experiment,
        "settings": {"methods": exp.methods, "warmup": exp.warmup},
        "runs": specs,
        "args": {k: str(v) for k, v in vars(args).items()},
        "epochs": epochs,
        "train_samples": len(train),
        "test_samples": len(test),
        "stages_s": stages,
        "wall_s": wall,
        "machine": platform.platform(),
        "histories": histories,
        "reports": {seed: r.to_dict() for seed, r in reports.items()},
    }
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
