"""snnvar's arrays against IBM's aihwkit-lightning 2.1.0 (installed with --no-deps by
the README's test command): the same layer, split over the same tiles, with the
same input range and DAC, per-tile weight levels and ADC with a relative bound,
computes the same outputs in eval mode; ``from_aihwkit`` maps the configuration
and refuses by name what snnvar does not read."""

from __future__ import annotations

import dataclasses
import math

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

from snnvar.hardware import Restrictions, deploy, from_aihwkit, output_reads, restrict
from snnvar.hardware.tiles import block_max, split_sizes

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


@pytest.mark.parametrize("bound", [10.0, 1.0])
@pytest.mark.parametrize("learn", [False, True])
@pytest.mark.parametrize(
    "make",
    [
        lambda: (nn.Linear(200, 30), torch.randn(16, 200) * 1.5),
        lambda: (nn.Conv2d(20, 8, 3, padding=1, stride=2), torch.randn(4, 20, 9, 9) * 1.5),
    ],
    ids=["linear", "conv2d"],
)
def test_the_same_tiles_compute_the_same_outputs_as_aihwkit_lightning(make, learn, bound) -> None:
    torch.manual_seed(0)
    layer, x = make()
    cfg = _config(learn=learn)
    cfg.forward.out_bound = bound
    hw = from_aihwkit(cfg)
    assert hw == Restrictions(
        weight_levels=15, input_bits=8, input_range=2.0, learn_input_scale=learn,
        output_bits=6, output_bound=bound, array_rows=64, digital_bias=True,
    )  # fmt: skip
    cls = AnalogLinear if isinstance(layer, nn.Linear) else AnalogConv2d
    theirs = cls.from_digital(layer, cfg).eval()
    restricted = restrict(nn.Sequential(layer), hw).eval()
    if learn:  # a learned scale a = 2 before snnvar's range 2 is lightning's range 1
        with torch.no_grad():
            restricted[0].input_log_scale.fill_(math.log(2.0))
            theirs.input_range.fill_(1.0)
    rows = split_sizes(layer.weight[0].numel(), 64)
    assert len(rows) >= 3 and (x.abs() > 2.0).any()  # several tiles; the input range clips
    # one ADC step of the widest tile, per tile: what a rounding tie can move
    adc_step = 2 * bound * 2.0 * float(layer.weight.detach().abs().max()) / (2**6 - 2)
    with torch.no_grad():
        expected = theirs(x)
        for ours in (restricted(x), deploy(restricted)(x)):
            _agree(ours, expected, steps=len(rows) * adc_step)
        # and not by accident: one array instead of the tiles gives other outputs, and so
        # does a chip whose ADCs neither round nor clip
        for other in (dataclasses.replace(hw, array_rows=None),
                      dataclasses.replace(hw, output_bound=1e6, output_bits=None)):  # fmt: skip
            chip = restrict(nn.Sequential(layer), other).eval()
            if learn:
                chip[0].input_log_scale.fill_(math.log(2.0))
            assert float((chip(x) - expected).abs().max()) > 10 * CLOSE


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
    cfg.forward.out_noise_per_channel = True
    cfg.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    cfg.modifier.std_dev = 0.02
    cfg.clip.type = WeightClipType.LAYER_GAUSSIAN
    with pytest.raises(ValueError, match="does not read these aihwkit settings") as err:
        from_aihwkit(cfg)
    for name in ("out_noise_per_channel", "modifier.noise_type", "modifier.std_dev", "clip.type"):
        assert name in str(err.value)
    cases = [
        (lambda c: setattr(c.pre_post.input_range, "init_from_data", 100), "init_from_data"),
        (lambda c: setattr(c.pre_post.input_range, "dynamic", True), "input_range.dynamic"),
        (lambda c: setattr(c.modifier, "quantization_type",
                           WeightQuantizationType.DISCRETIZE_PER_CHANNEL), "PER_CHANNEL"),
        (lambda c: setattr(c.forward, "inp_res", 100), r"100 steps; snnvar's converters"),
        (lambda c: setattr(c.modifier, "res", 1 / 15), r"is 15 steps; .* an even number"),
        (lambda c: setattr(c.pre_post.input_range, "enable", False),
         "inp_res needs pre_post.input_range.enable"),
        (lambda c: (setattr(c.forward, "inp_res", -1), setattr(c.forward, "out_noise", 0.1),
                    setattr(c.pre_post.input_range, "enable", False)),
         "out_noise needs pre_post.input_range.enable"),
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
    quiet = TorchInferenceRPUConfig()
    quiet.modifier.enable_during_test = True  # deprecated, and inert without noise
    assert from_aihwkit(quiet) == Restrictions(digital_bias=True)


@dataclasses.dataclass
class _Mapping:
    """aihwkit's MappingParameter (not lightning's): it remaps the weights."""

    max_input_size: int = 512
    weight_scaling_omega: float = 1.0


@dataclasses.dataclass
class _AihwkitConfig:
    mapping: _Mapping = dataclasses.field(default_factory=_Mapping)


def test_a_partial_aihwkit_configuration_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"aihwkit configuration \(it has \['mapping.weight_sc"):
        from_aihwkit(_AihwkitConfig())


NOISE_STD_TOLERANCE = 0.03
"""Relative: the sample std of ~10^5 Gaussian draws is within 1 % of σ (4 standard
errors); 3 % leaves room and still tells σ from σ·√(tiles) or σ/√(tiles)."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: (nn.Linear(200, 40), torch.randn(2500, 200)),
        lambda: (nn.Conv2d(20, 16, 3, padding=1), torch.randn(64, 20, 10, 10)),
    ],
    ids=["linear", "conv2d"],
)
def test_output_noise_has_aihwkit_lightnings_statistics(make) -> None:
    """Lightning adds out_noise in training mode, σ = out_noise/√tiles · r · max|W_tile|
    per tile before the ADC: snnvar's chip (noise_over_tiles) draws the same σ."""
    torch.manual_seed(3)
    layer, x = make()
    cfg = _config(weights=False)
    cfg.forward.out_noise, cfg.forward.out_bound = 0.05, -1.0
    cfg.forward.inp_res, cfg.forward.out_res = -1, -1
    hw = from_aihwkit(cfg)
    assert hw.output_noise == 0.05 and hw.noise_over_tiles and hw.array_rows == 64
    theirs = (AnalogLinear if isinstance(layer, nn.Linear) else AnalogConv2d).from_digital(
        layer, cfg
    )
    chip = deploy(restrict(nn.Sequential(layer), hw))
    rows = split_sizes(layer.weight[0].numel(), 64)
    w2d = layer.weight.detach().reshape(len(layer.weight), -1)
    per_tile = block_max(w2d, rows, [len(w2d)])  # (tiles, out): one column block
    expected = 0.05 * 2.0 * float(per_tile[:, 0].pow(2).mean().sqrt())  # Σ over tiles / n
    with torch.no_grad():
        clean = layer(x.clamp(-2.0, 2.0))
        theirs_noise = theirs.train()(x) - clean
        with output_reads(chip, seed=0):
            ours_noise = chip(x) - clean
    for noise in (theirs_noise, ours_noise):
        assert abs(float(noise.std()) / expected - 1) < NOISE_STD_TOLERANCE
        assert abs(float(noise.mean())) < 4 * expected / math.sqrt(noise.numel())
