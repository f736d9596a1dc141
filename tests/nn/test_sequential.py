"""SpikingSequential over time, readouts, dynamic variation per time step, spike recording."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnvar import Variation
from snnvar import nn as snn


def _net() -> snn.SpikingSequential:
    torch.manual_seed(0)
    return snn.SpikingSequential(
        nn.Flatten(),
        nn.Linear(12, 16),
        snn.TimeLoop(snn.LIF(0.9)),
        nn.Linear(16, 3),
        snn.Readout("mean_membrane"),
    )


def _integrator(x: torch.Tensor, beta: float) -> list[torch.Tensor]:
    mem, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        mem = beta * mem + x[t]
        out.append(mem)
    return out


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_membrane_readouts_equal_the_integrator_loop(beta: float) -> None:
    x = torch.randn(7, 4, 5, generator=torch.Generator().manual_seed(0))
    mems = _integrator(x, beta)
    mean = snn.Readout("mean_membrane", beta)(x)
    last = snn.Readout("last_membrane", beta)(x)
    torch.testing.assert_close(mean, torch.stack(mems).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(last, mems[-1], rtol=1e-5, atol=1e-6)


def test_spike_count_readout_and_bad_readouts() -> None:
    s = (torch.rand(9, 2, 4, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    assert torch.equal(snn.Readout("spike_count")(s), s.sum(0))
    with pytest.raises(ValueError, match=r"unknown readout 'max'.*spike_count"):
        snn.Readout("max")
    with pytest.raises(ValueError, match="readout beta"):
        snn.Readout("mean_membrane", beta=2.0)


def test_stateless_layers_see_every_step_at_once() -> None:
    net = _net()
    x = torch.rand(6, 5, 3, 4)
    y = net(x)
    assert y.shape == (5, 3)
    manual = net[1](x.flatten(2))  # Linear per step == Linear over [T*B]
    spikes = net[2](manual)
    torch.testing.assert_close(y, net[3](spikes).mean(0), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"time-major input \[T, B, \.\.\.\]"):
        net(torch.rand(5, 12))


def test_dropout_keeps_one_mask_per_sample_for_all_steps() -> None:
    net = snn.SpikingSequential(nn.Dropout(0.5)).train()
    torch.manual_seed(3)
    y = net(torch.ones(8, 4, 50))
    assert all(torch.equal(y[t], y[0]) for t in range(8))
    zeros = float((y[0] == 0).float().mean())
    assert 0.3 < zeros < 0.7  # p = 0.5 over 200 units
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(net.eval()(torch.ones(8, 4, 50)), torch.ones(8, 4, 50))


def test_dynamic_variation_redraws_every_time_step() -> None:
    net = _net().eval()
    x = torch.rand(6, 5, 12, generator=torch.Generator().manual_seed(0))
    fc1, fc2 = net[1], net[3]
    clean = net(x)
    clean_w = {m: m.weight.detach().clone() for m in (fc1, fc2)}
    # the weight each call of a layer reads (hooks registered first: they run before the
    # variation swaps the clean weight back)
    reads: dict[nn.Module, list[torch.Tensor]] = {fc1: [], fc2: []}
    hooks = [
        m.register_forward_hook(lambda m, i, o: reads[m].append(m.weight.detach().clone()))
        for m in (fc1, fc2)
    ]
    try:
        with Variation(sigma=0.2, mode="dynamic").applied(net, seed=0) as draw:
            noisy = net(x)
    finally:
        for h in hooks:
            h.remove()
    assert draw.reads == 6 * 2  # two layers, six steps: one read per layer per step
    assert [len(r) for r in reads.values()] == [6, 6]
    with torch.no_grad():  # by hand: step t through the weights read at step t
        current = torch.stack(
            [nn.functional.linear(x[t], reads[fc1][t], fc1.bias) for t in range(6)]
        )
        spikes = net[2](current)
        out = torch.stack(
            [nn.functional.linear(spikes[t], reads[fc2][t], fc2.bias) for t in range(6)]
        )
        torch.testing.assert_close(noisy, net[4](out), rtol=0, atol=1e-6)
    for m, w in clean_w.items():
        deltas = torch.stack(reads[m]).double() - w.double()
        # every step's read is a fresh draw: no two steps alike
        assert len({tuple(d.flatten().tolist()) for d in deltas}) == 6
        # HSV per read: std 0.2 * 6 std(w); over n = 6 x numel Gaussian draws the sample
        # std's standard error is 1 / sqrt(2 n) relative, 5 of them allowed
        n = deltas.numel()
        ratio = float(deltas.std() / (0.2 * 6 * w.double().std(correction=0)))
        assert abs(ratio - 1) < 5 / (2 * n) ** 0.5, (n, ratio)
    assert torch.equal(net(x), clean)  # restored, and back to one call per pass
    assert not any(hasattr(m, "_snnvar_dynamic_reads") for m in net.modules())
    with Variation(sigma=0.2, mode="static").applied(net, seed=0) as draw:
        net(x)
    assert draw.reads == 1


@pytest.mark.parametrize("backend", ["snnvar", "snntorch"])
def test_dynamic_threshold_noise_is_redrawn_every_step(backend: str) -> None:
    loop = snn.TimeLoop(snn.make_cell(backend, beta=0.9, threshold=1.0))
    x = torch.rand(8, 4, 30, generator=torch.Generator().manual_seed(0))
    clean = loop(x)
    v = Variation(
        sigma=0.2, mode="dynamic", relative_to="absolute", parameters=("*threshold",), modules=()
    )
    (target,) = v.targets(loop)  # exactly one tensor: the threshold
    assert target.name.endswith("threshold")
    cell = loop.cell
    holder = loop.get_submodule(target.name.rsplit(".", 1)[0])  # the cell or snntorch's Leaky
    thresholds: list[float] = []  # the threshold each step reads (hook runs before the swap)
    hook = holder.register_forward_hook(lambda *_: thresholds.append(float(holder.threshold)))
    try:
        with v.applied(loop, seed=1) as draw:
            noisy = loop(x)
    finally:
        hook.remove()
    assert draw.reads == 8  # one threshold read per time step
    assert len(set(thresholds)) == 8  # a fresh draw at every step
    # by hand: step a clean cell from rest, setting the step's threshold before each step
    state, spikes = None, []
    with torch.no_grad():
        for t, theta in enumerate(thresholds):
            holder.threshold.fill_(theta)
            spk, state = cell(x[t], state)
            spikes.append(spk)
        holder.threshold.fill_(1.0)
    assert torch.equal(noisy, torch.stack(spikes))
    assert not torch.equal(noisy, clean)  # and the draws do change some spikes
    # absolute reference: θ_t = 1 + 0.2 ε_t, so |θ_t − 1| < 5 · 0.2 at 5 standard deviations
    assert all(abs(theta - 1) < 5 * 0.2 for theta in thresholds)
    assert torch.equal(loop(x), clean)


def test_dynamic_read_at_step_t_is_seeded_and_differs_between_steps() -> None:
    lin = nn.Linear(4, 4)
    net = snn.SpikingSequential(lin)
    x = torch.ones(3, 1, 4)
    with Variation(sigma=0.3, mode="dynamic").applied(net, seed=5):
        a = net(x)
    with Variation(sigma=0.3, mode="dynamic").applied(net, seed=5):
        b = net(x)
    assert torch.equal(a, b)  # same seed, same reads
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[1], a[2])


def test_record_spikes_counts_and_is_free_when_off() -> None:
    net = _net()
    x = (torch.rand(10, 4, 12, generator=torch.Generator().manual_seed(2)) < 0.6).float()
    with snn.record_spikes(net, keep=True) as rec:
        net(x)
        net(x)
    assert list(rec.layers) == ["2"]
    layer = rec.layers["2"]
    spikes = torch.cat(layer.kept, dim=1)
    assert spikes.shape == (10, 8, 16)
    assert layer.spikes == float(spikes.sum()) and layer.samples == 8 and layer.neurons == 16
    assert layer.rate == pytest.approx(float(spikes.mean()))
    assert rec.counts()["2"] == pytest.approx(float(spikes.sum()) / 8)
    assert 0 < layer.rate < 1
    assert all(not m._forward_hooks for m in net.modules())


def test_record_spikes_on_a_plain_snntorch_model() -> None:
    import snntorch

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 10), snntorch.Leaky(beta=0.9, init_hidden=True))
    x = torch.rand(5, 3, 6) * 2
    with snn.record_spikes(net, steps=5) as rec:
        out = [net(x[t]) for t in range(5)]
    total = float(torch.stack(out).detach().sum())
    assert rec.layers["1"].spikes == total
    assert rec.layers["1"].samples == 3
    assert rec.layers["1"].per_sample == pytest.approx(total / 3)


def test_record_spikes_errors() -> None:
    with pytest.raises(ValueError, match="no neuron layers"), snn.record_spikes(nn.Linear(2, 2)):
        pass
    with pytest.raises(ValueError, match="steps must be >= 1"), snn.record_spikes(_net(), steps=0):
        pass
