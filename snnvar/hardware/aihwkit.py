"""``from_aihwkit(rpu_config)``: an aihwkit-lightning inference configuration as
snnvar's :class:`~snnvar.hardware.Restrictions`.

Read by attribute, so aihwkit-lightning is not needed to import snnvar. The fields
mapped (aihwkit-lightning 2.1's ``TorchInferenceRPUConfig``):

============================================  ==========================================
aihwkit                                       snnvar ``Restrictions``
============================================  ==========================================
``mapping.max_input_size``                    ``array_rows`` (≤ 0: None)
``pre_post.input_range.enable, init_value``   ``input_range`` (the DAC's range ±r)
``pre_post.input_range.learn_input_range``    ``learn_input_scale`` (see below)
``forward.inp_res``                           ``input_bits`` (2^bits − 2 steps)
``forward.out_bound``                         ``output_bound`` (≤ 0: None)
``forward.out_res``                           ``output_bits`` (2^bits − 2 steps)
``forward.out_noise``                         ``output_noise``, ``noise_over_tiles = True``
``modifier.quantization_type = DISCRETIZE``   ``weight_levels`` = ``modifier.res`` + 1
                                              (an even step count), each tile's max|W|
(the bias: added digitally)                   ``digital_bias = True``
============================================  ==========================================

aihwkit-lightning learns the input range ``r`` itself; snnvar learns HRAT's scale
``a`` in front of a fixed range ``R`` (the crossbar gets ``clip(a·x, ±R)`` and holds
``W/a``): the same chip with ``r = R/a``, its ADC range ``R·out_bound·max|W/a| =
r·out_bound·max|W|`` too. Both start at ``init_value``; lightning then learns one
range per tile, snnvar one scale per layer, and lightning's rule for learning ``r``
(``decay``, ``input_min_percentage``) is a training setting that snnvar does not
reproduce.

aihwkit's own ``InferenceRPUConfig`` (the simulator with the C++ tiles) is refused:
it normalises weights and inputs (``weight_scaling_omega``, noise and bound
management, ``inp_bound``) before its ``out_bound`` applies, which these fields do
not describe; its PCM noise model and drift compensation are not read either.

Output noise: lightning divides ``out_noise`` by √(tiles of the layer) (its
convention, ``noise_over_tiles``) and adds it in training only, as a
regulariser; snnvar adds it at every read, in training and on every test chip
(a chip's outputs are noisy when it is evaluated too): to train with it and
test without, restrict the model anew with ``output_noise = 0``, load the trained
weights and deploy that (from Python: the command line deploys an HRAT run on
its own restrictions only). Per-channel noise
(``out_noise_per_channel``) is refused.

Every other field that is switched on is refused by name (a ``ValueError``
listing them all): weight noise modifiers, weight clipping, dynamic or
data-initialised input ranges are not read (yet) from a configuration.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

from .restrictions import Restrictions

__all__ = ["from_aihwkit"]

_AIHWKIT_ONLY = ("mapping.weight_scaling_omega", "forward.inp_bound", "noise_model")
"""Fields of aihwkit's own configurations that lightning's lack."""

_MAPPED = {
    "mapping.max_input_size", "forward.inp_res",
    "forward.out_res", "forward.out_bound", "modifier.quantization_type", "modifier.res",
    "forward.out_noise",
    "pre_post.input_range.enable", "pre_post.input_range.init_value",
    "pre_post.input_range.learn_input_range",
}  # fmt: skip
"""Fields :func:`from_aihwkit` reads."""

_TRAINING_RULE = {
    "pre_post.input_range.decay", "pre_post.input_range.input_min_percentage",
    "pre_post.input_range.init_std_alpha", "pre_post.input_range.act_range_momentum",
}  # fmt: skip
"""Lightning's rule for learning the input range: training settings, not the chip's."""

_INERT = {
    "modifier.std_dev": "modifier.noise_type",  # read only by a noise modifier
    "clip.sigma": "clip.type",  # read only by a clipping type
    "forward.out_noise_per_channel": "forward.out_noise",
    "modifier.enable_during_test": "modifier.noise_type",  # deprecated; noise only
}
"""Fields that do nothing unless the field they name is switched on."""


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"forward.out_res": value, ...}`` of a nested dataclass configuration."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _off(value: Any) -> bool:
    """Whether a setting is switched off (aihwkit's conventions: 0, a negative
    resolution or size, False, None, an enum member named NONE)."""
    if value is None or value is False:
        return True
    if isinstance(value, enum.Enum):
        return value.name == "NONE"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value <= 0
    return False


def _bits(path: str, res: float) -> int | None:
    """A converter resolution in aihwkit's form (steps ``2^bits − 2``, or its inverse)
    as bits; None when off."""
    if res <= 0:
        return None
    steps = res if res > 1 else 1.0 / res
    bits = math.log2(round(steps) + 2)
    if abs(steps - round(steps)) > 1e-6 or abs(bits - round(bits)) > 1e-9:
        raise ValueError(
            f"{path} = {res:g} is {steps:g} steps; snnvar's converters have 2^bits − 1 "
            "levels (2^bits − 2 steps: 254 or 1/254 for 8 bits)"
        )
    return round(bits)


def from_aihwkit(rpu_config: Any) -> Restrictions:
    """The :class:`Restrictions` of an aihwkit-lightning inference configuration (the
    table in the module docstring), refusing by name every field that is switched on
    and that snnvar does not read."""
    if not dataclasses.is_dataclass(rpu_config) or isinstance(rpu_config, type):
        raise TypeError(
            "rpu_config must be an aihwkit or aihwkit-lightning configuration instance "
            f"(a dataclass such as TorchInferenceRPUConfig()), got {type(rpu_config).__name__}"
        )
    leaves = _leaves(rpu_config)
    own = [f for f in _AIHWKIT_ONLY if f in leaves]
    if own:
        raise ValueError(
            f"{type(rpu_config).__name__} is an aihwkit configuration (it has {own}), not "
            "aihwkit-lightning's: its weights and inputs are normalised before its out_bound "
            "applies, which from_aihwkit does not read yet; pass a TorchInferenceRPUConfig"
        )
    ranged = bool(leaves.get("pre_post.input_range.enable", False))
    from_data = ranged and leaves.get("pre_post.input_range.init_from_data", 0) > 0

    def ignored(path: str) -> bool:
        if path.startswith("pre_post.input_range.") and not ranged:
            return True  # no input range: none of its settings act
        if path in _TRAINING_RULE or (path == "pre_post.input_range.fast_mode" and not from_data):
            return ranged
        return path in _INERT and _off(leaves.get(_INERT[path]))

    refused = sorted(
        path
        for path, value in leaves.items()
        if path not in _MAPPED and not _off(value) and not ignored(path)
    )
    quant = leaves.get("modifier.quantization_type")
    if quant is not None and not _off(quant) and quant.name != "DISCRETIZE":
        refused.append(f"modifier.quantization_type = {quant.name}")
    if refused:
        raise ValueError(
            f"snnvar does not read these aihwkit settings: {refused}; switch them off "
            "(0, -1, False or NONE) or model them in snnvar (weight noise and drift: a "
            "Variation or a device model; a data-initialised input range: "
            "set pre_post.input_range.init_from_data = 0 and init_value)"
        )
    inp_bits = _bits("forward.inp_res", leaves.get("forward.inp_res", -1))
    out_bits = _bits("forward.out_res", leaves.get("forward.out_res", -1))
    if inp_bits is not None and not ranged:
        raise ValueError(
            "forward.inp_res needs pre_post.input_range.enable = True: snnvar's DAC "
            "clips to its range before it rounds"
        )
    out_bound = leaves.get("forward.out_bound", 0)
    levels = None
    if quant is not None and not _off(quant):
        res = leaves["modifier.res"]
        states = max(res, 1.0 / res) if res > 0 else 0.0
        if states < 2 or abs(states - round(states)) > 1e-6 or round(states) % 2:
            raise ValueError(
                f"modifier.res = {res:g} is {states:g} steps; snnvar's weight levels span "
                "±max|W| with zero a level: an even number of steps (14 for 15 levels)"
            )
        levels = round(states) + 1
    size = leaves.get("mapping.max_input_size", -1)
    noise = float(leaves.get("forward.out_noise", 0.0))
    if noise > 0 and not ranged:
        raise ValueError(
            "forward.out_noise needs pre_post.input_range.enable = True: the noise is "
            "relative to a tile's full scale, input range × max|W|"
        )
    return Restrictions(
        output_noise=max(noise, 0.0),
        noise_over_tiles=noise > 0,
        weight_levels=levels,
        input_bits=inp_bits,
        input_range=float(leaves["pre_post.input_range.init_value"]) if ranged else None,
        learn_input_scale=ranged and bool(leaves.get("pre_post.input_range.learn_input_range")),
        output_bits=out_bits,
        output_bound=float(out_bound) if out_bound > 0 else None,
        array_rows=int(size) if size > 0 else None,
        digital_bias=True,
    )
