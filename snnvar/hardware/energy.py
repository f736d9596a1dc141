"""Energy, latency and area of an inference on a restricted chip, from counted events.

:func:`energy_meter` counts, per restricted layer and inference, what the chip does
(every read of a tile is one matrix-vector product of its rows and columns):

- **DAC conversions**: an analog input (an ANN's every layer, an SNN's first) is
  converted once per row, read and tile of its column blocks;
- **driven rows**: a spike drives its row of every tile with a 1-bit driver; a row
  without a spike is not driven;
- **device reads**: ``G · V² · t`` of every cell on a driven row, with ``V`` the row's
  voltage (``|x|/x_max`` of the read voltage) and ``G = g_max · |W′| / max|W′|`` of the
  tile (one device of each differential pair conducts);
- **ADC conversions**: one per column, tile and read;
- **additions**: the digital sum of a column's partial outputs across its row blocks
  (and the digital bias);
- **neuron updates and spikes** of the spiking layers (one update per neuron and
  time step).

:class:`EnergyCosts` prices them (a cited default per field), and gives the latency
(layers one after the other; a layer's reads one after the other, its tiles in
parallel) and the area (two devices per weight, the converters of every array).
NeuroSim (Peng et al., IEEE IEDM 2019) estimates the same quantities from circuit
models for ANNs; this counts an SNN's spikes, so the SNN and its ANN can be priced
on the same chip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.recording import is_spiking, neuron_layer_names, record_spikes
from . import tiles
from .checks import positive
from .restrict import restricted_layers

__all__ = ["EnergyCosts", "EnergyReport", "LayerEvents", "energy_meter", "mean_energy"]

PICO = 1e-12


@dataclass(frozen=True)
class EnergyCosts:
    """The price of every event, and the sizes for latency and area (SI units).

    The device, wire and converter defaults are NeuroSim's (``DNN_NeuroSim_V1.4``,
    ``Inference_pytorch/NeuroSIM``, an RRAM 1T1R array at 22 nm); the digital ones
    Horowitz's (ISSCC 2014, 45 nm) and Loihi's (Davies et al., IEEE Micro 38(1),
    2018, Table 2). The converters' areas are assumptions: set your chip's."""

    g_max: float = 1e-5
    """Conductance of a device at the tile's ``max|W′|`` (S): NeuroSim's RRAM
    ``resistanceOn`` = 100 kΩ (``Param.cpp``)."""
    read_voltage: float = 0.55
    """A row's voltage at ``x = x_max`` (V): NeuroSim's ``readVoltage`` at 22 nm."""
    read_time: float = 10e-9
    """Duration of one read (s): NeuroSim's ``readPulseWidth``."""
    wire_capacitance: float = 2e-10
    """Capacitance of the row wires (F/m): NeuroSim's 0.2 fF/µm (``SubArray.cpp``);
    a driven row charges ``wire_capacitance · cell_width · F`` per column to its
    voltage."""
    adc_fom: float = 1.3e-15
    """Energy of an ADC conversion per level (J): ``b`` bits cost ``adc_fom · 2^b``
    (Walden's scaling); NeuroSim's ``SarADC`` at 22 nm spends about 42 fJ on 5 bits
    (7 µW over 6 ns), 1.3 fJ per level."""
    adc_time: float = 10e-9
    """Duration of one conversion (s), after the read, whatever its bits: NeuroSim's
    SAR ADC takes ``log2(levels) + 1`` cycles of 1 ns (9 ns for 8 bits)."""
    adc_bits: int = 8
    """ADC resolution where the chip has none (``Restrictions.output_bits`` None)."""
    dac_fom: float = 1.3e-15
    """Energy of a DAC conversion per level (J), ``b`` bits ``dac_fom · 2^b``: priced
    as the ADC (an assumption)."""
    dac_bits: int = 8
    """DAC resolution where the chip has none (``Restrictions.input_bits`` None)."""
    addition: float = 0.1e-12
    """One digital addition of partial outputs (J): a 32-bit integer addition at
    45 nm, 0.1 pJ (Horowitz, ISSCC 2014)."""
    activation: float = 0.03e-12
    """One digital activation of an ANN's output (J; a ReLU's comparison): an 8-bit
    integer addition at 45 nm, 0.03 pJ (Horowitz, ISSCC 2014)."""
    neuron_update: float = 81e-12
    """One update of a digital LIF neuron (J): Loihi's active neuron update, 81 pJ
    (a programmable digital neuron; an analog neuron beside the array costs orders
    of magnitude less: set its own figure to compare)."""
    spike: float = 3e-12
    """Routing one spike to the next layer (J): Loihi's tile hop, 3.0 pJ."""
    feature_size: float = 22e-9
    """Technology node F (m): NeuroSim's ``technode``."""
    cell_height: float = 4.0
    """Height of a 1T1R cell in F: NeuroSim's ``heightInFeatureSize``."""
    cell_width: float = 12.0
    """Width of a 1T1R cell in F: NeuroSim's ``widthInFeatureSize``."""
    adc_area: float = 1e-9
    """Area of one column's ADC (m²): 1,000 µm² (an assumption)."""
    dac_area: float = 1e-10
    """Area of one row's DAC or driver (m²): 100 µm² (an assumption)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("adc_bits", "dac_bits"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{f.name} must be an integer >= 1, got {value!r}")
            else:
                object.__setattr__(self, f.name, positive(f.name, value))

    def to_dict(self) -> dict[str, Any]:
        """A JSON record."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> EnergyCosts:
        """From :meth:`to_dict` or a TOML ``[energy]`` table (the field names as keys)."""
        if not isinstance(data, dict):
            raise ValueError(f"energy must be a table of costs, got {data!r}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown energy costs {unknown}; allowed: {known}")
        return cls(**data)


@dataclass
class LayerEvents:
    """What one layer did over the metered passes (sums over samples)."""

    reads: float = 0.0
    """Reads of the layer's tiles (matrix-vector products; all tiles read at once)."""
    dac_conversions: float = 0.0
    """DAC conversions (analog inputs: every row, read and column block)."""
    dac_bits: int = 0
    """The DACs' resolution (0: the layer has no DAC)."""
    driven_rows: float = 0.0
    """Rows driven by a spike (per read and column block)."""
    row_charge: float = 0.0
    """``Σ (V/V_read)² · columns`` over the driven rows of every read: the rows' wire
    charging in units of one cell's wire at ``V_read``."""
    cell_reads: float = 0.0
    """``Σ (V/V_read)² · G/g_max`` over the cells of every read: the device energy in
    units of ``g_max · V_read² · t_read``."""
    adc_conversions: float = 0.0
    """ADC conversions (every column of every tile and read)."""
    adc_bits: int = 0
    """The ADCs' resolution."""
    additions: float = 0.0
    """Digital additions of partial outputs across row blocks (and a digital bias)."""
    devices: int = 0
    """Devices of the layer's arrays, used or not (two arrays of ``array_rows`` ×
    ``array_cols`` per tile: positive and negative weights; a bias row counts)."""
    arrays: int = 0
    """Arrays (tiles) of the layer."""
    array_rows: int = 0
    """Rows of one array (its DACs)."""
    array_cols: int = 0
    """Columns of one array (its ADCs)."""
    analog: bool = False
    """Whether the input is analog (DACs) or spikes (1-bit drivers)."""
    activations: float = 0.0
    """Digital activations of the outputs (an ANN's: ReLU and requantisation; an
    SNN's outputs feed neurons, counted as neuron updates)."""
    spiking_next: bool = False
    """Whether the layer's outputs feed spiking neurons or the readout of an SNN (no
    digital activation)."""


@dataclass
class EnergyReport:
    """Energy (pJ), latency (ns) and area (mm²) of one inference, per layer and in all."""

    costs: EnergyCosts
    """The prices."""
    samples: int
    """The inferences metered (every quantity below is per inference)."""
    layers: dict[str, LayerEvents] = field(default_factory=dict)
    """Per restricted layer, its events (sums over the samples)."""
    neuron_updates: float = 0.0
    """Neuron updates of every spiking layer (sums over the samples)."""
    spikes: float = 0.0
    """Spikes of every spiking layer (sums over the samples)."""

    def layer_energy(self, name: str) -> dict[str, float]:
        """One layer's energy per inference by event (pJ): ``dac``, ``drive``,
        ``devices``, ``adc``, ``additions``, ``activations``."""
        c, e, n = self.costs, self.layers[name], self.samples
        cell_wire = c.wire_capacitance * c.cell_width * c.feature_size * c.read_voltage**2
        return {
            "dac": e.dac_conversions * c.dac_fom * 2**e.dac_bits / n / PICO,
            "drive": e.row_charge * cell_wire / n / PICO,
            "devices": e.cell_reads * c.g_max * c.read_voltage**2 * c.read_time / n / PICO,
            "adc": e.adc_conversions * c.adc_fom * 2**e.adc_bits / n / PICO,
            "additions": e.additions * c.addition / n / PICO,
            "activations": e.activations * c.activation / n / PICO,
        }

    def energy(self) -> dict[str, float]:
        """The energy of one inference by event (pJ), all layers summed, with
        ``neurons`` (updates), ``spikes`` (routing) and ``total``."""
        out = dict.fromkeys(("dac", "drive", "devices", "adc", "additions", "activations"), 0.0)
        for name in self.layers:
            for k, v in self.layer_energy(name).items():
                out[k] += v
        out["neurons"] = self.neuron_updates * self.costs.neuron_update / self.samples / PICO
        out["spikes"] = self.spikes * self.costs.spike / self.samples / PICO
        out["total"] = sum(out.values())
        return out

    def latency(self) -> float:
        """One inference's latency (ns): a layer's reads of one sample (its time steps
        and a convolution's output positions) one after the other, its tiles in
        parallel, each a read and a conversion; the layers one after the other."""
        per_read = self.costs.read_time + self.costs.adc_time
        reads = sum(e.reads for e in self.layers.values()) / self.samples
        return reads * per_read / 1e-9

    def area(self) -> float:
        """The chip's area (mm²): the devices of every array (used or not), each
        array's ADCs and, for an analog input, its DACs (a spike's 1-bit driver is not
        counted)."""
        c = self.costs
        total = 0.0
        for e in self.layers.values():
            total += e.devices * c.cell_height * c.cell_width * c.feature_size**2
            total += e.arrays * e.array_cols * c.adc_area
            if e.analog:
                total += e.arrays * e.array_rows * c.dac_area
        return total / 1e-6

    def to_dict(self) -> dict[str, Any]:
        """A JSON record: the costs, the energy per inference (pJ) in all and per layer,
        the latency (ns), the area (mm²) and the events per inference."""
        return {
            "costs": self.costs.to_dict(),
            "samples": self.samples,
            "energy_pj": self.energy(),
            "layers_pj": {name: self.layer_energy(name) for name in self.layers},
            "latency_ns": self.latency(),
            "area_mm2": self.area(),
            "events": {
                name: {
                    k: v / self.samples if isinstance(v, float) else v for k, v in asdict(e).items()
                }
                for name, e in self.layers.items()
            },
        }


def _rows_of(layer: nn.Module, values: torch.Tensor) -> torch.Tensor:
    """Per im2col row of ``layer``, the sum of ``values`` (its input's shape) over
    every read: the samples (and a convolution's output positions)."""
    if isinstance(layer, nn.Linear):
        return values.reshape(-1, values.shape[-1]).sum(0)
    conv: nn.Conv2d = layer  # type: ignore[assignment]
    cols = F.unfold(values, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
    return cols.sum((0, 2))


def _scaled_charge(
    layer: nn.Module, v: torch.Tensor, rows: list[int], x_max: float
) -> torch.Tensor:
    """Per im2col row, Σ over the reads of (V / V_read)² under noise management: each
    input vector of each row block (a Linear's input, a Conv2d's patch) divided by its
    largest ``|x|`` (``Restrictions.input_scaling``), clipped at ``x_max``."""
    if isinstance(layer, nn.Linear):
        flat = v.reshape(-1, v.shape[-1])  # [reads, in]
    else:
        conv: nn.Conv2d = layer  # type: ignore[assignment]
        cols = F.unfold(v, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
        flat = cols.transpose(1, 2).reshape(-1, cols.shape[1])  # [reads, in·k·k]
    top = tiles.blocked(flat, 1, rows).amax(-1)  # each row block's largest |x| per vector
    top = top.repeat_interleave(torch.tensor(rows, device=flat.device), dim=1)
    scaled = (flat / torch.where(top > 0, top, 1.0)).clamp(max=x_max) / x_max
    return (scaled * scaled).sum(0)


def _count(
    layer: nn.Module, x: torch.Tensor, y: torch.Tensor, e: LayerEvents, costs: EnergyCosts
) -> None:
    """Add one call of ``layer`` on input ``x`` (output ``y``) to ``e``; converters
    without bits of their own take ``costs``'."""
    info = layer.summary()  # type: ignore[operator]
    hw = layer.restrictions  # type: ignore[attr-defined]
    x_max = info["x_max"]  # the layer's own: input_range for analog inputs, 1 for spikes
    rows, cols = info["row_blocks"], info["column_blocks"]
    out = y.shape[-1] if isinstance(layer, nn.Linear) else y.shape[1]
    reads = y.numel() / out  # samples (× time steps) × positions
    e.reads += reads
    x = x.detach()
    if info["analog_input"]:
        scale = info["input_scale"] or 1.0
        v = (x * scale).abs()
        e.dac_conversions += reads * sum(rows) * len(cols)
        e.dac_bits = hw.input_bits or costs.dac_bits
        if hw.input_scaling:  # each vector of each tile scaled by its max |x|
            charge = _scaled_charge(layer, v, rows, x_max)
        else:
            v = v.clamp(max=x_max) / x_max
    else:
        v = (x != 0).to(x.dtype)  # a spike drives its row at the read voltage
        e.driven_rows += float(_rows_of(layer, v).sum()) * len(cols)
    if not (info["analog_input"] and hw.input_scaling):
        charge = _rows_of(layer, v * v)  # per row, Σ over the reads of (V / V_read)²
    w2d = layer.weight.detach().reshape(out, -1)  # type: ignore[union-attr]
    bias = layer.bias  # type: ignore[union-attr]
    row = None if bias is None or hw.digital_bias else bias.detach()  # a row b′/x_max
    # every tile's full scale x_max · (its g_max weight), the bias row included, as the
    # periphery maps it (snnvar.hardware.periphery)
    full = tiles.adc_ranges(w2d, row, rows, cols, x_max, 1.0).clamp(min=1e-30)  # (R, out)
    g = w2d.abs() * x_max / tiles.per_element(full, rows)  # G / g_max
    e.row_charge += float(charge.sum()) * out
    e.cell_reads += float(charge @ g.sum(0))
    if row is not None:  # the bias row of the first array, driven at x_max at every read
        e.row_charge += reads * out
        e.cell_reads += reads * float((row.abs() / full[0]).sum())
    e.adc_bits = hw.output_bits or costs.adc_bits
    e.adc_conversions += reads * len(rows) * out
    e.additions += reads * out * (len(rows) - 1 + (bias is not None and hw.digital_bias))
    e.arrays = len(rows) * len(cols)
    e.array_rows = (hw.array_rows or max(rows)) + (row is not None)
    e.array_cols = hw.array_cols or max(cols)
    e.devices = 2 * e.arrays * e.array_rows * e.array_cols  # two arrays: ± weights
    e.analog = bool(info["analog_input"])
    e.activations += 0.0 if e.spiking_next else float(y.numel())


@contextlib.contextmanager
def energy_meter(model: nn.Module, costs: EnergyCosts | None = None) -> Iterator[EnergyReport]:
    """Inside the block, count the events of every restricted layer of ``model`` (a
    chip made by :func:`~snnvar.hardware.restrict`), its spiking layers and the
    samples it is called on (an SNN's time-major ``[T, B, ...]``: ``B``); yields the
    :class:`EnergyReport`, complete on exit. Raises ``ValueError`` for a model with
    no restricted layer."""
    layers = restricted_layers(model)
    if not layers:
        raise ValueError(
            "energy_meter needs a chip: restrict the model first "
            "(snnvar.hardware.restrict / deploy)"
        )
    report = EnergyReport(costs or EnergyCosts(), samples=0)
    spiking_model = is_spiking(model)
    in_shape = getattr(model, "in_shape", None)

    def count_samples(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0]
        unencoded = in_shape is not None and x.dim() == len(in_shape) + 1  # [B, ...]
        report.samples += int(x.shape[1 if spiking_model and not unencoded else 0])

    # a spiking model's layers feed neurons or its readout: no digital activation
    events = {name: LayerEvents(spiking_next=spiking_model) for name in layers}
    report.layers = events

    def hook_for(name: str):
        def hook(m: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            _count(m, args[0], out, events[name], report.costs)

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in layers.items()]
    handles.append(model.register_forward_pre_hook(count_samples))
    spiking = bool(neuron_layer_names(model))
    try:
        with record_spikes(model) if spiking else contextlib.nullcontext() as rec:
            yield report
        if rec is not None:
            report.neuron_updates = float(sum(s.elements for s in rec.layers.values()))
            report.spikes = float(sum(s.spikes for s in rec.layers.values()))
    finally:
        for h in handles:
            h.remove()


def mean_energy(records: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The mean of energy records (:meth:`EnergyReport.to_dict`, one per chip) number by
    number, nested dicts alike; None if any is None (not metered)."""
    if not records or any(r is None for r in records):
        return None

    def mean(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: mean([v[k] for v in values]) for k in first}
        if isinstance(first, bool) or not isinstance(first, int | float):
            return first
        return sum(values) / len(values)

    return mean(records)  # type: ignore[arg-type]
