"""Run an exported graph in other tools and compare its spikes with snnvar's.

``compare(model, graph, x, consumer)`` imports ``graph`` with an independent
NIR consumer, runs it on time-major ``x`` ``[T, B, ...]`` from rest, and
compares every neuron layer's spikes and the logits with ``model``'s own
forward pass. Consumers (each imported only when asked for):

- ``"snnvar"``: :func:`~snnvar.nir.from_nir`.
- ``"snntorch"``: snntorch's ``import_from_nir`` (its LIF assumes dt = 1e-4 s).
- ``"spikingjelly"``: spikingjelly's ``nir_exchange.import_from_nir(graph, dt)``.
- ``"norse"``: norse's ``from_nir(graph, dt)``.

NIR graphs describe one sample: ``Flatten(start_dim=0)`` flattens all of it.
snntorch and norse hand ``start_dim`` to torch's Flatten, which counts a batch
dimension, so they run one sample at a time, unbatched; spikingjelly and
snnvar shift it by one and run the batch.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..nn.recording import record_spikes
from .semantics import DEFAULT_DT

__all__ = ["CONSUMERS", "Agreement", "compare", "run_consumer"]

CONSUMERS = ("snnvar", "snntorch", "spikingjelly", "norse")
"""The NIR consumers :func:`compare` can run."""


@dataclass
class Agreement:
    """How a consumer's run of a graph compares with the model's own."""

    consumer: str
    """The consumer's name."""
    version: str
    """The consumer package's version."""
    layers: dict[str, dict[str, float]] = field(default_factory=dict)
    """snnvar module -> ``spikes`` (the model's), ``consumer_spikes``, ``agreement``
    (the fraction of neuron-steps with the same spike or no spike)."""
    logits_max_diff: float = float("nan")
    """Largest absolute difference of the logits."""
    same_prediction: float = float("nan")
    """Fraction of samples with the same predicted class."""
    error: str | None = None
    """Why the consumer could not import or run the graph (None: it ran)."""
    accuracy: float | None = None
    """With ``labels``: the consumer's accuracy."""
    reference_accuracy: float | None = None
    """With ``labels``: the model's own accuracy."""

    @property
    def identical(self) -> bool:
        """Every layer's spikes equal, neuron by neuron and step by step (and there were
        layers to compare)."""
        return (
            self.error is None
            and bool(self.layers)
            and all(v["agreement"] == 1.0 for v in self.layers.values())
        )


def _out(o: Any) -> torch.Tensor:
    return (o[0] if isinstance(o, tuple) else o).detach()


@contextlib.contextmanager
def _recorded(net: nn.Module, neurons: list[str]) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Inside the block: each of ``neurons``' outputs, appended per call to ``seen[name]``."""
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in neurons}
    modules = dict(net.named_modules())
    hooks = [
        modules[n].register_forward_hook(lambda _m, _i, o, n=n: seen[n].append(_out(o)))
        for n in neurons
    ]
    try:
        yield seen
    finally:
        for h in hooks:
            h.remove()


def _per_sample(net: nn.Module, x: torch.Tensor, start: Any, step: Any, neurons: list[str]):
    """Run ``net`` on each sample alone (unbatched), hooks on ``neurons``."""
    outs, spikes = [], {n: [] for n in neurons}
    with _recorded(net, neurons) as seen:
        for b in range(x.shape[1]):
            for n in neurons:
                seen[n] = []
            state = start()
            steps = []
            for t in range(x.shape[0]):
                out, state = step(x[t, b], state)
                steps.append(out)
            outs.append(torch.stack(steps))
            for n in neurons:
                spikes[n].append(torch.stack(seen[n]))
    return torch.stack(outs, 1), {n: torch.stack(v, 1) for n, v in spikes.items()}


def run_consumer(
    consumer: str, graph: Any, x: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(output signal [T, B, ...], {node name: spikes [T, B, ...]})`` of ``graph`` in
    ``consumer`` on time-major ``x``. ``dt`` is the graph's metadata ``dt``."""
    if consumer not in CONSUMERS:
        raise ValueError(f"unknown NIR consumer {consumer!r}; allowed: {list(CONSUMERS)}")
    dt = float((graph.metadata or {}).get("dt", DEFAULT_DT))
    with torch.no_grad():
        if consumer == "snnvar":
            from .load import from_nir

            net = from_nir(graph, readout="last")  # the graph as it is: no readout folded
            with record_spikes(net, keep=True) as rec:
                signal = net.output_signal(x)
            return signal, {k.removeprefix("nodes."): torch.cat(v.kept, 1)
                            for k, v in rec.layers.items()}  # fmt: skip
        if consumer == "snntorch":
            snntorch = importlib.import_module("snntorch")
            utils = importlib.import_module("snntorch.utils")
            net = importlib.import_module("snntorch.import_nir").import_from_nir(graph)
            neurons = [n for n, m in net.named_modules() if isinstance(m, snntorch.SpikingNeuron)]

            def start() -> None:
                utils.reset(net)

            return _per_sample(net, x, start, lambda xt, s: (_out(net(xt)), s), neurons)
        if consumer == "norse":
            norse = importlib.import_module("norse.torch")
            net = norse.from_nir(graph, dt=dt, ignore_warnings=True)
            neurons = [n for n, m in net.named_children() if type(m).__name__.endswith("Cell")]

            def step(xt: torch.Tensor, s: Any) -> tuple[torch.Tensor, Any]:
                out, s = net(xt, s)
                return _out(out), s

            return _per_sample(net, x, lambda: None, step, neurons)
        sj = importlib.import_module("spikingjelly.activation_based.nir_exchange")
        net = sj.import_from_nir(graph, dt=dt)
        neurons = [n for n, m in net.named_children() if type(m).__name__ == "_NIRStatefulModule"]
        with _recorded(net, neurons) as seen:
            state, steps = None, []
            for t in range(x.shape[0]):
                out, state = net(x[t], state)
                steps.append(_out(out))
        return torch.stack(steps), {n: torch.stack(v) for n, v in seen.items()}


def _version(consumer: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(consumer)
    except PackageNotFoundError:
        return "not installed"


def _logits(signal: torch.Tensor, metadata: dict[str, Any]) -> torch.Tensor:
    kind = metadata.get("readout", "mean_membrane")
    beta = float(metadata.get("readout_beta", 0.0))
    from ..nn.sequential import Readout

    if kind == "spike_count":
        return signal.sum(0)
    if kind in ("mean_membrane", "last_membrane") and beta == 0.0:
        return Readout(kind, 0.0)(signal)
    return signal.mean(0) if kind == "mean_membrane" else signal[-1]


def compare(
    model: nn.Module, graph: Any, x: torch.Tensor, consumer: str,
    labels: torch.Tensor | None = None,
) -> Agreement:  # fmt: skip
    """Run ``graph`` in ``consumer`` and ``model`` itself on ``x``; compare spikes per
    layer and logits (see the module docstring), and with ``labels`` ``[B]`` both
    accuracies. A consumer that fails to import or run the graph gives an
    :class:`Agreement` with ``error`` set."""
    if consumer not in CONSUMERS:
        raise ValueError(f"unknown NIR consumer {consumer!r}; allowed: {list(CONSUMERS)}")
    result = Agreement(consumer, _version(consumer))
    with torch.no_grad(), record_spikes(model, keep=True) as rec:
        ref = model(x)
    ref_spikes = {k: torch.cat(v.kept, 1) for k, v in rec.layers.items()}
    if labels is not None:
        if labels.shape != ref.shape[:1]:
            raise ValueError(f"labels must be [B] = [{ref.shape[0]}], got {tuple(labels.shape)}")
        result.reference_accuracy = float((ref.argmax(-1) == labels).float().mean())
    try:
        signal, spikes = run_consumer(consumer, graph, x)
    except Exception as err:  # the consumer's own failure is the measurement
        result.error = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
        return result
    by_module = {}
    for node, value in spikes.items():
        meta = getattr(graph.nodes.get(node), "metadata", None) or {}
        by_module[meta.get("module", node)] = value
    for layer, s in ref_spikes.items():
        got = by_module.get(layer)
        if got is None or got.numel() != s.numel():
            result.layers[layer] = {"spikes": float(s.sum()), "consumer_spikes": float("nan"),
                                    "agreement": 0.0}  # fmt: skip
            continue
        got = got.reshape(s.shape)
        result.layers[layer] = {
            "spikes": float(s.sum()),
            "consumer_spikes": float(got.sum()),
            "agreement": float((got == s).float().mean()),
        }
    logits = _logits(signal, graph.metadata or {})
    if logits.numel() != ref.numel():  # the consumer ran the graph into another shape
        result.error = (
            f"the output signal {tuple(signal.shape)} gives {logits.numel()} logits, not "
            f"{tuple(ref.shape)}"
        )
        return result
    logits = logits.reshape(ref.shape)
    result.logits_max_diff = float((logits - ref).abs().max())
    result.same_prediction = float((logits.argmax(-1) == ref.argmax(-1)).float().mean())
    if labels is not None:
        result.accuracy = float((logits.argmax(-1) == labels).float().mean())
    return result
