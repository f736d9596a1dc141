"""Neuron backends: each backend's cell is snnvar's LIF (spikes, membranes, surrogate
gradients), norse's surrogates map to snnvar's, what a backend cannot express is refused,
and ``with_reset`` changes every backend's reset and nothing else."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from snnvar import nn as snn
from tests.tolerances import spike_ties


def _run(cell: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membranes ``[T, ...]`` of ``cell`` stepped over ``x`` from rest."""
    state, spikes, mems = None, [], []
    for t in range(x.shape[0]):
        s, state = cell(x[t], state)
        spikes.append(s)
        mems.append(state.mem if isinstance(state, snn.LIFState) else state.v)
    return torch.stack(spikes), torch.stack(mems)


def _eighths(*shape: int, seed: int) -> torch.Tensor:
    """Inputs in steps of 1/8: every membrane of an IF neuron is exact in float32."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-4, 12, shape, generator=g).float() / 8


# ---- what make_cell builds --------------------------------------------------------------


def test_make_cell_builds_each_backends_cell() -> None:
    lif = snn.make_cell("snnvar", 0.8, 0.7, "zero", "triangle", reset_delay=False)
    assert type(lif) is snn.LIF
    assert (float(lif.beta), float(lif.threshold)) == pytest.approx((0.8, 0.7))
    assert lif.reset == "zero"
    assert lif.surrogate == snn.Triangle() and lif.reset_delay is False
    assert type(snn.make_cell("snnvar", beta=1.0)) is snn.IF
    learned = snn.make_cell("snnvar", beta=1.0, learn_beta=True)  # a learnable leak: a LIF
    assert type(learned) is snn.LIF and isinstance(learned.beta, nn.Parameter)
    assert snn.make_cell("snnvar").surrogate == snn.ATan()  # the default surrogate

    st = snn.make_cell("snntorch", 0.8, 0.7, "zero", learn_threshold=True)
    assert isinstance(st, snn.SnntorchLIF)
    assert st.leaky.reset_mechanism == "zero"
    assert float(st.leaky.beta) == pytest.approx(0.8)
    assert isinstance(st.leaky.threshold, nn.Parameter)

    box = snn.make_cell("norse", 0.8, 0.7, "subtract")
    assert isinstance(box, snn.NorseLIF) and type(box.cell).__name__ == "LIFBoxCell"
    assert box.scale == pytest.approx(5.0)  # 1 / (1 − β)
    assert float(box.cell.p.tau_mem_inv) == pytest.approx(0.2)
    iaf = snn.make_cell("norse", 1.0, 0.7, "zero")
    assert type(iaf.cell).__name__ == "IAFCell" and iaf.scale == 1.0


# ---- snntorch: the same LIF -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reset", "delay"), [("subtract", True), ("zero", True), ("none", True), ("none", False)]
)
@pytest.mark.parametrize(
    "spec",
    ["atan", snn.FastSigmoid(slope=10.0), "triangle", "straight_through"],
    ids=["atan", "fast_sigmoid(10)", "triangle", "straight_through"],
)
def test_snntorch_backend_is_snnvars_lif(reset: str, delay: bool, spec) -> None:
    """``make_cell("snntorch")`` and ``make_cell("snnvar")`` with the same β, θ, reset,
    reset timing and surrogate: the same spikes but for a threshold tie of one neuron
    (units [B, N]: snntorch's operations are not snnvar's), the other neurons' membranes
    and input gradients within float32 rounding (the surrogate maps to the same σ').

    The reset one step after the spike (snntorch's default, the reference), and no reset
    at either timing. A subtract or zero reset in the same step is left out: there
    snntorch's ``Leaky`` differs from snnvar's LIF (it applies a subtraction left over from
    the step before, missing spikes, and does not detach the reset from the gradient)."""
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(25, 3, 8, generator=g) * 0.7 + 0.25).requires_grad_()
    w = torch.randn(25, 3, 8, generator=g)
    kw = dict(beta=0.8, threshold=0.7, reset=reset, surrogate=spec, reset_delay=delay)
    ref_s, ref_m = _run(snn.make_cell("snnvar", **kw), x)
    got_s, got_m = _run(snn.make_cell("snntorch", **kw), x)
    tied = spike_ties(got_s, ref_s, unit_dims=(1, 2))
    assert 0.1 < float(ref_s.detach().mean()) < 0.8  # non-trivial
    torch.testing.assert_close(got_m[:, ~tied], ref_m[:, ~tied], rtol=0, atol=1e-5)
    (g_ref,) = torch.autograd.grad((ref_s * w).sum(), x)
    (g_got,) = torch.autograd.grad((got_s * w).sum(), x)
    assert g_ref.abs().sum() > 0
    torch.testing.assert_close(g_got[:, ~tied], g_ref[:, ~tied], rtol=1e-5, atol=1e-5)


def test_snntorch_backend_learns_beta_and_threshold() -> None:
    cell = snn.make_cell("snntorch", 0.8, 0.7, learn_beta=True, learn_threshold=True)
    spikes, _ = _run(cell, torch.rand(10, 2, 4, generator=torch.Generator().manual_seed(0)))
    spikes.sum().backward()
    params = dict(cell.named_parameters())
    assert set(params) == {"leaky.beta", "leaky.threshold"}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params.values())


def test_a_missing_snntorch_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snntorch", None)
    with pytest.raises(ImportError, match=r"neuron='snntorch' needs .*pip install snntorch"):
        snn.make_cell("snntorch")


# ---- norse: the same LIF with the reset in the same step --------------------------------


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


def test_norse_iaf_is_snnvars_if_with_a_zero_reset() -> None:
    """β = 1 uses norse's IAFCell: v ← v + x, reset to zero. On inputs in steps of 1/8
    every membrane is exact in float32, so spikes and membranes equal snnvar's IF (zero
    reset, either timing: the same for IF) bit for bit."""
    x = _eighths(40, 3, 6, seed=4)
    got_s, got_v = _run(snn.make_cell("norse", 1.0, 1.0, "zero"), x)
    for delay in (True, False):
        ref_s, _ = _run(snn.IF(1.0, "zero", reset_delay=delay), x)
        assert torch.equal(got_s, ref_s)
    _, ref_v = _run(snn.IF(1.0, "zero", reset_delay=False), x)
    assert torch.equal(got_v, ref_v)
    assert 0.1 < float(got_s.detach().mean()) < 0.8


@pytest.mark.parametrize(
    ("spec", "method", "alpha"),
    [
        (None, "super", 1.0),
        ("super", "super", 1.0),
        ("tanh", "tanh", 1.0),
        ("circ", "circ", 1.0),
        ("heavi_erfc", "heavi_erfc", 1.0),
        ("triangle", "triangle", 0.3),
        (snn.Triangle(gamma=0.5), "triangle", 0.5),
        (snn.FastSigmoid(slope=1.0), "super", 1.0),
    ],
    ids=repr,
)
@pytest.mark.parametrize("beta", [0.8, 1.0])
def test_norse_surrogates_are_norses_own(spec, method: str, alpha: float, beta: float) -> None:
    reset = "zero" if beta == 1.0 else "subtract"
    cell = snn.make_cell("norse", beta, 0.7, reset, spec).cell
    assert cell.p.method == method
    assert float(cell.p.alpha) == pytest.approx(alpha)


@pytest.mark.parametrize(
    ("spec", "snnvar_spec"),
    [
        ("triangle", snn.Triangle()),
        (snn.Triangle(gamma=0.5), snn.Triangle(gamma=0.5)),
        (None, snn.FastSigmoid(slope=1.0)),
        (snn.FastSigmoid(slope=1.0), snn.FastSigmoid(slope=1.0)),
    ],
    ids=repr,
)
def test_norse_surrogate_gradient_is_the_mapped_snnvar_one(spec, snnvar_spec) -> None:
    """One step from rest: the membrane is x (the input scaled by 1/(1 − β) and integrated
    with Δt/τ = 1 − β), so the spike's gradient is σ'(x − θ) of the snnvar surrogate the
    norse method stands for (float32 rounding of the scale and the box step: 1e-6)."""
    x = torch.linspace(-1.0, 2.5, 57).requires_grad_()  # steps of 1/16; θ = 0.7 off grid
    spikes, _ = snn.make_cell("norse", 0.8, 0.7, "subtract", spec)(x)
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    assert torch.equal(spikes.detach(), (x.detach() > 0.7).float())
    expected = snnvar_spec.derivative(x.detach() - 0.7)
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "spec",
    ["atan", "fast_sigmoid", "straight_through", snn.FastSigmoid(slope=25.0),
     snn.Triangle(width=2.0), snn.ATan(alpha=2.0)],
    ids=repr,
)  # fmt: skip
def test_norse_refuses_a_surrogate_it_has_no_counterpart_for(spec) -> None:
    with pytest.raises(ValueError, match=r"has no exact norse counterpart; neuron='norse' accepts"):
        snn.make_cell("norse", surrogate=spec)


def test_norse_backend_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="resets to zero only"):
        snn.make_cell("norse", beta=1.0, reset="subtract")
    with pytest.raises(ValueError, match="learn_beta"):
        snn.make_cell("norse", learn_beta=True)
    with pytest.raises(ValueError, match="learn_beta / learn_threshold need neuron='snnvar'"):
        snn.make_cell("norse", learn_threshold=True)
    with pytest.raises(ValueError, match=r"supports reset 'subtract' or 'zero', got 'none'"):
        snn.make_cell("norse", reset="none")


def test_backend_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"unknown neuron backend 'brian2'"):
        snn.make_cell("brian2")
    monkeypatch.setitem(sys.modules, "norse", None)
    monkeypatch.setitem(sys.modules, "norse.torch", None)
    with pytest.raises(ImportError, match=r"pip install 'snnvar\[norse\]'"):
        snn.make_cell("norse")


def test_unknown_backend_lists_the_backends() -> None:
    with pytest.raises(
        ValueError, match=r"unknown neuron backend 'Snntorch'; available: \['snnvar', 'snntorch', "
        r"'norse'\]",
    ):  # fmt: skip
        snn.make_cell("Snntorch")


# ---- with_reset -------------------------------------------------------------------------


def _loop(backend: str, reset: str, beta: float = 0.8) -> nn.Module:
    torch.manual_seed(0)
    return snn.SpikingSequential(
        nn.Linear(6, 8),
        snn.TimeLoop(snn.make_cell(backend, beta, 0.7, reset)),
        nn.Linear(8, 3),
        snn.TimeLoop(snn.make_cell(backend, beta, 0.7, reset)),
        snn.Readout("spike_count"),
    )


@pytest.mark.parametrize(
    ("backend", "reset", "beta"),
    [
        ("snnvar", "zero", 0.8),
        ("snnvar", "none", 0.8),
        ("snnvar", "subtract", 1.0),
        ("snntorch", "zero", 0.8),
        ("snntorch", "none", 0.8),
        ("norse", "zero", 0.8),
    ],
)
def test_with_reset_is_the_model_built_with_that_reset(backend: str, reset: str, beta) -> None:
    """The copy computes what a model built with the new reset computes (the same
    operations on the same weights: equal bits), and the original keeps its reset."""
    start = "zero" if reset == "subtract" else "subtract"
    model = _loop(backend, start, beta)
    x = torch.rand(12, 4, 6, generator=torch.Generator().manual_seed(5)) * 1.5
    # before a forward pass: snntorch's Leaky keeps the last step's graph in its state,
    # which copy.deepcopy refuses
    changed = snn.with_reset(model, reset)
    before = model(x)
    expected = _loop(backend, reset, beta)(x)
    assert torch.equal(changed(x), expected)
    assert not torch.equal(expected, before)  # the reset matters on this input
    assert torch.equal(model(x), before)  # the original is untouched
    assert changed is not model


def test_with_reset_refuses_what_it_cannot_change() -> None:
    with pytest.raises(ValueError, match=r"unknown reset 'soft'; allowed: \['subtract'"):
        snn.with_reset(_loop("snnvar", "subtract"), "soft")
    with pytest.raises(ValueError, match="Linear has no neuron loops"):
        snn.with_reset(nn.Linear(2, 2), "zero")
    with pytest.raises(ValueError, match=r"neuron='norse' supports reset .*got 'none'"):
        snn.with_reset(_loop("norse", "subtract"), "none")
    with pytest.raises(ValueError, match=r"beta=1 \(IAFCell\) resets to zero only"):
        snn.with_reset(_loop("norse", "zero", beta=1.0), "subtract")
    with pytest.raises(ValueError, match="cannot change the reset of a Identity cell"):
        snn.with_reset(snn.TimeLoop(nn.Identity()), "zero")
