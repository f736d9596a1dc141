"""``from_nir``: a NIR graph as a snnvar spiking network (see :mod:`snnvar.nir`)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn.functional import leaky_integrate
from ..nn.neurons import IF, LIF, TimeLoop, check_time_major
from ..nn.sequential import READOUTS, Readout, over_time
from .io import plain, read, require_nir
from .semantics import DEFAULT_DT, beta_from_tau, check_dt

__all__ = [
    "OUTPUT_READOUTS",
    "CurrentLIF",
    "Integrator",
    "NIRNetwork",
    "Placed",
    "Scale",
    "from_nir",
]

OUTPUT_READOUTS = (*READOUTS, "mean", "sum", "last")
"""How :class:`NIRNetwork` turns the output node's signal over time into logits: a
snnvar readout of the last layer's current (``mean_membrane`` / ``last_membrane``
/ ``spike_count``, as exported), or ``"mean"`` / ``"sum"`` / ``"last"`` of the
output signal over time (foreign graphs)."""


class Scale(nn.Module):
    """``x ↦ scale ⊙ x`` (NIR's ``Scale``; an input gain ``R dt/τ`` ≠ 1 of a neuron)."""

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Integrator(nn.Module):
    """A non-spiking leaky integrator ``m_t = β m_{t-1} + x_t`` over time-major input,
    returning the membrane at every step (NIR's ``LI``; ``I`` for β = 1)."""

    temporal = True
    """Takes the whole sequence ``[T, B, ...]`` (not one step at a time)."""

    def __init__(self, beta: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("beta", beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_major(x, 2, "Integrator")
        m = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            m = self.beta * m + x[t]
            out.append(m)
        return torch.stack(out)


class CurrentLIF(nn.Module):
    """NIR's ``CubaLIF`` over time-major input: a synaptic current
    ``I_t = α I_{t-1} + g_syn x_t`` drives a LIF membrane ``v_t = β v_{t-1} + g_mem I_t``
    (spike when ``v_t > θ``, then ``v_t = 0``), forward Euler with step dt:
    ``α = 1 − dt/τ_syn``, ``g_syn = w_in dt/τ_syn``, ``β = 1 − dt/τ_mem``,
    ``g_mem = R dt/τ_mem`` (snntorch's ``Synaptic`` and norse's LIBox → LIFBox order)."""

    temporal = True
    """Takes the whole sequence ``[T, B, ...]`` (not one step at a time)."""
    emits_spikes = True
    """Its output is spikes: :func:`snnvar.nn.record_spikes` records it."""

    def __init__(self, alpha, g_syn, beta, g_mem, threshold) -> None:
        super().__init__()
        for name, value in (("alpha", alpha), ("g_syn", g_syn), ("beta", beta),
                            ("g_mem", g_mem), ("threshold", threshold)):  # fmt: skip
            self.register_buffer(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_major(x, 2, "CurrentLIF")
        i = torch.zeros_like(x[0])
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            i = self.alpha * i + self.g_syn * x[t]
            v = self.beta * v + self.g_mem * i
            spk = (v > self.threshold).to(x.dtype)
            v = v * (1 - spk)
            out.append(spk)
        return torch.stack(out)


class Placed(nn.Module):
    """A layer whose output channels sit at ``[first, first + C)`` of ``total`` channels,
    zeros elsewhere: a Concat branch of a snnvar graph (NIR sums the branches), kept at
    its own shape so that its weights draw the original branch's chips."""

    def __init__(self, layer: nn.Module, first: int, total: int) -> None:
        super().__init__()
        self.layer = layer
        self.first = first
        self.total = total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer(x)
        out = y.new_zeros(y.shape[0], self.total, *y.shape[2:])
        out[:, self.first : self.first + y.shape[1]] = y
        return out


class NIRNetwork(nn.Module):
    """A NIR graph run by snnvar: time-major ``[T, B, *in_shape]`` in, logits ``[B, C]``.

    ``nodes`` holds one snnvar module per NIR node, named by the node (``.``
    replaced by ``_``); ``order`` is a topological order and ``sources`` each
    node's inputs (summed, as NIR sums a node's incoming edges). Neuron nodes are
    :class:`~snnvar.nn.TimeLoop` s, so :func:`~snnvar.nn.record_spikes` records
    them per node, and Linear / Conv2d nodes are torch layers, so a
    :class:`~snnvar.Variation` perturbs them. ``weight_map`` keys each weight by the
    device weight it was exported from (snnvar graphs), so the imported network
    draws the same simulated chips as the original. ``output_signal(x)`` is the
    output node's signal over time, ``[T, B, ...]``.
    """

    spiking = True
    """An SNN: :func:`snnvar.evaluate` feeds it time-major input."""

    def __init__(
        self, nodes: dict[str, nn.Module], order: list[str], sources: dict[str, list[str]],
        in_shape: tuple[int, ...], readout: str, readout_beta: float,
        weight_map: dict[str, str], metadata: dict[str, Any], output: str,
    ) -> None:  # fmt: skip
        super().__init__()
        self.nodes = nn.ModuleDict(nodes)
        self.order = order
        self.output = output
        self.sources = sources
        self.in_shape = tuple(in_shape)
        self.name = str(metadata.get("model", "nir"))
        self.readout = Readout(readout, readout_beta) if readout in READOUTS else None
        self.readout_kind = readout
        self.weight_map = weight_map
        self.metadata = metadata
        self.num_classes = 0

    def output_signal(self, x: torch.Tensor) -> torch.Tensor:
        """The output node's signal ``[T, B, ...]`` for time-major input ``x``."""
        check_time_major(x, 2 + len(self.in_shape), "NIRNetwork")
        if tuple(x.shape[2:]) != self.in_shape:
            shape = ", ".join(map(str, self.in_shape))
            raise ValueError(f"the graph expects input [T, B, {shape}], got {tuple(x.shape)}")
        values: dict[str, torch.Tensor] = {}
        out = x
        for name in self.order:
            inputs = [values[s] for s in self.sources[name]]
            if not inputs:
                out = x
            else:
                out = inputs[0]
                for extra in inputs[1:]:
                    out = out + extra
            if name in self.nodes:
                out = over_time(self.nodes[name], out)
            values[name] = out
        return values[self.output]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        signal = self.output_signal(x)
        if self.readout is not None:
            return self.readout(signal)
        if self.readout_kind == "mean":
            return leaky_integrate(signal, 0.0, "mean")
        if self.readout_kind == "sum":
            return signal.sum(0)
        return signal[-1]

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, readout={self.readout_kind!r}, nodes={len(self.order)}"


def _uniform(a: np.ndarray) -> torch.Tensor:
    """A parameter array as a tensor: 0-d when every neuron has the same value (the
    fast scalar path of snnvar's neurons), else the full array."""
    t = torch.as_tensor(np.asarray(a, dtype=np.float64))
    flat = t.flatten()
    if flat.numel() and bool((flat == flat[0]).all()):
        return flat[0].to(torch.get_default_dtype())
    return t.to(torch.get_default_dtype())


def _with_gain(gain: np.ndarray, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``module``, after a :class:`Scale` by ``gain`` where the gain is not 1 (NIR's
    ``R dt/τ`` of a neuron written for another input scale)."""
    g = np.asarray(gain, dtype=np.float64)
    if np.allclose(g, 1.0, rtol=1e-9, atol=0.0):
        return [("", module)]
    return [("gain", Scale(_uniform(g))), ("", module)]


def _zero(name: str, what: str, value: Any) -> None:
    if value is not None and not np.allclose(np.asarray(value, dtype=np.float64), 0.0):
        raise ValueError(
            f"NIR node {name!r}: {what} = {np.unique(np.asarray(value))[:4].tolist()}; snnvar's "
            f"neurons have {what} = 0 (a membrane that rests and resets at zero)"
        )


def _torch(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.array(a, dtype=np.float32))


def _module(name: str, node: Any, nir: Any, dt: float) -> list[tuple[str, nn.Module]]:
    """The snnvar module(s) of one NIR node, as (suffix, module) run in order."""
    gain = _gain(name, node, nir)
    if gain is not None:
        return [("", gain)]
    if isinstance(node, nir.Affine | nir.Linear):
        w = _torch(node.weight)
        bias = getattr(node, "bias", None)
        m = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
        with torch.no_grad():
            m.weight.copy_(w)
            if bias is not None:
                m.bias.copy_(_torch(bias))
        return [("", m)]
    if isinstance(node, nir.Conv2d):
        w = _torch(node.weight)
        bias = _torch(node.bias) if node.bias is not None else torch.zeros(w.shape[0])
        first, last, total = _branch(name, node, w, bias)
        padding = node.padding
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"NIR node {name!r}: unknown padding {padding!r}")
        else:
            padding = tuple(int(p) for p in np.broadcast_to(np.asarray(padding), (2,)))
        m = nn.Conv2d(
            w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[-2:]),
            stride=tuple(int(s) for s in np.broadcast_to(np.asarray(node.stride), (2,))),
            padding=padding,
            dilation=tuple(int(d) for d in np.broadcast_to(np.asarray(node.dilation), (2,))),
            groups=int(node.groups), bias=True,
        )  # fmt: skip
        if (first, last) != (0, total):
            m = nn.Conv2d(
                m.in_channels, last - first, m.kernel_size, stride=m.stride, padding=m.padding,
                dilation=m.dilation, groups=m.groups, bias=True,
            )  # fmt: skip
        with torch.no_grad():
            m.weight.copy_(w[first:last])
            m.bias.copy_(bias[first:last])
        return [("", m if (first, last) == (0, total) else Placed(m, first, total))]
    if isinstance(node, nir.AvgPool2d | nir.SumPool2d):
        kernel = tuple(int(k) for k in np.broadcast_to(np.asarray(node.kernel_size), (2,)))
        stride = tuple(int(s) for s in np.broadcast_to(np.asarray(node.stride), (2,)))
        pad = tuple(int(p) for p in np.broadcast_to(np.asarray(node.padding), (2,)))
        sum_pool = isinstance(node, nir.SumPool2d)
        return [("", nn.AvgPool2d(kernel, stride, pad, divisor_override=1 if sum_pool else None))]
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)
        # NIR counts dimensions without the batch; torch's Flatten sees [T·B, ...]
        return [("", nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end))]
    if isinstance(node, nir.Scale):
        return [("", Scale(_uniform(node.scale)))]
    if isinstance(node, nir.LIF):
        _zero(name, "v_leak", node.v_leak)
        _zero(name, "v_reset", node.v_reset)
        beta = beta_from_tau(node.tau, dt)
        cell = LIF(_uniform(beta), _uniform(node.v_threshold), reset="zero", reset_delay=False)
        return _with_gain(
            np.asarray(node.r, dtype=np.float64) * dt / np.asarray(node.tau), TimeLoop(cell)
        )
    if isinstance(node, nir.IF):
        _zero(name, "v_reset", node.v_reset)
        cell = IF(_uniform(node.v_threshold), reset="zero", reset_delay=False)
        return _with_gain(np.asarray(node.r, dtype=np.float64) * dt, TimeLoop(cell))
    if isinstance(node, nir.CubaLIF):
        _zero(name, "v_leak", node.v_leak)
        _zero(name, "v_reset", node.v_reset)
        tau_syn, tau_mem = np.asarray(node.tau_syn), np.asarray(node.tau_mem)
        alpha, beta = beta_from_tau(tau_syn, dt), beta_from_tau(tau_mem, dt)
        g_syn = np.asarray(node.w_in, dtype=np.float64) * dt / tau_syn
        g_mem = np.asarray(node.r, dtype=np.float64) * dt / tau_mem
        cell = CurrentLIF(*(_uniform(a) for a in (alpha, g_syn, beta, g_mem, node.v_threshold)))
        return [("", cell)]
    if isinstance(node, nir.LI):
        _zero(name, "v_leak", node.v_leak)
        beta = beta_from_tau(node.tau, dt)
        return _with_gain(
            np.asarray(node.r, dtype=np.float64) * dt / np.asarray(node.tau),
            Integrator(_uniform(beta)),
        )
    if isinstance(node, nir.I):
        one = torch.ones((), dtype=torch.get_default_dtype())
        return _with_gain(np.asarray(node.r, dtype=np.float64) * dt, Integrator(one))
    if type(node).__name__ == "Identity":
        return []
    supported = "Input, Output, Affine, Linear, Conv2d, AvgPool2d, SumPool2d, Flatten, Scale, "
    raise ValueError(
        f"cannot import NIR node {name!r} of type {type(node).__name__}: from_nir supports "
        f"{supported}LIF, IF, CubaLIF, LI, I and Identity"
    )


def _gain(name: str, node: Any, nir: Any) -> Scale | None:
    """A snnvar residual block's gain node (metadata ``gain``: a 1 × 1 Conv2d or a
    Linear with the scale on its diagonal, see :func:`snnvar.nir.to_nir`) as a
    :class:`Scale`, which holds no device weight; None for any other node. A node
    marked ``gain`` that is not such a diagonal is imported as the layer it is, with
    a warning."""
    meta = getattr(node, "metadata", None) or {}
    layer = isinstance(node, nir.Conv2d | nir.Linear | nir.Affine)
    if "gain" not in meta or "device_weight" in meta or not layer:  # a device layer is no gain
        return None
    diagonal = _diagonal(node, nir)
    if diagonal is None:
        warnings.warn(
            f"NIR node {name!r}: metadata gain marks a residual gain, but the node is not a "
            "diagonal 1 x 1 layer without bias; importing it as the layer it is",
            stacklevel=4,
        )
        return None
    shape = (-1, 1, 1) if isinstance(node, nir.Conv2d) else (-1,)
    return Scale(_uniform(diagonal.reshape(shape).numpy()))


def _diagonal(node: Any, nir: Any) -> torch.Tensor | None:
    """The diagonal of a square 1 × 1 layer that only scales its input (no bias; a
    Conv2d with stride 1, no padding or dilation, ungrouped); None for any other."""
    w = _torch(node.weight)
    if w.dim() < 2 or w.shape[0] != w.shape[1] or any(k != 1 for k in w.shape[2:]):
        return None
    if isinstance(node, nir.Conv2d):
        if isinstance(node.padding, str):
            return None
        plain = (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))
        if any(int(v) != want for field, want in plain
               for v in np.asarray(getattr(node, field)).reshape(-1)):  # fmt: skip
            return None
    bias = getattr(node, "bias", None)
    if bias is not None and bool(_torch(bias).any()):
        return None
    m = w.reshape(w.shape[0], w.shape[1])
    diagonal = torch.diagonal(m)
    return diagonal if torch.equal(m, torch.diag(diagonal)) else None


def _branch(name: str, node: Any, w: torch.Tensor, bias: torch.Tensor) -> tuple[int, int, int]:
    """``(first, last, total)`` output channels of a snnvar Concat branch (metadata
    ``channels``: the branch's weights and biases, zeros elsewhere), else the whole
    layer ``(0, C, C)``; metadata that does not fit is ignored with a warning (the layer
    then imports wide, and its weights draw other chips than the branch's)."""
    whole = (0, w.shape[0], w.shape[0])
    channels = (getattr(node, "metadata", None) or {}).get("channels")
    if channels is None:
        return whole
    try:
        values = [int(c) for c in np.asarray(channels).reshape(-1)]
        first, last, total = values if len(values) == 3 else (None, None, None)
    except (TypeError, ValueError):
        first = last = total = None
    fits = (
        first is not None
        and 0 <= first < last <= total == w.shape[0]
        and not bool(torch.cat([w[:first], w[last:]]).any())
        and not bool(torch.cat([bias[:first], bias[last:]]).any())
    )
    if not fits:
        warnings.warn(
            f"NIR node {name!r}: metadata channels = {channels!r} does not describe a branch "
            "(three integers first < last <= total, zero weights and biases elsewhere); "
            "importing the whole Conv2d",
            stacklevel=3,
        )
        return whole
    return first, last, total  # type: ignore[return-value]


_SHAPES = ("input_type", "output_type", "metadata")


def _check_finite(name: str, node: Any) -> None:
    """Refuse a node whose numeric parameters (weights, biases, τ, R, thresholds, ...)
    hold NaN or infinity, naming the node and the field."""
    for field, value in vars(node).items():
        if field in _SHAPES or isinstance(value, str | bool) or value is None:
            continue
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # not numeric (e.g. a nested graph's own nodes)
        if not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise ValueError(
                f"NIR node {name!r} ({type(node).__name__}): {field} holds {bad} non-finite "
                "value(s) (NaN or infinity); every parameter must be finite"
            )


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _topological(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> list[str]:
    incoming = {n: 0 for n in nodes}
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise ValueError(f"the graph has an edge to or from an unknown node {end!r}")
        incoming[dst] += 1
    ready = [n for n in nodes if incoming[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for src, dst in edges:
            if src == n:
                incoming[dst] -= 1
                if incoming[dst] == 0:
                    ready.append(dst)
    if len(order) != len(nodes):
        raise ValueError(
            "the graph has a cycle (a recurrent connection): from_nir imports feed-forward "
            "graphs only"
        )
    return order


def from_nir(graph: Any, dt: float | None = None, readout: str | None = None) -> NIRNetwork:
    """A NIR graph (or a ``.nir`` file) as a snnvar :class:`NIRNetwork`.

    Args:
        graph: a ``nir.NIRGraph`` or the path of a file written by ``nir.write``.
        dt: the time step the graph's τ were written for; default: the graph's
            metadata ``dt`` (snnvar's exports record it), else 1e-4 s.
        readout: how logits follow from the output node's signal over time (one
            of :data:`OUTPUT_READOUTS`); default: the graph's metadata ``readout``
            (snnvar's exports), else ``"sum"`` (spike counts) when the output is
            a spiking node's and ``"mean"`` otherwise.

    Neurons: ``LIF`` and ``IF`` become snnvar's LIF / IF with zero reset in the
    same step (β = 1 − dt/τ, an input gain R·dt/τ where it is not 1), ``LI`` /
    ``I`` a leaky integrator. A snnvar graph's readout tail (an ``LI`` / ``I``
    before the output) is folded back into snnvar's :class:`~snnvar.nn.Readout`,
    so ``from_nir(to_nir(m))`` gives ``m``'s logits bit for bit. Nonzero
    ``v_leak`` or ``v_reset``, recurrent edges and unknown node types are refused.
    """
    nir = require_nir()
    if isinstance(graph, str | Path):
        graph = read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir takes a nir.NIRGraph or a file path, got {type(graph).__name__}")
    metadata = {k: plain(v) for k, v in (graph.metadata or {}).items()}
    dt = check_dt(dt if dt is not None else metadata.get("dt", DEFAULT_DT))
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"from_nir needs one Input and one Output node, got inputs {inputs} and outputs "
            f"{outputs}"
        )
    for name, node in graph.nodes.items():
        _check_finite(name, node)
    order = _topological(graph.nodes, list(graph.edges))
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for src, dst in graph.edges:
        preds[dst].append(src)
    in_type = graph.nodes[inputs[0]].input_type["input"]
    in_shape = tuple(int(s) for s in np.asarray(in_type).reshape(-1))

    kind = readout if readout is not None else metadata.get("readout")
    fold_beta: float | None = None
    tail = preds[outputs[0]]
    if kind is not None and kind not in (*OUTPUT_READOUTS, "none"):
        raise ValueError(f"unknown readout {kind!r}; allowed: {list(OUTPUT_READOUTS)}")
    folds = readout is None and "readout_beta" in metadata and len(tail) == 1
    if folds and kind in ("mean_membrane", "last_membrane"):
        last = graph.nodes[tail[0]]
        if isinstance(last, nir.LI | nir.I):  # snnvar's own readout integrator
            fold_beta = float(metadata.get("readout_beta", 0.0))
    if kind in (None, "none"):
        spiking_tail = len(tail) == 1 and isinstance(
            graph.nodes[tail[0]], nir.LIF | nir.IF | nir.CubaLIF
        )
        kind = "sum" if spiking_tail else "mean"

    modules: dict[str, nn.Module] = {}
    run: list[str] = []
    sources: dict[str, list[str]] = {}
    last_of: dict[str, str] = {}  # NIR node -> the name of its last module
    weight_map: dict[str, str] = {}
    for name in order:
        node = graph.nodes[name]
        srcs = [last_of[p] for p in preds[name]]
        if fold_beta is not None and name == tail[0]:
            last_of[name] = srcs[0] if len(srcs) == 1 else _sum_node(run, sources, name, srcs)
            continue
        if isinstance(node, nir.Input | nir.Output):
            safe = _safe(name)
            run.append(safe)
            sources[safe] = srcs
            last_of[name] = safe
            continue
        parts = _module(name, node, nir, dt)
        if not parts:  # Identity
            last_of[name] = srcs[0] if len(srcs) == 1 else _sum_node(run, sources, name, srcs)
            continue
        for suffix, module in parts:
            safe = _safe(f"{name}_{suffix}" if suffix else name)
            if safe in modules:
                raise ValueError(f"two NIR nodes map to the module name {safe!r}")
            modules[safe] = module
            run.append(safe)
            sources[safe] = srcs
            srcs = [safe]
        last_of[name] = srcs[0]
        meta = getattr(node, "metadata", None) or {}
        layer, at = (module.layer, f"{srcs[0]}.layer") if isinstance(module, Placed) else (
            module, srcs[0])  # fmt: skip
        for tensor in ("weight", "bias"):
            key = meta.get(f"device_{tensor}")
            if key is not None and isinstance(layer, nn.Linear | nn.Conv2d):
                weight_map[f"nodes.{at}.{tensor}"] = str(plain(key))
    if fold_beta is not None:
        rk, rb = kind, fold_beta
    elif kind in READOUTS:
        rk, rb = kind, float(metadata.get("readout_beta", 0.0)) if readout is None else 0.0
    else:
        rk, rb = kind, 0.0
    out_name = _safe(outputs[0])
    net = NIRNetwork(modules, run, sources, in_shape, rk, rb, weight_map, metadata, out_name)
    out_type = graph.nodes[outputs[0]].output_type.get("output")
    if out_type is not None and np.asarray(out_type).size:
        net.num_classes = int(math.prod(int(s) for s in np.asarray(out_type).reshape(-1)))
    return net


def _sum_node(run: list[str], sources: dict[str, list[str]], name: str, srcs: list[str]) -> str:
    safe = _safe(f"{name}_sum")
    run.append(safe)
    sources[safe] = srcs
    return safe
