"""Forward + backward time per batch of zoo SNNs with snnvar's, snntorch's and norse's neurons.

Issue 4's benchmark: spiking_cnn2 (MNIST size, T = 25, batch 128) and vgg5
(CIFAR size, T = 8, batch 64), each neuron backend, eager and ``torch.compile``.
Reported per configuration: the median time of forward + backward of the whole
model, the same for the neuron layers alone (their real input shapes,
recorded from the model), both as ratios to snntorch in the same run (the
backends are interleaved round-robin), and the peak memory of one forward +
backward: on CUDA ``max_memory_allocated``; on the CPU the rise of the
process's resident memory during the pass, sampled every millisecond in a
subprocess started with glibc's mmap threshold at 64 KiB (so freed tensors
leave the resident set).

    python benchmarks/neuron_backends.py                     # both models, eager + compile
    python benchmarks/neuron_backends.py --models spiking_cnn2 --modes eager --repeats 5

Inputs are Bernoulli spike trains (rate 0.2) from a fixed seed; the weights
of every backend are copied from the snnvar model (``snnvar.models.transfer``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings

import torch

from snnvar import models
from snnvar.nn import TimeLoop

CONFIGS = {
    "spiking_cnn2": dict(steps=25, batch=128, in_shape=(1, 28, 28)),
    "vgg5": dict(steps=8, batch=64, in_shape=(3, 32, 32)),
}
BACKENDS = ("snnvar", "snntorch", "norse")


def _compile(fn):
    """Static shapes: the zoo models share code objects (Network.forward, TimeLoop.forward),
    and recompiling them for new shapes would otherwise switch dynamo to dynamic shapes."""
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    return torch.compile(fn, dynamic=False)


def make(model: str, backend: str, device: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    ref = models.create(model, neuron="snnvar")
    net = ref if backend == "snnvar" else models.create(model, neuron=backend)
    if net is not ref:
        models.transfer(ref, net)
    return net.to(device).train()


def data(model: str, device: str, seed: int) -> torch.Tensor:
    c = CONFIGS[model]
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(c["steps"], c["batch"], *c["in_shape"], generator=g) < 0.2
    return x.float().to(device)


def neuron_inputs(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The inputs of every neuron layer in one forward pass."""
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_pre_hook(lambda _m, a: seen.append(a[0].detach().clone()))
        for m in net.modules()
        if isinstance(m, TimeLoop)
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return seen


def neurons_only(net: torch.nn.Module, inputs: list[torch.Tensor]):
    loops = [m for m in net.modules() if isinstance(m, TimeLoop)]
    leaves = [i.clone().requires_grad_() for i in inputs]

    def run() -> torch.Tensor:
        return sum((loop(x) * w).sum() for loop, x, w in zip(loops, leaves, weights, strict=True))

    weights = [torch.randn_like(i) for i in inputs]
    return run, leaves


def step_fn(fn, leaves, device):
    def once() -> float:
        for p in leaves:
            p.grad = None
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    return once


def timings(model: str, modes: list[str], repeats: int, device: str, seed: int) -> list[dict]:
    x = data(model, device, seed)
    runners: dict[tuple[str, str, str], object] = {}
    compile_s: dict[tuple[str, str, str], float] = {}
    for backend in BACKENDS:
        net = make(model, backend, device, seed)
        inputs = neuron_inputs(net, x)
        for mode in modes:
            target = _compile(net) if mode == "compile" else net
            whole = step_fn(lambda t=target: t(x).sum(), list(net.parameters()), device)
            loops_fn, leaves = neurons_only(net, inputs)
            if mode == "compile":
                loops_fn = _compile(loops_fn)
            part = step_fn(loops_fn, leaves, device)
            for kind, fn in (("model", whole), ("neurons", part)):
                t0 = time.perf_counter()
                fn()  # warm-up (and compilation)
                compile_s[(backend, mode, kind)] = time.perf_counter() - t0
                runners[(backend, mode, kind)] = fn
    samples: dict[tuple[str, str, str], list[float]] = {k: [] for k in runners}
    for _ in range(repeats):  # interleaved round-robin
        for key, fn in runners.items():
            samples[key].append(fn())
    rows = []
    for (backend, mode, kind), values in samples.items():
        med = statistics.median(values)
        ref = statistics.median(samples[("snntorch", mode, kind)])
        eager = statistics.median(samples[(backend, "eager", kind)]) if "eager" in modes else None
        rows.append(
            dict(
                model=model,
                backend=backend,
                mode=mode,
                part=kind,
                median_s=med,
                ratio_to_snntorch=med / ref,
                speedup_vs_own_eager=(eager / med) if eager else None,
                first_call_s=compile_s[(backend, mode, kind)],
                repeats=repeats,
                seed=seed,
            )
        )
    return rows


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(model: str, backend: str, mode: str, device: str, seed: int) -> None:
    net = make(model, backend, device, seed)
    x = data(model, device, seed)
    target = _compile(net) if mode == "compile" else net
    target(x).sum().backward()  # warm-up / compile
    net.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        target(x).sum().backward()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base, peak_rss, done = _rss(), [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_rss[0] = max(peak_rss[0], _rss())
                time.sleep(0.001)

        th = threading.Thread(target=sample)
        th.start()
        target(x).sum().backward()
        done.set()
        th.join()
        peak = peak_rss[0] - base
    print(json.dumps({"peak_mib": peak / 2**20}))


def memory(model: str, backend: str, mode: str, device: str, seed: int) -> float:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            __file__,
            "--memory-child",
            model,
            backend,
            mode,
            "--device",
            device,
            "--seed",
            str(seed),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="spiking_cnn2,vgg5")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.memory_child:
        memory_child(*args.memory_child, args.device, args.seed)
        return
    modes = args.modes.split(",")
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {args.device}, seed {args.seed}"
    )
    rows = []
    for model in args.models.split(","):
        rows += timings(model, modes, args.repeats, args.device, args.seed)
        if not args.no_memory:
            for r in rows:
                if r["model"] == model and r["part"] == "model":
                    r["peak_mib"] = memory(model, r["backend"], r["mode"], args.device, args.seed)
    print(
        "| model | mode | backend | model fwd+bwd (s) | vs snntorch | neurons fwd+bwd (s) "
        "| vs snntorch | compile speed-up (model) | peak memory (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["part"] != "model":
            continue
        n = next(
            q
            for q in rows
            if q["part"] == "neurons"
            and q["model"] == r["model"]
            and q["mode"] == r["mode"]
            and q["backend"] == r["backend"]
        )
        speed = f"{r['speedup_vs_own_eager']:.2f}x" if r["mode"] == "compile" else "–"
        mem = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "–"
        print(
            f"| {r['model']} | {r['mode']} | {r['backend']} | {r['median_s']:.3f} | "
            f"{r['ratio_to_snntorch']:.2f} | {n['median_s']:.3f} | {n['ratio_to_snntorch']:.2f} "
            f"| {speed} | {mem} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
