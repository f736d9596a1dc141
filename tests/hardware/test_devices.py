"""Device models as perturbations: one programmed chip, static and dynamic reads,
seeding and restoring, the engine's device reads, training and the CLI."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation
from snnvar.evaluation import Report
from snnvar.hardware import (
    DEVICE_KINDS,
    PCM,
    RRAM,
    CustomDevice,
    IdealDevice,
    StuckAt,
    devices_from_toml,
)
from snnvar.variation.seeding import stream
from tests.cli.invoke import cli
from tests.conftest import assert_same_state, state
from tests.hardware.reads import QUIET, read_once


def test_one_chip_is_one_programmed_chip_at_every_time_and_setting() -> None:
    w = torch.randn(50, 40)
    reads = [read_once(PCM(time=t, compensation=c), w, seed=3) for t in (1, 3600, 3.15e7)
             for c in (None, "global")]  # fmt: skip
    for r in reads[1:]:
        assert torch.equal(r.programmed, reads[0].programmed)
        assert torch.equal(r.nu, reads[0].nu)
    # later reads drift further
    year, hour = reads[4], reads[2]
    assert float(year.read.sum()) < float(hour.read.sum())


def test_device_models_are_variations_seeded_paired_and_restored(mlp) -> None:
    before = state(mlp)
    pcm = PCM(time=3600, compensation="global", faults=StuckAt(low=0.01))
    with pcm.applied(mlp, seed=5) as draw:
        moved = mlp[0].weight.detach().clone()
    assert_same_state(mlp, before)
    assert not torch.equal(moved, before["0.weight"])
    # the Draw holds read - clean; sample gives the same chip without touching the model
    assert torch.equal(draw["0.weight"], moved - before["0.weight"])
    assert torch.equal(pcm.sample(mlp, seed=5)["0.weight"], moved - before["0.weight"])
    # the stream of the device key: the same chip for another model with that weight
    gen = stream(5, "0.weight", torch.device("cpu"), "chip")
    assert torch.equal(pcm.chip_weights(before["0.weight"], gen), moved)
    twin = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
    twin.load_state_dict(mlp.state_dict())
    assert torch.equal(pcm.sample(twin, seed=5)["0.weight"], draw["0.weight"])
    # training noise comes from another stream
    assert not torch.equal(pcm.sample(mlp, seed=5, domain="train")["0.weight"], draw["0.weight"])
    # the weights the device holds by default: Linear / Conv weights, no biases
    assert [t.name for t in pcm.targets(mlp)] == ["0.weight", "2.weight"]
    with (
        pytest.raises(RuntimeError, match="nested"),
        pcm.applied(mlp, seed=0),
        Variation(0.1).applied(mlp, seed=0),
    ):
        pass
    assert_same_state(mlp, before)


def test_dynamic_reads_share_one_programmed_chip_and_restore(mlp) -> None:
    from dataclasses import replace

    before = state(mlp)
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    dev = PCM(read_noise=False, time=3600, compensation="global", faults=StuckAt(low=0.02))
    with dev.applied(mlp, seed=4):
        static = mlp(x)
    # no read noise: every dynamic read is the static chip, bit for bit
    with replace(dev, mode="dynamic").applied(mlp, seed=4) as draw:
        first, second = mlp(x), mlp(x)
    assert torch.equal(first, static) and torch.equal(second, static)
    assert draw.reads == 4 and draw.mode == "dynamic"  # two device layers, two passes
    assert_same_state(mlp, before)
    # the clean weights change inside the block (a training step): the chip is
    # programmed again for them
    ideal = IdealDevice(mode="dynamic")
    with ideal.applied(mlp, seed=0):
        with torch.no_grad():
            mlp[0].weight.mul_(2.0)
        doubled = mlp(x)
        with torch.no_grad():
            mlp[0].weight.div_(2.0)
    torch.testing.assert_close(doubled, nn.functional.linear(
        torch.relu(nn.functional.linear(x, 2 * before["0.weight"], before["0.bias"])),
        before["2.weight"], before["2.bias"]), rtol=0, atol=1e-5)  # fmt: skip


def test_dynamic_read_noise_is_fresh_per_read_with_its_std() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(300, 200)
    w = layer.weight.detach().clone()
    reads: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: reads.append(m.weight.detach().clone()))
    dev = PCM(**QUIET, noise_scale=0.0, read_std=0.05, mode="dynamic")
    try:
        with dev.applied(layer, seed=1):
            for _ in range(3):
                layer(torch.zeros(1, 300))
    finally:
        hook.remove()
    assert torch.equal(layer.weight, w)
    # g_min = 0: a weight sits on one device, read as w (1 + 0.05 z) with z ~ N(0, 1)
    rel = torch.stack([(r - w) / w for r in reads]).double()
    n = rel[0].numel()
    for k in range(3):  # sample std within 5 standard errors (1 / sqrt(2 n) relative)
        assert abs(float(rel[k].std()) / 0.05 - 1) < 5 / (2 * n) ** 0.5
    corr = torch.corrcoef(rel.flatten(1))
    off = corr[~torch.eye(3, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / n**0.5  # independent reads
    # a static read has the same noise once
    static = PCM(**QUIET, noise_scale=0.0, read_std=0.05).sample(layer, seed=1)["weight"]
    assert abs(float((static / w).std()) / 0.05 - 1) < 5 / (2 * n) ** 0.5


def test_dynamic_reads_continue_their_stream_when_the_weights_change() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(40, 30)
    reads: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: reads.append(m.weight.detach().clone()))
    dev = PCM(**QUIET, noise_scale=0.0, read_std=0.05, mode="dynamic")
    x = torch.zeros(1, 40)
    try:
        with dev.applied(layer, seed=2):
            layer(x)
            layer(x)
            with torch.no_grad():
                layer.weight.add_(0.0)  # a new version, the same values
            layer(x)
            layer(x)
            layer.weight.data = layer.weight.data * 2  # no new version: a new storage
            layer(x)
            layer.weight.data.mul_(0.5)  # neither a new version nor a new storage
            layer(x)
    finally:
        hook.remove()
    assert len({tuple(r.flatten().tolist()) for r in reads[:4]}) == 4  # no read repeats
    # the chip was programmed again for the doubled weights: reads around 2 w
    torch.testing.assert_close(reads[4], 2 * reads[3], rtol=0.5, atol=0.0)
    ratio = (reads[4] / reads[0]).median()
    assert abs(float(ratio) - 2.0) < 0.05
    assert abs(float((reads[5] / reads[0]).median()) - 1.0) < 0.05
    # with programming noise, the chip programmed again keeps its devices' draws
    dev = PCM(**QUIET, mode="dynamic")
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    w = layer.weight.detach().clone()
    with dev.applied(layer, seed=5):
        layer(x)
        with torch.no_grad():
            layer.weight.add_(0.0)
        layer(x)
    hook.remove()
    assert torch.equal(seen[0], seen[1])  # the same values: the same programmed chip
    assert torch.equal(layer.weight, w)


def test_dynamic_device_gradients_pass_straight_through_theread_once() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(6, 5)
    x = torch.randn(7, 6)
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with PCM(read_std=0.1, time=3600.0, mode="dynamic").applied(layer, seed=3):
        (layer(x) ** 2).sum().backward()
    hook.remove()
    w_read = seen[0]
    assert not torch.equal(w_read, layer.weight.detach())
    # d/dW sum((W_r x + b)^2) = 2 (W_r x + b)^T x, taken at the read weights
    expected = 2 * (x @ w_read.T + layer.bias.detach()).T @ x
    torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-5, atol=1e-5)


def test_dynamic_device_reads_per_time_step_and_trains_straight_through() -> None:
    from snnvar import nn as snn

    torch.manual_seed(0)
    net = snn.SpikingSequential(nn.Flatten(), nn.Linear(12, 16), snn.TimeLoop(snn.LIF(0.9)),
                                nn.Linear(16, 3), snn.Readout("mean_membrane"))  # fmt: skip
    x = torch.rand(6, 5, 12, generator=torch.Generator().manual_seed(0))
    before = state(net)
    step = RRAM(read_std=0.1, mode="dynamic")
    with step.applied(net, seed=0) as draw:
        out = net(x)
        out.sum().backward()
    assert draw.reads == 6 * 2  # two device layers, six steps
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert_same_state(net, before)
    with RRAM(read_std=0.1, mode="dynamic", redraw="pass").applied(net, seed=0) as draw:
        net(x)
    assert draw.reads == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PCM(time=-1.0), "must be finite and >= 0"),
        (lambda: PCM(compensation="local"), "unknown compensation 'local'"),
        (lambda: PCM(g_max=0.0), "g_max must be > 0"),
        (lambda: PCM(g_min=30.0), "g_min must be below g_max"),
        (lambda: PCM(percentile=0.0), r"percentile must lie in \(0, 100\]"),
        (lambda: PCM(mode="sometimes"), "unknown mode 'sometimes'"),
        (lambda: PCM(redraw="never"), "unknown redraw 'never'"),
        (lambda: PCM(read_std=-0.1), "read_std must be >= 0"),
    ],
)
def test_bad_device_settings_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_training_methods_draw_from_a_device_model(mlp) -> None:
    from snnvar.training import HASGD

    torch.manual_seed(3)
    x = torch.randn(64, 8)
    y = torch.randint(0, 4, (64,))
    opt = HASGD(mlp, torch.optim.SGD(mlp.parameters(), lr=0.1), PCM(), samples=2)
    assert opt.hyperparameters()["variation"]["kind"] == "pcm"

    def closure():
        loss = nn.functional.cross_entropy(mlp(x), y)
        loss.backward()
        return loss

    before = state(mlp)
    opt.step(closure)
    assert not torch.equal(mlp[0].weight, before["0.weight"])  # a step, from clean weights


def test_cli_trains_with_a_device_and_evaluates_at_times(tmp_path, capsys) -> None:
    (tmp_path / "dev.toml").write_text(
        '[device]\nkind = "pcm"\ncompensation = "global"\n[device.faults]\nlow = 0.01\n'
    )
    (tmp_path / "cmp.toml").write_text(
        '[[device]]\nname = "pcm"\nkind = "pcm"\n'
        '[[device]]\nname = "custom"\nkind = "custom"\nmeasurements = "m.csv"\n'
    )
    (tmp_path / "m.csv").write_text(
        "target,achieved\n" + "".join(f"{t},{t + d}\n" for t in (5, 20) for d in (-0.3, 0.3, 0.1))
    )
    found = devices_from_toml(tmp_path / "cmp.toml")
    assert list(found) == ["pcm", "custom"] and found["pcm"] == PCM()
    assert found["custom"].sigma[0][0] == 5.0  # σ(g) per target level of the file
    tiny = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--ann",
            "--no-progress")  # fmt: skip
    code, out, err = cli(capsys, "train", *tiny, "--method", "noise_injection", "--device",
                         tmp_path / "dev.toml", "--out", tmp_path / "run")  # fmt: skip
    assert code == 0, err
    assert "device pcm, compensation=global" in out
    spec = snnvar.runs.load_run(tmp_path / "run")[1]
    assert spec.device_model == PCM(compensation="global", faults=StuckAt(low=0.01))
    code, out, err = cli(
        capsys,
        "evaluate",
        tmp_path / "run",
        "--device",
        tmp_path / "cmp.toml",
        "--times",
        "1,1h,1y",
        "--draws",
        "2",
        "--worst-case",
        "0.05,0.1",
        "--attack-steps",
        "2",
        "--no-progress",
        "--out",
        tmp_path / "ev",
    )
    assert code == 0, err
    report = Report.load(tmp_path / "ev")
    assert report.labels == ["pcm", "custom"] and report.times == [1.0, 3600.0, 3.15576e7]
    assert [w["zeta"] for w in report.worst_case] == [0.05, 0.1]
    assert "worst case, ζ = 10 %" in out and "t = 1 y" in out
    assert (tmp_path / "ev" / "accuracy_time.png").is_file()
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--times", "1h", "--out",
                       tmp_path / "ev2")  # fmt: skip
    assert code == 2 and "--times reads device models" in err
    (tmp_path / "bad.toml").write_text('[device]\nkind = "pcm"\ncompensation = "local"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "bad.toml",
                       "--out", tmp_path / "ev3")  # fmt: skip
    assert code == 2 and "unknown compensation 'local'" in err
    assert not (tmp_path / "ev3").exists()
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "dev.toml",
                       "--times", "1,-2", "--out", tmp_path / "ev4")  # fmt: skip
    assert code == 2 and "must be finite and >= 0" in err
    (tmp_path / "rram.toml").write_text('[device]\nkind = "rram"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "rram.toml",
                       "--times", "1,1y", "--out", tmp_path / "ev5")  # fmt: skip
    assert code == 2 and "RRAM" in err and not (tmp_path / "ev5").exists()
    (tmp_path / "rram1y.toml").write_text('[device]\nkind = "rram"\ntime = "1y"\n')
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device",
                       tmp_path / "rram1y.toml", "--out", tmp_path / "ev7")  # fmt: skip
    assert code == 2 and "RRAM" in err and not (tmp_path / "ev7").exists()
    (tmp_path / "two.toml").write_text(
        '[[device]]\nname = "a"\nkind = "pcm"\n'
        '[[device]]\nname = "b"\nkind = "pcm"\nexclude = ["*.0.*"]\n'
    )
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--device", tmp_path / "two.toml",
                       "--worst-case", "0.1", "--out", tmp_path / "ev6")  # fmt: skip
    assert code == 2 and "select different weights" in err and not (tmp_path / "ev6").exists()


def test_variation_and_every_device_model_are_perturbations() -> None:
    models = [cls() for cls in DEVICE_KINDS.values() if cls is not CustomDevice]
    models.append(CustomDevice(sigma=((0.0, 0.1),)))
    for p in [Variation(0.1), *models, IdealDevice(faults=StuckAt(low=0.1))]:
        assert isinstance(p, snnvar.Perturbation), p
        assert isinstance(p, snnvar.variation.Perturbation)
    assert not Variation(0.1).on_devices and all(m.on_devices for m in models)
    w, gen = torch.ones(3, 2), torch.Generator().manual_seed(0)
    assert Variation(0.1).chip_weights(w, gen) is None
    assert Variation(0.1).chip_reads(w, gen, gen) is None


def _flat(values: list) -> list[float]:
    return [x for v in values for x in _flat(v)] if isinstance(values, list) else [values]


def _fingerprint(t: torch.Tensor) -> list[float]:
    t = t.detach().double()
    return [float(t.sum()), float((t * t).sum()), float(t.flatten()[0]), float(t.flatten()[-1])]


GOLDEN = {
    "pcm_static_sample": [
        [0.593587358, 0.7339439245, 0.002646990586, -0.001244619489],
        [0.3179416524, 0.1455902656, 0.01648940146, 0.001342236996],
    ],
    "rram_applied": [-2.217229173, 1.560207002, -0.1872071028, -0.07576423138],
    "stuck_sample": [
        [0.6978284868, 0.3555249029, -2.328306437e-10, -1.490116119e-08],
        [-0.1509164707, 0.1563203424, 1.490116119e-08, 0.03023579717],
    ],
    "custom_applied": [-2.47974392, 1.332119204, -0.1711784005, -0.158207655],
    "pcm_dynamic_step": [
        [-2.616368702, 1.051123198, -0.137171939, -0.1442385316],
        [-2.65000177, 1.09498884, -0.1316311955, -0.1746622026],
        [-2.485238772, 1.079907431, -0.1640592813, -0.1570492536],
    ],
    "restricted_static": [
        [-1.877981223, 0.7994774377, -0.1927261353, -0.1983435601],
        [-1.877981223, 0.7994774377, -0.1927261353, -0.1983435601],
    ],
    "restricted_dynamic": [
        [-1.545490216, 0.6512041056, -0.178100884, -0.1358339787],
        [-1.594180152, 0.6098434768, -0.1814233065, -0.1287019253],
    ],
}
"""What the engine gave for these device models before it read them through
:class:`snnvar.Perturbation` (issue 36): the same chips, to rounding."""


def test_the_engine_reads_device_models_as_before(mlp) -> None:
    from snnvar.hardware import Restrictions, restrict

    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    faults = StuckAt(low=0.01, high=0.02)
    got = {}
    d = PCM(time=3600, compensation="column", read_std=0.02, faults=faults).sample(mlp, seed=3)
    got["pcm_static_sample"] = [_fingerprint(d[k]) for k in sorted(d)]
    with RRAM(time=86400.0, compensation="global").applied(mlp, seed=4):
        got["rram_applied"] = _fingerprint(mlp(x))
    d = IdealDevice(faults=StuckAt(low=0.05, high=0.05, at="weight")).sample(mlp, seed=5)
    got["stuck_sample"] = [_fingerprint(d[k]) for k in sorted(d)]
    with CustomDevice(sigma=((0.0, 0.5), (25.0, 1.5)), read_std=0.01).applied(mlp, seed=6):
        got["custom_applied"] = _fingerprint(mlp(x))
    for redraw in ("step", "pass"):  # one device layer call per pass: the same reads
        dev = PCM(mode="dynamic", redraw=redraw, read_std=0.05, time=60.0, faults=faults)
        with dev.applied(mlp, seed=7):
            got["pcm_dynamic_step"] = [_fingerprint(mlp(x)) for _ in range(3)]
        assert _flat(got["pcm_dynamic_step"]) == pytest.approx(
            _flat(GOLDEN["pcm_dynamic_step"]), rel=1e-5, abs=1e-7
        )
    torch.manual_seed(0)
    r = restrict(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)),
                 Restrictions(weight_levels=15))  # fmt: skip
    with PCM(time=600.0).applied(r, seed=8):
        got["restricted_static"] = [_fingerprint(r(x)) for _ in range(2)]
    with PCM(time=600.0, mode="dynamic", read_std=0.03).applied(r, seed=9):
        got["restricted_dynamic"] = [_fingerprint(r(x)) for _ in range(2)]
    for name, expected in GOLDEN.items():
        assert _flat(got[name]) == pytest.approx(_flat(expected), rel=1e-5, abs=1e-7), name
