"""Data loading throughput: samples per second from disk to time-major batches.

MNIST (full, IDX .gz) and the CIFAR-10 subset: load the set, then rate-code
batches of 128 to [T, B, ...] (T = 25). N-MNIST subset: frames [T, B, 2, 34, 34]
(T = 25) through the frame cache, first epoch (parsing events) vs second
(cached). The cache lives in a fresh temporary copy of the data root's N-MNIST
layout so "first epoch" is a real cold start.

    python benchmarks/dataset_throughput.py --root ../shared/data
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from snnvar import datasets


def rate_batches(name: str, root: Path, steps: int, seed: int) -> dict:
    t0 = time.perf_counter()
    ds = datasets.get(name, root=root, download=False)
    t_open = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    n = 0
    for x, _ in DataLoader(ds, batch_size=128):
        datasets.rate(x, steps, generator=gen)
        n += len(x)
    dt = time.perf_counter() - t0
    return {"set": name, "samples": n, "open_s": round(t_open, 2),
            "epoch_s": round(dt, 2), "samples_per_s": round(n / dt)}  # fmt: skip


def nmnist_epochs(root: Path, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(root / "NMNIST" / "Train", Path(tmp) / "NMNIST" / "Train")
        ds = datasets.get("nmnist", root=tmp, time_bins=steps, download=False)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            for x, _ in DataLoader(ds, batch_size=128):
                datasets.time_major(x)
            times.append(time.perf_counter() - t0)
        n = len(ds)
    return {"set": "nmnist (Train subset)", "samples": n,
            "first_epoch_s": round(times[0], 2), "cached_epoch_s": round(times[1], 2),
            "first_samples_per_s": round(n / times[0]), "cached_samples_per_s": round(n / times[1]),
            "speedup": round(times[0] / times[1], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [
        rate_batches("mnist", args.root, args.steps, args.seed),
        rate_batches("cifar10", args.root, args.steps, args.seed),
        nmnist_epochs(args.root, args.steps),
    ]
    print(json.dumps({"seed": args.seed, "steps": args.steps, "results": results}, indent=2))


if __name__ == "__main__":
    main()
