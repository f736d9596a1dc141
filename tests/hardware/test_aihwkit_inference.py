"""aihwkit's own ``InferenceRPUConfig`` (the simulator with C++ tiles, not installable
here) read by ``from_aihwkit`` and ``Chip.from_aihwkit``. The configuration classes
below mirror aihwkit's field names and defaults (IBM/aihwkit at 4545f11,
``simulator/parameters/{io,mapping,pre_post,inference}.py``, ``simulator/configs/
configs.py``, ``inference/noise/pcm.py``, ``inference/converter/conductance.py``);
the chip's outputs are checked against aihwkit's ``AnalogMVM`` rules
(``tests/hardware/analog_mvm.py``)."""

from __future__ import annotations

import dataclasses
import enum

import pytest
import torch
from torch import nn

from snnvar.hardware import (
    PCM,
    Chip,
    Restrictions,
    deploy,
    devices_from_aihwkit,
    from_aihwkit,
    output_reads,
    restrict,
)
from snnvar.hardware.tiles import split_sizes
from tests.hardware.analog_mvm import reference_tiles

TOLERANCE = 1e-5
"""Relative, float32 against float64: the same sums in another order."""


class NoiseManagementType(enum.Enum):
    NONE = "None"
    ABS_MAX = "AbsMax"
    MAX = "Max"
    CONSTANT = "Constant"


class BoundManagementType(enum.Enum):
    NONE = "None"
    ITERATIVE = "Iterative"


class AnalogMVType(enum.Enum):
    IDEAL = "Ideal"
    ONE_PASS = "OnePass"


class WeightNoiseType(enum.Enum):
    NONE = "None"
    PCM_READ = "PCMRead"


class SwitchType(enum.Enum):
    """aihwkit's WeightModifierType / WeightClipType / WeightRemapType (NONE and one)."""

    NONE = "None"
    FIXED_VALUE = "FixedValue"


class PulseType(enum.Enum):
    NONE = "None"


@dataclasses.dataclass
class IOParameters:
    is_perfect: bool = False
    mv_type: AnalogMVType = AnalogMVType.ONE_PASS
    inp_bound: float = 1.0
    inp_noise: float = 0.0
    inp_res: float = 1 / (2**7 - 2)
    inp_sto_round: bool = False
    inp_asymmetry: float = 0.0
    out_bound: float = 12.0
    out_noise: float = 0.06
    out_noise_std: float = 0.0
    out_res: float = 1 / (2**9 - 2)
    out_sto_round: bool = False
    out_scale: float = 1.0
    out_asymmetry: float = 0.0
    bound_management: BoundManagementType = BoundManagementType.ITERATIVE
    noise_management: NoiseManagementType = NoiseManagementType.ABS_MAX
    w_noise: float = 0.0
    w_noise_type: WeightNoiseType = WeightNoiseType.NONE
    ir_drop: float = 0.0
    ir_drop_g_ratio: float = 1.0 / 0.35 / 5e-6
    out_nonlinearity: float = 0.0
    out_nonlinearity_std: float = 0.0
    slope_calibration: float = 0.0
    v_offset_std: float = 0.0
    v_offset_w_min: float = -1.0
    r_series: float = 0.0
    w_read_asymmetry_dtod: float = 0.0
    max_bm_factor: int = 1000
    max_bm_res: float = 0.25
    bm_test_negative_bound: bool = True
    nm_thres: float = 0.0


@dataclasses.dataclass
class MappingParameter:
    digital_bias: bool = True
    weight_scaling_omega: float = 0.0
    weight_scaling_columnwise: bool = False
    weight_scaling_lr_compensation: bool = False
    learn_out_scaling: bool = False
    out_scaling_columnwise: bool = False
    max_input_size: int = 512
    max_output_size: int = 512


@dataclasses.dataclass
class InputRangeParameter:
    enable: bool = False
    learn_input_range: bool = True
    init_value: float = 3.0
    init_from_data: int = 100
    init_std_alpha: float = 3.0
    decay: float = 0.001
    input_min_percentage: float = 0.95
    manage_output_clipping: bool = False
    output_min_percentage: float = 0.95
    gradient_scale: float = 1.0
    gradient_relative: bool = True
    calibration_info: str | None = None


@dataclasses.dataclass
class PrePostProcessingParameter:
    input_range: InputRangeParameter = dataclasses.field(default_factory=InputRangeParameter)


@dataclasses.dataclass
class WeightModifierParameter:
    std_dev: float = 0.0
    res: float = 0.0
    rel_to_actual_wmax: bool = True
    assumed_wmax: float = 1.0
    coeffs: list[float] = dataclasses.field(default_factory=lambda: [0.26348, 1.9650, -1.1731])
    type: SwitchType = SwitchType.NONE
    g_max: float = 25.0


@dataclasses.dataclass
class WeightClipParameter:
    fixed_value: float = -1.0
    sigma: float = 2.5
    type: SwitchType = SwitchType.NONE


@dataclasses.dataclass
class WeightRemapParameter:
    remapped_wmax: float = 1.0
    type: SwitchType = SwitchType.NONE


@dataclasses.dataclass
class RuntimeParameter:
    offload_input: bool = False
    data_type: str = "float"


@dataclasses.dataclass
class IdealDevice:
    construction_seed: int = 0
    lifetime: float = 0.0
    reset_std: float = 0.01


@dataclasses.dataclass
class UpdateParameters:
    desired_bl: int = 31
    pulse_type: PulseType = PulseType.NONE


class SinglePairConductanceConverter:
    def __init__(self, g_max: float | None = None, g_min: float | None = None) -> None:
        self.g_max = 25.0 if g_max is None else g_max
        self.g_min = 0.0 if g_min is None else g_min


class PCMLikeNoiseModel:
    def __init__(self, g_max: float | None = None, t_0: float = 20.0) -> None:
        self.g_converter = SinglePairConductanceConverter(g_max=g_max)
        self.g_max = self.g_converter.g_max
        self.prog_coeff = [0.26348, 1.9650, -1.1731]
        self.prog_coeff_g_max_reference = 25.0
        self.t_0, self.t_read = t_0, 250.0e-9
        self.prog_noise_scale = self.read_noise_scale = self.drift_scale = 1.0


class CustomDriftPCMLikeNoiseModel(PCMLikeNoiseModel):
    def __init__(self, custom_drift_model: dict) -> None:
        super().__init__()
        self.custom_drift_model = custom_drift_model


class ReRamWanNoiseModel:
    """Another of aihwkit's noise models."""


class GlobalDriftCompensation:
    pass


class PerColumnDriftCompensation:
    pass


@dataclasses.dataclass
class InferenceRPUConfig:
    tile_class: type = object
    runtime: RuntimeParameter = dataclasses.field(default_factory=RuntimeParameter)
    tile_array_class: type = object
    mapping: MappingParameter = dataclasses.field(default_factory=MappingParameter)
    pre_post: PrePostProcessingParameter = dataclasses.field(
        default_factory=PrePostProcessingParameter
    )
    forward: IOParameters = dataclasses.field(default_factory=IOParameters)
    noise_model: object = dataclasses.field(default_factory=PCMLikeNoiseModel)
    drift_compensation: object = dataclasses.field(default_factory=GlobalDriftCompensation)
    clip: WeightClipParameter = dataclasses.field(default_factory=WeightClipParameter)
    remap: WeightRemapParameter = dataclasses.field(default_factory=WeightRemapParameter)
    modifier: WeightModifierParameter = dataclasses.field(default_factory=WeightModifierParameter)
    device: IdealDevice = dataclasses.field(default_factory=IdealDevice)
    backward: IOParameters = dataclasses.field(
        default_factory=lambda: IOParameters(is_perfect=True)
    )
    update: UpdateParameters = dataclasses.field(default_factory=UpdateParameters)


def _usable() -> InferenceRPUConfig:
    """aihwkit's defaults with bound management off and weight scaling ω = 1 (the
    relative ranges)."""
    cfg = InferenceRPUConfig()
    cfg.forward.bound_management = BoundManagementType.NONE
    cfg.mapping.weight_scaling_omega = 1.0
    return cfg


def test_the_default_configuration_maps_field_by_field() -> None:
    """aihwkit's defaults: ABS_MAX noise management, ITERATIVE bound management (at most
    min(1000, 0.25 / (2/126)) = 15.75), no weight scaling (absolute out_bound and
    out_noise), 7-bit DAC, 9-bit ADC, 512 × 512 tiles, digital bias."""
    assert from_aihwkit(InferenceRPUConfig()) == Restrictions(
        input_range=1.0, input_bits=7, input_scaling=True, output_swing=12.0, output_bits=9,
        output_noise=0.06, absolute_noise=True, bound_management=0.25 / (2 / 126),
        array_rows=512, array_cols=512, digital_bias=True,
    )  # fmt: skip


def test_defaults_with_omega_and_no_bound_management_map_field_by_field() -> None:
    assert from_aihwkit(_usable()) == Restrictions(
        input_range=1.0, input_bits=7, input_scaling=True, output_bound=12.0, output_bits=9,
        output_noise=0.06, array_rows=512, array_cols=512, digital_bias=True,
    )  # fmt: skip


def test_omega_and_the_input_bound_scale_the_relative_ranges() -> None:
    cfg = _usable()
    cfg.mapping.weight_scaling_omega, cfg.forward.inp_bound = 0.5, 2.0
    cfg.forward.noise_management = NoiseManagementType.NONE  # aihwkit's needs inp_bound 1
    cfg.forward.out_bound, cfg.forward.out_noise = 6.0, 0.04
    cfg.mapping.weight_scaling_columnwise = True
    hw = from_aihwkit(cfg)
    assert hw.output_bound == pytest.approx(6.0) and hw.output_noise == pytest.approx(0.04)
    assert hw.input_range == 2.0 and hw.bound_per_column


@pytest.mark.parametrize(
    ("omega", "inp_bound", "abs_max"),
    [(1.0, 1.0, True), (0.6, 1.0, True), (0.0, 1.0, True), (1.0, 2.0, False)],
)
@pytest.mark.parametrize(
    "make",
    [
        lambda: (nn.Linear(300, 20), torch.randn(32, 300) * torch.rand(32, 1) * 4),
        lambda: (nn.Conv2d(40, 6, 3, padding=1), torch.randn(2, 40, 5, 5) * 2),
    ],
    ids=["linear", "conv2d"],
)
def test_the_chip_computes_aihwkits_tiles(make, omega, inp_bound, abs_max) -> None:
    """Noise off: snnvar's chip from the configuration against aihwkit's per-tile rules
    (noise management, weight scaling ω or none, DAC, ADC at ±out_bound)."""
    torch.manual_seed(0)
    layer, x = make()
    cfg = _usable()
    cfg.forward.out_noise, cfg.forward.out_bound = 0.0, 10.0 if omega > 0 else 0.4
    cfg.forward.inp_res, cfg.forward.out_res = 1 / (2**8 - 2), 1 / (2**6 - 2)
    cfg.mapping.weight_scaling_omega, cfg.forward.inp_bound = omega, inp_bound
    cfg.mapping.max_input_size = 128
    if not abs_max:
        cfg.forward.noise_management = NoiseManagementType.NONE
    hw = from_aihwkit(cfg)
    with torch.no_grad():
        got = deploy(restrict(nn.Sequential(layer), hw)).eval()(x)
        w2d = layer.weight.reshape(len(layer.weight), -1)
        rows = split_sizes(w2d.shape[1], 128)
        if isinstance(layer, nn.Linear):
            cols = x
        else:
            cols = nn.functional.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, w2d.shape[1])
        want = reference_tiles(cols, w2d, rows, cfg.forward.out_bound, 8, 6, inp_bound, omega,
                               abs_max)  # fmt: skip
        want = want + layer.bias.double()
        if not isinstance(layer, nn.Linear):
            want = want.reshape(2, 25, 6).transpose(1, 2).reshape(2, 6, 5, 5)
    assert len(rows) > 1
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("abs_max", [True, False])
def test_bound_management_rereads_saturated_vectors_as_aihwkit(abs_max) -> None:
    """ITERATIVE bound management (with and without noise management) against
    aihwkit's forwardVector loop, vector by vector: a tight out_bound makes most
    vectors saturate at first."""
    torch.manual_seed(5)
    layer = nn.Linear(200, 16)
    x = torch.randn(40, 200) * torch.rand(40, 1) * (1.0 if abs_max else 0.3)
    cfg = _usable()
    cfg.forward.bound_management = BoundManagementType.ITERATIVE
    cfg.forward.noise_management = (
        NoiseManagementType.ABS_MAX if abs_max else NoiseManagementType.NONE
    )
    cfg.forward.out_noise, cfg.forward.out_bound = 0.0, 1.5
    cfg.forward.inp_res, cfg.forward.out_res = 1 / (2**8 - 2), 1 / (2**6 - 2)
    cfg.mapping.max_input_size = 100
    hw = from_aihwkit(cfg)
    limit = 0.25 / (2 / 254)
    assert hw.bound_management == pytest.approx(limit)
    with torch.no_grad():
        got = deploy(restrict(nn.Sequential(layer), hw)).eval()(x)
        want = reference_tiles(x, layer.weight, [100, 100], 1.5, 8, 6, 1.0, 1.0, abs_max,
                               limit) + layer.bias.double()  # fmt: skip
        without = reference_tiles(x, layer.weight, [100, 100], 1.5, 8, 6, 1.0, 1.0, abs_max)
    # a re-read input's largest element lands on a DAC tie (x/s = 1 halved: 63.5 steps of
    # an 8-bit DAC), rounded to the even level in both
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)
    moved = ((without + layer.bias.double() - want).abs() > 1e-3).any(1).float().mean()
    assert moved > 0.5  # most vectors were read again


def test_bound_management_rereads_only_the_tile_that_saturated() -> None:
    """Output blocks are tiles of their own (aihwkit's TileModuleArray): a vector re-read
    in one column block keeps its first read in the other."""
    torch.manual_seed(6)
    layer = nn.Linear(64, 16, bias=False)
    with torch.no_grad():
        layer.weight[8:] *= 0.05  # the second column block's outputs stay small
    hw = Restrictions(input_range=1.0, input_bits=8, output_swing=0.5, output_bits=8,
                      bound_management=16.0, array_cols=8, digital_bias=True)  # fmt: skip
    x = torch.rand(20, 64)  # no noise management here: no DAC ties on re-reads

    def ref(w: torch.Tensor, limit: float | None = 16.0) -> torch.Tensor:
        return reference_tiles(x, w, [64], 0.5, 8, 8, omega=0.0, abs_max=False, bm_limit=limit)

    with torch.no_grad():
        got = deploy(restrict(nn.Sequential(layer), hw)).eval()(x)
        first, second = ref(layer.weight[:8]), ref(layer.weight[8:])
        single = ref(layer.weight[8:], None)
    torch.testing.assert_close(got.double(), torch.cat([first, second], 1), rtol=TOLERANCE,
                               atol=TOLERANCE)  # fmt: skip
    torch.testing.assert_close(second, single)  # the second tile never re-read
    assert not torch.allclose(first, ref(layer.weight[:8], None))  # the first tile did


@pytest.mark.parametrize("limit", [1.0, 2.0, 3.0])
def test_a_vector_that_runs_out_of_reductions_keeps_its_last_read(limit) -> None:
    """A tight range: most vectors still saturate at the limit (reductions up to the
    first power of two above it), as aihwkit's loop."""
    torch.manual_seed(8)
    layer = nn.Linear(40, 6, bias=False)
    hw = Restrictions(input_range=1.0, input_bits=8, output_swing=0.2, output_bits=8,
                      bound_management=limit, digital_bias=True)  # fmt: skip
    x = torch.rand(30, 40)
    with torch.no_grad():
        got = deploy(restrict(nn.Sequential(layer), hw)).eval()(x)
        want = reference_tiles(x, layer.weight, [40], 0.2, 8, 8, omega=0.0, abs_max=False,
                               bm_limit=limit)  # fmt: skip
        deeper = reference_tiles(x, layer.weight, [40], 0.2, 8, 8, omega=0.0, abs_max=False,
                                 bm_limit=2 * limit)  # fmt: skip
    torch.testing.assert_close(got.double(), want, rtol=TOLERANCE, atol=TOLERANCE)
    assert not torch.allclose(want, deeper)  # the limit decided


def test_every_reread_draws_its_own_noise() -> None:
    """y = x saturates at reduction 1 and passes at 2: the output is 2 · (x/2 + n), so
    its noise has σ = 2 · output_noise (absolute), from the second read."""
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    hw = Restrictions(input_range=1.0, output_swing=0.6, output_noise=0.01, absolute_noise=True,
                      bound_management=16.0, digital_bias=True)  # fmt: skip
    chip = deploy(restrict(nn.Sequential(layer), hw))
    with torch.no_grad(), output_reads(chip, seed=0):
        y = chip(torch.ones(20000, 1))
    assert float(y.mean()) == pytest.approx(1.0, abs=1e-3)
    assert float(y.std()) == pytest.approx(0.02, rel=0.03)


def test_the_learned_input_scale_acts_before_bound_management() -> None:
    """HRAT's scale a on a chip with bound management: the tiles read a·x, the weights
    W/a (the product unchanged), as without bound management where nothing saturates."""
    torch.manual_seed(7)
    layer = nn.Linear(30, 5)
    base = Restrictions(input_range=1.0, input_bits=8, output_bound=100.0, output_bits=16,
                        learn_input_scale=True, digital_bias=True)  # fmt: skip
    x = torch.randn(12, 30) * 0.3
    outs = []
    for hw in (base, dataclasses.replace(base, bound_management=16.0)):
        model = restrict(nn.Sequential(layer), hw).eval()
        with torch.no_grad():
            model[0].input_log_scale.fill_(1.0)  # a = e: a·x clips at ±1 for |x| > 0.37
            outs.append(model(x))
    torch.testing.assert_close(outs[0], outs[1])


def test_spikes_are_managed_too() -> None:
    """A spiking layer's tiles under noise management: a vector with no spike drives no
    row and reads exactly zero, with no output noise (aihwkit's C++ tiles)."""
    from snnvar import models

    net = models.create("spiking_cnn1", in_shape=(1, 8, 8), num_classes=3, hidden=4)
    hw = Restrictions(input_range=1.0, input_scaling=True, output_noise=0.1, digital_bias=True,
                      absolute_noise=True)  # fmt: skip
    chip = deploy(restrict(net, hw))
    layer = [m for m in chip.modules() if isinstance(m, nn.Linear)][-1]
    assert not layer.summary()["analog_input"]
    quiet = torch.zeros(4, layer.in_features)
    with torch.no_grad(), output_reads(chip, seed=0):
        assert torch.equal(layer(quiet), layer.bias.expand(4, -1))


def test_grouped_convolutions_are_refused_under_management() -> None:
    hw = Restrictions(input_range=1.0, input_scaling=True, digital_bias=True)
    with pytest.raises(ValueError, match="groups=2"):
        restrict(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)), hw)


def test_absolute_noise_is_in_the_tiles_units() -> None:
    """ω = 0: out_noise is σ on x/s · W (s the noise-management scale): snnvar's
    absolute noise, multiplied back by each vector's scale."""
    layer = nn.Linear(10, 400, bias=False)
    cfg = _usable()
    cfg.mapping.weight_scaling_omega = 0.0
    cfg.forward.out_noise, cfg.forward.out_bound = 0.05, -1.0
    cfg.forward.inp_res = cfg.forward.out_res = -1
    hw = from_aihwkit(cfg)
    assert hw.absolute_noise and hw.output_noise == 0.05
    chip = deploy(restrict(nn.Sequential(layer), hw))
    x = torch.zeros(500, 10)
    x[:250, 0], x[250:, 0] = 1.0, 3.0
    with torch.no_grad(), output_reads(chip, seed=0):
        noise = chip(x) - x @ layer.weight.T
        assert torch.equal(chip(torch.zeros(3, 10)), torch.zeros(3, 400))  # no row driven
    assert noise[:250].std().item() == pytest.approx(0.05, rel=0.03)
    assert noise[250:].std().item() == pytest.approx(0.15, rel=0.03)


def test_constant_noise_management_and_an_input_range_widen_the_dac() -> None:
    cfg = _usable()
    cfg.forward.noise_management, cfg.forward.nm_thres = NoiseManagementType.CONSTANT, 2.0
    hw = from_aihwkit(cfg)
    assert hw.input_range == 2.0 and not hw.input_scaling and hw.output_bound == 12.0
    cfg.forward.noise_management = NoiseManagementType.NONE
    cfg.pre_post.input_range.enable, cfg.pre_post.input_range.init_from_data = True, 0
    hw = from_aihwkit(cfg)
    assert hw.input_range == 3.0 and hw.learn_input_scale and not hw.input_scaling


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: setattr(c.forward, "w_noise_type", WeightNoiseType.PCM_READ),
         "forward.w_noise_type = PCM_READ"),
        (lambda c: setattr(c.forward, "ir_drop", 1.0), "forward.ir_drop"),
        (lambda c: setattr(c.forward, "out_scale", 2.0), "forward.out_scale"),
        (lambda c: setattr(c.forward, "mv_type", AnalogMVType.IDEAL), "forward.mv_type = IDEAL"),
        (lambda c: setattr(c.forward, "noise_management", NoiseManagementType.MAX),
         "forward.noise_management = MAX"),
        (lambda c: setattr(c.forward, "nm_thres", 0.5), "nm_thres > 0 with ABS_MAX"),
        (lambda c: (setattr(c.forward, "bm_test_negative_bound", False),
                    setattr(c.forward, "bound_management", BoundManagementType.ITERATIVE)),
         "bm_test_negative_bound = False"),
        (lambda c: setattr(c.mapping, "digital_bias", False), "mapping.digital_bias = False"),
        (lambda c: setattr(c.forward, "inp_bound", 2.0), "inp_bound != 1 with noise management"),
        (lambda c: (setattr(c.forward, "out_bound", -1.0)), "out_res without forward.out_bound"),
        (lambda c: (setattr(c.forward, "noise_management", NoiseManagementType.CONSTANT),
                    setattr(c.forward, "nm_thres", 2.0),
                    setattr(c.pre_post.input_range, "enable", True),
                    setattr(c.pre_post.input_range, "init_from_data", 0)),
         "the input range clips first"),
        (lambda c: setattr(c.mapping, "learn_out_scaling", True), "mapping.learn_out_scaling"),
        (lambda c: setattr(c.modifier, "type", SwitchType.FIXED_VALUE),
         "modifier.type = FIXED_VALUE"),
        (lambda c: setattr(c.clip, "type", SwitchType.FIXED_VALUE), "clip.type = FIXED_VALUE"),
        (lambda c: setattr(c.remap, "type", SwitchType.FIXED_VALUE), "remap.type = FIXED_VALUE"),
    ],
)  # fmt: skip
def test_what_snnvar_does_not_model_is_refused_by_name(change, named) -> None:
    cfg = _usable()
    change(cfg)
    with pytest.raises(ValueError, match="snnvar does not read") as err:
        from_aihwkit(cfg)
    assert named in str(err.value)


def test_inert_and_fixed_fields_are_not_refused() -> None:
    cfg = _usable()
    cfg.forward.w_noise = 0.5  # no w_noise_type: inert
    cfg.forward.max_bm_factor = 10  # no bound management: inert
    cfg.modifier.std_dev = 0.1  # no modifier type: inert
    cfg.backward.out_noise = 0.5  # the backward pass is not the chip
    assert from_aihwkit(cfg) == from_aihwkit(_usable())


def test_a_perfect_forward_pass_is_an_exact_circuit() -> None:
    cfg = _usable()
    cfg.forward.is_perfect = True
    assert from_aihwkit(cfg) == Restrictions()
    cfg.pre_post.input_range.enable, cfg.pre_post.input_range.init_from_data = True, 0
    assert from_aihwkit(cfg) == Restrictions(input_range=3.0, learn_input_scale=True)


def test_a_bound_management_limit_below_one_never_rereads() -> None:
    cfg = _usable()
    cfg.forward.bound_management = BoundManagementType.ITERATIVE
    cfg.forward.max_bm_res = 0.001  # below one DAC step
    assert from_aihwkit(cfg).bound_management is None


@dataclasses.dataclass
class PulsedDevice:
    w_max: float = 0.6


@dataclasses.dataclass
class SingleRPUConfig(InferenceRPUConfig):
    device: PulsedDevice = dataclasses.field(default_factory=PulsedDevice)


def test_training_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="has a PulsedDevice"):
        from_aihwkit(SingleRPUConfig())


def test_a_time_without_devices_is_refused() -> None:
    cfg = _usable()
    cfg.noise_model = None
    with pytest.raises(ValueError, match="no noise_model"):
        Chip.from_aihwkit(cfg, t_inference="1d")


def test_the_pcm_noise_model_becomes_snnvars_pcm() -> None:
    cfg = _usable()
    cfg.noise_model = PCMLikeNoiseModel(g_max=30.0, t_0=10.0)
    cfg.noise_model.prog_noise_scale, cfg.noise_model.drift_scale = 0.5, 2.0
    device = devices_from_aihwkit(cfg, t_inference="1h")
    assert device == PCM(
        g_max=30.0, g_min=0.0, prog_coeffs=(0.26348, 1.9650, -1.1731), coeff_g_max=25.0,
        t_read=250e-9, t0=10.0, noise_scale=0.5, read_noise_scale=1.0, drift_scale=2.0,
        compensation="global", time=3600.0 + 10.0,
    )  # fmt: skip
    # aihwkit's programming noise σ at g_max: Σ c_i (g/g_max)^i · g_max / 25 µS
    sigma = device.programming_sigma(torch.tensor([30.0]), 0.0)
    assert float(sigma) == pytest.approx((0.26348 + 1.9650 - 1.1731) * 30.0 / 25.0)
    assert devices_from_aihwkit(cfg).time is None  # read at t0


def test_custom_drift_and_column_compensation() -> None:
    cfg = _usable()
    table = {"g_lst": [0.0, 10.0, 25.0], "nu_mean_lst": [0.08, 0.05, 0.03],
             "nu_std_lst": [0.01, 0.01, 0.005]}  # fmt: skip
    cfg.noise_model = CustomDriftPCMLikeNoiseModel(table)
    cfg.drift_compensation = PerColumnDriftCompensation()
    device = devices_from_aihwkit(cfg)
    assert device.drift_nu == ((0.0, 0.08, 0.01), (10.0, 0.05, 0.01), (25.0, 0.03, 0.005))
    assert device.compensation == "column"
    cfg.drift_compensation = None
    assert devices_from_aihwkit(cfg).compensation is None


def test_other_noise_models_and_converters_are_refused() -> None:
    cfg = _usable()
    cfg.noise_model = ReRamWanNoiseModel()
    with pytest.raises(ValueError, match="noise_model ReRamWanNoiseModel is not read"):
        devices_from_aihwkit(cfg)
    cfg.noise_model = PCMLikeNoiseModel()
    cfg.noise_model.g_converter = object()
    with pytest.raises(ValueError, match="g_converter object is not read"):
        devices_from_aihwkit(cfg)
    cfg.noise_model, cfg.drift_compensation = PCMLikeNoiseModel(), ReRamWanNoiseModel()
    with pytest.raises(ValueError, match="drift_compensation ReRamWanNoiseModel"):
        devices_from_aihwkit(cfg)


def test_chip_from_aihwkit_holds_circuit_and_devices() -> None:
    cfg = _usable()
    chip = Chip.from_aihwkit(cfg, t_inference=86400.0)
    assert chip.circuit == from_aihwkit(cfg)
    assert isinstance(chip.devices, PCM) and chip.devices.time == 86400.0 + 20.0
    cfg.noise_model = None
    assert Chip.from_aihwkit(cfg).devices is None
