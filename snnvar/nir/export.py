"""``to_nir``: a snnvar SNN as a NIR graph (see :mod:`snnvar.nir`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..conversion.convert import Amplitude
from ..conversion.fuse import fuse_batchnorm
from ..hardware.readout import output_reads
from ..models.network import Concat
from ..nn.neurons import LIF, TimeLoop
from ..nn.residual import Residual
from ..nn.sequential import Readout, SpikingSequential, over_time
from ..variation import Draw, device_keys
from .io import require_nir
from .semantics import DEFAULT_DT, check_dt, r_from_beta, tau_from_beta

__all__ = ["neuron_parameters", "to_nir"]


def neuron_parameters(cell: nn.Module) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(β, θ, reset)`` of a neuron cell of any backend (snnvar, snntorch, norse).

    The reset timing does not matter here: with a zero reset, a reset one step
    after the spike and one in the same step give the same spikes.
    """
    if isinstance(cell, LIF):  # β clamped to [0, 1] as the neuron itself does
        return cell.beta.detach().clamp(0, 1), cell.threshold.detach(), cell.reset
    leaky = getattr(cell, "leaky", None)
    if leaky is not None:  # snnvar.nn.SnntorchLIF
        beta = torch.as_tensor(leaky.beta).detach().clamp(0, 1)
        return beta, torch.as_tensor(leaky.threshold).detach(), leaky.reset_mechanism
    inner = getattr(cell, "cell", None)
    if inner is not None and hasattr(cell, "scale"):  # snnvar.nn.NorseLIF
        p = inner.p
        reset = "zero"
        method = getattr(p, "reset_method", None)
        if method is not None and getattr(method, "__name__", "") == "reset_subtract":
            reset = "subtract"
        return torch.as_tensor(float(cell.beta)), torch.as_tensor(p.v_th).detach(), reset
    raise ValueError(
        f"cannot export the neuron cell {type(cell).__name__}: to_nir exports snnvar's "
        "LIF / IF and the zoo's snntorch and norse cells"
    )


def _refuse_reset(path: str, reset: str) -> None:
    if reset == "zero":
        return
    what = {
        "subtract": "resets by subtracting the threshold",
        "none": "never resets",
    }.get(reset, f"resets by {reset!r}")
    raise ValueError(
        f"the neurons of {path!r} {what}; NIR's LIF and IF reset to v_reset after a spike, so "
        "the graph would fire differently. Export the zero-reset variant instead: "
        "snnvar.nn.with_reset(model, 'zero') (a different network: evaluate or fine-tune it "
        "first), or build / train the model with reset='zero' (models.create(..., "
        "reset='zero'), `snnvar train --model-option reset=zero`, "
        "ConversionConfig(reset='zero'), `snnvar convert --reset zero`)"
    )


def _array(t: torch.Tensor, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    value = t.detach().cpu().double().numpy() if dtype == np.float64 else t.detach().cpu().numpy()
    return np.ascontiguousarray(np.broadcast_to(value, shape), dtype=dtype)


def _weights(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight and bias a layer computes with (a deployed restricted layer's are
    the programmed ones)."""
    return m.weight.detach(), (m.bias.detach() if m.bias is not None else None)


class _Builder:
    """Nodes and edges of the graph, one layer at a time."""

    def __init__(self, nir: Any, dt: float) -> None:
        self.nir = nir
        self.dt = dt
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.tails: list[str] = []  # the nodes whose (summed) output is the current signal
        self.scale: float | None = None  # a spike amplitude to fold into the next weights

    def add(self, name: str, node: Any) -> None:
        if name in self.nodes:
            raise ValueError(f"two layers map to the NIR node name {name!r}")
        self.nodes[name] = node
        self.edges.extend((t, name) for t in self.tails)
        self.tails = [name]


def _linear(b: _Builder, name: str, m: nn.Linear, meta: dict[str, str]) -> None:
    w, bias = _weights(m)
    if b.scale is not None:
        w, b.scale = w * b.scale, None
    if bias is None:
        b.add(name, b.nir.Linear(weight=_np(w), metadata=meta))
    else:
        b.add(name, b.nir.Affine(weight=_np(w), bias=_np(bias), metadata=meta))


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _conv_args(m: nn.Conv2d, path: str) -> dict[str, Any]:
    if m.padding_mode != "zeros":
        raise ValueError(
            f"cannot export the Conv2d at {path!r}: padding_mode={m.padding_mode!r}; NIR's "
            "Conv2d pads with zeros"
        )
    if isinstance(m.padding, str):
        if m.padding != "valid":
            raise ValueError(
                f"cannot export the Conv2d at {path!r}: padding={m.padding!r}; give the "
                "padding as integers"
            )
        padding: tuple[int, ...] = (0, 0)
    else:
        padding = tuple(int(p) for p in m.padding)
    return {
        "stride": tuple(int(s) for s in m.stride),
        "padding": padding,
        "dilation": tuple(int(d) for d in m.dilation),
        "groups": int(m.groups),
    }


def _conv(
    b: _Builder, name: str, m: nn.Conv2d, in_hw: tuple[int, int], module: str,
    meta: dict[str, str], out_channels: tuple[int, int] | None = None,
) -> None:  # fmt: skip
    """A Conv2d node; ``out_channels=(first, total)`` embeds it in a wider output (a
    Concat branch: its channels, zeros elsewhere, summed with the other branches)."""
    w, bias = _weights(m)
    if b.scale is not None:
        w, b.scale = w * b.scale, None
    if bias is None:
        bias = torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
    if out_channels is not None:
        first, total = out_channels
        wide = torch.zeros(total, *w.shape[1:], dtype=w.dtype, device=w.device)
        wide[first : first + w.shape[0]] = w
        wide_b = torch.zeros(total, dtype=w.dtype, device=w.device)
        wide_b[first : first + w.shape[0]] = bias
        # from_nir rebuilds the branch at its own shape from this
        meta = {**meta, "channels": [first, first + w.shape[0], total]}
        w, bias = wide, wide_b
    node = b.nir.Conv2d(
        input_shape=in_hw, weight=_np(w), bias=_np(bias), **_conv_args(m, module),
        metadata=meta,
    )  # fmt: skip
    b.add(name, node)


def _neuron(b: _Builder, name: str, loop: TimeLoop, shape: tuple[int, ...], module: str) -> None:
    if b.scale is not None:
        raise ValueError(
            f"the neurons of {module!r} receive scaled spikes (an Amplitude) without a weighted "
            "layer between: NIR's neurons take unit spikes; put a Linear / Conv2d between them"
        )
    beta, thr, reset = neuron_parameters(loop.cell)
    _refuse_reset(module, reset)
    if not torch.isfinite(thr).all() or (thr <= 0).any():
        bad = thr[~torch.isfinite(thr) | (thr <= 0)].flatten()[:4].tolist()
        raise ValueError(f"the thresholds of {module!r} must be finite and > 0, got {bad}")
    v_thr = _array(thr, shape)
    zeros = np.zeros(shape, dtype=np.float32)
    meta = {"module": module}
    if bool((beta == 1).all()):
        r = np.full(shape, 1.0 / b.dt)
        b.add(name, b.nir.IF(r=r, v_threshold=v_thr, v_reset=zeros, metadata=meta))
        return
    if bool((beta == 1).any()):
        raise ValueError(
            f"the neurons of {module!r} mix beta = 1 (IF) and beta < 1 (LIF); NIR needs one "
            "neuron type per layer"
        )
    beta64 = _array(beta, shape, np.float64)
    node = b.nir.LIF(
        tau=tau_from_beta(beta64, b.dt), r=r_from_beta(beta64), v_leak=zeros,
        v_threshold=v_thr, v_reset=zeros.copy(), metadata=meta,
    )  # fmt: skip
    b.add(name, node)


def _avgpool(b: _Builder, name: str, m: nn.AvgPool2d, module: str) -> None:
    if m.ceil_mode or m.divisor_override is not None:
        raise ValueError(
            f"cannot export the AvgPool2d at {module!r}: ceil_mode / divisor_override have "
            "no NIR counterpart"
        )
    pad = _pair(m.padding)
    if any(pad) and not m.count_include_pad:
        raise ValueError(
            f"cannot export the AvgPool2d at {module!r}: padding with count_include_pad=False"
        )
    kernel = _pair(m.kernel_size)
    stride = _pair(m.stride if m.stride is not None else m.kernel_size)
    b.add(
        name,
        b.nir.AvgPool2d(
            kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(pad),
            metadata={"module": module},
        ),
    )  # fmt: skip


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _flatten(b: _Builder, name: str, m: nn.Flatten, in_shape: tuple[int, ...], path: str) -> None:
    rank = len(in_shape) + 1  # with the batch dimension torch's Flatten sees
    start = m.start_dim % rank
    end = m.end_dim % rank
    if start == 0:
        raise ValueError(f"cannot export the Flatten at {path!r}: it flattens the batch dimension")
    # NIR counts dimensions without the batch (nir.Flatten's type inference)
    node = b.nir.Flatten(
        input_type={"input": np.array(in_shape)}, start_dim=start - 1, end_dim=end - 1,
        metadata={"module": path},
    )  # fmt: skip
    b.add(name, node)


def _readout(b: _Builder, readout: Readout, shape: tuple[int, ...]) -> dict[str, Any]:
    """The tail of a membrane readout: nothing for β = 0 (the output is the last
    layer's current), NIR's LI for 0 < β < 1, its I for β = 1."""
    meta: dict[str, Any] = {"readout": readout.kind, "readout_beta": float(readout.beta)}
    if readout.kind == "spike_count":
        return meta
    beta = float(readout.beta)
    if beta == 0.0:
        return meta
    if beta == 1.0:
        b.add("readout", b.nir.I(r=np.full(shape, 1.0 / b.dt), metadata={"module": "readout"}))
    else:
        node = b.nir.LI(
            tau=np.full(shape, tau_from_beta(beta, b.dt)), r=np.full(shape, r_from_beta(beta)),
            v_leak=np.zeros(shape, dtype=np.float32), metadata={"module": "readout"},
        )  # fmt: skip
        b.add("readout", node)
    return meta


def _model_layers(model: nn.Module) -> tuple[str, SpikingSequential]:
    """The prefix and the SpikingSequential of a zoo SNN, a converted SNN or a bare one."""
    if isinstance(model, SpikingSequential):
        return "", model
    layers = getattr(model, "layers", None)
    if isinstance(layers, SpikingSequential):
        return "layers.", layers
    raise ValueError(
        f"to_nir exports snnvar's spiking networks (a zoo SNN, a converted SNN, or a "
        f"SpikingSequential), got {type(model).__name__}"
        + (
            ": an ANN; build the SNN (spiking=True) or convert it (snnvar.convert) first"
            if isinstance(getattr(model, "layers", None), nn.Sequential)
            else ""
        )
    )


@contextlib.contextmanager
def _chip(model: nn.Module, chip: Draw | None) -> Iterator[None]:
    if chip is None:
        yield
        return
    if not isinstance(chip, Draw):
        raise TypeError(f"chip must be a snnvar Draw (variation.sample(...)), got {chip!r}")
    if chip.mode != "static":
        raise ValueError(
            "chip is a dynamic draw (noise redrawn at every read), which no fixed graph holds; "
            "export a static chip (Variation(mode='static'))"
        )
    expected = [t.name for t in chip.variation.targets(model)]
    if sorted(expected) != sorted(chip):
        raise ValueError(
            "chip was drawn on another model: its tensors "
            f"{sorted(chip)[:4]} are not this model's {sorted(expected)[:4]}"
        )
    with chip.variation.applied(model, seed=chip.seed, domain=chip.domain):
        yield


def _prepare(model: nn.Module, omit_converters: bool, chip: Draw | None) -> nn.Module:
    """A restricted model deployed (its programmed weights); its converters checked."""
    from ..hardware.measure import describe
    from ..hardware.restrict import deploy, restrictions_of

    hw = restrictions_of(model)
    if hw is None:
        return model
    if not all(layer["deployed"] for layer in describe(model)):
        if chip is not None:
            raise ValueError(
                "chip= on a restricted model that is not deployed: its noise would fall on the "
                "float weights before programming. Draw the chip on hardware.deploy(model), "
                "the chip after programming (what `snnvar evaluate` reads for an HRAT run), "
                "and export that"
            )
        model = deploy(model)
    circuit = [
        name
        for name, on in (
            ("input DAC / input range", hw.input_range is not None),
            ("output swing / ADC", hw.output_swing is not None),
            ("the tiles' ADCs (output_bound)", hw.output_bound is not None),
            ("noise or bound management", hw.input_scaling or hw.bound_management is not None),
            ("output noise on every read", hw.noisy),
            ("the wires' IR drop", hw.wired),
        )
        if on
    ]
    if circuit and not omit_converters:
        raise ValueError(
            f"the model is restricted with {' and '.join(circuit)} ({hw.label()}), which NIR "
            "cannot express (no clipping, rounding or noise primitive): the graph would hold the "
            "programmed weights without them. Pass omit_converters=True to export exactly "
            "that (the input scale is folded into the weights), or restrict with only "
            "weight_levels / bias_bits / fuse_batchnorm for an exact export"
        )
    return model


def _layer_list(layers: nn.Sequential, prefix: str) -> list[tuple[str, nn.Module]]:
    """``(module path, module)`` in order, BatchNorm folded into the layer before it
    (in inference form; within each branch of a residual block), Dropout and Identity
    left out (inference passes them by)."""
    items = [(f"{prefix}{n}", m) for n, m in layers.named_children()]
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm | Residual) for _, m in items):
        items = fuse_batchnorm(items)
    return [(p, m) for p, m in items if not isinstance(m, nn.Dropout | nn.Identity)]


def _residual(
    b: _Builder, block: Residual, path: str, x: torch.Tensor,
    emit: Callable[[list[tuple[str, nn.Module]], torch.Tensor], torch.Tensor],
) -> torch.Tensor:  # fmt: skip
    """A residual block: its body and its shortcut from the same nodes, their ends
    summed by the nodes that follow (NIR sums a node's inputs), then its post.

    A branch that ends in scaled spikes (a converted SNN's amplitude θ, or the
    block's input passed on by an identity shortcut) gets a gain node before the
    sum unless both branches carry the same scale: a 1 × 1 Conv2d (Linear for flat
    features) with θ on the diagonal, marked ``gain`` in its metadata (no device
    weight: :func:`~snnvar.nir.from_nir` imports it as a scale). A branch that is
    itself a sum is summed in such a node (gain 1), so that every sum of float
    currents has two terms and a consumer adds them as snnvar does, bit for bit; sums
    of unit spikes (a zoo SEW-ResNet's) stay edges, as integer sums are exact in any
    order."""
    start_tails, start_scale = b.tails, b.scale
    ends = []
    for part in ("body", "shortcut"):
        b.tails, b.scale = start_tails, start_scale
        y = emit(_layer_list(getattr(block, part), f"{path}.{part}."), x)
        ends.append((part, list(b.tails), b.scale, y))
    if ends[0][1] == list(start_tails):
        raise ValueError(
            f"cannot export the residual block at {path!r}: its body holds no layer NIR "
            "keeps (after BatchNorm folding and leaving out Dropout / Identity), so both "
            "branches would be the same edges"
        )
    if ends[0][3].shape != ends[1][3].shape:
        raise ValueError(
            f"the residual block at {path!r} adds a body of shape {tuple(ends[0][3].shape[2:])} "
            f"to a shortcut of shape {tuple(ends[1][3].shape[2:])}"
        )
    scales = {scale for _, _, scale, _ in ends}
    # a sum of more than two terms would be added in the consumer's order, not snnvar's,
    # and floating point is not associative: unless every term is unit spikes (integer
    # sums are exact in any order), a branch that is itself a sum is summed in a gain node
    spikes = (b.nir.LIF, b.nir.IF, b.nir.CubaLIF)
    exact = scales == {None} and all(isinstance(b.nodes[t], spikes) for e in ends for t in e[1])
    collapse = len(scales) > 1 or (not exact and any(len(e[1]) > 1 for e in ends))
    tails: list[str] = []
    for part, part_tails, scale, y in ends:
        if collapse and (scale is not None or len(part_tails) > 1):
            b.tails, b.scale = part_tails, None
            gain = 1.0 if scale is None else scale
            _gain(b, f"{path.replace('.', '_')}_{part}_gain", gain, tuple(y.shape[2:]), path)
            part_tails = b.tails
        tails += part_tails
    b.tails = tails
    b.scale = None if collapse else scales.pop()
    return emit(_layer_list(block.post, f"{path}.post."), ends[0][3] + ends[1][3])


def _gain(b: _Builder, name: str, scale: float, shape: tuple[int, ...], path: str) -> None:
    """A diagonal layer that multiplies its input by ``scale`` (see :func:`_residual`)."""
    meta = {"module": path, "gain": float(scale)}
    c = shape[0]
    if len(shape) == 3:
        w = (torch.eye(c) * scale).reshape(c, c, 1, 1)
        node = b.nir.Conv2d(
            input_shape=shape[-2:], weight=_np(w), bias=np.zeros(c, dtype=np.float32), stride=1,
            padding=0, dilation=1, groups=1, metadata=meta,
        )  # fmt: skip
    elif len(shape) == 1:
        node = b.nir.Linear(weight=_np(torch.eye(c) * scale), metadata=meta)
    else:
        raise ValueError(f"cannot export the residual block at {path!r}: features {shape}")
    b.add(name, node)


@torch.no_grad()
def to_nir(
    model: nn.Module,
    in_shape: tuple[int, ...] | None = None,
    dt: float = DEFAULT_DT,
    chip: Draw | None = None,
    omit_converters: bool = False,
) -> Any:
    """A snnvar SNN as a ``nir.NIRGraph`` that does what the model does.

    Args:
        model: a zoo SNN of any neuron backend, a converted SNN
            (:func:`snnvar.conversion.convert`, per-layer thresholds), a restricted model
            (:func:`snnvar.hardware.restrict` / ``deploy``: the programmed,
            quantised weights), or a :class:`~snnvar.nn.SpikingSequential`.
        in_shape: one sample's shape without time and batch (default: the
            model's ``in_shape``).
        dt: the time step in seconds that maps β to NIR's τ
            (:mod:`snnvar.nir.semantics`); recorded in the graph's metadata.
        chip: a static :class:`~snnvar.Draw` (``variation.sample(model, seed=...)``):
            export the weights of that simulated chip, bit for bit those
            :func:`snnvar.evaluate` reads for the same variation and seed.
        omit_converters: for a model restricted with an input DAC, an output
            swing / ADC, output noise or resistive wires, export the programmed weights
            without those circuits (NIR has none); otherwise such a model is refused.

    Layers: Linear → ``Affine`` (``Linear`` without bias), Conv2d → ``Conv2d``
    (BatchNorm folded in with its running statistics), AvgPool2d → ``AvgPool2d``,
    Flatten → ``Flatten`` (NIR counts dimensions without the batch), a neuron
    loop → ``LIF`` (β < 1) or ``IF`` (β = 1) with zero reset, a converted SNN's
    spike amplitude θ → folded into the next layer's weights, a Concat of
    convolutions → one Conv2d per branch on its channels, summed. Dropout is
    left out (inference). The readout is training-side: the graph ends at the
    output layer's current (``mean_membrane`` / ``last_membrane`` with β = 0),
    an ``LI`` (0 < β < 1) or ``I`` (β = 1) membrane, or the output neurons'
    spikes (``spike_count``); the graph's metadata ``readout`` says how the
    logits follow from the output over time. Refused with a ``ValueError`` that
    names the layer: subtract reset (NIR resets to v_reset; see
    :func:`snnvar.nn.with_reset`), max pooling, other layer types.
    """
    nir = require_nir()
    dt = check_dt(dt)
    model = _prepare(model, omit_converters, chip)
    prefix, layers = _model_layers(model)
    shape = tuple(int(s) for s in (in_shape or getattr(model, "in_shape", None) or ()))
    if not shape:
        raise ValueError("to_nir needs in_shape (one sample's shape, e.g. (1, 28, 28))")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()  # inference: BatchNorm's running statistics, no dropout; none updated
    try:
        # the layers run once on zeros for their shapes: a noisy chip's reads are drawn
        # (seed 0) and thrown away with them
        with _chip(model, chip), output_reads(model, seed=0):
            graph = _build(nir, model, prefix, layers, shape, dt)
    finally:
        for m, training in modes:
            m.training = training
    return graph


def _build(
    nir: Any, model: nn.Module, prefix: str, layers: SpikingSequential,
    shape: tuple[int, ...], dt: float,
) -> Any:  # fmt: skip
    from ..hardware.measure import describe

    b = _Builder(nir, dt)
    # a restricted analog layer's learned input scale a: the gain of its input stage
    gains = {
        row["layer"]: row["input_scale"]
        for row in describe(model)
        if row["input_scale"] is not None
    }
    b.add("input", nir.Input(input_type={"input": np.array(shape)}))
    first = next(model.parameters(), None)
    x = torch.zeros(
        1, 1, *shape,
        dtype=first.dtype if first is not None else torch.get_default_dtype(),
        device=first.device if first is not None else None,
    )  # fmt: skip
    names = [n for n, _ in model.named_parameters()]
    keys = dict(zip(names, device_keys(model, names), strict=True))
    meta: dict[str, Any] = {}

    def emit(items: list[tuple[str, nn.Module]], x: torch.Tensor) -> torch.Tensor:
        """Add the nodes of ``items`` (fused, in order) after ``b.tails``; ``x`` is the
        layers' input on zeros (for the shapes), the return value their output."""
        nonlocal meta
        for path, m in items:
            name = path.replace(".", "_")
            here = tuple(x.shape[2:])
            a = gains.get(path)
            if a is not None:  # folded into the weights
                b.scale = a if b.scale is None else b.scale * a
            if isinstance(m, Residual):
                x = _residual(b, m, path, x, emit)
                continue
            if isinstance(m, nn.Linear):
                _linear(b, name, m, _device_meta(path, keys))
            elif isinstance(m, nn.Conv2d):
                _conv(b, name, m, here[-2:], path, _device_meta(path, keys))
            elif isinstance(m, Concat):
                _concat(b, name, m, here, path, keys)
            elif isinstance(m, TimeLoop):
                _neuron(b, name, m, tuple(over_time(m, x).shape[2:]), path)
            elif isinstance(m, nn.AvgPool2d):
                _avgpool(b, name, m, path)
            elif isinstance(m, nn.Flatten):
                _flatten(b, name, m, here, path)
            elif isinstance(m, Amplitude):  # a converted SNN's spike amplitude θ
                b.scale = float(m.value) if b.scale is None else b.scale * float(m.value)
            elif isinstance(m, Readout):
                meta = _readout(b, m, here)
            elif isinstance(m, nn.MaxPool2d):
                raise ValueError(
                    f"cannot export the MaxPool2d at {path!r}: NIR 1.0 has no max pooling; "
                    "build the model with pool='avg' (the zoo's default)"
                )
            else:
                raise ValueError(
                    f"cannot export {type(m).__name__} at {path!r}: to_nir exports Linear, "
                    "Conv2d, Concat of Conv2d, residual blocks, AvgPool2d, Flatten, neuron loops "
                    "(LIF / IF), BatchNorm (folded), Dropout (left out) and the readout"
                )
            if not isinstance(m, Readout):
                x = over_time(m, x)
        return x

    x = emit(_layer_list(layers, prefix), x)
    if b.scale is not None:
        raise ValueError("the model ends in a spike amplitude with no layer to fold it into")
    out_shape = tuple(x.shape[2:])
    b.add("output", nir.Output(output_type={"output": np.array(out_shape)}))
    from ..version import package_version

    metadata = {
        "source": f"snnvar {package_version()}",
        "dt": dt,
        "model": str(getattr(model, "name", type(model).__name__)),
        **(meta or {"readout": "none"}),
    }
    return nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=metadata)


def _device_meta(path: str, keys: dict[str, str]) -> dict[str, str]:
    """A weighted node's metadata: its module and the device keys of its weight and bias
    (the names its simulated chips are drawn by; see :func:`snnvar.variation.device_keys`)."""
    meta = {"module": path}
    for tensor in ("weight", "bias"):
        if f"{path}.{tensor}" in keys:
            meta[f"device_{tensor}"] = keys[f"{path}.{tensor}"]
    return meta


def _concat(
    b: _Builder, name: str, m: Concat, here: tuple[int, ...], path: str, keys: dict[str, str]
) -> None:
    convs = list(m.branches)
    if not all(isinstance(c, nn.Conv2d) and c.groups == 1 for c in convs):
        raise ValueError(
            f"cannot export the Concat at {path!r}: every branch must be an ungrouped Conv2d"
        )
    total = sum(c.out_channels for c in convs)
    sources, first, scale = b.tails, 0, b.scale
    ends = []
    for i, conv in enumerate(convs):
        b.tails, b.scale = sources, scale
        where = f"{path}.branches.{i}"
        _conv(b, f"{name}_branch{i}", conv, here[-2:], where, _device_meta(where, keys),
              (first, total))  # fmt: skip
        ends.append(f"{name}_branch{i}")
        first += conv.out_channels
    b.tails, b.scale = ends, None  # NIR sums a node's inputs: the branches' channels join
