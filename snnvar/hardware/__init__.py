"""The rest of the chip: circuit restrictions (HRAT) on top of the device variation.

:class:`Restrictions` says what the circuit does (weight levels, input DAC and
amplitude limit with a learned input scale, op-amp output swing and ADC, bias
DAC, BatchNorm fused into the weights); :func:`restrict` makes the model the
chip computes (trainable: HRAT), :func:`deploy` the programmed chip, on which a
:class:`~snnvar.Variation` perturbs the programmed weights.
"""

from .quantize import quantize, ste_round
from .restrict import (
    DEPLOYABLE,
    SATURATION_WARNING,
    RestrictedConv2d,
    RestrictedLinear,
    ablation,
    deploy,
    describe,
    output_swing_from_data,
    restrict,
    restrictions_of,
    single_restrictions,
)
from .restrictions import PRESETS, Restrictions

__all__ = [
    "DEPLOYABLE",
    "PRESETS",
    "SATURATION_WARNING",
    "RestrictedConv2d",
    "RestrictedLinear",
    "Restrictions",
    "ablation",
    "deploy",
    "describe",
    "output_swing_from_data",
    "quantize",
    "restrict",
    "restrictions_of",
    "single_restrictions",
    "ste_round",
]
