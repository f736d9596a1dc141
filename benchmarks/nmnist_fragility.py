"""When a spiking FC network on event streams suffers from weight variation (issue 35).

Trains the spiking FC network (``fc2``, LIF, surrogate gradients, one frame per time
step) on N-MNIST (the subset under ``--data-root``) or the embedded ``digits_events``
under several settings (the readout, the number of time bins, the width, the
leak, the epochs) with SGD (Adam), and evaluates each on the same static chips
at several σ of each layer's range, and under per-time-step read noise:

- ``static_σ``: mean accuracy over the chips (weights drawn once per chip);
- ``dynamic_σ``: the same σ redrawn on every time step;
- ``first_0.1`` / ``rest_0.1``: σ = 10 % on the first layer only / on the others;
- ``gain``: per weighted layer, mean |w·x| / (std(w) ‖x‖) over the test inputs and
  every time step with a nonzero input: how far above a random weight's output the
  trained layer's output stands (range-relative noise of σ adds about
  6σ std(w) ‖x‖, so a layer with gain G sees a relative error of about 6σ/G).

    python benchmarks/nmnist_fragility.py [--settings base spike_count ...]
        [--data-root ../shared/data] [--json benchmarks/results/nmnist_fragility.json]
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
from torch import nn

from snnvar import Variation, datasets
from snnvar.evaluation import chip_seed
from snnvar.runs import RunSpec, build_trainer
from snnvar.training import TrainConfig

#: setting name -> overrides of the base (hidden (256, 128), 10 bins, mean membrane, 8 epochs)
SETTINGS: dict[str, dict[str, Any]] = {
    "base": {"note": "notebook 03: hidden (256, 128), 10 bins, mean-membrane readout, 8 epochs"},
    "paper_fc": {"hidden": (400, 200), "time_bins": 25, "epochs": 30,
                 "note": "the paper's FC (400, 200), 25 bins, 30 epochs (paper_tables snn_nmnist)"},
    "spike_count": {"readout": "spike_count", "note": "spike-count readout (as SLAYER's)"},
    "spike_count_30": {"readout": "spike_count", "epochs": 30,
                       "note": "spike-count readout, 30 epochs"},
    "last_membrane": {"readout": "last_membrane", "note": "last-step membrane readout"},
    "bins_25": {"time_bins": 25, "note": "25 time bins"},
    "bins_5": {"time_bins": 5, "note": "5 time bins"},
    "narrow": {"hidden": (64, 32), "note": "hidden (64, 32)"},
    "one_hidden": {"hidden": (128,), "note": "one hidden layer of 128"},
    "if_neurons": {"beta": 1.0, "note": "IF neurons (no leak)"},
    "epochs_30": {"epochs": 30, "note": "30 epochs"},
}  # fmt: skip


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        model.eval()
        return 100 * (model(x).argmax(-1) == y).float().mean().item()


def chips(model, variation: Variation, n: int, seed: int, x, y) -> float:
    accs = []
    for k in range(n):
        with variation.applied(model, seed=chip_seed(seed, k)):
            accs.append(accuracy(model, x, y))
    return round(sum(accs) / n, 2)


def gains(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Per Linear layer, mean |w·x| / (std(w) ‖x‖) over its inputs (all steps, all samples)."""
    out: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):

            def hook(mod, inputs, output, name=name):
                z = inputs[0].flatten(0, -2)
                wx = output.flatten(0, -2)
                if mod.bias is not None:
                    wx = wx - mod.bias
                norm = z.norm(dim=-1)
                keep = norm > 0
                ratio = wx[keep].abs().mean(-1) / (mod.weight.std() * norm[keep])
                out.setdefault(name, []).append(ratio)

            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model.eval()
        model(x)
    for h in hooks:
        h.remove()
    return {k: round(float(torch.cat(v).mean()), 2) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=["sgd"], choices=["sgd", "wvat", "hasgd"])
    parser.add_argument("--train-sigma", type=float, default=0.1)
    parser.add_argument("--wvat-alpha", type=float, default=0.1)
    parser.add_argument("--wvat-wth", type=float, default=0.2)
    parser.add_argument("--tag", default="", help="appended to each result's key")
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/snnvar-nmnist-frames"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    results: dict[str, Any] = {}
    if args.json and args.json.exists():
        results = json.loads(args.json.read_text())
    run_info = {**vars(args), "json": str(args.json), "data_root": str(args.data_root),
                "cache_dir": str(args.cache_dir), "machine": platform.platform(),
                "threads": torch.get_num_threads()}  # fmt: skip
    results.setdefault("runs", []).append(run_info)
    for setting in args.settings:
        s = SETTINGS[setting]
        bins = s.get("time_bins", 10)
        if args.data_root:
            name = "nmnist"
            data_opts = {"root": args.data_root, "download": False, "time_bins": bins,
                         "cache_dir": args.cache_dir}  # fmt: skip
            train = datasets.get("nmnist", **data_opts)
            test = datasets.get("nmnist", train=False, **data_opts)
        else:
            name = "digits_events"
            train = datasets.get("digits_events", time_bins=bins)
            test = datasets.get("digits_events", train=False, time_bins=bins)
        x = torch.stack([test[i][0] for i in range(len(test))]).transpose(0, 1)  # [T, B, ...]
        y = torch.tensor([int(test[i][1]) for i in range(len(test))])
        options: dict[str, Any] = {"hidden": s.get("hidden", (256, 128))}
        for key in ("readout", "beta"):
            if key in s:
                options[key] = s[key]
        run = RunSpec(
            model="fc2", model_options=options, dataset=name,
            variation=Variation(sigma=args.train_sigma), optimizer="adam", lr=1e-3, cosine=False,
            train=TrainConfig(epochs=s.get("epochs", 8), batch_size=32, encoder="frames",
                              seed=args.seed, progress=False),
        )  # fmt: skip
        for method in args.methods:
            wvat = {"w_th": args.wvat_wth, "alpha": args.wvat_alpha}
            opts = {"wvat": wvat, "hasgd": {"samples": 4}}.get(method, {})
            start = time.perf_counter()
            trainer = build_trainer(replace(run, method=method, method_options=opts), data=train)
            trainer.fit(train)
            model = trainer.model
            train_s = time.perf_counter() - start
            row: dict[str, Any] = {"note": s["note"], "train_s": round(train_s, 1)}
            row["settings"] = {**{k: v for k, v in s.items() if k != "note"},
                               "method": method, "method_options": opts,
                               "train_sigma": args.train_sigma, "chips": args.chips,
                               "seed": args.seed}  # fmt: skip
            row["clean"] = round(accuracy(model, x, y), 2)
            for sigma in args.sigmas:
                var = Variation(sigma)
                row[f"static_{sigma:g}"] = chips(model, var, args.chips, args.seed, x, y)
            for sigma in (0.1, 0.3):
                dyn = Variation(sigma, mode="dynamic", redraw="step")
                row[f"dynamic_{sigma:g}"] = chips(model, dyn, args.chips, args.seed, x, y)
            first = next(n for n, p in model.named_parameters() if p.dim() >= 2)
            for key, var in (
                ("first_0.1", Variation(0.1, include=(first,))),
                ("rest_0.1", Variation(0.1, exclude=(first,))),
            ):
                row[key] = chips(model, var, args.chips, args.seed, x, y)
            row["gain"] = gains(model, x)
            key = (setting if method == "sgd" else f"{setting}/{method}") + args.tag
            results[key] = row
            print(key, json.dumps(row), flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
