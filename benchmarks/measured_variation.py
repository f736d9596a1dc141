"""Train under one device distribution, test under another, from the command line
(issue 18; WVAT paper Sec. 4.5 / Fig. 13): the whole flow through `snnvar train
--config` and `snnvar evaluate --variation`, on the embedded digits.

A "measured" device error is written to ``measured.csv`` (a bimodal mixture, as
FTJ inter-device variation is: 70 % of the devices around -0.4, 30 % around
+0.9, each with spread 0.25, seeded; stand-in for a user's measurement file).
Three runs are trained with the demo's spiking CNN: SGD, WVAT against the
paper's Gaussian HSV, and WVAT against the measured distribution (both relative
to each layer's maximum, σ = 10 %). All three are then evaluated on the same
chips under the Gaussian and under the measured distribution.

    python benchmarks/measured_variation.py [--out benchmarks/results/measured_variation]
        [--epochs 30] [--draws 20] [--seed 0]

Writes the TOML files, the runs, the report (``eval/``) and ``table.md`` into
``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from snnvar.cli import main as snnvar
from snnvar.evaluation import Report

SIGMAS = (0.0, 0.05, 0.10, 0.15)


def measured_samples(seed: int, n: int = 2000) -> np.ndarray:
    """The bimodal stand-in for measured device errors (see the module docstring)."""
    rng = np.random.default_rng(seed)
    high = rng.random(n) < 0.3
    return np.where(high, rng.normal(0.9, 0.25, n), rng.normal(-0.4, 0.25, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/measured_variation"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    lines = ["# measured device error (stand-in; see benchmarks/measured_variation.py)"]
    lines += [repr(float(v)) for v in measured_samples(args.seed)]
    (out / "measured.csv").write_text("\n".join(lines) + "\n")
    common = (
        f'model = "spiking_cnn1"\nencoder = "direct"\ntime_steps = 6\nepochs = {args.epochs}\n'
        f"batch_size = 64\nlr = 3e-3\nseed = {args.seed}\nno_progress = true\noverwrite = true\n"
        "[model_options]\nhidden = 64\n"
    )
    wvat = (
        '[method_options]\nw_th = 0.2\nalpha = 0.1\n[variation]\nsigma = 0.1\nrelative_to = "max"\n'
    )
    configs = {
        "sgd": 'method = "sgd"\n' + common,
        "wvat_gaussian": 'method = "wvat"\n' + common + wvat,
        "wvat_measured": 'method = "wvat"\n' + common + wvat
        + 'distribution = { empirical = "measured.csv" }\n',
    }  # fmt: skip
    stages = {}
    for name, text in configs.items():
        (out / f"{name}.toml").write_text(text)
        t0 = time.perf_counter()
        code = snnvar(["train", "--config", str(out / f"{name}.toml"), "--out", str(out / name)])
        if code != 0:
            raise SystemExit(f"snnvar train {name} failed ({code})")
        stages[f"train_{name}_s"] = time.perf_counter() - t0
    (out / "eval.toml").write_text(
        '[[variation]]\nname = "gaussian"\nrelative_to = "max"\n\n'
        '[[variation]]\nname = "measured"\nrelative_to = "max"\n'
        'distribution = { empirical = "measured.csv" }\n'
    )
    t0 = time.perf_counter()
    code = snnvar([
        "evaluate", *(str(out / n) for n in configs), "--name", "sgd", "--name", "wvat_gaussian",
        "--name", "wvat_measured", "--variation", str(out / "eval.toml"),
        "--sigmas", ",".join(map(str, SIGMAS)), "--draws", str(args.draws),
        "--seed", str(args.seed), "--no-progress", "--overwrite", "--out", str(out / "eval"),
    ])  # fmt: skip
    if code != 0:
        raise SystemExit(f"snnvar evaluate failed ({code})")
    stages["evaluate_s"] = time.perf_counter() - t0
    report = Report.load(out / "eval")
    head = "| trained with | tested under | " + " | ".join(f"σ = {s:.0%}" for s in SIGMAS)
    table = [head + " | worst chip at 10 % |", "|---" * (len(SIGMAS) + 3) + "|"]
    for method in report.methods:
        for label in ("gaussian", "measured"):
            cells = []
            for s in SIGMAS:
                r = report.row(method, s, variation=label)
                cells.append(f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}")
            worst = 100 * report.row(method, 0.10, variation=label).accuracy_min
            table.append(f"| {method} | {label} | " + " | ".join(cells) + f" | {worst:.2f} |")
    wall = time.perf_counter() - start
    machine = f"{platform.platform()} ({torch.get_num_threads()} threads)"
    text = (
        f"spiking_cnn1 (hidden 64, T = 6, direct input) on the digits, {args.epochs} epochs, "
        f"seed {args.seed}, {args.draws} chips per σ (the same chips for every run), σ "
        f"relative to each layer's max; wall time {wall / 60:.1f} min on {machine}\n\n"
        + "\n".join(table) + "\n"
    )  # fmt: skip
    (out / "table.md").write_text(text)
    (out / "timings.json").write_text(json.dumps({"stages_s": stages, "wall_s": wall}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
