"""snnvar's arrays against IBM's aihwkit-lightning 2.1.0 (installed with --no-deps by
the README's test command): the same layer, split over the same tiles, with the
same input range and DAC, per-tile weight levels and ADC with a relative bound,
computes the same outputs in eval mode; ``from_aihwkit`` maps the configuration
and refuses by name what snnvar does not read."""

from __future__ import annotations

import dataclasses
import enum

import pytest
import torch
from aihwkit_lightning.nn import AnalogConv2d, AnalogLinear
from aihwkit_lightning.simulator.configs import (
    TorchInferenceRPUConfig,
    WeightClipType,
    WeightNoiseInjectionType,
    WeightQuantizationType,
)
from torch import nn

from snnvar.hardware import Restrictions, deploy, from_aihwkit, restrict
from snnvar.hardware.tiles import split_sizes

CLOSE = 1e-5
"""Float32 partial sums in two orders (the same tiles, the same converters)."""

MIN_CLOSE_FRACTION = 0.995
"""A converter rounds a value that lies within float rounding of a level boundary
one way in one library and the other way in the other: such an element moves by one
step of that converter. The layers here have none; the bound allows a few."""


def _config(rows: int = 64, learn: bool = False, weights: bool = True) -> TorchInferenceRPUConfig:
    cfg = TorchInferenceRPUConfig()
    cfg.mapping.max_input_size = rows
    cfg.forward.inp_res = 2**8 - 2
    cfg.forward.out_res = 1 / (2**6 - 2)  # aihwkit's other form of 6 bits
    cfg.forward.out_bound = 10.0
    ir = cfg.pre_post.input_range
    ir.enable, ir.learn_input_range, ir.init_from_data, ir.init_value = True, learn, 0, 2.0
    if weights:
        cfg.modifier.quantization_type = WeightQuantizationType.DISCRETIZE
        cfg.modifier.res = 2**4 - 2
    return cfg


def _agree(ours: torch.Tensor, theirs: torch.Tensor, steps: float) -> None:
    diff = (ours - theirs).abs()
    close = diff <= CLOSE * (1 + theirs.abs())
    assert float(close.float().mean()) >= MIN_CLOSE_FRACTION, float(diff.max())
    assert float(diff.max()) <= steps, (float(diff.max()), steps)


@pytest.mark.parametrize("learn", [False, True])
@pytest.mark.parametrize(
    "make",
    [
        lambda: (nn.Linear(200, 30), torch.randn(16, 200) * 1.5),
        lambda: (nn.Conv2d(20, 8, 3, padding=1, stride=2), torch.randn(4, 20, 9, 9) * 1.5),
    ],
    ids=["linear", "conv2d"],
)
def test_the_same_tiles_compute_the_same_outputs_as_aihwkit_lightning(make, learn) -> None:
    torch.manual_seed(0)
    layer, x = make()
    cfg = _config(learn=learn)
    hw = from_aihwkit(cfg)
    assert hw == Restrictions(
        weight_levels=15, input_bits=8, input_range=2.0, learn_input_scale=learn,
        output_bits=6, output_bound=10.0, array_rows=64, digital_bias=True,
    )  # fmt: skip
    cls = AnalogLinear if isinstance(layer, nn.Linear) else AnalogConv2d
    theirs = cls.from_digital(layer, cfg).eval()
    restricted = restrict(nn.Sequential(layer), hw).eval()
    rows = split_sizes(layer.weight[0].numel(), 64)
    assert len(rows) >= 3 and (x.abs() > 2.0).any()  # several tiles; the input range clips
    # one ADC step of the widest tile, per tile: what a rounding tie can move
    adc_step = 2 * 10.0 * 2.0 * float(layer.weight.detach().abs().max()) / (2**6 - 2)
    with torch.no_grad():
        expected = theirs(x)
        for ours in (restricted(x), deploy(restricted)(x)):
            _agree(ours, expected, steps=len(rows) * adc_step)
        # and not by accident: one array instead of the tiles gives other outputs
        whole = restrict(nn.Sequential(layer), dataclasses.replace(hw, array_rows=None)).eval()
        assert float((whole(x) - expected).abs().max()) > 10 * CLOSE


def test_unquantised_weights_and_a_layer_on_one_array_agree_too() -> None:
    torch.manual_seed(1)
    layer, x = nn.Linear(48, 10), torch.randn(8, 48)
    cfg = _config(rows=-1, weights=False)
    hw = from_aihwkit(cfg)
    assert hw.array_rows is None and hw.weight_levels is None
    theirs = AnalogLinear.from_digital(layer, cfg).eval()
    with torch.no_grad():
        adc_step = 2 * 10.0 * 2.0 * float(layer.weight.detach().abs().max()) / (2**6 - 2)
        _agree(deploy(restrict(nn.Sequential(layer), hw))(x), theirs(x), steps=adc_step)


def test_from_aihwkit_refuses_what_it_does_not_read_by_name() -> None:
    cfg = _config()
    cfg.forward.out_noise = 0.04
    cfg.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    cfg.modifier.std_dev = 0.02
    cfg.clip.type = WeightClipType.LAYER_GAUSSIAN
    with pytest.raises(ValueError, match="does not read these aihwkit settings") as err:
        from_aihwkit(cfg)
    for name in ("forward.out_noise", "modifier.noise_type", "modifier.std_dev", "clip.type"):
        assert name in str(err.value)
    cases = [
        (lambda c: setattr(c.pre_post.input_range, "init_from_data", 100), "init_from_data"),
        (lambda c: setattr(c.pre_post.input_range, "dynamic", True), "input_range.dynamic"),
        (lambda c: setattr(c.modifier, "quantization_type",
                           WeightQuantizationType.DISCRETIZE_PER_CHANNEL), "PER_CHANNEL"),
        (lambda c: setattr(c.forward, "inp_res", 100), r"100 steps; snnvar's converters"),
        (lambda c: setattr(c.pre_post.input_range, "enable", False),
         "inp_res needs pre_post.input_range.enable"),
    ]  # fmt: skip
    for change, message in cases:
        cfg = _config()
        change(cfg)
        with pytest.raises(ValueError, match=message):
            from_aihwkit(cfg)
    with pytest.raises(TypeError, match="got type"):
        from_aihwkit(TorchInferenceRPUConfig)
    # lightning's defaults: nothing on, a layer on one array with a digital bias
    assert from_aihwkit(TorchInferenceRPUConfig()) == Restrictions(digital_bias=True)


class _Management(enum.Enum):
    NONE = 0
    ABS_MAX = 1


@dataclasses.dataclass
class _Mapping:
    """aihwkit's MappingParameter: it also splits the outputs."""

    max_input_size: int = 512
    max_output_size: int = 512


@dataclasses.dataclass
class _Forward:
    """The fields of aihwkit's IOParameters that lightning lacks, at aihwkit's defaults."""

    inp_res: float = 1 / (2**7 - 2)
    out_res: float = 1 / (2**9 - 2)
    out_bound: float = 12.0
    out_noise: float = 0.0
    noise_management: _Management = _Management.ABS_MAX
    ir_drop: float = 0.0


@dataclasses.dataclass
class _InputRange:
    enable: bool = True
    init_value: float = 3.0
    learn_input_range: bool = True
    init_from_data: int = 0
    decay: float = 0.01


@dataclasses.dataclass
class _PrePost:
    input_range: _InputRange = dataclasses.field(default_factory=_InputRange)


@dataclasses.dataclass
class _AihwkitConfig:
    mapping: _Mapping = dataclasses.field(default_factory=_Mapping)
    forward: _Forward = dataclasses.field(default_factory=_Forward)
    pre_post: _PrePost = dataclasses.field(default_factory=_PrePost)


def test_aihwkits_output_split_maps_and_its_extra_fields_are_named() -> None:
    cfg = _AihwkitConfig()
    with pytest.raises(ValueError, match=r"\['forward.noise_management'\]"):
        from_aihwkit(cfg)
    cfg.forward.noise_management = _Management.NONE
    hw = from_aihwkit(cfg)
    assert (hw.array_rows, hw.array_cols, hw.input_bits, hw.output_bits) == (512, 512, 7, 9)
    assert hw.learn_input_scale and hw.input_range == 3.0 and hw.output_bound == 12.0
    cfg.forward.ir_drop = 1.0
    with pytest.raises(ValueError, match=r"\['forward.ir_drop'\]"):
        from_aihwkit(cfg)
