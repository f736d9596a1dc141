"""``Restrictions``: the circuit a crossbar network runs on, besides its device noise.

From HRAT (Hardware-restriction-aware training for memristor neural networks):
weight quantisation to the device's conductance levels, the non-destructive
threshold voltage that limits a crossbar's input amplitude (with a learned
input scale factor per layer), the limited output swing of the op-amps, bias
quantisation by finite-resolution DACs, and BatchNorm, which the chip cannot
compute and which is fused into the weights. From the HA-SGD poster: a
low-resolution ADC on every crossbar output (Fig. 9) and the bias mapped as an
extra row ``b/s`` of the array with ``s`` matched to the bias's range (Fig. 5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .checks import int_at_least, nonnegative, optional_positive

__all__ = ["PRESETS", "Restrictions", "single_restrictions"]


@dataclass(frozen=True)
class Restrictions:
    """What the chip's circuit does to a network (HRAT; HA-SGD poster, Figs. 5 and 9).

    Every field off (the default) computes the model's own function. Quantisers
    are uniform and symmetric around 0 and train with straight-through gradients
    (Bengio, Léonard & Courville 2013): the forward pass rounds, the backward
    pass treats rounding as the identity.
    """

    weight_levels: int | None = None
    """Levels a weight can take, evenly spaced over ``[-w_max, w_max]`` (an odd count
    holds 0: 15 for a pair of 4-bit cells, 31 for 5-bit; an even count has no zero
    level, so a zero weight lands at ±w_max/(levels−1)); None: analog weights."""
    weight_window: float | None = None
    """``w_max`` of the weight levels, in weight units; None: each layer's own
    ``max |W|`` (of the fused weights the chip holds), or, on a layer split over
    several arrays (``array_rows`` / ``array_cols``), each array's own ``max |W|``,
    as aihwkit-lightning maps each tile's conductance range."""
    input_bits: int | None = None
    """Resolution of the DAC that drives a crossbar's analog input (a signed converter:
    2^bits − 1 levels over ``[-input_range, input_range]``, zero exact); None: no DAC
    quantisation. In an SNN only the first layer's input is analog; spikes need no
    DAC."""
    input_range: float | None = None
    """The largest input amplitude a crossbar may receive (its non-destructive
    threshold voltage, in input units): inputs are clipped to ``±input_range``;
    None: unlimited (then ``input_bits`` needs it set)."""
    learn_input_scale: bool = False
    """HRAT's learned scale factor ``a`` per layer: the crossbar receives ``a·x``
    (clipped, quantised) and holds ``W/a``, so the product is unchanged where
    nothing clips; on a chip ``a`` folds into the previous layer (or the input
    driver). Needs ``input_range``. In an SNN whose first layer takes rate-coded
    spikes, an ``input_range`` below 1 clips them."""
    output_swing: float | None = None
    """The op-amps' output saturates at ``±output_swing``, in the layer's output units
    (an SNN's neuron input current); None: no saturation."""
    output_bits: int | None = None
    """Resolution of the ADC on every crossbar output (2^bits − 1 levels over
    ``±output_swing``, zero exact; HA-SGD poster, Fig. 9); None: no ADC. Needs
    ``output_swing``."""
    bias_bits: int | None = None
    """Resolution of the bias DAC: the bias, mapped as an extra row ``b/s`` with ``s``
    matched to its range (HA-SGD poster, Fig. 5), takes 2^bits − 1 levels over
    ``±max|b|`` of each layer; None: analog bias."""
    fuse_batchnorm: bool = False
    """HRAT's BN fusing: BatchNorm is folded into the Conv/Linear before it during
    training too (batch statistics in training, running statistics in inference),
    so every restriction acts on the fused weights the chip holds."""
    array_rows: int | None = None
    """Rows (inputs) of one crossbar array: a layer with more inputs (a Conv2d's
    ``in_channels·k·k``) is split over ``ceil(n / array_rows)`` arrays of near-equal
    size (aihwkit's ``mapping.max_input_size``), each with its own DAC and ADC, their
    partial outputs added digitally (``snnvar.hardware.tiles``); None: one array
    per layer. In an SNN the partial currents of a spiking layer pass each tile's ADC
    and are accumulated digitally into the neuron."""
    array_cols: int | None = None
    """Columns (outputs) of one array (aihwkit's ``mapping.max_output_size``): it sets
    which weights share a tile's full scale (``output_bound``, the per-tile weight
    levels); None: all of a layer's outputs on one array."""
    output_bound: float | None = None
    """The ADC's range relative to its tile's full scale (aihwkit's ``out_bound``):
    each tile's partial output is clipped, and with ``output_bits`` quantised, at
    ``±output_bound · x_max · max|W′|`` of the tile, ``x_max`` the largest input it
    receives (``input_range`` for an analog input, 1 for spikes); None: the absolute
    ``output_swing`` (or no output circuit). Needs ``input_range``; not with
    ``output_swing``."""
    bound_per_column: bool = False
    """``output_bound``'s and ``output_noise``'s ``max|W′|`` taken per column of the tile,
    not per tile: each column's conductances span its own range (aihwkit's
    ``mapping.weight_scaling_columnwise``)."""
    digital_bias: bool = False
    """The bias is added digitally after the tiles' ADCs, as aihwkit adds it; False: it
    is an extra row of the first array, inside its ADC's range (HA-SGD poster,
    Fig. 5)."""
    output_noise: float = 0.0
    """σ of the additive Gaussian noise on every tile's analog output at every read (an
    SNN: every time step), before its ADC, relative to the tile's full scale
    ``x_max · max|W′|`` (its bias row included), as aihwkit's ``forward.out_noise``;
    drawn from seeded streams (:func:`snnvar.hardware.output_reads`). 0: none. Needs
    ``input_range``."""
    wire_resistance: float = 0.0
    """``ρ = r·g_max``: the resistance of one wire segment between neighbouring cells,
    relative to the device's lowest resistance ``1/g_max`` (CrossSim's ``Rp``
    normalised by ``Rmin``; aihwkit's ``1 / ir_drop_Gw_div_gmax``), ``g_max`` mapped to
    each tile's ``max|W′|``: the IR drop of every tile to first order in ρ
    (``snnvar.hardware.wires``), rows driven from one end, columns read at the
    other; 0: ideal wires."""
    noise_over_tiles: bool = False
    """``output_noise`` divided by √(row blocks) of the layer, aihwkit-lightning's
    convention (a layer's summed noise then does not grow with its split); False:
    each tile's σ is ``output_noise`` of its full scale, as in aihwkit."""
    input_scaling: bool = False
    """Noise management (aihwkit's ``forward.noise_management = ABS_MAX``): every tile
    divides each input vector it receives (a row of a Linear's input, a patch of a
    Conv2d's, within the tile's rows) by its largest ``|x|`` before its DAC, and the
    digital periphery multiplies the tile's output by it after the ADC; the DAC's
    range ``input_range`` (aihwkit's ``inp_bound``), the ADC range and the output
    noise are then relative to that scaled input. A zero vector reads exactly zero (no
    row is driven). Spikes are managed too: their scale is 1 (0 with no spike), and
    they pass no DAC. Needs ``input_range`` (above 1 it leaves DAC levels unused; aihwkit
    requires ``inp_bound`` 1) and ``digital_bias``; not with ``learn_input_scale``."""
    bound_management: float | None = None
    """aihwkit's iterative bound management (``BoundManagementType.ITERATIVE``): a tile
    (a row block × a column block) whose ADC saturates on an input vector (any of its
    outputs beyond its range after rounding) reads that vector again with its input
    halved (the digital periphery
    doubles the output back), and again, while the input's reduction is at most this
    value (≥ 1; aihwkit's ``min(max_bm_factor, max_bm_res / DAC step)``, 15.75 at its
    defaults: reductions 1, 2, 4, 8 and 16); each read draws its own output noise. None:
    off. Needs ``input_range``, an ADC range (``output_bound`` or ``output_swing``) and
    ``digital_bias``. A re-read spike drives its row at 1/2, 1/4, ... (no DAC)."""
    absolute_noise: bool = False
    """``output_noise`` is σ in the tile's output units (aihwkit's ``out_noise`` without
    weight scaling; with ``input_scaling``, in the units of the scaled inputs), not
    relative to the tile's full scale."""

    def __post_init__(self) -> None:
        int_at_least("weight_levels", self.weight_levels, 2)
        for name in ("input_bits", "output_bits", "bias_bits"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("weight_window", "input_range", "output_swing"):
            object.__setattr__(self, name, optional_positive(name, getattr(self, name)))
        int_at_least("array_rows", self.array_rows, 1)
        int_at_least("array_cols", self.array_cols, 1)
        object.__setattr__(
            self, "output_bound", optional_positive("output_bound", self.output_bound)
        )
        for name in ("output_noise", "wire_resistance"):
            object.__setattr__(self, name, nonnegative(name, getattr(self, name)))
        flags = ("learn_input_scale", "fuse_batchnorm", "bound_per_column", "digital_bias",
                 "noise_over_tiles", "input_scaling", "absolute_noise")  # fmt: skip
        for name in flags:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.input_bits is not None and self.input_range is None:
            raise ValueError("input_bits needs input_range (the DAC's full scale ±input_range)")
        if self.learn_input_scale and self.input_range is None:
            raise ValueError("learn_input_scale needs input_range (what the scale adapts to)")
        if self.output_bits is not None and self.output_swing is None and not self.bounded:
            raise ValueError(
                "output_bits needs output_swing or output_bound (the ADC's full scale)"
            )
        if self.bounded and self.output_swing is not None:
            raise ValueError(
                "give the ADC's range once: output_swing (absolute) or output_bound "
                "(relative to each tile's full scale), not both"
            )
        if self.bounded and self.input_range is None:
            raise ValueError("output_bound needs input_range (a tile's full scale is "
                             "input_range · max|W'|)")  # fmt: skip
        if self.bound_per_column and not (self.bounded or self.output_noise > 0):
            raise ValueError("bound_per_column needs output_bound or output_noise")
        if self.output_noise > 0 and self.input_range is None and not self.absolute_noise:
            raise ValueError("output_noise needs input_range (a tile's full scale is "
                             "input_range · max|W'|)")  # fmt: skip
        if self.noise_over_tiles and self.output_noise == 0:
            raise ValueError("noise_over_tiles needs output_noise > 0")
        if self.input_scaling and (self.input_range is None or not self.digital_bias):
            raise ValueError(
                "input_scaling needs input_range (the DAC's range for the scaled inputs) and "
                "digital_bias = True (a bias row's input is not scaled)"
            )
        if self.input_scaling and self.learn_input_scale:
            raise ValueError(
                "input_scaling sets each input's scale itself: not with learn_input_scale"
            )
        if self.absolute_noise and self.output_noise == 0:
            raise ValueError("absolute_noise needs output_noise > 0")
        if self.bound_management is not None:
            reduction = optional_positive("bound_management", self.bound_management)
            if reduction is None or reduction < 1:
                raise ValueError(
                    f"bound_management must be at least 1 (the largest reduction of a re-read "
                    f"input) or None, got {self.bound_management!r}"
                )
            object.__setattr__(self, "bound_management", reduction)
            ranged = self.bounded or self.output_swing is not None
            if self.input_range is None or not ranged or not self.digital_bias:
                raise ValueError(
                    "bound_management needs input_range, an ADC range (output_bound or "
                    "output_swing) and digital_bias = True: it halves the input of a "
                    "saturated read"
                )
        if self.weight_window is not None and self.weight_levels is None:
            raise ValueError("weight_window is the range of weight_levels: set weight_levels")

    @property
    def bounded(self) -> bool:
        """Whether the ADC's range is relative to each tile's full scale."""
        return self.output_bound is not None

    @property
    def tiled(self) -> bool:
        """Whether a layer's output passes through per-tile circuits (arrays of finite
        size, a relative ADC range or a digital bias) rather than one swing."""
        return (
            self.array_rows is not None
            or self.array_cols is not None
            or self.bounded
            or self.digital_bias
            or self.noisy
            or self.wired
            or self.input_scaling
            or self.bound_management is not None
        )

    @property
    def wired(self) -> bool:
        """Whether the wires have resistance (``wire_resistance > 0``)."""
        return self.wire_resistance > 0

    @property
    def noisy(self) -> bool:
        """Whether every read adds output noise (``output_noise > 0``)."""
        return self.output_noise > 0

    @property
    def active(self) -> bool:
        """Whether any restriction is on."""
        return self != Restrictions()

    def label(self) -> str:
        """The restrictions that are on, e.g. ``"w16, in8@1, out6@±4, bias8, bn"``."""
        parts = []
        if self.weight_levels is not None:
            window = "" if self.weight_window is None else f"@±{self.weight_window:g}"
            parts.append(f"w{self.weight_levels}{window}")
        if self.input_range is not None:
            bits = "" if self.input_bits is None else str(self.input_bits)
            scale = "+scale" if self.learn_input_scale else ""
            per = "/max|x|" if self.input_scaling else ""
            parts.append(f"in{bits}@±{self.input_range:g}{scale}{per}")
        bits = "" if self.output_bits is None else str(self.output_bits)
        if self.output_swing is not None:
            parts.append(f"out{bits}@±{self.output_swing:g}")
        if self.output_bound is not None:
            column = "/col" if self.bound_per_column else ""
            parts.append(f"out{bits}@±{self.output_bound:g}fs{column}")
        if self.array_rows is not None or self.array_cols is not None:
            rows = "∞" if self.array_rows is None else self.array_rows
            cols = "∞" if self.array_cols is None else self.array_cols
            parts.append(f"tiles {rows}×{cols}")
        if self.noisy:
            per = "/√tiles" if self.noise_over_tiles else ""
            column = "/col" if self.bound_per_column else ""
            unit = "abs" if self.absolute_noise else "fs"
            parts.append(f"noise {self.output_noise:g}{unit}{column}{per}")
        if self.bound_management is not None:
            parts.append(f"bm≤{self.bound_management:g}")
        if self.wired:
            parts.append(f"wires ρ={self.wire_resistance:g}")
        if self.digital_bias:
            parts.append("bias digital")
        if self.bias_bits is not None:
            parts.append(f"bias{self.bias_bits}")
        if self.fuse_batchnorm:
            parts.append("bn")
        return ", ".join(parts) or "none"

    def to_dict(self) -> dict[str, Any]:
        """A JSON record (``run.json``, reports)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Restrictions:
        """From :meth:`to_dict` or a TOML ``[hardware]`` table (the field names as keys;
        ``preset = "hrat"`` starts from a preset of :data:`PRESETS`, the other keys
        change it)."""
        if not isinstance(data, dict):
            raise ValueError(f"hardware must be a table of restrictions, got {data!r}")
        data = dict(data)
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known) - {"preset"})
        if unknown:
            raise ValueError(
                f"unknown hardware restrictions {unknown}; allowed: {[*known, 'preset']}"
            )
        base: dict[str, Any] = {}
        if "preset" in data:
            name = data.pop("preset")
            if name not in PRESETS:
                raise ValueError(f"unknown hardware preset {name!r}; allowed: {list(PRESETS)}")
            base = PRESETS[name].to_dict()
        return cls(**{**base, **data})


PRESETS: dict[str, Restrictions] = {
    "yao2020": Restrictions(weight_levels=31, fuse_batchnorm=True),
    "wan2022": Restrictions(weight_levels=15, fuse_batchnorm=True),
    "hrat": Restrictions(
        weight_levels=15, input_bits=8, input_range=1.0, learn_input_scale=True,
        output_swing=8.0, output_bits=6, bias_bits=8, fuse_batchnorm=True,
    ),
}  # fmt: skip
"""Named restrictions: ``yao2020`` (5-bit weights of the fully hardware-implemented
memristor CNN, Yao et al., Nature 2020), ``wan2022`` (4-bit weights, Wan et al.,
Nature 2022), both as HRAT cites them, as signed levels with zero exact (2^b − 1)
and BN fused; ``hrat``: every restriction on (4-bit weights, 8-bit DAC over ±1,
learned input scales, ±8 output swing with a 6-bit ADC, 8-bit bias DAC, BN fused),
a starting point to adjust to a chip."""


def single_restrictions(restrictions: Restrictions) -> dict[str, Restrictions]:
    """Each restriction of ``restrictions`` on its own, by name (BatchNorm fused in every
    one when ``fuse_batchnorm`` is on, as the chip cannot compute it; the arrays'
    size kept wherever it shapes the restriction: weight levels per array, the
    tiles' ADCs), then all of them: the rows of an ablation (what each restriction
    costs alone). A relative ADC range (``output_bound``) and output noise are
    defined by ``input_range``, so their rows clip the inputs too (and scale them, with
    ``input_scaling``; bound management acts in the rows with an ADC range)."""
    hw = restrictions
    bn = hw.fuse_batchnorm
    arrays = {"array_rows": hw.array_rows, "array_cols": hw.array_cols}
    out: dict[str, Restrictions] = {}
    if hw.weight_levels is not None:
        out["weights"] = Restrictions(
            weight_levels=hw.weight_levels, weight_window=hw.weight_window,
            fuse_batchnorm=bn, **arrays,
        )  # fmt: skip
    if hw.input_range is not None:
        out["input"] = Restrictions(
            input_bits=hw.input_bits, input_range=hw.input_range,
            learn_input_scale=hw.learn_input_scale, fuse_batchnorm=bn,
            input_scaling=hw.input_scaling, digital_bias=hw.input_scaling,
        )  # fmt: skip
    output = {**arrays, "digital_bias": hw.digital_bias, "fuse_batchnorm": bn}
    scaled = {"input_scaling": hw.input_scaling}  # the ranges relative to the scaled inputs
    managed = hw.bounded or hw.input_scaling or hw.bound_management is not None
    adc_inputs = (
        {"input_range": hw.input_range, "bound_management": hw.bound_management, **scaled}
        if managed else {}
    )  # fmt: skip
    if hw.output_swing is not None:
        out["output swing"] = Restrictions(output_swing=hw.output_swing, **output, **adc_inputs)
    if hw.output_bound is not None:
        out["output bound"] = Restrictions(
            output_bound=hw.output_bound, bound_per_column=hw.bound_per_column,
            **output, **adc_inputs,
        )  # fmt: skip
    if hw.output_bits is not None:
        out["ADC"] = Restrictions(
            output_swing=hw.output_swing, output_bound=hw.output_bound,
            bound_per_column=hw.bound_per_column, output_bits=hw.output_bits,
            **output, **adc_inputs,
        )  # fmt: skip
    if hw.noisy:
        out["output noise"] = Restrictions(
            output_noise=hw.output_noise, noise_over_tiles=hw.noise_over_tiles,
            bound_per_column=hw.bound_per_column, input_range=hw.input_range, **output,
            **scaled, absolute_noise=hw.absolute_noise,
        )  # fmt: skip
    if hw.wired:
        out["wires"] = Restrictions(wire_resistance=hw.wire_resistance, **output)
    if hw.bias_bits is not None:
        out["bias"] = Restrictions(bias_bits=hw.bias_bits, fuse_batchnorm=bn)
    if bn:
        out["BN fused"] = Restrictions(fuse_batchnorm=True)
    out["all"] = hw
    return out
