"""Forward + backward time per batch of zoo SNNs with snnvar's, snntorch's and norse's neurons.

Issue 4's benchmark: spiking_cnn2 (MNIST size, T = 25, batch 128) and vgg5
(CIFAR size, T = 8, batch 64), each neuron backend, eager and ``torch.compile``.
Reported per configuration: the median time of forward + backward of the whole
model, the same for the neuron layers alone (their real input shapes,
recorded from the model), both as ratios to snntorch, and the peak memory of
one forward + backward: on CUDA ``max_memory_allocated``; on the CPU the rise of
the process's resident memory during the pass, sampled every millisecond in a
subprocess started with glibc's mmap threshold at 64 KiB (so freed tensors
leave the resident set).

Eager: all backends in one process, interleaved round-robin. Compiled: each
backend in a fresh process (compile, three warm-up calls, then the timed
calls), as a user compiles one model; backends alternate over two rounds and
the median is reported. (Compiling all backends in one process lets their
shared code objects, ``Network.forward`` and ``TimeLoop.forward``, recompile
into each other's measurements.)

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
    """``torch.compile`` with static shapes, and no silent fallback to eager.

    The models of all backends share code objects (``Network.forward``,
    ``TimeLoop.forward``, ...), each instance adding cache entries; past dynamo's
    recompile limit (8) a frame would silently run eagerly and the comparison
    would be void, so the limit is raised and hitting it is an error. Static
    shapes: recompiling shared frames for new shapes would otherwise switch
    dynamo to dynamic shapes.
    """
    cfg = torch._dynamo.config
    cfg.recompile_limit = cfg.cache_size_limit = 256
    cfg.accumulated_recompile_limit = cfg.accumulated_cache_size_limit = 4096
    cfg.fail_on_recompile_limit_hit = True
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
        total = torch.zeros(())
        for loop, x, w in zip(loops, leaves, weights, strict=True):
            total = total + (loop(x) * w).sum()
        return total

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


def runners_for(model: str, backend: str, mode: str, device: str, seed: int) -> dict:
    """Forward+backward callables for the whole model and for its neuron layers alone."""
    x = data(model, device, seed)
    net = make(model, backend, device, seed)
    inputs = neuron_inputs(net, x)
    target = _compile(net) if mode == "compile" else net
    loops_fn, leaves = neurons_only(make(model, backend, device, seed), inputs)
    if mode == "compile":
        loops_fn = _compile(loops_fn)
    return {
        "model": step_fn(lambda: target(x).sum(), list(net.parameters()), device),
        "neurons": step_fn(loops_fn, leaves, device),
    }


def eager_timings(model: str, repeats: int, device: str, seed: int) -> dict:
    """Median seconds per (backend, part), all backends interleaved round-robin in this process."""
    runners = {}
    for backend in BACKENDS:
        for part, fn in runners_for(model, backend, "eager", device, seed).items():
            fn()  # warm-up
            runners[(backend, part)] = fn
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for key, fn in runners.items():
            samples[key].append(fn())
    return {k: statistics.median(v) for k, v in samples.items()}


def compiled_child(model: str, backend: str, repeats: int, device: str, seed: int) -> None:
    """One compiled configuration in a fresh process: compile, 3 warm-up calls, time."""
    out = {}
    for part, fn in runners_for(model, backend, "compile", device, seed).items():
        t0 = time.perf_counter()
        fn()
        out[f"{part}_first_s"] = time.perf_counter() - t0
        fn(), fn()  # snntorch's `mem` buffer takes its shape on the first call: recompile
        out[part] = statistics.median(fn() for _ in range(repeats))
    print(json.dumps(out))


def compiled_timings(model: str, repeats: int, device: str, seed: int, rounds: int = 2) -> dict:
    """Median over ``rounds`` fresh processes per backend (backends alternate round by round)."""
    runs: dict[str, list[dict]] = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for backend in BACKENDS:
            runs[backend].append(
                _child(
                    ["--compiled-child", model, backend, "--repeats", str(repeats)], device, seed
                )
            )
    return {
        (b, part): statistics.median(r[part] for r in rs)
        for b, rs in runs.items()
        for part in ("model", "neurons")
    }


def _child(args: list[str], device: str, seed: int) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, *args, "--device", device, "--seed", str(seed)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    return _child(["--memory-child", model, backend, mode], device, seed)["peak_mib"]


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
    ap.add_argument("--compiled-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.memory_child:
        memory_child(*args.memory_child, args.device, args.seed)
        return
    if args.compiled_child:
        compiled_child(*args.compiled_child, args.repeats, args.device, args.seed)
        return
    modes = args.modes.split(",")
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {args.device}, seed {args.seed}, "
        f"repeats {args.repeats}"
    )
    rows = []
    for model in args.models.split(","):
        medians = {}
        if "eager" in modes:
            medians["eager"] = eager_timings(model, args.repeats, args.device, args.seed)
        if "compile" in modes:
            medians["compile"] = compiled_timings(model, args.repeats, args.device, args.seed)
        for mode, med in medians.items():
            for backend in BACKENDS:
                row = dict(
                    model=model, mode=mode, backend=backend, seed=args.seed, repeats=args.repeats
                )
                for part in ("model", "neurons"):
                    row[f"{part}_s"] = med[(backend, part)]
                    row[f"{part}_vs_snntorch"] = med[(backend, part)] / med[("snntorch", part)]
                if mode == "compile" and "eager" in medians:
                    row["compile_speedup"] = medians["eager"][(backend, "model")] / row["model_s"]
                if not args.no_memory:
                    row["peak_mib"] = memory(model, backend, mode, args.device, args.seed)
                rows.append(row)
    print(
        "| model | mode | backend | model fwd+bwd (s) | vs snntorch | neurons fwd+bwd (s) "
        "| vs snntorch | compile speed-up (model) | peak memory (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        speed = f"{r['compile_speedup']:.2f}x" if "compile_speedup" in r else "–"
        mem = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "–"
        print(
            f"| {r['model']} | {r['mode']} | {r['backend']} | {r['model_s']:.3f} | "
            f"{r['model_vs_snntorch']:.2f} | {r['neurons_s']:.3f} | "
            f"{r['neurons_vs_snntorch']:.2f} | {speed} | {mem} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
