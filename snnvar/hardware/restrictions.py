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

from .checks import int_at_least, optional_positive

__all__ = ["PRESETS", "Restrictions"]


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
    ``max |W|`` (of the fused weights the chip holds)."""
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

    def __post_init__(self) -> None:
        int_at_least("weight_levels", self.weight_levels, 2)
        for name in ("input_bits", "output_bits", "bias_bits"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("weight_window", "input_range", "output_swing"):
            object.__setattr__(self, name, optional_positive(name, getattr(self, name)))
        for name in ("learn_input_scale", "fuse_batchnorm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.input_bits is not None and self.input_range is None:
            raise ValueError("input_bits needs input_range (the DAC's full scale ±input_range)")
        if self.learn_input_scale and self.input_range is None:
            raise ValueError("learn_input_scale needs input_range (what the scale adapts to)")
        if self.output_bits is not None and self.output_swing is None:
            raise ValueError("output_bits needs output_swing (the ADC's full scale ±swing)")
        if self.weight_window is not None and self.weight_levels is None:
            raise ValueError("weight_window is the range of weight_levels: set weight_levels")

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
            parts.append(f"in{bits}@±{self.input_range:g}{scale}")
        if self.output_swing is not None:
            bits = "" if self.output_bits is None else str(self.output_bits)
            parts.append(f"out{bits}@±{self.output_swing:g}")
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
