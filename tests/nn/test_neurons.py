"""Neuron dynamics: golden trajectories, surrogates, the fused sequence, snntorch and norse."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from snnvar import nn as snn
from snnvar.nn import functional as F
from tests.tolerances import spike_ties

# ---- golden trajectories (hand-computed) -----------------------------------------------

X = torch.tensor([0.6, 0.6, 0.6, 0.0, 1.2])

GOLDEN = {
    # (reset, reset_delay): (spikes, membrane), β = 0.5, θ = 1
    ("subtract", True): ([0, 0, 1, 0, 0], [0.6, 0.9, 1.05, -0.475, 0.9625]),
    ("zero", True): ([0, 0, 1, 0, 1], [0.6, 0.9, 1.05, 0.0, 1.2]),
    ("none", True): ([0, 0, 1, 0, 1], [0.6, 0.9, 1.05, 0.525, 1.4625]),
    ("subtract", False): ([0, 0, 1, 0, 1], [0.6, 0.9, 0.05, 0.025, 0.2125]),
    ("zero", False): ([0, 0, 1, 0, 1], [0.6, 0.9, 0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize(("reset", "delay"), list(GOLDEN))
def test_lif_golden_trajectory(reset: str, delay: bool) -> None:
    spikes, mems = GOLDEN[(reset, delay)]
    p = F.LIFParameters(0.5, 1.0, reset, delay)
    state, got_s, got_m = None, [], []
    for x in X:
        s, state = F.lif_step(x.reshape(1), state, p)
        got_s.append(float(s))
        got_m.append(float(state.mem))
    assert got_s == spikes
    assert got_m == pytest.approx(mems, abs=1e-6)
    assert F.lif_sequence(X.reshape(5, 1), p).flatten().tolist() == spikes


def test_if_golden_trajectory() -> None:
    x = torch.full((6, 1), 0.55)
    state, spikes, mems = None, [], []
    for t in range(6):
        s, state = F.if_step(x[t], state, F.LIFParameters(beta=0.3))  # β is forced to 1
        spikes.append(float(s))
        mems.append(float(state.mem))
    assert spikes == [0, 1, 0, 1, 0, 1]
    assert mems == pytest.approx([0.55, 1.10, 0.65, 1.20, 0.75, 1.30], abs=1e-6)
    assert snn.TimeLoop(snn.IF())(x).flatten().tolist() == spikes


# ---- surrogates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "points", "expected"),
    [
        (snn.ATan(), [0.0, 1.0, -0.5], [1.0, 1 / (1 + math.pi**2), 1 / (1 + math.pi**2 / 4)]),
        (snn.ATan(alpha=4.0), [0.0, 0.25], [2.0, 2 / (1 + (math.pi / 2) ** 2)]),
        (snn.FastSigmoid(), [0.0, 0.1, -0.2], [1.0, 1 / 3.5**2, 1 / 6.0**2]),
        (snn.Triangle(), [0.0, 0.5, -1.5], [0.3, 0.15, 0.0]),
        (snn.Triangle(gamma=1.0, width=2.0), [1.0, -3.0], [0.5, 0.0]),
        (snn.StraightThrough(), [-3.0, 0.0, 2.0], [1.0, 1.0, 1.0]),
    ],
)
def test_surrogate_gradient_values(spec, points, expected) -> None:
    x = torch.tensor(points, requires_grad=True)
    out = spec(x)
    assert out.tolist() == [1.0 if p > 0 else 0.0 for p in points]
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.tolist() == pytest.approx(expected, rel=1e-6)
    in_place = spec.derivative_(x.detach().clone())
    assert torch.allclose(in_place, spec.derivative(x.detach()), rtol=1e-6)


def test_surrogate_by_name_and_errors() -> None:
    assert snn.surrogate("fast_sigmoid", slope=10) == snn.FastSigmoid(10.0)
    assert snn.surrogate("triangle").gamma == 0.3
    with pytest.raises(ValueError, match=r"unknown surrogate 'sigmoid'.*atan"):
        snn.surrogate("sigmoid")
    with pytest.raises(ValueError, match="bad parameters"):
        snn.surrogate("atan", slope=3)


# ---- the fused sequence equals the step loop ------------------------------------------


@pytest.mark.parametrize(
    ("reset", "delay", "learn"),
    list(itertools.product(F.RESETS, (True, False), (False, True))),
)
def test_fused_sequence_matches_step_loop(reset: str, delay: bool, learn: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(30, 3, 6, generator=g) * 0.8 + 0.3).requires_grad_()
    beta = torch.full((6,), 0.85).requires_grad_(learn)  # one β per neuron
    thr = torch.tensor(0.9).requires_grad_(learn)
    p = F.LIFParameters(beta, thr, reset, delay, snn.ATan())
    weights = torch.randn(30, 3, 6, generator=g)
    leaves = [x, beta, thr] if learn else [x]

    fused = F.lif_sequence(x, p)
    g_fused = torch.autograd.grad((fused * weights).sum(), leaves)
    state, steps = None, []
    for t in range(30):
        s, state = F.lif_step(x[t], state, p)
        steps.append(s)
    looped = torch.stack(steps)
    g_loop = torch.autograd.grad((looped * weights).sum(), leaves)

    # The fused loop updates the membrane with addcmul / add(alpha=β), the step with
    # β·m + x: roundings that may differ (the CPU's kernels decide on fused multiply-adds).
    # Spikes agree but for a threshold tie of one neuron (units [B, N]); the gradients
    # within the tolerance this test always allowed, x's for the other neurons, β's and
    # θ's (sums over all neurons) when none tied.
    tied = spike_ties(fused, looped, unit_dims=(1, 2))
    assert 0.05 < float(fused.detach().mean()) < 0.8  # a non-trivial spike train
    for a, b in zip(g_fused, g_loop, strict=True):
        assert a.shape == b.shape
    torch.testing.assert_close(g_fused[0][:, ~tied], g_loop[0][:, ~tied], rtol=1e-5, atol=1e-4)
    if not tied.any():
        for a, b in zip(g_fused[1:], g_loop[1:], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
    with torch.no_grad():  # the no-grad path: the same recursion, the same operations
        assert torch.equal(F.lif_sequence(x, p), fused)


def test_sequence_needs_time_steps() -> None:
    with pytest.raises(ValueError, match="at least one time step"):
        F.lif_sequence(torch.zeros(0, 3))


# ---- snntorch is the reference --------------------------------------------------------


@pytest.mark.parametrize("reset", F.RESETS)
@pytest.mark.parametrize("spec", ["atan", "fast_sigmoid"])
def test_lif_matches_snntorch_leaky(reset: str, spec: str) -> None:
    import snntorch
    from snntorch import surrogate as sur

    g = torch.Generator().manual_seed(1)
    x = (torch.randn(50, 4, 9, generator=g) * 0.7 + 0.25).requires_grad_()
    grad_fn = sur.atan() if spec == "atan" else sur.fast_sigmoid()
    leaky = snntorch.Leaky(beta=0.8, threshold=0.7, reset_mechanism=reset, spike_grad=grad_fn)
    lif = snn.LIF(beta=0.8, threshold=0.7, reset=reset, surrogate=spec)
    mem, ref_s, ref_m = torch.zeros(4, 9), [], []
    state, got_s, got_m = None, [], []
    for t in range(50):
        s, mem = leaky(x[t], mem)
        ref_s.append(s)
        ref_m.append(mem)
        s2, state = lif(x[t], state)
        got_s.append(s2)
        got_m.append(state.mem)
    ref_s, got_s = torch.stack(ref_s), torch.stack(got_s)
    # snntorch's operations are not snnvar's: spike for spike but for a threshold tie of
    # one neuron (units [B, N]); the other neurons' membranes and gradients within the
    # float32 tolerances this test always allowed
    tied = spike_ties(got_s, ref_s, unit_dims=(1, 2))
    assert 0.1 < float(ref_s.detach().mean()) < 0.8  # non-trivial
    diff = torch.stack(ref_m) - torch.stack(got_m)
    assert diff[:, ~tied].abs().max() <= 1e-6
    w = torch.randn(50, 4, 9, generator=g)
    (ga,) = torch.autograd.grad((ref_s * w).sum(), x)
    (gb,) = torch.autograd.grad((lif.sequence(x) * w).sum(), x)
    torch.testing.assert_close(gb[:, ~tied], ga[:, ~tied], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_norse_box_lif_matches_same_step_reset(reset: str) -> None:
    """norse's box LIF, mapped, equals snnvar's LIF with the reset in the same step.

    Gradients are not compared: norse's reset is not detached from the spike's
    surrogate gradient (snntorch's and snnvar's are).
    """
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(40, 5, 7, generator=g) * 0.7 + 0.25).requires_grad_()
    cell = snn.make_cell("norse", 0.8, 0.7, reset, "triangle")
    lif = snn.LIF(0.8, 0.7, reset, snn.Triangle(), reset_delay=False)
    n_state = s_state = None
    spikes, ours, v_norse, v_ours = [], [], [], []
    for t in range(40):
        a, n_state = cell(x[t], n_state)
        b, s_state = lif(x[t], s_state)
        spikes.append(a)
        ours.append(b)
        v_norse.append(n_state.v)
        v_ours.append(s_state.mem)
    # norse's operations are not snnvar's: spike for spike but for a threshold tie of one
    # neuron (units [B, N]), the other neurons' membranes within float32 rounding
    tied = spike_ties(torch.stack(spikes), torch.stack(ours), unit_dims=(1, 2))
    v_n, v_s = torch.stack(v_norse), torch.stack(v_ours)
    torch.testing.assert_close(v_n[:, ~tied], v_s[:, ~tied], rtol=0, atol=1e-5)
    rate = float(torch.stack(spikes).detach().mean())
    assert 0.1 < rate < 0.8
    (grad,) = torch.autograd.grad(torch.stack(spikes).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


# ---- modules and bad input ------------------------------------------------------------


def test_learnable_parameters_and_buffers() -> None:
    lif = snn.LIF(0.9, 1.0, learn_beta=True, learn_threshold=True)
    assert {n for n, _ in lif.named_parameters()} == {"beta", "threshold"}
    fixed = snn.LIF(torch.full((4,), 0.7), 1.0)
    assert {n for n, _ in fixed.named_buffers()} == {"beta", "threshold"}
    assert list(fixed.parameters()) == []
    x = torch.rand(10, 2, 4, requires_grad=True)
    snn.TimeLoop(lif)(x).sum().backward()
    assert lif.beta.grad is not None and lif.threshold.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(beta=1.5), r"beta must lie in \[0.0, 1.0\], got 1.5"),
        (dict(beta=-0.1), "beta must lie"),
        (dict(threshold=0.0), "threshold must be > 0"),
        (dict(threshold=-1.0), "threshold must lie"),
        (dict(threshold=float("nan")), "threshold must lie"),
        (dict(reset="soft"), r"unknown reset 'soft'.*subtract"),
        (dict(surrogate="relu"), r"unknown surrogate 'relu'"),
    ],
)
@pytest.mark.parametrize("backend", snn.BACKENDS)
def test_bad_neuron_parameters(kwargs: dict, match: str, backend: str) -> None:
    with pytest.raises(ValueError, match=match):
        snn.make_cell(backend, **kwargs)


def test_time_loop_needs_time_major_input() -> None:
    with pytest.raises(ValueError, match=r"time-major input \[T, B, \.\.\.\].*got shape \(5,\)"):
        snn.TimeLoop(snn.LIF())(torch.zeros(5))


def test_backend_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"unknown neuron backend 'brian2'"):
        snn.make_cell("brian2")
    monkeypatch.setitem(__import__("sys").modules, "norse", None)
    monkeypatch.setitem(__import__("sys").modules, "norse.torch", None)
    with pytest.raises(ImportError, match=r"pip install 'snnvar\[norse\]'"):
        snn.make_cell("norse")


def test_norse_backend_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="no exact norse counterpart"):
        snn.make_cell("norse", surrogate="atan")
    with pytest.raises(ValueError, match="resets to zero only"):
        snn.make_cell("norse", beta=1.0, reset="subtract")
    with pytest.raises(ValueError, match="learn_beta"):
        snn.make_cell("norse", learn_beta=True)
