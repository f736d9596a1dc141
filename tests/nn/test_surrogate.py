"""Surrogate gradients: the Heaviside forward, each derivative against its closed form and
against autograd of the smooth function it is the derivative of, the in-place form, names."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from snnvar import nn as snn
from snnvar.nn.surrogate import SURROGATES, Surrogate

ALL = [
    snn.ATan(),
    snn.ATan(alpha=4.0),
    snn.FastSigmoid(),
    snn.FastSigmoid(slope=10.0),
    snn.Triangle(),
    snn.Triangle(gamma=1.0, width=2.0),
    snn.StraightThrough(),
]


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


# ---- forward: the Heaviside step --------------------------------------------------------


@pytest.mark.parametrize("sg", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_forward_is_the_strict_heaviside_step(sg: Surrogate, dtype: torch.dtype) -> None:
    """H(x) = 1 for x > 0, 0 at and below 0 (x = u − θ: a membrane at θ does not fire),
    in x's dtype and shape."""
    x = torch.tensor([[-2.0, -1e-3, 0.0, -0.0], [1e-3, 0.5, 3.0, -7.0]], dtype=dtype)
    out = sg(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.equal(out, torch.tensor([[0, 0, 0, 0], [1, 1, 1, 0]], dtype=dtype))


# ---- backward: the derivative of a named smooth step -----------------------------------


def _atan_step(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Fang et al.'s smooth step: 1/2 + arctan(π α x / 2) / π."""
    return 0.5 + torch.atan(math.pi * alpha * x / 2) / math.pi


def _fast_sigmoid_step(x: torch.Tensor, k: float) -> torch.Tensor:
    """SuperSpike's fast sigmoid x / (1 + k |x|)."""
    return x / (1 + k * x.abs())


def _triangle_step(x: torch.Tensor, gamma: float, w: float) -> torch.Tensor:
    """A primitive of γ max(0, 1 − |x|/w): γ (c − c |c| / (2w)), c = x clipped to [−w, w]."""
    c = x.clamp(-w, w)
    return gamma * (c - c * c.abs() / (2 * w))


SMOOTH_STEPS = [
    (snn.ATan(), lambda x: _atan_step(x, 2.0)),
    (snn.ATan(alpha=4.0), lambda x: _atan_step(x, 4.0)),
    (snn.ATan(alpha=0.5), lambda x: _atan_step(x, 0.5)),
    (snn.FastSigmoid(), lambda x: _fast_sigmoid_step(x, 25.0)),
    (snn.FastSigmoid(slope=3.0), lambda x: _fast_sigmoid_step(x, 3.0)),
    (snn.Triangle(), lambda x: _triangle_step(x, 0.3, 1.0)),
    (snn.Triangle(gamma=1.0, width=0.5), lambda x: _triangle_step(x, 1.0, 0.5)),
    (snn.StraightThrough(), lambda x: x),
]


@pytest.mark.parametrize(
    ("sg", "smooth"), [pytest.param(sg, f, id=repr(sg)) for sg, f in SMOOTH_STEPS]
)
def test_backward_is_the_derivative_of_the_smooth_step(sg: Surrogate, smooth) -> None:
    """The spike's gradient is σ'(x), σ the smooth step each surrogate is named after
    (autograd of σ in float64, a different computation): on a grid through the peak and
    the tails, times the upstream gradient."""
    grid = torch.linspace(-2.5, 2.5, 201, dtype=torch.float64)
    x = grid.clone().requires_grad_()
    (expected,) = torch.autograd.grad(smooth(x).sum(), x)
    upstream = torch.linspace(-1.0, 2.0, 201, dtype=torch.float64)
    y = grid.clone().requires_grad_()
    (got,) = torch.autograd.grad(sg(y), y, upstream)
    torch.testing.assert_close(got, upstream * expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 7.0])
def test_atan_derivative_has_unit_area_and_peak_alpha_over_2(alpha: float) -> None:
    """ATan's σ' is a density (area 1 whatever α): (2/π) arctan(π α L / 2) within [−L, L]
    (trapezoid rule, step 1e-4, error below 1e-6 here); its peak at 0 is α/2."""
    sg = snn.ATan(alpha=alpha)
    half = 20.0
    x = torch.linspace(-half, half, 400_001, dtype=torch.float64)
    area = float(torch.trapezoid(sg.derivative(x), x))
    assert area == pytest.approx(2 / math.pi * math.atan(math.pi * alpha * half / 2), abs=1e-6)
    assert float(sg.derivative(torch.zeros(1, dtype=torch.float64))) == alpha / 2


@pytest.mark.parametrize("sg", ALL, ids=repr)
def test_derivative_in_place_overwrites_its_argument(sg: Surrogate) -> None:
    """``derivative_`` writes σ'(x) over x (the fused sequence's buffer), no new tensor;
    float32 within rounding of the out-of-place form (other operation order)."""
    x = torch.linspace(-3.0, 3.0, 301)
    buffer = x.clone()
    out = sg.derivative_(buffer)
    assert out.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(buffer, sg.derivative(x), rtol=1e-6, atol=1e-7)


# ---- names, instances, bad input --------------------------------------------------------


def test_registry_names_every_surrogate_by_its_own_name() -> None:
    assert sorted(SURROGATES) == ["atan", "fast_sigmoid", "straight_through", "triangle"]
    for name, cls in SURROGATES.items():
        assert cls.name == name
        assert snn.surrogate(name) == cls()
    assert snn.surrogate() == snn.ATan(alpha=2.0)  # snntorch's default
    assert snn.surrogate("atan", alpha=4) == snn.ATan(alpha=4.0)
    assert snn.surrogate("triangle", gamma=1.0, width=2.0) == snn.Triangle(1.0, 2.0)


def test_an_instance_is_returned_as_it_is() -> None:
    sg = snn.FastSigmoid(slope=7.0)
    assert snn.surrogate(sg) is sg
    with pytest.raises(
        ValueError, match=r"parameters \['slope'\] given with a surrogate instance FastSigmoid"
    ):
        snn.surrogate(sg, slope=3.0)


@pytest.mark.parametrize("spec", [3, None, "ATan", "heaviside"])
def test_unknown_specs_are_refused_with_the_names(spec: object) -> None:
    with pytest.raises(
        ValueError,
        match=rf"unknown surrogate {re.escape(repr(spec))}; available: \['atan', 'fast_sigmoid', "
        r"'straight_through', 'triangle'\]",
    ):
        snn.surrogate(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fast_sigmoid", {"alpha": 2.0}),
        ("triangle", {"slope": 1.0}),
        ("straight_through", {"alpha": 1.0}),
    ],
)
def test_parameters_a_surrogate_lacks_are_refused(name: str, params: dict) -> None:
    key = next(iter(params))
    with pytest.raises(
        ValueError, match=rf"bad parameters .*'{key}'.* for surrogate '{name}': .*'{key}'"
    ):
        snn.surrogate(name, **params)


def test_surrogates_are_frozen_values() -> None:
    """Frozen dataclasses: hashable, equal by parameters, not changed after creation
    (a neuron shares its surrogate with the fused sequence's saved context)."""
    assert snn.FastSigmoid(25.0) == snn.FastSigmoid() != snn.FastSigmoid(10.0)
    assert len({snn.ATan(), snn.ATan(2.0), snn.ATan(4.0)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        snn.ATan().alpha = 3.0  # type: ignore[misc]


def test_the_base_class_has_no_derivative() -> None:
    with pytest.raises(NotImplementedError):
        Surrogate().derivative(torch.zeros(2))


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("atan", {"alpha": -1.0}, "ATan.alpha"),
        ("atan", {"alpha": True}, "ATan.alpha"),
        ("fast_sigmoid", {"slope": 0}, "FastSigmoid.slope"),
        ("triangle", {"width": 0.0}, "Triangle.width"),
        ("triangle", {"gamma": float("nan")}, "Triangle.gamma"),
    ],
)
def test_a_parameter_that_gives_no_or_a_reversed_gradient_is_refused(name, params, field) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be a finite number > 0, got"):
        snn.surrogate(name, **params)
    assert snn.surrogate("triangle", gamma=1, width=0.5) == snn.Triangle(gamma=1, width=0.5)
