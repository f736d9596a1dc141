"""Evaluation overhead: K simulated chips vs K clean evaluations (issue 6).

Model: spiking_cnn2 (15C5-P2-40C5-P2-300, snnvar neurons) on MNIST-size input
(1x28x28), T = 25 rate-coded steps, batch 256, over N test images (real MNIST
from --data-root when it is there, else uniform random images of the same size;
the timing does not depend on the pixel values much). Inputs are encoded once
and cached, as `snnvar.evaluate` does, so both sides time the same forward passes.

Measured in one process, interleaved:
- clean: one pass over the data with clean weights;
- chip: the same pass inside `Variation(0.1).applied(model, seed=k)` (draw,
  apply, restore), k new every time;
- evaluate: `snnvar.evaluate(model, data, Variation(0.1), draws=K)` end to end
  (without and with spike/SynOps recording) against K clean passes timed
  right before it.

    python benchmarks/evaluation_overhead.py [--samples 512] [--draws 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

import snnvar
from snnvar import Variation, datasets, models
from snnvar.evaluation import prepare, run_pass


def _data(root: Path | None, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    if root is not None:
        try:
            test = datasets.get("mnist", root=root, train=False, download=False)
            xs, ys = zip(*(test[i] for i in range(n)), strict=True)
            return torch.stack(xs), torch.tensor(ys), f"MNIST test[:{n}] from {root}"
        except (FileNotFoundError, OSError, ValueError) as err:
            print(f"(no MNIST at {root}: {err}; using random images)")
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g), "random"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--time-steps", type=int, default=25)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = models.create("spiking_cnn2").eval()
    x, y, source = _data(args.data_root, args.samples, args.seed)
    data = (x, y)
    common = {"encoder": "rate", "time_steps": args.time_steps, "batch_size": 256}
    batches = prepare(data, model, seed=args.seed, **common)
    v = Variation(sigma=0.1)
    run_pass(model, batches, spikes=False)  # warm-up

    clean, chip = [], []
    for r in range(args.repeats * 2):
        t = time.perf_counter()
        run_pass(model, batches, spikes=False)
        clean.append(time.perf_counter() - t)
        t = time.perf_counter()
        with v.applied(model, seed=r):
            run_pass(model, batches, spikes=False)
        chip.append(time.perf_counter() - t)
    per_chip = statistics.median(c / k for c, k in zip(chip, clean, strict=True))

    end_to_end = {}
    for spikes in (False, True):
        ratios = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(args.draws):
                run_pass(model, batches, spikes=False)
            k_clean = time.perf_counter() - t
            t = time.perf_counter()
            snnvar.evaluate(
                model, data, v, draws=args.draws, seed=args.seed, spikes=spikes, **common
            )
            ratios.append((time.perf_counter() - t) / k_clean)
        end_to_end["with_spikes" if spikes else "accuracy_only"] = statistics.median(ratios)

    result = {
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data": source,
        "samples": args.samples,
        "time_steps": args.time_steps,
        "draws": args.draws,
        "seed": args.seed,
        "clean_pass_s": statistics.median(clean),
        "chip_over_clean_pass": per_chip,
        "evaluate_over_k_clean": end_to_end,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
