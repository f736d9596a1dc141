"""The worst-case chip under its two objectives (issue 33): the cross-entropy on the
labels against Büchel et al.'s KL divergence to the clean network's output.

Trains the demo's network (``snnvar.demo.spec_for``: Spiking-CNN1, digits, T = 6,
direct input) with SGD and WVAT, then attacks each within |Δw| ≤ ζ|w| with both
objectives (the same random start, steps and data), beside random chips of the
same relative size (uniform |Δw| ≤ ζ|w|), and prints the accuracies and the time
of each attack.

    python benchmarks/worst_case_objective.py --json benchmarks/results/worst_case_objective.json

Results: BENCHMARKS.md, "The worst-case objective".
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from snnvar import Variation, datasets, evaluate
from snnvar.demo import FULL, spec_for
from snnvar.evaluation import ATTACK_LOSSES, worst_case_attack
from snnvar.runs import build_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=FULL.epochs)
    parser.add_argument("--zetas", type=float, nargs="+", default=[0.02, 0.05, 0.1])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--draws", type=int, default=10, help="random chips per ζ")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    train = datasets.get("digits")
    test = datasets.get("digits", train=False)
    budget = replace(FULL, epochs=args.epochs)
    rows, models, specs = [], {}, {}
    for method in ("sgd", "wvat"):
        spec = spec_for(method, budget, args.seed)
        trainer = build_trainer(spec, data=train)
        trainer.fit(train)
        models[method], specs[method] = trainer.model.eval(), spec
    for method, model in models.items():
        spec = specs[method]
        enc = {"encoder": spec.encoder, "time_steps": spec.time_steps}
        for zeta in args.zetas:
            chips = Variation(zeta, relative_to="weight", distribution="uniform")
            # uniform on [-ζ|w|, ζ|w|]: σ of the unit distribution is 1, so scale by 1/√3
            chips = replace(chips, sigma=zeta / 3**0.5)
            rand = evaluate(model, test, chips, draws=args.draws, seed=args.seed,
                            spikes=False, **enc).results[0]  # fmt: skip
            row = {"method": method, "zeta": zeta, "random_mean": rand.accuracy_mean,
                   "random_min": rand.accuracy_min}  # fmt: skip
            for loss in ATTACK_LOSSES:
                t0 = time.perf_counter()
                found = worst_case_attack(model, test, zeta=zeta, steps=args.steps,
                                          seed=args.seed, loss=loss, attack_samples=None,
                                          **enc)  # fmt: skip
                row[f"{loss}_accuracy"] = found.accuracy
                row[f"{loss}_seconds"] = time.perf_counter() - t0
                row["clean"] = found.clean_accuracy
            rows.append(row)
    head = ("| model | ζ | clean | random chips, mean (worst) | worst case, CE | "
            "worst case, KL | attack time CE / KL (s) |")  # fmt: skip
    print(f"Spiking-CNN1 SNN on digits (360 test samples), {args.epochs} epochs, seed "
          f"{args.seed}; {args.steps} ascent steps on all test samples, {args.draws} random "
          "chips per ζ; accuracy (%)\n")  # fmt: skip
    print(head)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {100 * r['zeta']:g} % | {100 * r['clean']:.2f} | "
              f"{100 * r['random_mean']:.2f} ({100 * r['random_min']:.2f}) | "
              f"{100 * r['ce_accuracy']:.2f} | {100 * r['kl_accuracy']:.2f} | "
              f"{r['ce_seconds']:.1f} / {r['kl_seconds']:.1f} |")  # fmt: skip
    print(f"\n{platform.platform()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
