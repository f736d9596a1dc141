"""The neuron modules: LIF is snntorch's Leaky, β and θ as parameters or buffers, the
parameter checks of every backend, TimeLoop's input.

The pure functions, the surrogates and the backends have their own test modules
(test_functional, test_surrogate, test_backends)."""

from __future__ import annotations

import pytest
import torch

from snnvar import nn as snn
from snnvar.nn import functional as F
from tests.tolerances import spike_ties

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
