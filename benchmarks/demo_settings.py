"""Which training σ and budget keep the demo's variation-aware methods near SGD's
clean accuracy while they keep their advantage under variation (issue 24)?

Trains the demo's network (``snnvar.demo.spec_for``: Spiking-CNN1, digits, T = 6,
direct input) with SGD, WVAT and HA-SGD from one seed for each setting given,
evaluates all on the same 20 chips per σ (static, Gaussian, σ of each layer's
range) and prints clean accuracy, accuracy at σ = 10 % and the clean gap to SGD.

    python benchmarks/demo_settings.py --settings 0.10:30 0.05:30 0.05:60

Each setting is ``TRAIN_SIGMA:EPOCHS[:WARMUP]``. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from snnvar import Variation, datasets, evaluate
from snnvar.demo import FULL, spec_for
from snnvar.runs import build_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=["0.10:30", "0.05:30"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    train = datasets.get("digits")
    test = datasets.get("digits", train=False)
    sgd = None
    print(f"seed {args.seed}, {args.draws} chips per σ\n")
    columns = ("train σ", "epochs", "warm-up", "method", "clean (%)", "σ = 10 % (%)",
               "clean gap to SGD", "s")  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for setting in args.settings:
        sigma, epochs, *rest = setting.split(":")
        warmup = int(rest[0]) if rest else 0
        models, seconds = {}, {}
        retrain_sgd = sgd is None or int(epochs) != sgd[1]  # SGD trains the same epochs
        methods = ("sgd", "wvat", "hasgd") if retrain_sgd else ("wvat", "hasgd")
        for method in methods:
            spec = spec_for(method, FULL, args.seed)
            spec = replace(
                spec, variation=Variation(sigma=float(sigma)),
                train=replace(spec.train, epochs=int(epochs),
                              warmup_epochs=warmup if method != "sgd" else 0),
            )  # fmt: skip
            t0 = time.perf_counter()
            trainer = build_trainer(spec, data=train)
            trainer.fit(train)
            seconds[method] = time.perf_counter() - t0
            models[method] = trainer.model
        if "sgd" in models:
            sgd = (models["sgd"], int(epochs), seconds["sgd"])
        models["sgd"], seconds["sgd"] = sgd[0], sgd[2]
        report = evaluate(models, test, Variation(0.0), sigmas=(0.0, 0.1), draws=args.draws,
                          seed=args.seed, encoder="direct", time_steps=FULL.time_steps)  # fmt: skip
        clean = {m: 100 * report.row(m, 0.0).accuracy_mean for m in models}
        for m in ("sgd", "wvat", "hasgd"):
            at10 = 100 * report.row(m, 0.1).accuracy_mean
            label = ("-", sgd[1], "-") if m == "sgd" else (sigma, epochs, warmup)
            print(f"| {label[0]} | {label[1]} | {label[2]} | {m} | {clean[m]:.2f} | {at10:.2f} | "
                  f"{clean[m] - clean['sgd']:+.2f} | {seconds[m]:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
