"""The pure neuron functions: golden trajectories, the reset timings, β's clamp, the fused
sequence against the step loop and against hand-derived gradients, the leaky integrator."""

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


# ---- the reset timings and β's clamp ----------------------------------------------------


def _eighths(*shape: int, seed: int) -> torch.Tensor:
    """Inputs in steps of 1/8 from -0.5 to 1.375: every sum of a few of them (and of θ = 1)
    is exact in float32, so two orders of the same additions give the same bits."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-4, 12, shape, generator=g).float() / 8


def _step_loop(x: torch.Tensor, p: F.LIFParameters) -> torch.Tensor:
    state, out = None, []
    for t in range(x.shape[0]):
        s, state = F.lif_step(x[t], state, p)
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize(
    ("beta", "reset"), [(1.0, "subtract"), (1.0, "zero"), (0.5, "zero"), (0.0, "zero")]
)
def test_reset_timings_give_the_same_spikes_where_they_agree(beta: float, reset: str) -> None:
    """IF's two reset timings give the same spikes (the module's claim), and so does a zero
    reset at any β (both are m_t = β (1 − s_{t−1}) m_{t−1} + x_t); the inputs are exact in
    float32, so the spikes are equal bit for bit."""
    x = _eighths(40, 3, 5, seed=0)
    spikes = {
        delay: _step_loop(x, F.LIFParameters(beta, 1.0, reset, delay)) for delay in (True, False)
    }
    assert torch.equal(spikes[True], spikes[False])
    assert 0.05 < float(spikes[True].mean()) < 0.8  # a non-trivial spike train
    assert torch.equal(F.lif_sequence(x, F.LIFParameters(beta, 1.0, reset, False)), spikes[True])


def test_subtract_reset_timings_differ_with_a_leak() -> None:
    """With β < 1 the delayed subtraction removes θ, the same-step one β θ by the next step:
    a constant 0.6 fires at steps 2 and 6 (delayed: m = ..., 1.05, 0.125, 0.6625, 0.931,
    1.066) but 2 and 5 (same step: v = ..., 1.05, 0.625, 0.9125, 1.056)."""
    x = torch.full((7, 1), 0.6)
    delayed = F.lif_sequence(x, F.LIFParameters(0.5, 1.0, "subtract", True)).flatten()
    same = F.lif_sequence(x, F.LIFParameters(0.5, 1.0, "subtract", False)).flatten()
    assert delayed.tolist() == [0, 0, 1, 0, 0, 0, 1]
    assert same.tolist() == [0, 0, 1, 0, 0, 1, 0]


@pytest.mark.parametrize(("beta", "clamped"), [(1.5, 1.0), (-0.5, 0.0)])
def test_tensor_beta_is_clamped_to_0_1(beta: float, clamped: float) -> None:
    """A β tensor outside [0, 1] acts as its clamp, in the step and in the fused sequence
    (clamping gives exactly 1.0 / 0.0, so the same operations run on the same values)."""
    x = _eighths(30, 2, 4, seed=1)
    for reset, delay in itertools.product(F.RESETS, (True, False)):
        out = F.LIFParameters(torch.tensor(beta), 1.0, reset, delay)
        inside = F.LIFParameters(torch.tensor(clamped), 1.0, reset, delay)
        assert torch.equal(_step_loop(x, out), _step_loop(x, inside)), (reset, delay)
        assert torch.equal(F.lif_sequence(x, out), F.lif_sequence(x, inside)), (reset, delay)


def test_no_leak_no_reset_is_memoryless_at_beta_0() -> None:
    """β = 0 without a reset: the membrane is the input, a spike is x_t > θ (strictly)."""
    x = _eighths(20, 4, 3, seed=2)
    x[0, 0, 0] = 1.0  # exactly at threshold: no spike
    p = F.LIFParameters(0.0, 1.0, "none")
    assert torch.equal(F.lif_sequence(x, p), (x > 1.0).float())
    assert torch.equal(_step_loop(x, p), (x > 1.0).float())


# ---- gradients: the fused sequence, the step loop and the hand-derived formula ----------


def _atan(d: float) -> float:
    """ATan's σ'(d) at α = 2."""
    return 1 / (1 + (math.pi * d) ** 2)


# Two steps from rest, β = 0.5, θ = 1, loss s_0 + s_1, every membrane exact in float32.
# (reset, delay, x): (∂L/∂x_0, ∂L/∂x_1, ∂L/∂β, ∂L/∂θ), derived by hand:
GRADIENTS = {
    # no spike: d = (−0.5, −0.25); m_0 = 0.5 is what β multiplies
    ("subtract", True, (0.5, 0.5)): (
        _atan(-0.5) + 0.5 * _atan(-0.25), _atan(-0.25), 0.5 * _atan(-0.25),
        -_atan(-0.5) - _atan(-0.25),
    ),
    # s_0 = 1, m_1 = 0.75 + 0.5 − θ: d = (0.5, −0.75), θ enters m_1 once more
    ("subtract", True, (1.5, 0.5)): (
        _atan(0.5) + 0.5 * _atan(-0.75), _atan(-0.75), 1.5 * _atan(-0.75),
        -_atan(0.5) - 2 * _atan(-0.75),
    ),
    # s_0 = 1 zeroes m_0 (reset detached): no path from x_0 or β to step 1
    ("zero", True, (1.5, 0.5)): (_atan(0.5), _atan(-0.5), 0.0, -_atan(0.5) - _atan(-0.5)),
    # u_0 = 1.5 − θ = 0.5, v_1 = 0.25 + 0.5: d = (0.5, −0.25); ∂u_0/∂θ = −1, ∂v_1/∂u_0 = β
    ("subtract", False, (1.5, 0.5)): (
        _atan(0.5) + 0.5 * _atan(-0.25), _atan(-0.25), 0.5 * _atan(-0.25),
        -_atan(0.5) - 1.5 * _atan(-0.25),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("reset", "delay", "x"), list(GRADIENTS))
def test_gradients_equal_the_hand_derived_bptt(reset: str, delay: bool, x: tuple) -> None:
    expected = GRADIENTS[(reset, delay, x)]
    for run in (F.lif_sequence, _step_loop):
        xs = torch.tensor(x).reshape(2, 1).requires_grad_()
        beta = torch.tensor(0.5, requires_grad=True)
        thr = torch.tensor(1.0, requires_grad=True)
        spikes = run(xs, F.LIFParameters(beta, thr, reset, delay, snn.ATan()))
        assert spikes.flatten().tolist() == [float(x[0] > 1), 0.0]
        gx, gb, gt = torch.autograd.grad(spikes.sum(), [xs, beta, thr])
        got = (*gx.flatten().tolist(), float(gb), float(gt))
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-7), run.__name__


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
    with pytest.raises(ValueError, match=r"at least one time step, got shape \(\)"):
        F.lif_sequence(torch.tensor(0.5))


def test_sequence_without_gradients_is_detached() -> None:
    x = torch.full((4, 2), 0.6, requires_grad=True)
    with torch.no_grad():
        out = F.lif_sequence(x)
    assert out.grad_fn is None and not out.requires_grad
    assert F.lif_sequence(x).requires_grad


# ---- the leaky integrator readout ------------------------------------------------------


@pytest.mark.parametrize(
    ("beta", "mean", "last"),
    [
        # x = 1, 2, 3: m = 1, 2.5, 4.25 (β = 0.5); 1, 3, 6 (β = 1); x itself (β = 0)
        (0.5, 7.75 / 3, 4.25),
        (1.0, 10 / 3, 6.0),
        (0.0, 2.0, 3.0),
    ],
)
def test_leaky_integrate_golden_values(beta: float, mean: float, last: float) -> None:
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1).expand(3, 2, 1)
    for readout, value in (("mean", mean), ("last", last)):
        out = F.leaky_integrate(x, beta, readout)
        assert out.shape == (2, 1)
        assert out.flatten().tolist() == pytest.approx([value, value], rel=1e-6)


def test_leaky_integrate_refuses_an_unknown_readout() -> None:
    with pytest.raises(ValueError, match=r"unknown membrane readout 'max'; allowed: 'mean'"):
        F.leaky_integrate(torch.zeros(3, 1), 0.5, "max")
