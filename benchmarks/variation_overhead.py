"""Engine overhead: one draw (sample + apply + restore) vs one forward pass.

Model: VGG-16 for CIFAR-size input (13 conv + 3 linear layers, about 15 M
weights), built here from plain torch layers. Batch 32, 3x32x32, eval mode,
no grad. Both timings come from the same run and are interleaved, so the ratio
is robust to a shared, noisy machine.

    python benchmarks/variation_overhead.py [--repeats 20] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

import snnvar

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_cifar(classes: int = 10) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(v)
    layers += [nn.Flatten(), nn.Linear(512, 512), nn.ReLU(inplace=True)]
    layers += [nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = vgg16_cifar().eval()
    x = torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(args.seed))
    variation = snnvar.Variation(sigma=0.1)
    n_weights = sum(t.tensor.numel() for t in variation.targets(model))

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def one_draw(seed: int) -> None:
        with variation.applied(model, seed=seed):
            pass

    # The floor: drawing the Gaussians alone, two independent streams on two
    # threads, into preallocated buffers (no statistics, no allocation, no apply).
    half = n_weights // 2
    buffers = [torch.empty(half), torch.empty(n_weights - half)]
    streams = [torch.Generator().manual_seed(args.seed + k) for k in range(2)]
    pool = ThreadPoolExecutor(max_workers=2)

    def rng_floor() -> None:
        pairs = zip(buffers, streams, strict=True)
        list(pool.map(lambda bg: bg[0].normal_(generator=bg[1]), pairs))

    forward()
    one_draw(10_000)  # warm up both paths
    rng_floor()
    t_fwd, t_draw, t_sample, t_rng = [], [], [], []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        forward()
        t1 = time.perf_counter()
        one_draw(args.seed + i)
        t2 = time.perf_counter()
        variation.sample(model, seed=args.seed + i)
        t3 = time.perf_counter()
        rng_floor()
        t4 = time.perf_counter()
        t_rng.append(t4 - t3)
        t_fwd.append(t1 - t0)
        t_draw.append(t2 - t1)
        t_sample.append(t3 - t2)
    fwd, draw, smp, rng = (statistics.median(t) for t in (t_fwd, t_draw, t_sample, t_rng))
    result = {
        "model": "vgg16 (CIFAR, 3x32x32)",
        "weights": n_weights,
        "batch": 32,
        "threads": torch.get_num_threads(),
        "forward_ms": round(fwd * 1e3, 2),
        "sample_apply_restore_ms": round(draw * 1e3, 2),
        "sample_only_ms": round(smp * 1e3, 2),
        "rng_floor_ms": round(rng * 1e3, 2),
        "ratio": round(draw / fwd, 3),
        "rng_floor_ratio": round(rng / fwd, 3),
        "target": 0.25,
        "repeats": args.repeats,
        "seed": args.seed,
        "torch": torch.__version__,
        "snnvar": snnvar.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
