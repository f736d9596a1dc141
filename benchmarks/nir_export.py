"""NIR export (issue 21): a trained run exported with ``snnvar.nir`` and run by
independent NIR consumers on real test data, spike for spike; chips exported and
checked the same way; and what the exporters users have today do.

For each consumer (``snnvar.nir.CONSUMERS``: snnvar's own ``from_nir``,
snntorch, spikingjelly, norse) the run's test samples go through the run's own
input encoding and T; reported per neuron layer: spikes of the model and of the
consumer and the fraction of neuron-steps that agree, the largest logit
difference, the fraction of equal predictions, both accuracies, and the time of
the consumer's pass as a ratio to snnvar's forward pass (same process, same
input). ``--chips K --sigma S``: chips 0..K-1 of ``snnvar evaluate --seed SEED``
at σ = S exported with ``to_nir(chip=...)`` and run in snntorch against the
model perturbed by the same chip. Then snntorch's and norse's own exporters on
a small fully connected network (``Linear``-``Leaky``/``LIFBoxCell``), and
rockpool's NIR import of the exported graph, where installed.

    python benchmarks/nir_export.py RUN --data-root ../shared/data [--samples 1000]
        [--chips 3 --sigma 0.1] [--seed 0] [--json benchmarks/results/nir_cnn2_mnist.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import torch

import snnvar
from snnvar import Variation, datasets
from snnvar import nir as snn_nir
from snnvar.evaluation.montecarlo import chip_seed
from snnvar.runs import load_run, run_dataset


def _encode(x: torch.Tensor, encoder: str, steps: int, seed: int) -> torch.Tensor:
    if encoder == "rate":
        return datasets.rate(x, steps, generator=torch.Generator().manual_seed(seed))
    if encoder == "direct":
        return datasets.direct(x, steps).contiguous()
    raise SystemExit(f"this benchmark takes runs with rate or direct input, not {encoder!r}")


def _merge(parts: list[snn_nir.Agreement], sizes: list[int]) -> dict:
    """Chunks of one consumer's comparison, summed (fractions weighted by chunk size)."""
    first = parts[0]
    if first.error is not None:
        return {"consumer": first.consumer, "version": first.version, "error": first.error}
    total = sum(sizes)

    def weighted(value) -> float:
        return sum(value(p) * n for p, n in zip(parts, sizes, strict=True)) / total

    layers = {
        name: {
            "spikes": sum(p.layers[name]["spikes"] for p in parts),
            "consumer_spikes": sum(p.layers[name]["consumer_spikes"] for p in parts),
            "agreement": weighted(lambda p, name=name: p.layers[name]["agreement"]),
        }
        for name in first.layers
    }
    return {
        "consumer": first.consumer, "version": first.version, "layers": layers,
        "identical": all(p.identical for p in parts),
        "logits_max_diff": max(p.logits_max_diff for p in parts),
        "same_prediction": weighted(lambda p: p.same_prediction),
        "accuracy": weighted(lambda p: p.accuracy),
        "reference_accuracy": weighted(lambda p: p.reference_accuracy),
    }  # fmt: skip


def _consumers(model, graph, chunks) -> list[dict]:
    out = []
    for consumer in snn_nir.CONSUMERS:
        parts = [snn_nir.compare(model, graph, x, consumer, labels=y) for x, y in chunks]
        row = _merge(parts, [len(y) for _, y in chunks])
        out.append(row)
        print(f"  {consumer}: " + (row.get("error") or (
            f"identical={row['identical']}, logits Δ={row['logits_max_diff']:.2g}, accuracy "
            f"{100 * row['accuracy']:.2f} % (snnvar {100 * row['reference_accuracy']:.2f} %)"
        )))  # fmt: skip
    return out


def _other_exporters() -> dict:
    """snntorch's ``export_to_nir`` and norse's ``to_nir`` on a 20-16-4 network."""
    import snntorch as snn
    import snntorch.utils
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    torch.manual_seed(0)
    x = (torch.rand(20, 3, 20) < 0.5).float()
    rows = []

    def leaky(n, reset, per_neuron, last=False):
        beta = torch.full((n,), 0.9) if per_neuron else 0.9
        thr = torch.full((n,), 0.5) if per_neuron else 0.5
        return snn.Leaky(beta=beta, threshold=thr, init_hidden=True, reset_mechanism=reset,
                         output=last)  # fmt: skip

    def run(m, per_sample):
        outs = []
        for b in range(x.shape[1]) if per_sample else [None]:
            snntorch.utils.reset(m)
            steps = [m(x[t] if b is None else x[t, b]) for t in range(x.shape[0])]
            outs.append(torch.stack([s[0] if isinstance(s, tuple) else s for s in steps]))
        return outs[0] if not per_sample else torch.stack(outs, 1)

    for reset in ("zero", "subtract"):
        for per_neuron in (False, True):
            net = torch.nn.Sequential(
                torch.nn.Linear(20, 16),
                leaky(16, reset, per_neuron),
                torch.nn.Linear(16, 4),
                leaky(4, reset, per_neuron, True),
            )
            row = {"reset": reset, "beta_threshold": "per neuron" if per_neuron else "scalar"}
            try:
                graph = export_to_nir(net, x[0], ignore_dims=[0])
                back = import_from_nir(graph)
                with torch.no_grad():
                    row["spikes"] = int(run(net, False).sum())
                    row["round_trip_spikes"] = int(run(back, True).sum())
            except Exception as err:
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
            rows.append(row)
    import norse.torch as norse

    cell = norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0)))
    graph = norse.to_nir(norse.SequentialState(torch.nn.Linear(20, 16), cell), x[0], dt=1e-3)
    tau = [float(n.tau.flatten()[0]) for n in graph.nodes.values() if hasattr(n, "tau")]
    return {
        "snntorch_export_to_nir": rows,
        "norse_to_nir": {"tau_mem_inv": 100.0, "written_tau": tau[0], "correct_tau": 0.01},
    }


def _rockpool(graph) -> str:
    try:
        from rockpool.nn.modules import from_nir
    except ImportError:
        return "not installed"
    try:
        from_nir(graph)
    except Exception as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    return "imported"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--data-root", type=Path)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--chips", type=int, default=3)
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    model, spec = load_run(args.run, root=args.data_root)
    if spec.hardware is not None:  # an HRAT run: its chip after programming, as evaluate
        from snnvar.hardware import deploy

        model = deploy(model)
    test = run_dataset(spec, root=args.data_root)
    n = min(args.samples, len(test))
    xs = torch.stack([test[i][0] for i in range(n)])
    ys = torch.tensor([int(test[i][1]) for i in range(n)])
    chunks = [
        (_encode(xs[i : i + args.batch], spec.encoder, spec.time_steps, args.seed + i),
         ys[i : i + args.batch])
        for i in range(0, n, args.batch)
    ]  # fmt: skip
    start = time.perf_counter()
    graph = snn_nir.to_nir(model)
    export_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = snn_nir.write(Path(tmp) / "model.nir", graph)
        size = path.stat().st_size
        graph = snn_nir.read(path)  # what a consumer gets: the file
    print(f"{spec.model} ({spec.method}) exported in {export_s:.3f} s, {size} bytes; "
          f"{n} test samples, {spec.encoder} input, T = {spec.time_steps}")  # fmt: skip
    result = {
        "run": str(args.run), "model": spec.model, "method": spec.method,
        "dataset": spec.dataset, "samples": n, "encoder": spec.encoder,
        "time_steps": spec.time_steps, "export_seconds": export_s, "file_bytes": size,
        "nodes": [type(v).__name__ for v in graph.nodes.values()],
        "consumers": _consumers(model, graph, chunks),
    }  # fmt: skip
    chips = []
    v = Variation(sigma=args.sigma)
    for k in range(args.chips):
        seed = chip_seed(args.seed, k)
        chip_graph = snn_nir.to_nir(model, chip=v.sample(model, seed=seed))
        with v.applied(model, seed=seed):
            parts = [snn_nir.compare(model, chip_graph, x, "snntorch", labels=y) for x, y in chunks]
        row = _merge(parts, [len(y) for _, y in chunks])
        row.update(chip=k, chip_seed=seed, sigma=args.sigma)
        chips.append(row)
        print(f"  chip {k} at σ = {args.sigma:g} in snntorch: identical={row.get('identical')}, "
              f"accuracy {100 * row.get('accuracy', float('nan')):.2f} %")  # fmt: skip
    result["chips"] = chips
    result["other_exporters"] = _other_exporters()
    result["rockpool_import"] = _rockpool(graph)
    result["machine"] = {
        "platform": platform.platform(), "torch": torch.__version__,
        "snnvar": snnvar.__version__, "threads": torch.get_num_threads(),
    }  # fmt: skip
    print(json.dumps({k: result[k] for k in ("other_exporters", "rockpool_import")}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
