"""Per-step wall time of each training method relative to plain SGD, in one run.

Issue 5's benchmark: spiking_cnn2 (MNIST size, batch 128, T = 25, snnvar
neurons, eager), Bernoulli input (rate 0.2, seed 0), ``Variation(sigma=0.1)``.
Each round runs every method for ``--steps`` steps, methods interleaved
round-robin; the table gives the median over rounds of the time per step, its
ratio to SGD, and the forward/backward passes per step each method counted.
WVAT's pass count is random (HSV: 1, GAV: 2; 1.5 on average at w_th = 0.5), so
its ratio is also given per pass.

    python benchmarks/method_step_time.py --rounds 5 --steps 4
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import torch
from torch import nn

from snnvar import Variation, models
from snnvar.training import AWP, HASGD, SAM, WVAT, NoiseInjection

TARGETS = {"NoiseInjection": 1.05, "WVAT": 1.55, "HASGD": None, "SAM": 2.05, "AWP": 2.05}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--samples", type=int, default=4, help="HA-SGD's L")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    g = torch.Generator().manual_seed(args.seed)
    x = (torch.rand(25, 128, 1, 28, 28, generator=g) < 0.2).float()
    y = torch.randint(0, 10, (128,), generator=g)
    v = Variation(sigma=0.1)

    def build(name: str):
        torch.manual_seed(args.seed)
        model = models.create("spiking_cnn2")
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        method = {
            "SGD": lambda: opt,
            "NoiseInjection": lambda: NoiseInjection(model, opt, v, seed=args.seed),
            "WVAT": lambda: WVAT(model, opt, v, w_th=0.5, seed=args.seed),
            "HASGD": lambda: HASGD(model, opt, v, samples=args.samples, seed=args.seed),
            "SAM": lambda: SAM(model, opt, rho=0.05),
            "AWP": lambda: AWP(model, opt, gamma=0.01),
        }[name]()

        def closure():
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        def step() -> None:
            if method is opt:
                opt.zero_grad()
                closure()
                opt.step()
            else:
                method.step(closure)

        return method, step

    names = ["SGD", "NoiseInjection", "WVAT", "HASGD", "SAM", "AWP"]
    runners = {n: build(n) for n in names}
    for _, step in runners.values():
        step()  # warm-up
    times: dict[str, list[float]] = {n: [] for n in names}
    passes: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for n, (method, step) in runners.items():
            before = getattr(method, "passes", 0)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[n].append((time.perf_counter() - t0) / args.steps)
            passes[n].append(
                (method.passes - before) / args.steps if hasattr(method, "passes") else 1.0
            )
    sgd = statistics.median(times["SGD"])
    print(
        f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, seed {args.seed}, {args.rounds} rounds x {args.steps} steps, "
        f"HA-SGD L = {args.samples}"
    )
    print("| method | s / step | vs SGD | passes / step | vs SGD per pass | target |")
    print("|---|---|---|---|---|---|")
    for n in names:
        med = statistics.median(times[n])
        p = statistics.mean(passes[n])
        target = TARGETS.get(n)
        if n == "HASGD":
            target = 1.02 * args.samples
        tgt = "–" if target is None else f"<= {target:.2f}"
        print(f"| {n} | {med:.3f} | {med / sgd:.2f} | {p:.2f} | {med / sgd / p:.2f} | {tgt} |")


if __name__ == "__main__":
    main()
