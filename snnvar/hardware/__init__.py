"""The rest of the chip: circuit restrictions (HRAT) on top of the device variation.

:class:`Restrictions` says what the circuit does (weight levels, input DAC and
amplitude limit with a learned input scale, op-amp output swing and ADC, bias
DAC, BatchNorm fused into the weights); :func:`restrict` makes the model the
chip computes (trainable: HRAT), :func:`deploy` the programmed chip, on which a
:class:`~snnvar.Variation` perturbs the programmed weights.

Device models over time (``snnvar.hardware.devices``): :class:`PCM`, :class:`RRAM`,
:class:`CustomDevice` (a user's σ(g)) and :class:`StuckAt` map weights to
conductance pairs (``snnvar.hardware.conductance``), programme them with conductance-dependent
noise, drift them (with global or per-column compensation) and add faults; they
are accepted wherever a Variation is.
"""

from .conductance import mapping_scale, to_conductances, to_weights
from .devices import (
    COMPENSATIONS,
    DEVICE_KINDS,
    PCM,
    RRAM,
    CustomDevice,
    DeviceModel,
    DeviceRead,
    ProgrammedChip,
    StuckAt,
    device_from_dict,
    devices_from_tables,
    devices_from_toml,
    parse_time,
)
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
    refuse_undeployed,
    restrict,
    restrictions_of,
    single_restrictions,
)
from .restrictions import PRESETS, Restrictions

__all__ = [
    "COMPENSATIONS",
    "DEPLOYABLE",
    "DEVICE_KINDS",
    "PCM",
    "PRESETS",
    "RRAM",
    "SATURATION_WARNING",
    "CustomDevice",
    "DeviceModel",
    "DeviceRead",
    "ProgrammedChip",
    "RestrictedConv2d",
    "RestrictedLinear",
    "Restrictions",
    "StuckAt",
    "ablation",
    "deploy",
    "describe",
    "device_from_dict",
    "devices_from_tables",
    "devices_from_toml",
    "mapping_scale",
    "output_swing_from_data",
    "parse_time",
    "quantize",
    "refuse_undeployed",
    "restrict",
    "restrictions_of",
    "single_restrictions",
    "ste_round",
    "to_conductances",
    "to_weights",
]
