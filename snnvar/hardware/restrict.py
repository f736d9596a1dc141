"""``restrict(model, restrictions)``: the model as the chip's circuit computes it, and
``deploy(restricted)``: the weights that would be programmed.

Every Conv2d / Linear of the copy becomes a restricted layer of the same class
family *in place* (its class is swapped for a subclass), so its parameters keep
their names: a :class:`~snnvar.Variation` perturbs the same device weights and
draws the same chips as for the unrestricted model. A restricted layer computes

    x'  = DAC(clip(a·x, ±input_range))             analog inputs only (an SNN's first layer)
    W'  = levels(fuse(W / a, BN)),  b' = DAC_b(fuse(b, BN))
    y   = ADC(clip(W' x' + b', ±output_swing))

or, over arrays of finite size (``array_rows`` / ``array_cols``, a relative ADC range
``output_bound`` or a digital bias: ``tiles``), ``y = Σ_tiles ADC_t(W'_t x'_t
(+ b' on the first)) (+ b')``, each tile's ADC range ``±output_swing`` or
``±output_bound · x_max · max|W'_t|``. With ``input_scaling`` (aihwkit's noise
management) each tile divides each input vector by its largest ``|x|`` before its
DAC and multiplies its output back after its ADC.

(HRAT; HA-SGD poster, Figs. 5 and 9) with straight-through rounding
(:mod:`.quantize`). With ``fuse_batchnorm`` the BatchNorm after a layer is folded
into it: in training with the batch's statistics (computed from the layer's
unfused output, one extra pass; the running statistics update as BatchNorm's
would, once per forward pass and not inside
:func:`~snnvar.training.base.frozen_norm_stats`), in inference with the running
ones; the BatchNorm module itself then passes its input through. In training,
such a layer must see all time steps of an SNN at once (its statistics span
them): a per-step (dynamic, ``redraw="step"``) variation on it is refused. The
learned input scale is a parameter ``input_log_scale`` (``a = exp``, so weight
decay pulls ``a`` towards 1 and ``a`` stays positive).

Training the restricted model is HRAT; any method of :mod:`snnvar.training`
trains it (HRAT + WVAT, HRAT + HA-SGD, HRAT + noise injection). On a chip the
noise comes after programming, and so it does in training: a variation applied
to the restricted model reads the programmed ``W'`` (and ``b'``) where the layer
computes them (:func:`snnvar.variation.read_programmed`), its scale, window
and levels taken from ``W'``, with the gradient passing straight through to
``W``. So a fused BatchNorm does not scale the noise per output channel: the
training noise is the chip's, and the fused BatchNorm's batch (and running)
statistics are those of the clean programmed output. WVAT's GAV is taken in W'
too (its gradient, ‖ΔW'‖ and its shift). :func:`deploy` writes the programmed ``W'`` and
``b'`` into the weights and keeps only the input and output circuit, so a
Variation applied to the deployed model perturbs the programmed levels, as
hardware does; with the BatchNorm in eval mode the restricted model and its
deployed chip read the same values. Evaluating an undeployed restricted model
(:func:`snnvar.evaluate`, the worst case) is refused: deploy it first. The
adversarial regulariser's attack (:class:`~snnvar.training.AdversarialRegularization`)
still moves the parameters ``W`` within ``|Δ| ≤ ζ|W|``: through the fused
BatchNorm that ball is the same relative ball on W', but the weight levels round
it, so on a quantised chip it is not the chip's adversary.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..nn.neurons import TimeLoop
from ..nn.recording import is_spiking, neuron_layer_names
from ..variation.engine import read_programmed
from . import management, tiles, wires
from .batchnorm import batchnorm_pairs, fused_class, update_running
from .periphery import Periphery, periphery
from .quantize import quantize, quantize_each
from .restrictions import Restrictions

__all__ = [
    "DEPLOYABLE",
    "RestrictedConv2d",
    "RestrictedLinear",
    "deploy",
    "restrict",
    "restricted_layers",
    "restrictions_of",
]

_STATE = "_hw_state"
_UNSUPPORTED = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

SATURATION_WARNING = 0.5
"""A restricted layer warns (once) when more than this fraction of its outputs in one
forward pass sit at ``±output_swing``."""


class _State:
    """What a restricted layer knows beyond its parameters (not in the state dict)."""

    def __init__(
        self, hw: Restrictions, name: str, analog: bool, tiles: tuple[list[int], list[int]]
    ) -> None:
        self.hw = hw
        self.name = name
        self.analog = analog
        self.rows, self.cols = tiles  # the arrays' row and column blocks (tiles.py)
        self.bn: tuple[_BatchNorm, int, int] | None = None  # module, first channel, channels
        self.deployed = False
        self.warned = False
        self.periphery: Periphery | None = None  # set by deploy from the programmed W′, b′
        self.noise: torch.Generator | None = None  # its stream, set by readout.output_reads

    def __getstate__(self) -> dict[str, Any]:
        """A copy (``deepcopy``, ``torch.save``) is not inside its original's
        ``output_reads`` block: it holds no output-noise stream."""
        return {**self.__dict__, "noise": None}

    @property
    def split(self) -> bool:
        """Whether the layer spans more than one array."""
        return len(self.rows) > 1 or len(self.cols) > 1


class _Restricted:
    """The forward pass of a restricted Conv2d / Linear (see the module docstring)."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    training: bool

    @property
    def restrictions(self) -> Restrictions:
        return self.__dict__[_STATE].hw

    @property
    def deployed(self) -> bool:
        """Whether the weights are the programmed ones (:func:`deploy`)."""
        return self.__dict__[_STATE].deployed

    @property
    def output_stream(self) -> torch.Generator | None:
        """The generator of the layer's output noise (``readout.output_reads`` sets it)."""
        return self.__dict__[_STATE].noise

    @output_stream.setter
    def output_stream(self, gen: torch.Generator | None) -> None:
        self.__dict__[_STATE].noise = gen

    def summary(self) -> dict[str, Any]:
        """Name, analog input, fused BatchNorm, deployed, input scale, the sizes of the
        arrays' row and column blocks, and ``x_max``, the largest input a tile receives
        (:func:`snnvar.hardware.describe`)."""
        state: _State = self.__dict__[_STATE]
        a = self._scale()
        return {
            "layer": state.name, "analog_input": state.analog,
            "batchnorm": state.bn is not None, "deployed": state.deployed,
            "input_scale": float(a.detach()) if a is not None else None,
            "row_blocks": list(state.rows), "column_blocks": list(state.cols),
            "x_max": self._x_max(),
        }  # fmt: skip

    def programs_parameter(self, attr: str) -> bool:
        """True for ``weight`` and ``bias`` until deployed: the devices hold the
        programmed ``W'`` and ``b'``, so a variation reads those (the engine's
        protocol, :func:`snnvar.variation.read_programmed`)."""
        return not self.deployed and attr in ("weight", "bias")

    def _op(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        """``.to()``, ``.double()``, ...: the periphery set at deploy moves with the weights."""
        out = super()._apply(fn, recurse)  # type: ignore[misc]
        state: _State = self.__dict__[_STATE]
        if state.periphery is not None:
            state.periphery = Periphery(*(None if t is None else fn(t) for t in state.periphery))
        return out

    def _partials(self, x: torch.Tensor, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
        raise NotImplementedError

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` times HRAT's learned input scale ``a`` (analog inputs; unchanged without)."""
        a = self._scale()
        return x if a is None else x * a

    def _dac(self, x: torch.Tensor) -> torch.Tensor:
        """The DAC: ``x`` clipped to ``±input_range`` (and quantised with ``input_bits``);
        spikes (a layer without analog input) pass as they are."""
        hw = self.restrictions
        if hw.input_range is None or not self.__dict__[_STATE].analog:
            return x
        if hw.input_bits is not None:
            return quantize(x, _converter_levels(hw.input_bits), hw.input_range)
        return x.clamp(-hw.input_range, hw.input_range)

    @property
    def _scales_inputs(self) -> bool:
        """Whether each tile scales its input vectors (``input_scaling`` or
        ``bound_management``; spikes too, their scale 1, or 0 for no spike): the DAC then
        acts per tile, in :meth:`_tiled`."""
        hw = self.restrictions
        return hw.input_scaling or hw.bound_management is not None

    def _scale(self) -> torch.Tensor | None:
        """HRAT's learned input scale ``a`` of an analog layer (None: no scale)."""
        if self.restrictions.learn_input_scale and self.__dict__[_STATE].analog:
            return self.input_log_scale.exp()  # type: ignore[attr-defined]
        return None

    def _fused(
        self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``w`` and ``b`` with the BatchNorm after the layer folded in (``x``: the
        layer's input as the crossbar receives it, for the batch statistics)."""
        state: _State = self.__dict__[_STATE]
        if state.bn is None:
            return w, b
        bn, first, count = state.bn
        channels = slice(first, first + count)
        gamma = bn.weight[channels] if bn.affine else torch.ones(count, device=w.device)
        beta = bn.bias[channels] if bn.affine else torch.zeros(count, device=w.device)
        if bn.training:  # the batch's statistics of the layer's output, bias included
            y0 = self._op(x, w, b)
            dims = [d for d in range(y0.dim()) if d != 1]
            mean, var = y0.mean(dims), y0.var(dims, correction=0)
            if bn.track_running_stats:
                update_running(bn, channels, mean.detach(), y0, dims, first == 0)
        else:
            mean, var = bn.running_mean[channels], bn.running_var[channels]
        scale = gamma / torch.sqrt(var + bn.eps)
        w = w * scale.view(-1, *([1] * (w.dim() - 1)))
        b = beta + ((b if b is not None else 0.0) - mean) * scale
        return w, b

    def programmed(self, x: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias the crossbar holds: divided by the input scale, fused
        with the BatchNorm after the layer (``x``: the crossbar's input, needed in
        training, where the batch's statistics fuse), quantised."""
        hw = self.restrictions
        w, b = self.weight, self.bias
        a = self._scale()
        if a is not None:
            w = w / a  # the crossbar receives a·x
        w, b = self._fused(x if x is not None else torch.empty(0), w, b)
        state: _State = self.__dict__[_STATE]
        if hw.weight_levels is not None and hw.weight_window is None and state.split:
            w2d = w.reshape(w.shape[0], -1)  # each array's own window
            half = tiles.element_max(w2d, state.rows, state.cols).view_as(w)
            w = quantize_each(w, hw.weight_levels, half)
        elif hw.weight_levels is not None:
            half = hw.weight_window if hw.weight_window is not None else w.detach().abs().max()
            w = quantize(w, hw.weight_levels, half)
        if hw.bias_bits is not None and b is not None:
            b = quantize(b, _converter_levels(hw.bias_bits), b.detach().abs().max())
        return w, b

    def _output(self, y: torch.Tensor) -> torch.Tensor:
        state: _State = self.__dict__[_STATE]
        hw = state.hw
        if hw.output_swing is None:
            return y
        if not state.warned and not self.training:  # checked in inference only (a sync)
            saturated = float((y.detach().abs() >= hw.output_swing).float().mean())
            if saturated > SATURATION_WARNING:
                state.warned = True
                warnings.warn(
                    f"layer {state.name!r}: {saturated:.0%} of its outputs saturate at "
                    f"±output_swing = ±{hw.output_swing:g}; raise the swing (or, with "
                    "learn_input_scale, let training shrink the input scale)",
                    stacklevel=4,
                )
        if hw.output_bits is not None:
            return quantize(y, _converter_levels(hw.output_bits), hw.output_swing)
        return y.clamp(-hw.output_swing, hw.output_swing)

    @property
    def whole_batch(self) -> bool:
        """True while the layer must see all time steps at once: in training with a
        BatchNorm fused, whose batch statistics span every step (a spiking container
        refuses to call it once per step, as a per-read variation would)."""
        state: _State = self.__dict__[_STATE]
        return state.bn is not None and state.bn[0].training and not state.deployed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state: _State = self.__dict__[_STATE]
        x = self._scaled(x)
        if self._scales_inputs:  # the DAC acts per tile (_tiled)
            fused_x = x if state.hw.input_scaling else self._dac(x)  # the first read's
        else:
            x = fused_x = self._dac(x)
        if state.deployed:  # programmed once: the weights are the chip's
            w, b, periphery = self.weight, self.bias, state.periphery
        else:  # programmed at every call; a variation applied now reads W' and b'
            w0, b0 = self.programmed(fused_x)
            read = read_programmed(self, {"weight": w0, "bias": b0})
            w, b = read["weight"], read["bias"]
            periphery = self._periphery(w0, b0)
        if not state.hw.tiled:
            return self._output(self._op(x, w, b))
        assert periphery is not None
        if periphery.scale is not None:  # the wires: the conductances as the ADCs see them
            w, b = self._through_wires(w, b, periphery.scale)
        return self._tiled(x, w, b, periphery.ranges, periphery.sigma)

    def _periphery(self, w: torch.Tensor, b: torch.Tensor | None) -> Periphery:
        """The layer's periphery (:func:`.periphery.periphery`) for the programmed
        (clean) ``W′`` and ``b′``."""
        state: _State = self.__dict__[_STATE]
        return periphery(state.hw, w, b, state.rows, state.cols, self._x_max())

    def _x_max(self) -> float:
        """The largest input a tile receives: ``input_range`` for an analog input (1
        without one: the wires' bias row is then driven at 1), 1 for spikes."""
        state: _State = self.__dict__[_STATE]
        return state.hw.input_range or 1.0 if state.analog else 1.0

    def _through_wires(
        self, w: torch.Tensor, b: torch.Tensor | None, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``w`` and ``b`` as the wires' resistance leaves them (``wires.layer_through_wires``)."""
        state: _State = self.__dict__[_STATE]
        hw = state.hw
        return wires.layer_through_wires(w, None if hw.digital_bias else b, state.rows,
                                         state.cols, hw.wire_resistance, scale, self._x_max(),
                                         state.name, b)  # fmt: skip

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        """Unit Gaussian noise shaped as ``like`` from the layer's output stream."""
        state: _State = self.__dict__[_STATE]
        gen = state.noise
        if gen is None:
            raise RuntimeError(
                f"layer {state.name!r} adds output noise at every read (output_noise="
                f"{state.hw.output_noise:g}), which needs a seed: run the model inside "
                "snnvar.hardware.output_reads(model, seed=...) (snnvar.evaluate and the "
                "training methods do)"
            )
        unit = torch.randn(like.shape, generator=gen, device=gen.device, dtype=like.dtype)
        return unit.to(like.device)

    def _tiled(
        self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
        ranges: torch.Tensor | None, sigma: torch.Tensor | None,
    ) -> torch.Tensor:  # fmt: skip
        """The layer over its arrays: a partial output per row block, plus its output
        noise (σ ``sigma``), through that tile's ADC, added digitally
        (``snnvar.hardware.tiles``); the bias a row of the first array (its ``|b′|`` in
        that tile's full scale) or added after the ADCs (``digital_bias``).
        ``ranges``, ``sigma``: :meth:`_periphery`."""
        state: _State = self.__dict__[_STATE]
        hw = state.hw
        linear = isinstance(self, nn.Linear)
        flat = linear or self._scales_inputs  # managed: a Conv2d's patches as vectors
        tile_dim = -2 if flat else -4  # [..., R, out] or [..., R, out, H, W]
        per_tile = (len(state.rows), -1) if flat else (len(state.rows), -1, 1, 1)
        half = hw.output_swing if ranges is None else ranges.view(per_tile)
        levels = None if hw.output_bits is None else _converter_levels(hw.output_bits)

        def adc(parts: torch.Tensor) -> torch.Tensor:
            if half is None:
                return parts
            if ranges is None and hw.bound_management is None:
                return self._output(parts)  # the swing, and its warning
            return management.converted(parts, half, levels)

        def noisy(parts: torch.Tensor) -> torch.Tensor:  # every read, before the ADC
            return parts if sigma is None else parts + sigma.view(per_tile) * self._noise(parts)

        if self._scales_inputs:  # each tile's inputs scaled (and re-read), through its DAC
            vectors, restore = tiles.input_vectors(self, x)
            y = restore(management.managed(
                vectors, w.reshape(w.shape[0], -1), state.rows, state.cols, self._dac,
                hw.input_scaling, noisy, adc, half, levels, hw.bound_management,
            ))  # fmt: skip
        else:
            if len(state.rows) > 1:
                parts = self._partials(x, w, state.rows)
            else:
                parts = self._op(x, w, None).unsqueeze(tile_dim)
            if b is not None and not hw.digital_bias:  # a row of the first array
                rows = torch.cat([b.unsqueeze(0), b.new_zeros(len(state.rows) - 1, b.shape[0])])
                parts = parts + rows.view(per_tile)
            y = adc(noisy(parts)).sum(tile_dim)
        if b is not None and hw.digital_bias:
            y = y + (b if linear else b.view(-1, 1, 1))
        return y


def _reprogrammed(module: nn.Module, _keys: Any) -> None:
    """A deployed chip that loads other weights is programmed anew: its ADC ranges and
    noise σ follow the loaded weights."""
    state: _State = module.__dict__[_STATE]
    state.periphery = module._periphery(module.weight, module.bias)  # type: ignore[operator]


def _converter_levels(bits: int) -> int:
    """A signed ``bits``-bit converter's levels: 2^bits − 1, symmetric, zero exact."""
    return max(2, 2**bits - 1)


class RestrictedLinear(_Restricted, nn.Linear):
    """A Linear as the crossbar computes it (parameters as the Linear's)."""

    def _op(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, w, b)

    def _partials(self, x: torch.Tensor, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
        return tiles.linear_partials(x, w, rows)


class RestrictedConv2d(_Restricted, nn.Conv2d):
    """A Conv2d as the crossbar computes it (parameters as the Conv2d's)."""

    def _op(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return self._conv_forward(x, w, b)

    def _partials(self, x: torch.Tensor, w: torch.Tensor, rows: list[int]) -> torch.Tensor:
        return tiles.conv_partials(self, x, w, rows)


DEPLOYABLE: dict[type, type] = {nn.Linear: RestrictedLinear, nn.Conv2d: RestrictedConv2d}
"""Layer type -> its restricted class."""


def _weighted(model: nn.Module) -> list[tuple[str, nn.Module]]:
    out = []
    for name, m in model.named_modules():
        if isinstance(m, _UNSUPPORTED):
            raise ValueError(
                f"cannot restrict {type(m).__name__} at {name!r}: restrictions support "
                "Conv2d and Linear layers (and BatchNorm after them)"
            )
        if isinstance(m, _Restricted):
            raise ValueError(f"{name!r} is restricted already: restrict the original model")
        if type(m) in DEPLOYABLE:
            out.append((name, m))
    return out


def _analog(model: nn.Module, layers: dict[str, nn.Module]) -> set[str]:
    """The weighted ``layers`` whose input is analog: all of an ANN's; in an SNN those
    before the first neuron loop (the rest receive spikes)."""
    if not is_spiking(model):
        return set(layers)
    neurons = set(neuron_layer_names(model))
    out = set()
    for name, m in model.named_modules():
        if isinstance(m, TimeLoop) or name in neurons:
            break
        if type(m) in DEPLOYABLE:
            out.add(name)
    return out


def restrict(model: nn.Module, restrictions: Restrictions | Any) -> nn.Module:
    """A copy of ``model`` as the chip computes it (see the module docstring); the
    original is untouched (``restrictions``: a :class:`Restrictions`, or a
    :class:`~snnvar.hardware.Chip`, its circuit). Conv2d / Linear weights keep their names; with
    ``learn_input_scale`` each analog layer gains a parameter ``input_log_scale``
    (``a = exp(input_log_scale)``, initialised to 1).

    Raises ``ValueError`` for a layer that cannot be restricted (Conv1d/3d,
    transposed convolutions) and, with ``fuse_batchnorm``, for a BatchNorm that
    does not follow a Conv2d / Linear, naming its path.
    """
    from .chip import Chip

    if isinstance(restrictions, Chip):  # a chip's circuit
        restrictions = restrictions.circuit
    if not isinstance(restrictions, Restrictions):
        raise TypeError(
            f"restrictions must be a Restrictions or a Chip, got {type(restrictions).__name__}"
        )
    chip = copy.deepcopy(model)
    layers = dict(_weighted(chip))
    if not layers:
        raise ValueError("the model has no Conv2d or Linear layer to restrict")
    analog = _analog(chip, layers)
    pairs = batchnorm_pairs(chip, tuple(DEPLOYABLE)) if restrictions.fuse_batchnorm else {}
    for name, layer in layers.items():
        split = tiles.tile_shape(layer.weight, restrictions.array_rows, restrictions.array_cols)
        managed = restrictions.input_scaling or restrictions.bound_management is not None
        if (len(split[0]) > 1 or managed) and isinstance(layer, nn.Conv2d) and layer.groups != 1:
            fix = f"raise array_rows to {layer.weight[0].numel()} or leave it None"
            what = f"split the Conv2d at {name!r} over arrays"
            if managed:
                what = f"split or manage the inputs of the Conv2d at {name!r}"
                fix += ", and switch input_scaling and bound_management off"
            raise ValueError(
                f"cannot {what}: it has groups={layer.groups} (tiles support groups=1); {fix}"
            )
        layer.__class__ = DEPLOYABLE[type(layer)]
        layer.__dict__[_STATE] = _State(restrictions, name, name in analog, split)
        if restrictions.learn_input_scale and name in analog:
            layer.input_log_scale = nn.Parameter(  # type: ignore[union-attr]
                torch.zeros((), dtype=layer.weight.dtype, device=layer.weight.device)
            )
    if restrictions.fuse_batchnorm:
        for name, m in chip.named_modules():
            if isinstance(m, _BatchNorm) and name not in pairs:
                raise ValueError(
                    f"cannot fuse the BatchNorm at {name!r}: it does not follow a Conv2d or "
                    "Linear in its container; set fuse_batchnorm=False or move it"
                )
        for path, bn, owners in pairs.values():
            if not bn.track_running_stats:
                raise ValueError(
                    f"cannot fuse the BatchNorm at {path!r}: it keeps no running statistics "
                    "(track_running_stats=False), so the programmed chip would have none"
                )
            for layer_name, first in owners:
                layer = layers[layer_name]
                layer.__dict__[_STATE].bn = (bn, first, layer.weight.shape[0])
            bn.__class__ = fused_class(type(bn))
    return chip


def restricted_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The restricted Conv2d / Linear layers of ``model`` (:func:`restrict`), by path."""
    return {name: m for name, m in model.named_modules() if isinstance(m, _Restricted)}


def restrictions_of(model: nn.Module) -> Restrictions | None:
    """The restrictions of a model made by :func:`restrict` (None: an unrestricted one)."""
    for m in model.modules():
        if isinstance(m, _Restricted):
            return m.restrictions
    return None


@torch.no_grad()
def deploy(restricted: nn.Module) -> nn.Module:
    """The chip after programming: a copy of a :func:`restrict` ed model whose weights
    and biases are the programmed ``W'`` and ``b'`` (BatchNorm fused with its running
    statistics, the input scale divided out, quantised), with the fused BatchNorm
    modules replaced by ``nn.Identity``; only the DAC/ADC/swing circuit stays in the
    forward pass (the input scale ``a`` stays as the gain of the layer's input stage;
    on a chip it folds into the previous layer or the input driver). Weight names
    are unchanged, so a Variation on the deployed model perturbs the programmed
    levels on the unrestricted model's chips. A fused layer without a bias gains
    one (the chip's bias row): with ``include_bias=True`` those are devices the
    unrestricted model lacks, and a report marks the two models unpaired.
    """
    if restrictions_of(restricted) is None:
        raise ValueError("deploy needs a model made by snnvar.hardware.restrict")
    chip = copy.deepcopy(restricted).eval()
    fused: set[int] = set()
    for m in chip.modules():
        if isinstance(m, _Restricted):
            state: _State = m.__dict__[_STATE]
            if state.deployed:
                continue
            w, b = m.programmed()
            m.weight.copy_(w)
            if b is not None:
                if m.bias is None:
                    m.bias = nn.Parameter(b.detach().clone())
                else:
                    m.bias.copy_(b)
            if state.bn is not None:
                fused.add(id(state.bn[0]))
                state.bn = None
            state.deployed = True
            if state.hw.tiled:  # the periphery, set from the weights as programmed
                state.periphery = m._periphery(w, b)
                m.register_load_state_dict_post_hook(_reprogrammed)
    for parent in chip.modules():
        for name, child in list(parent.named_children()):
            if id(child) in fused:
                setattr(parent, name, nn.Identity())
    return chip
