"""Why a deep VGG collapses under range-relative weight variation (issue 35).

Trains VGG-16 (or another zoo VGG) as an ANN on the embedded digits upsampled to
32x32 (or the CIFAR-10 subset with ``--data-root``) under several recipes (the
optimizer, weight decay, epochs, width, BatchNorm, WVAT's training σ and α), and
for each trained network measures at σ = 5 % and 10 % of each layer's range
(static HSV, the same chips for every recipe):

- ``chips``: the accuracy the library reports (noise on the conv/linear weights,
  BatchNorm in eval mode with its training statistics);
- ``fused``: BatchNorm folded into the conv weights first, the noise relative to the
  fused layer's range (what a crossbar that stores the folded weights sees, and what
  the converted SNN is perturbed by);
- ``restat``: the same chips with BatchNorm's statistics re-estimated on 256 training
  images under the chip's weights (is the collapse a shift of the activation
  statistics that the stored statistics no longer match?);
- ``layers``: σ = 10 % on one layer at a time (which layers the network loses);
- ``spread``: per conv layer, the ratio of the layer's std to the median per-output-
  channel std of the folded weights (range-relative noise is this many times larger,
  relative to a typical channel's weights, than the nominal σ).

    python benchmarks/deep_fragility.py [--recipes adam sgd_wd ...] [--chips 5]
        [--data-root ../shared/data] [--json benchmarks/results/deep_fragility.json]

Each recipe's figures are written to the JSON as soon as they are measured.
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
from torch import nn
from torch.utils.data import Subset

from snnvar import Variation, datasets
from snnvar.conversion.fuse import flatten_layers, fuse_batchnorm
from snnvar.evaluation import chip_seed
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

#: recipe name -> (RunSpec overrides, model options, WVAT stage or None, note)
RECIPES: dict[str, dict[str, Any]] = {
    "adam": {"note": "notebook 02's earlier optimizer: Adam 1e-3 constant, no weight decay"},
    "adam_30": {"epochs": 30, "note": "the same for 30 epochs"},
    "sgd": {"optimizer": "sgd", "lr": 0.05, "cosine": True,
            "note": "SGD lr 0.05, momentum 0.9, cosine, no weight decay, 7 epochs"},
    "sgd_wd": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
               "note": "the paper's optimizer: SGD momentum 0.9, weight decay 5e-4, cosine"},
    "sgd_wd_30": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                  "epochs": 30, "note": "the same for 30 epochs"},
    "sgd_wd5e3": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-3,
                  "note": "weight decay 5e-3"},
    "sgd_wd_half": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                    "width": 0.5, "note": "half width"},
    "sgd_wd_nobn": {"optimizer": "sgd", "lr": 0.01, "cosine": True, "weight_decay": 5e-4,
                    "batch_norm": False, "note": "no BatchNorm (Rathi's VGG), lr 0.01"},
    "adam_nobn": {"batch_norm": False, "note": "no BatchNorm, Adam 1e-3 constant"},
    "adam_std": {"standardize": True,
                 "note": "adam with standardized input (zero mean, unit std per channel)"},
    "sgd_wd_std": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                   "standardize": True, "note": "sgd_wd with standardized input"},
    "wvat_std_s10_a01": {"base": "sgd_wd_std", "wvat": (0.10, 0.01),
                         "note": "sgd_wd_std, then WVAT at σ 10 %, α 0.01"},
    "wvat_std_s05_a01": {"base": "sgd_wd_std", "wvat": (0.05, 0.01),
                         "note": "sgd_wd_std, then WVAT at σ 5 %, α 0.01"},
    "wvat30_s10": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                   "epochs": 30, "method": ("wvat", 0.10, 0.01, 10),
                   "note": "sgd_wd_30's schedule: 10 SGD epochs, then WVAT σ 10 %, α 0.01"},
    "wvat30_s05": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                   "epochs": 30, "method": ("wvat", 0.05, 0.01, 10),
                   "note": "the same at σ 5 %"},
    "wvat30_s10_a05": {"optimizer": "sgd", "lr": 0.05, "cosine": True, "weight_decay": 5e-4,
                       "epochs": 30, "method": ("wvat", 0.10, 0.05, 10),
                       "note": "the same at σ 10 %, α 0.05"},
    "wvat_s10_a01": {"base": "sgd_wd", "wvat": (0.10, 0.01),
                     "note": "sgd_wd, then WVAT at σ 10 %, α 0.01, w_th 0.5"},
    "wvat_s05_a01": {"base": "sgd_wd", "wvat": (0.05, 0.01), "note": "WVAT at σ 5 %, α 0.01"},
    "wvat_s10_a1": {"base": "sgd_wd", "wvat": (0.10, 0.1), "note": "WVAT at σ 10 %, α 0.1"},
    "hsv_s10": {"base": "sgd_wd", "wvat": (0.10, 0.0), "note": "noise injection only, σ 10 %"},
}  # fmt: skip


class Standardized(torch.utils.data.Dataset):
    """``data`` with each channel shifted and scaled to zero mean and unit std."""

    def __init__(self, data, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.data, self.mean, self.std = data, mean, std

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        x, y = self.data[i]
        return (x - self.mean) / self.std, y


def channel_stats(data) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.stack([data[i][0] for i in range(len(data))])
    return x.mean(dim=(0, 2, 3))[:, None, None], x.std(dim=(0, 2, 3))[:, None, None]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        model.eval()
        return 100 * (model(x).argmax(1) == y).float().mean().item()


def fold(model: nn.Module) -> nn.Sequential:
    """The eval-mode network with every BatchNorm folded into the conv before it; its
    ``weight_map`` keys each folded weight by the unfolded weight it came from, so a chip's
    seed draws the same ε for both (the engine keys noise by device weight)."""
    layers = fuse_batchnorm(flatten_layers(model))
    folded = nn.Sequential(*[m for _, m in layers]).eval()
    folded.weight_map = {
        f"{i}.weight": f"{path}.weight"
        for i, (path, m) in enumerate(layers)
        if isinstance(m, nn.Conv2d | nn.Linear)
    }
    return folded


def restat(model: nn.Module, images: torch.Tensor) -> None:
    """Re-estimate every BatchNorm's running statistics on ``images`` (cumulative)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    with torch.no_grad():
        for batch in images.split(64):
            model(batch)
    model.eval()


def chip_accuracies(
    model: nn.Module,
    sigma: float,
    chips: int,
    seed: int,
    x,
    y,
    calib=None,
    layer=None,
    skip=None,
) -> list[float]:
    out = []
    variation = Variation(sigma=sigma)
    if layer is not None:
        variation = Variation(sigma=sigma, include=(f"{layer}.weight",))
    if skip is not None:
        variation = Variation(sigma=sigma, exclude=(f"{skip}.weight",))
    for k in range(chips):
        m = copy.deepcopy(model) if calib is not None else model
        with variation.applied(m, seed=chip_seed(seed, k)):
            if calib is not None:
                restat(m, calib)
            out.append(accuracy(m, x, y))
    return out


def spread(folded: nn.Module) -> dict[str, float]:
    """Per conv and linear layer: std of the layer / median per-output-channel std."""
    out = {}
    for name, m in folded.named_modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            w = m.weight.detach().flatten(1)
            out[name] = round(float(w.std() / w.std(dim=1).median()), 2)
    return out


def diagnose(model, x, y, calib, chips: int, seed: int, sigmas) -> dict[str, Any]:
    mean = lambda v: round(sum(v) / len(v), 2)  # noqa: E731
    row: dict[str, Any] = {"clean": round(accuracy(model, x, y), 2)}
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    folded = fold(model)
    row["fused_clean"] = round(accuracy(folded, x, y), 2)
    for s in sigmas:
        each = chip_accuracies(model, s, chips, seed, x, y)
        row[f"chips_{s:g}"], row[f"chips_{s:g}_each"] = mean(each), [round(a, 2) for a in each]
        row[f"fused_{s:g}"] = mean(chip_accuracies(folded, s, chips, seed, x, y))
        row[f"nofirst_{s:g}"] = mean(chip_accuracies(model, s, chips, seed, x, y, skip=names[0]))
        if has_bn:
            row[f"restat_{s:g}"] = mean(chip_accuracies(model, s, chips, seed, x, y, calib))
    row["layers_0.1"] = {
        n: mean(chip_accuracies(model, 0.1, min(chips, 3), seed, x, y, layer=n)) for n in names
    }
    row["spread"] = spread(folded)
    return row


def snn_figures(ann, calib, x, y, percentile: float, args) -> dict[str, float]:
    """The converted SNN (T = 64, direct input): clean and mean over 3 chips per σ."""
    from snnvar.conversion import convert
    from snnvar.datasets import direct

    snn = convert(
        ann, calib[:128], time_steps=64, encoder="direct", percentile=percentile, seed=args.seed
    )
    inputs = direct(x, 64)
    out = {"clean": round(accuracy(snn, inputs, y), 2)}
    for s in args.sigmas:
        accs = chip_accuracies(snn, s, 3, args.seed, inputs, y)
        out[f"{s:g}"] = round(sum(accs) / len(accs), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--wvat-epochs", type=int, default=7)
    parser.add_argument("--chips", type=int, default=5)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--convert", type=float, nargs="*", default=[],
        help="also convert each network (T = 64, these threshold percentiles) and measure "
        "the SNN on the first 100 test images, 3 chips",
    )  # fmt: skip
    args = parser.parse_args()

    if args.data_root:
        name, options = "cifar10", {}
        train = datasets.get("cifar10", root=args.data_root, download=False)
        test = datasets.get("cifar10", root=args.data_root, train=False, download=False)
    else:
        name, options = "digits", {"size": 32}
        train, test = datasets.get("digits", size=32), datasets.get("digits", train=False, size=32)
    test = Subset(test, range(min(args.test, len(test))))
    raw = (train, test)

    results: dict[str, Any] = {}
    if args.json and args.json.exists():
        results = json.loads(args.json.read_text())
    results.setdefault("runs", []).append({**vars(args), "json": str(args.json),
                                    "data_root": str(args.data_root), "dataset": name,
                                    "machine": platform.platform(),
                                    "threads": torch.get_num_threads()})  # fmt: skip
    results["runs"][-1]["recipes"] = args.recipes
    models: dict[str, nn.Module] = {}
    specs: dict[str, RunSpec] = {}
    stats = channel_stats(raw[0])
    for recipe in args.recipes:
        r = RECIPES[recipe]
        if r.get("standardize") or RECIPES.get(r.get("base", ""), {}).get("standardize"):
            train, test = (Standardized(d, *stats) for d in raw)
        else:
            train, test = raw
        x = torch.stack([test[i][0] for i in range(len(test))])
        y = torch.tensor([int(test[i][1]) for i in range(len(test))])
        calib = torch.stack([train[i][0] for i in range(256)])
        start = time.perf_counter()
        if "wvat" in r:
            base = r["base"]
            if base not in models:
                raise SystemExit(f"recipe {recipe} needs {base} first in --recipes")
            sigma, alpha = r["wvat"]
            ann = copy.deepcopy(models[base])
            method, opts = (
                ("wvat", {"w_th": 0.5, "alpha": alpha}) if alpha else ("noise_injection", {})
            )
            spec = replace(
                specs[base], method=method, method_options=opts,
                variation=Variation(sigma=sigma),
                train=replace(specs[base].train, epochs=args.wvat_epochs, seed=args.seed + 1),
            )  # fmt: skip
            trainer = build_trainer(spec, ann)
        else:
            model_options = {"width": r.get("width", args.width)}
            if "batch_norm" in r:
                model_options["batch_norm"] = r["batch_norm"]
            spec = RunSpec(
                model=args.model, model_options=model_options, spiking=False, dataset=name,
                dataset_options=options, optimizer=r.get("optimizer", "adam"),
                lr=r.get("lr", 1e-3), cosine=r.get("cosine", False),
                weight_decay=r.get("weight_decay", 0.0),
                train=TrainConfig(epochs=r.get("epochs", args.epochs), batch_size=64,
                                  encoder="none", seed=args.seed, progress=False),
            )  # fmt: skip
            if "method" in r:
                method, sigma, alpha, warmup = r["method"]
                spec = replace(
                    spec, method=method, method_options={"w_th": 0.5, "alpha": alpha},
                    variation=Variation(sigma=sigma),
                    train=replace(spec.train, warmup_epochs=warmup),
                )  # fmt: skip
            trainer = build_trainer(spec, data=train)
        specs[recipe] = spec
        history = trainer.fit(train)
        models[recipe] = trainer.model
        train_s = time.perf_counter() - start
        row = diagnose(trainer.model, x, y, calib, args.chips, args.seed, args.sigmas)
        for p in args.convert:
            row[f"snn_p{p:g}"] = snn_figures(trainer.model, calib, x[:100], y[:100], p, args)
        row["recipe"] = {k: v for k, v in r.items() if k != "note"}
        row["spec"] = {"optimizer": spec.optimizer, "lr": spec.lr, "cosine": spec.cosine,
                       "weight_decay": spec.weight_decay, "method": spec.method,
                       "method_options": spec.method_options, "sigma": spec.variation.sigma,
                       "epochs": spec.train.epochs, "warmup_epochs": spec.train.warmup_epochs,
                       "model_options": spec.model_options, "seed": spec.train.seed,
                       "chips": args.chips, "layer_chips": min(args.chips, 3)}  # fmt: skip
        row.update(note=r["note"], train_s=round(train_s, 1),
                   diagnose_s=round(time.perf_counter() - start - train_s, 1),
                   train_loss=round(history[-1]["train_loss"], 4))  # fmt: skip
        results[recipe] = row
        short = {k: v for k, v in row.items() if k not in ("layers_0.1", "spread")}
        print(recipe, json.dumps(short), flush=True)
        print("   layers", row["layers_0.1"], flush=True)
        print("   spread", row["spread"], flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
