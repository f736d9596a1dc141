"""``from_aihwkit(rpu_config)``: an aihwkit-lightning or aihwkit inference configuration
as snnvar's :class:`~snnvar.hardware.Restrictions`; ``devices_from_aihwkit``: aihwkit's
PCM noise model as a :class:`~snnvar.hardware.PCM`.

Read by attribute, so neither library is needed to import snnvar. The fields
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

aihwkit's own ``InferenceRPUConfig`` (the simulator with the C++ tiles) is read
too (a configuration with ``mapping.weight_scaling_omega``, ``forward.inp_bound`` or
a ``noise_model``), by these rules (aihwkit's ``AnalogMVM``, applied per tile):

============================================  ==========================================
aihwkit                                       snnvar ``Restrictions``
============================================  ==========================================
``mapping.max_input_size, max_output_size``   ``array_rows``, ``array_cols`` (≤ 0: None)
``mapping.digital_bias``                      ``digital_bias``
``forward.noise_management = ABS_MAX``        ``input_scaling`` (each tile divides each
                                              input vector by its max ``|x|``)
``forward.noise_management = CONSTANT``       the inputs divided by ``nm_thres``: an
                                              ``input_range`` ``nm_thres`` times wider
``forward.inp_bound`` (× ``init_value``       ``input_range``
with ``pre_post.input_range``)
``forward.inp_res``, ``out_res``              ``input_bits``, ``output_bits``
``forward.out_bound``, ``out_noise``          ``output_bound``, ``output_noise`` =
with ``weight_scaling_omega`` ω > 0           value / (ω · ``inp_bound``): the tile holds
                                              ``W · ω / max|W_tile|``, its inputs reach
                                              ``inp_bound``
``forward.out_bound``, ``out_noise``          ``output_swing``, ``output_noise`` with
with ω ≤ 0                                    ``absolute_noise`` (each tile's units)
``forward.bound_management = ITERATIVE``      ``bound_management`` = ``min(max_bm_factor,
                                              max_bm_res / (2 · inp_res · inp_bound))``
``mapping.weight_scaling_columnwise``         ``bound_per_column``
============================================  ==========================================

So aihwkit's defaults (``InferenceRPUConfig()``) are read as they are. Refused by
name: an analog bias (aihwkit scales its input with the inputs' and adds a split
layer's bias digitally), noise management with ``inp_bound`` ≠ 1 (aihwkit refuses
it too) or ``ABS_MAX`` with ``pre_post.input_range``, an input range below
``inp_bound · nm_thres``, ``bm_test_negative_bound = False``, training
configurations (a pulsed ``device``), and every
non-ideality that is switched on and that snnvar does not model (``w_noise``,
``ir_drop``, ``out_nonlinearity``, ``inp_noise``, asymmetries, ``r_series``, ...;
aihwkit's IR-drop model is not snnvar's ``wire_resistance``), the weight modifier,
clipping and remapping (training rules of hardware-aware training: train with a
snnvar method instead), learned output scales. The read-only parts of an
``InferenceRPUConfig`` (its ideal ``device``, perfect ``backward``, no ``update``)
and ``runtime`` are not the chip and are not read. Where aihwkit's Python tile
(``AnalogMVM``) and its C++ tiles differ, snnvar follows the C++ CPU tiles: bound
management per input vector (the Python tile re-reads the whole batch), and a zero
input vector under noise management reads exactly zero. The devices,
``noise_model`` and ``drift_compensation``, are not part of the circuit:
:meth:`snnvar.hardware.Chip.from_aihwkit` reads them (with
:func:`devices_from_aihwkit`) into a chip with both.

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

from .devices import DeviceModel
from .pcm import PCM
from .restrictions import Restrictions
from .times import parse_time

__all__ = ["devices_from_aihwkit", "from_aihwkit"]

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
    """The :class:`Restrictions` of an aihwkit-lightning or aihwkit inference
    configuration (the tables in the module docstring), refusing by name every field
    that is switched on and that snnvar does not read."""
    if not dataclasses.is_dataclass(rpu_config) or isinstance(rpu_config, type):
        raise TypeError(
            "rpu_config must be an aihwkit or aihwkit-lightning configuration instance "
            f"(a dataclass such as TorchInferenceRPUConfig()), got {type(rpu_config).__name__}"
        )
    leaves = _leaves(rpu_config)
    if any(f in leaves for f in _AIHWKIT_ONLY):
        return _inference_circuit(leaves, rpu_config)
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


_IO_MAPPED = {
    "forward.is_perfect", "forward.inp_bound", "forward.inp_res", "forward.out_bound",
    "forward.out_res", "forward.out_noise", "forward.noise_management",
    "forward.bound_management", "forward.nm_thres", "forward.max_bm_factor",
    "forward.max_bm_res", "forward.bm_test_negative_bound", "mapping.max_input_size",
    "mapping.max_output_size", "mapping.digital_bias", "mapping.weight_scaling_omega",
    "mapping.weight_scaling_columnwise", "noise_model", "drift_compensation",
    "pre_post.input_range.enable", "pre_post.input_range.init_value",
    "pre_post.input_range.learn_input_range",
}  # fmt: skip
"""Fields of aihwkit's own configurations that :func:`from_aihwkit` reads (the devices:
:func:`devices_from_aihwkit`)."""

_NOT_THE_CHIP = ("tile_class", "tile_array_class", "runtime.", "device.", "backward.", "update.")
"""An ``InferenceRPUConfig``'s fixed parts (init=False: an ideal device, a perfect backward
pass, no update) and the simulator's runtime settings."""

_IO_NEUTRAL = {"forward.mv_type": "ONE_PASS", "forward.out_scale": 1.0}
"""Fields whose default is not 0 / NONE, at the value that changes nothing."""

_IO_INERT = {
    "forward.w_noise": "forward.w_noise_type", "forward.ir_drop_g_ratio": "forward.ir_drop",
    "forward.v_offset_w_min": "forward.v_offset_std",
    "mapping.out_scaling_columnwise": "mapping.learn_out_scaling",
}  # fmt: skip
"""Fields that do nothing unless the field they name is switched on."""

_IO_TRAINING = {
    "mapping.weight_scaling_lr_compensation", "pre_post.input_range.decay",
    "pre_post.input_range.input_min_percentage", "pre_post.input_range.init_std_alpha",
    "pre_post.input_range.output_min_percentage", "pre_post.input_range.manage_output_clipping",
    "pre_post.input_range.gradient_scale", "pre_post.input_range.gradient_relative",
    "pre_post.input_range.calibration_info",
}  # fmt: skip
"""Training rules (the learning rate, how the input range learns), not the chip."""

_SWITCHED = ("modifier", "clip", "remap")
"""Sections that act only when their ``type`` is not NONE (then refused by that type)."""


def _inference_circuit(leaves: dict[str, Any], rpu_config: Any) -> Restrictions:
    """The circuit of an aihwkit ``InferenceRPUConfig`` (the second table of the module
    docstring)."""
    device = type(getattr(rpu_config, "device", None)).__name__
    if device not in ("NoneType", "IdealDevice"):
        raise ValueError(
            f"{type(rpu_config).__name__} has a {device}: from_aihwkit reads inference "
            "configurations (InferenceRPUConfig, an IdealDevice), not training ones whose "
            "pulsed devices snnvar does not model"
        )
    needed = ("forward.noise_management", "forward.bound_management", "forward.inp_bound",
              "forward.out_bound", "forward.out_noise")  # fmt: skip
    missing = [f for f in needed if f not in leaves]
    if missing:
        raise ValueError(
            f"an aihwkit configuration (it has {[f for f in _AIHWKIT_ONLY if f in leaves]}) "
            f"lacks {missing}: pass an aihwkit InferenceRPUConfig or an aihwkit-lightning "
            "TorchInferenceRPUConfig"
        )
    ranged = bool(leaves.get("pre_post.input_range.enable", False))

    def ignored(path: str) -> bool:
        if path.startswith(_NOT_THE_CHIP) or path in _IO_TRAINING:
            return True
        if path.startswith("pre_post.input_range.") and not ranged:
            return True
        section = path.split(".")[0]
        if section in _SWITCHED:
            return path != f"{section}.type" or _off(leaves[path])
        if path in _IO_NEUTRAL:
            value = leaves[path]
            return getattr(value, "name", value) == _IO_NEUTRAL[path]
        return path in _IO_INERT and _off(leaves.get(_IO_INERT[path]))

    refused = sorted(
        path if not isinstance(leaves[path], enum.Enum) else f"{path} = {leaves[path].name}"
        for path in leaves
        if path not in _IO_MAPPED and not ignored(path) and not _off(leaves[path])
    )
    r = float(leaves["pre_post.input_range.init_value"]) if ranged else 1.0
    learn = ranged and bool(leaves.get("pre_post.input_range.learn_input_range"))
    if bool(leaves.get("forward.is_perfect", False)):
        if refused:
            raise ValueError(f"snnvar does not read these aihwkit settings: {refused}")
        # an ideal forward pass: no converters, no noise; the input range still clips
        return Restrictions(input_range=r, learn_input_scale=learn) if ranged else Restrictions()
    nm = leaves["forward.noise_management"].name
    bm = leaves["forward.bound_management"].name
    thres = float(leaves.get("forward.nm_thres", 0.0))
    omega = float(leaves.get("mapping.weight_scaling_omega", 0.0))
    inp_bound = float(leaves["forward.inp_bound"])
    out_bound, noise = float(leaves["forward.out_bound"]), float(leaves["forward.out_noise"])
    digital = bool(leaves.get("mapping.digital_bias", True))
    if bm not in ("NONE", "ITERATIVE"):
        refused.append(f"forward.bound_management = {bm} (NONE, ITERATIVE are read)")
    if bm == "ITERATIVE" and not leaves.get("forward.bm_test_negative_bound", True):
        refused.append("forward.bm_test_negative_bound = False (snnvar tests both signs)")
    if bm == "ITERATIVE" and out_bound <= 0:
        refused.append("forward.bound_management = ITERATIVE without forward.out_bound")
    if not digital:
        refused.append(
            "mapping.digital_bias = False (aihwkit scales an analog bias's input with the "
            "inputs and adds a split layer's bias digitally)"
        )
    if nm != "NONE" and inp_bound != 1.0:
        refused.append("forward.inp_bound != 1 with noise management (aihwkit refuses it)")
    if ranged and inp_bound * (thres if nm == "CONSTANT" and thres > 0 else 1.0) > 1.0:
        refused.append(
            "pre_post.input_range with forward.inp_bound (× nm_thres) above 1 (the input "
            "range clips first)"
        )
    if leaves.get("forward.out_res", -1) > 0 and out_bound <= 0:
        refused.append("forward.out_res without forward.out_bound (the ADC's range)")
    if nm not in ("NONE", "ABS_MAX", "CONSTANT"):
        refused.append(f"forward.noise_management = {nm} (NONE, ABS_MAX, CONSTANT are read)")
    if nm == "ABS_MAX" and thres > 0:
        refused.append("forward.nm_thres > 0 with ABS_MAX (a capped scale)")
    if nm == "ABS_MAX" and ranged:
        refused.append("forward.noise_management = ABS_MAX with pre_post.input_range")
    if inp_bound <= 0:
        refused.append("forward.inp_bound <= 0 (an unbounded DAC)")
    if refused:
        raise ValueError(
            f"snnvar does not read these aihwkit settings: {refused}; switch them off "
            "(0, -1, False or NONE) or model them in snnvar (weight noise and drift: a "
            "Variation or a device model, Chip.from_aihwkit reads the noise model)"
        )
    widen = thres if nm == "CONSTANT" and thres > 0 else 1.0
    input_range = inp_bound * widen * r
    relative = omega > 0
    columnwise = relative and bool(leaves.get("mapping.weight_scaling_columnwise", False))
    rows, cols = leaves.get("mapping.max_input_size", -1), leaves.get("mapping.max_output_size", -1)
    # the ADC in aihwkit's tile units: relative to ω · inp_bound, or absolute (on the
    # scaled inputs with ABS_MAX, on x / (nm_thres · r) otherwise)
    unit = 1.0 if nm == "ABS_MAX" else widen * r  # a tile-unit output in snnvar's units
    swing = out_bound * unit if out_bound > 0 and not relative else None
    res = leaves.get("forward.inp_res", -1)
    limit = None
    if bm == "ITERATIVE":  # reductions while ≤ max_bm_factor and ≤ max_bm_res / DAC step
        limit = float(leaves.get("forward.max_bm_factor", 1000))
        if res > 0:
            step = (1.0 / res if res > 1 else res) * 2 * inp_bound
            limit = min(limit, float(leaves.get("forward.max_bm_res", 0.25)) / step)
    return Restrictions(
        input_range=input_range,
        input_bits=_bits("forward.inp_res", leaves.get("forward.inp_res", -1)),
        input_scaling=nm == "ABS_MAX",
        learn_input_scale=learn,
        output_bound=out_bound / (omega * inp_bound) if out_bound > 0 and relative else None,
        output_swing=swing,
        output_bits=_bits("forward.out_res", leaves.get("forward.out_res", -1)),
        output_noise=(noise / (omega * inp_bound) if relative else noise * unit)
        if noise > 0
        else 0.0,
        absolute_noise=noise > 0 and not relative,
        bound_management=limit if limit is not None and limit >= 1 else None,  # < 1: no re-read
        bound_per_column=columnwise and (out_bound > 0 or noise > 0),
        array_rows=int(rows) if rows > 0 else None,
        array_cols=int(cols) if cols > 0 else None,
        digital_bias=digital,
    )


_COMPENSATIONS = {
    "GlobalDriftCompensation": "global",
    "GlobalDriftCompensationWithExactReference": "global",
    "PerColumnDriftCompensation": "column",
}
"""aihwkit's drift compensations as snnvar's (snnvar's reference read is exact)."""


def devices_from_aihwkit(
    rpu_config: Any, t_inference: float | str | None = None
) -> DeviceModel | None:
    """The devices of an aihwkit ``InferenceRPUConfig``: its ``noise_model``
    (``PCMLikeNoiseModel`` or ``CustomDriftPCMLikeNoiseModel`` with a
    ``SinglePairConductanceConverter``) as snnvar's :class:`~snnvar.hardware.PCM`,
    with its ``drift_compensation``, read ``t_inference`` after programming ended
    (aihwkit's time; snnvar's ``time = t_inference + t_0``; None: at ``t_0``); None
    without a noise model. aihwkit maps each tile's ``max|W|`` to ``g_max``, snnvar
    each layer's: the same where a layer is one tile."""
    model = getattr(rpu_config, "noise_model", None)
    if model is None:
        return None
    kind = type(model).__name__
    if kind not in ("PCMLikeNoiseModel", "CustomDriftPCMLikeNoiseModel"):
        raise ValueError(
            f"noise_model {kind} is not read; allowed: PCMLikeNoiseModel, "
            "CustomDriftPCMLikeNoiseModel (or None; other devices: a snnvar device model)"
        )
    converter = model.g_converter
    if type(converter).__name__ != "SinglePairConductanceConverter":
        raise ValueError(
            f"noise_model.g_converter {type(converter).__name__} is not read; allowed: "
            "SinglePairConductanceConverter (snnvar's mapping)"
        )
    compensation = getattr(rpu_config, "drift_compensation", None)
    name = None if compensation is None else type(compensation).__name__
    if name is not None and name not in _COMPENSATIONS:
        raise ValueError(
            f"drift_compensation {name} is not read; allowed: {sorted(_COMPENSATIONS)} or None"
        )
    drift_nu = None
    if kind == "CustomDriftPCMLikeNoiseModel":
        table = model.custom_drift_model
        columns = [[float(v) for v in table[k]] for k in ("g_lst", "nu_mean_lst", "nu_std_lst")]
        drift_nu = tuple(zip(*columns, strict=True))
    t0 = float(model.t_0)
    return PCM(
        g_max=float(converter.g_max), g_min=float(converter.g_min),
        prog_coeffs=tuple(float(c) for c in model.prog_coeff),
        coeff_g_max=float(model.prog_coeff_g_max_reference), t_read=float(model.t_read), t0=t0,
        noise_scale=float(model.prog_noise_scale),
        read_noise_scale=float(model.read_noise_scale), drift_scale=float(model.drift_scale),
        drift_nu=drift_nu, compensation=None if name is None else _COMPENSATIONS[name],
        time=None if t_inference is None else parse_time(t_inference) + t0,
    )  # fmt: skip
