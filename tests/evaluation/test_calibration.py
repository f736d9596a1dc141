"""Calibration of each programmed chip and the yield (issue 38): what each method sets,
that the model given is unchanged afterwards, paired rows, errors on bad input."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Subset

import snnvar
from snnvar import Variation, datasets, models
from snnvar.datasets.batches import prepare
from snnvar.evaluation import Calibration, Report, chip_yield, percentiles, run_pass
from snnvar.evaluation.calibration import calibrate, preserved
from snnvar.evaluation.calibrators import (
    batchnorm_statistics,
    digital_tensors,
    firing_rates,
    fit_columns,
    install_columns,
    reference,
    scale_thresholds,
)
from snnvar.hardware import PCM, Restrictions, deploy, restrict
from snnvar.nn import LIF, TimeLoop
from snnvar.training import TrainConfig, Trainer
from tests.conftest import assert_same_state, state


@pytest.fixture(scope="module")
def test_data() -> Subset:
    return Subset(datasets.get("digits", train=False), range(96))


@pytest.fixture(scope="module")
def cal_data() -> Subset:
    return Subset(datasets.get("digits", train=True), range(64))


@pytest.fixture(scope="module")
def snn() -> nn.Module:
    """fc4 with BatchNorm, trained 2 epochs on the digits."""
    torch.manual_seed(0)
    model = models.create("fc4", in_shape=(1, 8, 8), hidden=(32, 16, 16), batch_norm=True)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cfg = TrainConfig(epochs=2, batch_size=64, time_steps=4, seed=0, progress=False)
    Trainer(model, opt, cfg).fit(datasets.get("digits"))
    return model.eval()


# -- the configuration --------------------------------------------------------------------


def test_calibration_parses_and_refuses_bad_settings() -> None:
    c = Calibration(methods="bn, threshold")  # type: ignore[arg-type]
    assert c.methods == ("bn", "threshold") and c.label == "bn+threshold"
    assert Calibration(methods=("affine",), time="1h").time == 3600.0
    for bad, match in [
        ({"methods": ("bn", "adabn")}, r"unknown calibration \['adabn'\]; allowed"),
        ({"methods": ()}, "no calibration method"),
        ({"methods": ("bn", "bn")}, "given twice"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"threshold_iterations": 1.5}, "threshold_iterations must be an integer"),
        ({"finetune_steps": -1}, "finetune_steps must be an integer >= 0"),
        ({"threshold_range": 1.0}, "threshold_range must be > 1"),
        ({"finetune_lr": float("nan")}, "finetune_lr must be > 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            Calibration(**bad)


# -- yield and percentiles ----------------------------------------------------------------


def test_percentiles_match_numpy_and_yield_counts_chips() -> None:
    acc = [0.5, 0.1, 0.4, 0.2, 0.3]
    got = percentiles(acc)
    want = np.percentile(acc, [5, 50, 95])
    assert list(got) == ["p5", "p50", "p95"]
    assert np.allclose(list(got.values()), want, rtol=0, atol=1e-12)
    assert math.isclose(got["p5"], 0.12) and math.isclose(got["p95"], 0.48)
    assert chip_yield(acc, 0.3) == 0.6  # 0.3, 0.4, 0.5: at or above
    assert chip_yield(acc, 0.51) == 0.0
    with pytest.raises(ValueError, match="no chip accuracies"):
        percentiles([])


# -- each method on its own ---------------------------------------------------------------


def test_batchnorm_statistics_are_the_chips_activation_means(snn, cal_data) -> None:
    """AdaBS: after 'bn' each BatchNorm's running mean is the mean of its input on the
    chip over the calibration set (equal batches: the cumulative average is exact)."""
    model = copy.deepcopy(snn)
    batches = prepare(cal_data, model, time_steps=4, batch_size=32, seed=5)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d))
    with Variation(0.1).applied(model, seed=3):
        seen: list[torch.Tensor] = []
        hook = bn.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
        batchnorm_statistics(model, batches)
        hook.remove()
        flat = [s.reshape(-1, s.shape[-1]) for s in seen]
        means = torch.stack([f.mean(0) for f in flat]).mean(0)
        varis = torch.stack([f.var(0, unbiased=True) for f in flat]).mean(0)
        assert torch.allclose(bn.running_mean, means, atol=1e-5, rtol=1e-5)
        assert torch.allclose(bn.running_var, varis, atol=1e-5, rtol=1e-4)
        assert not model.training and not bn.training


class Scaled(nn.Module):
    """A Linear followed by an LIF layer over time ``[T, B, F]``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 5, bias=False)
        self.lif = TimeLoop(LIF(beta=0.8, threshold=1.0))
        self.out = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lif(self.fc(x))).mean(0)


def test_threshold_scaling_undoes_a_weight_gain() -> None:
    """Weights ×2 before an LIF layer are a threshold ×2 in disguise (subtractive reset):
    the calibrated scale lands near 2 and the firing rate on the clean model's."""
    torch.manual_seed(0)
    model = Scaled()
    with torch.no_grad():
        model.fc.weight.uniform_(0.0, 0.6)
    x = torch.rand(64, 8, 6)  # [B, T, features]: frames
    batches = prepare((x, torch.zeros(64, dtype=torch.long)), model, encoder="frames",
                      batch_size=32)  # fmt: skip
    ref = reference(model, batches)
    with torch.no_grad():
        model.fc.weight.mul_(2.0)
    assert firing_rates(model, batches)["lif"] > 1.3 * ref.rates["lif"]
    scales = scale_thresholds(model, ref, batches, iterations=12, limit=4.0)
    assert 1.85 <= scales["lif"] <= 2.15
    assert abs(firing_rates(model, batches)["lif"] - ref.rates["lif"]) <= 0.01
    assert torch.allclose(model.lif.cell.threshold, torch.tensor(scales["lif"]), rtol=1e-6)


def test_affine_fit_recovers_known_column_gains_and_offsets() -> None:
    """A chip whose columns are the clean ones times c_j plus d_j: least squares finds
    gain 1/c_j and offset -d_j/c_j, and the corrected layer computes the clean output."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(7, 4), nn.ReLU(), nn.Linear(4, 3))
    x = torch.randn(96, 7)
    batches = prepare((x, torch.zeros(96, dtype=torch.long)), model, encoder="none",
                      batch_size=32)  # fmt: skip
    ref = reference(model, batches)
    c = torch.tensor([0.5, 1.5, 2.0, 0.8])
    d = torch.tensor([0.1, -0.2, 0.0, 0.3])
    with torch.no_grad():
        model[0].weight.mul_(c[:, None])
        model[0].bias.mul_(c).add_(d)
    handles: list = []
    affine = install_columns(model, handles)
    fit_columns(model, ref, batches, affine)
    assert torch.allclose(affine["0"].gain, 1 / c, atol=1e-5)
    assert torch.allclose(affine["0"].offset, -d / c, atol=1e-5)
    assert torch.allclose(affine["2"].gain, torch.ones(3), atol=1e-5)
    assert torch.allclose(model(x), ref.model(x), atol=1e-5)
    for h in handles:
        h.remove()


def test_preserved_restores_everything_after_every_method(snn, cal_data) -> None:
    model = copy.deepcopy(snn)
    x = torch.rand(4, 8, 1, 8, 8)
    with torch.no_grad():
        clean = model(x)  # in eval mode
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    last.bias.requires_grad_(False)  # flags, gradients and modes as a user left them
    first.weight.grad = torch.full_like(first.weight, 0.5)
    model.train()
    next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d)).eval()
    modes = {n: m.training for n, m in model.named_modules()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    before = state(model)
    batches = prepare(cal_data, model, time_steps=4, batch_size=32, seed=5)
    ref = reference(model, batches)
    cal = Calibration(methods=("bn", "threshold", "affine", "finetune"), finetune_steps=3,
                      threshold_iterations=3)  # fmt: skip
    with preserved(model) as handles, Variation(0.1).applied(model, seed=2):
        info = calibrate(model, ref, batches, cal, handles)
        assert set(info) == {"seconds", "threshold_scales", "finetune_loss"}
        assert any(s != 1.0 for s in info["threshold_scales"].values())
    assert_same_state(model, before)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert not flags[next(n for n, p in model.named_parameters() if p is last.bias)]
    assert torch.equal(first.weight.grad, torch.full_like(first.weight, 0.5))
    assert all(p.grad is None for p in model.parameters() if p is not first.weight)
    assert {n: m.training for n, m in model.named_modules()} == modes
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d))
    assert bn.momentum == 0.1
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), clean)  # no correction hook is left behind


def test_finetune_lowers_the_distillation_loss(snn, cal_data) -> None:
    model = copy.deepcopy(snn)
    batches = prepare(cal_data, model, time_steps=4, batch_size=64, seed=5)
    ref = reference(model, batches)
    cal = Calibration(methods=("finetune",), finetune_steps=15, finetune_lr=1e-2)
    chip = Variation(0.15)
    held = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    with preserved(model) as handles, chip.applied(model, seed=4):
        weights = [p.detach().clone() for p in held]  # the chip's weights as read
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
        stats = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
        biases = [m.bias.detach().clone() for m in bns]
        first, last = calibrate(model, ref, batches, cal, handles)["finetune_loss"]
        assert all(torch.equal(p, w) for p, w in zip(held, weights, strict=True))
        assert all(torch.equal(m.running_mean, a) and torch.equal(m.running_var, b)
                   for m, (a, b) in zip(bns, stats, strict=True))  # fmt: skip
        assert any(not torch.equal(m.bias, b) for m, b in zip(bns, biases, strict=True))
    assert last < 0.8 * first


# -- in evaluate --------------------------------------------------------------------------


def test_evaluate_calibrates_every_chip_beside_the_uncalibrated_rows(
    snn, test_data, cal_data
) -> None:
    before = state(snn)
    plain = snnvar.evaluate(snn, test_data, Variation(0.1), draws=3, seed=1, time_steps=4)
    report = snnvar.evaluate(
        snn, test_data, Variation(0.1), draws=3, seed=1, time_steps=4,
        calibrate="bn,affine", calibration_data=cal_data,
    )  # fmt: skip
    assert_same_state(snn, before)
    raw, fixed = report.results
    assert raw.accuracies == plain.results[0].accuracies  # the same chips, the same reads
    assert raw.calibration is None and fixed.calibration == "bn+affine"
    assert fixed.method == "fc4 [bn+affine]" and fixed.accuracies != raw.accuracies
    assert fixed.calibration_seconds > 0
    clean = run_pass(snn, prepare(test_data, snn, time_steps=4, batch_size=256, seed=1))
    for r in (raw, fixed):
        assert r.clean_accuracy == clean.accuracy
        assert math.isclose(r.yield_target, clean.accuracy - 0.01)
        assert r.yield_fraction == chip_yield(r.accuracies, r.yield_target)
        assert r.percentiles == percentiles(r.accuracies)
    assert report.config["calibration"]["methods"] == ["bn", "affine"]
    assert report.config["calibration"]["samples"] == 64
    assert report.config["calibration"]["shared_with_test"] == 0
    assert "| fc4 [bn+affine] |" in report.markdown() and "yield (%)" in report.yield_table()
    assert "yield_fraction" in report.csv().splitlines()[0]
    again = Report.from_dict(report.to_dict())
    assert again.results[1] == fixed
    fixed_target = snnvar.evaluate(snn, test_data, Variation(0.1), draws=3, seed=1,
                                   time_steps=4, yield_target=0.0)  # fmt: skip
    assert fixed_target.results[0].yield_fraction == 1.0


def test_calibration_on_a_restricted_chip_with_output_noise_and_dynamic_reads(
    snn, test_data, cal_data
) -> None:
    hw = Restrictions(input_bits=8, input_range=1.0, array_rows=32, output_noise=0.02)
    chip = deploy(restrict(copy.deepcopy(snn), hw))
    before = state(chip)
    conditions = {"static": Variation(0.05), "read": Variation(0.05, mode="dynamic")}
    kw = {"draws": 2, "seed": 3, "time_steps": 4}
    report = snnvar.evaluate(chip, test_data, conditions, calibrate="threshold",
                             calibration_data=cal_data, **kw)  # fmt: skip
    again = snnvar.evaluate(chip, test_data, conditions, calibrate="threshold",
                            calibration_data=cal_data, **kw)  # fmt: skip
    assert_same_state(chip, before)
    assert [r.accuracies for r in report.results] == [r.accuracies for r in again.results]
    assert [r.method for r in report.results][:2] == ["fc4", "fc4 [threshold]"]


def test_device_models_calibrated_once_and_tested_later(snn, test_data, cal_data) -> None:
    """Calibration.time = the row's own time is the default (calibrated at each time);
    calibrated at 1 s and read a year later, the chip has drifted since."""
    pcm = PCM()
    kw = {"draws": 2, "seed": 0, "time_steps": 4, "calibration_data": cal_data}
    each = snnvar.evaluate(snn, test_data, pcm, times=["1y"], calibrate="bn", **kw)
    at = snnvar.evaluate(snn, test_data, pcm, times=["1y"],
                         calibrate=Calibration(methods=("bn",), time="1y"), **kw)  # fmt: skip
    early = snnvar.evaluate(snn, test_data, pcm, times=["1y"],
                            calibrate=Calibration(methods=("bn",), time=1.0), **kw)  # fmt: skip
    assert each.results[1].accuracies == at.results[1].accuracies
    assert each.results[0].accuracies == early.results[0].accuracies
    assert early.config["calibration"]["time"] == 1.0
    assert early.results[1].accuracies != each.results[1].accuracies


def test_calibration_refuses_bad_input(snn, test_data, cal_data) -> None:
    kw = {"draws": 1, "time_steps": 4}
    with pytest.raises(ValueError, match="calibrate= needs calibration_data"):
        snnvar.evaluate(snn, test_data, Variation(0.1), calibrate="bn", **kw)
    with pytest.raises(ValueError, match="calibration_data is given without calibrate"):
        snnvar.evaluate(snn, test_data, Variation(0.1), calibration_data=cal_data, **kw)
    with pytest.raises(ValueError, match="every one of the 96 calibration samples is in the test"):
        snnvar.evaluate(snn, test_data, Variation(0.1), calibrate="bn", calibration_data=test_data,
                        **kw)  # fmt: skip
    with pytest.raises(ValueError, match="the conditions hold no device model"):
        snnvar.evaluate(snn, test_data, Variation(0.1), calibration_data=cal_data,
                        calibrate=Calibration(methods=("bn",), time="1h"), **kw)  # fmt: skip
    with pytest.raises(ValueError, match="yield_target must be an accuracy in"):
        snnvar.evaluate(snn, test_data, Variation(0.1), yield_target=97, **kw)
    with pytest.raises(TypeError, match="calibrate must be a Calibration"):
        snnvar.evaluate(snn, test_data, Variation(0.1), calibrate=3, calibration_data=cal_data,
                        **kw)  # fmt: skip
    plain = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,)).eval()
    with pytest.raises(ValueError, match="has no BatchNorm that tracks them"):
        snnvar.evaluate(plain, test_data, Variation(0.1), calibrate="bn", calibration_data=cal_data,
                        **kw)  # fmt: skip
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(16,)).eval()
    with pytest.raises(ValueError, match="'threshold' needs an SNN"):
        snnvar.evaluate(ann, test_data, Variation(0.1), calibrate="threshold",
                        calibration_data=cal_data, **kw)  # fmt: skip


def test_yield_plot_and_report_files(snn, test_data, cal_data, tmp_path) -> None:
    report = snnvar.evaluate(snn, test_data, Variation(0.1), sigmas=[0.0, 0.1], draws=3,
                             time_steps=4, calibrate="affine",
                             calibration_data=cal_data)  # fmt: skip
    clean = report.row("fc4", 0.0).accuracy_mean  # σ = 0's pass is the yield's reference
    assert all(r.clean_accuracy == clean for r in report.results)
    out = report.save(tmp_path / "r")
    assert (out / "yield.png").stat().st_size > 1000
    assert "yield (%)" in (out / "results.md").read_text()


@pytest.mark.parametrize("neuron", ["snntorch", "norse"])
def test_thresholds_of_other_backends(neuron, cal_data) -> None:
    """snntorch's threshold tensor is scaled and restored; norse keeps its threshold in
    an immutable tuple, and the calibration says so by name."""
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,), neuron=neuron).eval()
    before = state(model)
    batches = prepare(cal_data, model, time_steps=4, batch_size=32, seed=5)
    ref = reference(model, batches)
    cal = Calibration(methods=("threshold",), threshold_iterations=4)
    with preserved(model) as handles, Variation(0.2).applied(model, seed=1):
        if neuron == "norse":
            with pytest.raises(ValueError, match=r"has no threshold tensor.*norse keeps"):
                calibrate(model, ref, batches, cal, handles)
        else:
            scales = calibrate(model, ref, batches, cal, handles)["threshold_scales"]
            assert len(scales) >= 1 and any(s != 1.0 for s in scales.values())
    assert_same_state(model, before)


def test_a_threshold_held_by_a_device_is_not_tuned(cal_data, test_data) -> None:
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,)).eval()
    on_devices = Variation(0.1, parameters=("*.threshold",))
    with pytest.raises(ValueError, match="which the variation perturbs as a device"):
        snnvar.evaluate(model, test_data, on_devices, draws=1, time_steps=4,
                        calibrate="threshold", calibration_data=cal_data)  # fmt: skip


def test_bn_then_affine_is_no_worse_than_affine_alone() -> None:
    """The column fit after AdaBS corrects what the new statistics leave; estimating
    them again afterwards would undo the deeper layers' fits (review of issue 38)."""
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(),
        nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4),
    )  # fmt: skip
    x = torch.randn(256, 10)
    with torch.no_grad():  # BatchNorm statistics of the clean model
        model.train()(x)
    model.eval()
    batches = prepare((x, torch.zeros(256, dtype=torch.long)), model, encoder="none",
                      batch_size=64)  # fmt: skip
    ref = reference(model, batches)
    errors: dict[str, float] = {}
    for methods in ("bn", "affine", "bn,affine"):
        total = 0.0
        for chip in range(4):
            with preserved(model) as handles, Variation(0.3).applied(model, seed=chip):
                calibrate(model, ref, batches, Calibration(methods=methods), handles)
                with torch.no_grad():
                    total += float(((model(x) - ref.model(x)) ** 2).mean())
        errors[methods] = total / 4
    with torch.no_grad():
        raw = sum(float(((model(x) - ref.model(x)) ** 2).mean()) for _ in [0])
    assert raw == 0.0  # the model is restored: the clean function
    assert errors["affine"] < 0.2 * errors["bn"]
    assert errors["bn,affine"] <= 1.1 * errors["affine"]


def test_an_identity_calibration_is_tested_on_the_uncalibrated_reads(
    snn, test_data, cal_data
) -> None:
    """Fine-tuning steps of 1e-30 run the chip (they consume reads) but change no
    float32 value that matters: the calibrated rows equal the uncalibrated ones chip for
    chip, so both are tested on the same reads (dynamic weight reads, dynamic device
    reads, output noise), while the calibration reads others."""
    hw = Restrictions(input_bits=8, input_range=1.0, array_rows=32, output_noise=0.05)
    chip = deploy(restrict(copy.deepcopy(snn), hw))
    conditions = {
        "read": Variation(0.1, mode="dynamic"),
        "pcm reads": PCM(mode="dynamic", read_std=0.05),
    }
    report = snnvar.evaluate(
        chip, test_data, conditions, times=["1d"], draws=3, seed=2, time_steps=4,
        calibrate=Calibration(methods=("finetune",), finetune_steps=2, finetune_lr=1e-30),
        calibration_data=cal_data,
    )  # fmt: skip
    raw, same = report.results[0], report.results[1]
    assert same.calibration == "finetune" and raw.accuracies == same.accuracies
    assert report.results[2].accuracies == report.results[3].accuracies
    assert len(set(raw.accuracies)) > 1  # the reads differ from chip to chip


def test_reads_root_separates_reads_from_the_programmed_chip(mlp) -> None:
    """Device.applied(reads=r): the same programmed chip (static part), other reads."""
    x = torch.randn(5, 8)
    pcm = PCM(mode="dynamic", redraw="pass", read_std=0.05)
    outs = {}
    for name, kw in {"a": {}, "b": {}, "other": {"reads": 99}}.items():
        with torch.no_grad(), pcm.applied(mlp, seed=1, **kw):
            outs[name] = mlp(x)
    assert torch.equal(outs["a"], outs["b"]) and not torch.equal(outs["a"], outs["other"])
    quiet = replace(pcm, read_std=0.0)  # no fresh read noise: the programmed chip alone
    with torch.no_grad(), quiet.applied(mlp, seed=1):
        a = mlp(x)
    with torch.no_grad(), quiet.applied(mlp, seed=1, reads=99):
        assert torch.equal(mlp(x), a)


def test_calibration_before_testing_and_disjoint_data(snn, test_data, cal_data) -> None:
    kw = {"draws": 1, "time_steps": 4}
    with pytest.raises(ValueError, match="is after the read times"):
        snnvar.evaluate(snn, test_data, PCM(), times=["1h"], calibration_data=cal_data,
                        calibrate=Calibration(methods=("bn",), time="1d"), **kw)  # fmt: skip
    mixed = torch.utils.data.ConcatDataset([cal_data, Subset(test_data.dataset, range(3))])
    with pytest.warns(UserWarning, match="3 of the 67 calibration samples are also in the test"):
        report = snnvar.evaluate(snn, test_data, Variation(0.1), calibrate="bn",
                                 calibration_data=mixed, **kw)  # fmt: skip
    assert report.config["calibration"]["shared_with_test"] == 3


def test_finetune_leaves_a_bias_on_the_crossbar_alone(snn) -> None:
    analog = deploy(restrict(copy.deepcopy(snn), Restrictions(array_rows=32)))
    digital = deploy(restrict(copy.deepcopy(snn), Restrictions(array_rows=32,
                                                               digital_bias=True)))  # fmt: skip
    layers = (nn.Linear, nn.Conv2d)
    for model, tuned in ((analog, False), (digital, True)):
        biases = [m.bias for m in model.modules() if isinstance(m, layers) and m.bias is not None]
        found = digital_tensors(model, {}, ())[0]
        assert biases and all(any(b is t for t in found) is tuned for b in biases)
