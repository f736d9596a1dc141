"""Quick start of the weight-perturbation engine (runs in seconds on a CPU).

Trains a small MLP on scikit-learn's bundled 8x8 digits (1,797 real handwritten
digits, no download), then measures its accuracy on simulated chips: for each
variation level sigma, 20 chips, each a static draw of the WVAT paper's
hardware-simulated variation (Gaussian, relative to each layer's range
A = 6 std(w)); then the same with per-read (dynamic) noise, redrawn for every
test batch of 50. Every chip is a
seed, so every number below is reproducible.

    python examples/variation_quickstart.py [--chips 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from sklearn.datasets import load_digits
from torch import nn

import snnvar


def digits(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    train, test = order[:1400], order[1400:]
    return x[train], y[train], x[test], y[test]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 50) -> float:
    """Test accuracy in batches: with dynamic variation every batch is a new read."""
    with torch.no_grad():
        correct = sum(
            (model(xb).argmax(1) == yb).sum().item()
            for xb, yb in zip(x.split(batch), y.split(batch), strict=True)
        )
    return 100.0 * correct / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=20, help="simulated chips per sigma")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = digits(args.seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = torch.Generator().manual_seed(args.seed)
    for _ in range(30):
        for idx in torch.randperm(len(y_train), generator=batches).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()

    print(f"snnvar {snnvar.__version__}: MLP 64-128-10 on sklearn digits, seed {args.seed}")
    print(f"{args.chips} simulated chips per level (chip k uses seed {args.seed} + k)\n")
    print("| variation | sigma | accuracy mean ± std (%) | worst chip (%) |")
    print("|---|---|---|---|")
    for mode in ("static", "dynamic"):
        for sigma in (0.0, 0.05, 0.10, 0.15):
            variation = snnvar.Variation(sigma=sigma, mode=mode)
            chips = []
            for k in range(args.chips):
                with variation.applied(model, seed=args.seed + k):
                    chips.append(accuracy(model, x_test, y_test))
            mean, std = statistics.fmean(chips), statistics.pstdev(chips)
            print(f"| {mode} | {sigma:.2f} | {mean:.2f} ± {std:.2f} | {min(chips):.2f} |")

    # The engine leaves nothing behind: the clean model is bit-for-bit the same.
    print(f"\nclean accuracy after all chips: {accuracy(model, x_test, y_test):.2f} %")


if __name__ == "__main__":
    main()
