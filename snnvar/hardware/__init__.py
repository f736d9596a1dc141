"""The rest of the chip: circuit restrictions (HRAT) on top of the device variation.

:class:`Restrictions` says what the circuit does (weight levels, input DAC and
amplitude limit with a learned input scale, op-amp output swing and ADC, bias
DAC, BatchNorm fused into the weights); :func:`restrict` makes the model the
chip computes (trainable: HRAT), :func:`deploy` the programmed chip, on which a
:class:`~snnvar.Variation` perturbs the programmed weights.

Device models over time (``snnvar.hardware.devices``): :class:`PCM`, :class:`RRAM`,
:class:`CustomDevice` (a user's σ(g)) and :class:`IdealDevice` map weights to
conductance pairs (``snnvar.hardware.conductance``), programme them with
conductance-dependent noise, drift them (``snnvar.hardware.drift``, with global or
per-column compensation) and add :class:`StuckAt` faults (``snnvar.hardware.faults``);
they are :class:`~snnvar.Perturbation` s, accepted wherever a Variation is. Read them
from TOML, JSON and CSV with ``snnvar.hardware.device_files``; times after
programming are read and written by ``snnvar.hardware.times``.

The modules: ``conductance`` (weights as conductance pairs), ``devices`` (the
device model: programming and reading a chip; the ideal device), ``pcm``, ``rram``,
``custom`` (the physics of each kind), ``curves`` (fitted polynomials and measured
points), ``drift`` (drift and its compensation), ``faults`` (stuck-at faults),
``device_files`` (device models from files), ``times`` (``"1h"`` and back),
``checks`` (checks of settings), ``restrictions`` / ``restrict`` / ``quantize``
(the circuit: HRAT), ``batchnorm`` (BatchNorm fused into the layer before it),
``tiles`` (a layer over arrays of finite size, each with its own converters),
``readout`` (the seeded streams of the tiles' output noise), ``periphery``
(what is set at programming), ``wires`` (IR drop), ``energy`` (energy,
latency and area of an inference), ``chip`` (:class:`Chip`: the circuit, the
devices and the energy costs in one description), ``measure`` (a
restricted model's layers, the swing its outputs need, its ablation),
``aihwkit`` (:func:`from_aihwkit`: an aihwkit-lightning or aihwkit inference
configuration as :class:`Restrictions`; :func:`devices_from_aihwkit`: aihwkit's PCM
noise model and drift compensation as a :class:`PCM`; both in
:meth:`Chip.from_aihwkit`).
"""

from .aihwkit import devices_from_aihwkit, from_aihwkit
from .checks import refuse_undeployed
from .chip import CHIP_TABLES, Chip
from .conductance import mapping_scale, to_conductances, to_weights
from .custom import CustomDevice
from .device_files import DEVICE_KINDS, device_from_dict, devices_from_tables, devices_from_toml
from .devices import DeviceModel, DeviceRead, IdealDevice, ProgrammedChip
from .drift import COMPENSATIONS
from .energy import EnergyCosts, EnergyReport, LayerEvents, energy_meter
from .faults import StuckAt
from .measure import ablation, describe, output_swing_from_data
from .pcm import PCM
from .quantize import quantize, ste_round
from .readout import output_reads
from .restrict import (
    DEPLOYABLE,
    SATURATION_WARNING,
    RestrictedConv2d,
    RestrictedLinear,
    deploy,
    restrict,
    restricted_layers,
    restrictions_of,
)
from .restrictions import PRESETS, Restrictions, single_restrictions
from .rram import RRAM
from .times import format_time, parse_time

__all__ = [
    "CHIP_TABLES",
    "COMPENSATIONS",
    "DEPLOYABLE",
    "DEVICE_KINDS",
    "PCM",
    "PRESETS",
    "RRAM",
    "SATURATION_WARNING",
    "Chip",
    "CustomDevice",
    "DeviceModel",
    "DeviceRead",
    "EnergyCosts",
    "EnergyReport",
    "IdealDevice",
    "LayerEvents",
    "ProgrammedChip",
    "RestrictedConv2d",
    "RestrictedLinear",
    "Restrictions",
    "StuckAt",
    "ablation",
    "deploy",
    "describe",
    "device_from_dict",
    "devices_from_aihwkit",
    "devices_from_tables",
    "devices_from_toml",
    "energy_meter",
    "format_time",
    "from_aihwkit",
    "mapping_scale",
    "output_reads",
    "output_swing_from_data",
    "parse_time",
    "quantize",
    "refuse_undeployed",
    "restrict",
    "restricted_layers",
    "restrictions_of",
    "single_restrictions",
    "ste_round",
    "to_conductances",
    "to_weights",
]
