"""Neuron backends: the same LIF/IF cell from snnvar, snntorch or norse.

``make_cell(backend, beta=..., threshold=..., reset=..., surrogate=...)`` returns
a cell ``(x_t, state) -> (spikes_t, state)`` for :class:`~snnvar.nn.TimeLoop`.

- ``"snnvar"``: :class:`~snnvar.nn.LIF` (``IF`` when β = 1).
- ``"snntorch"``: ``snntorch.Leaky`` with the same β, θ, reset and reset timing;
  surrogates ``atan``, ``fast_sigmoid`` and ``straight_through`` are snntorch's
  own (snntorch's ``triangular`` is a different function, so ``triangle`` uses
  snnvar's). Same spikes as snnvar's LIF with the reset one step after the spike
  (``reset_delay=True``, snntorch's default) or no reset. A subtract or zero reset
  in the same step (``reset_delay=False``) is snntorch's own neuron: its ``Leaky``
  first applies the reset left over from the step before, so it misses spikes
  that snnvar's LIF fires (x = 2.5, 1.0 with β = 0.5, θ = 1: snnvar spikes 1, 1,
  snntorch 1, 0), and it does not detach that reset from the gradient.
- ``"norse"``: norse's box LIF (``LIFBoxCell``: ``v ← v + Δt/τ (i − v)``, reset in
  the same step) with ``Δt/τ = 1 − β`` and the input scaled by ``1/(1 − β)``, so
  the membrane follows ``v ← β v + x`` as snnvar's LIF with ``reset_delay=False``
  does; β = 1 uses norse's ``IAFCell`` (reset to zero only). norse's own
  surrogates: ``"super"`` (SuperSpike; norse 1.1 fixes its slope to 1, which is
  ``fast_sigmoid`` with ``slope=1``), ``"triangle"`` (width 1), ``"tanh"``,
  ``"circ"``, ``"heavi_erfc"``. β and θ are fixed (norse keeps them outside the
  module's parameters). Same spikes as snnvar's LIF with ``reset_delay=False``;
  gradients differ in one respect: norse does not detach the reset from the
  spike's surrogate gradient, snnvar and snntorch do.

snntorch and norse are imported only when asked for; a missing one raises an
``ImportError`` naming the package or extra to install.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

from .functional import LIFState
from .neurons import IF, LIF, check_neuron
from .surrogate import FastSigmoid, StraightThrough, Surrogate, Triangle, surrogate

__all__ = ["BACKENDS", "NorseLIF", "SnntorchLIF", "make_cell", "with_reset"]

BACKENDS = ("snnvar", "snntorch", "norse")
"""The neuron backends."""

_NORSE_METHODS = ("super", "triangle", "tanh", "circ", "heavi_erfc")


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"neuron={module.split('.')[0]!r} needs the {module.split('.')[0]} package: "
            f"pip install {extra}"
        ) from err


class SnntorchLIF(nn.Module):
    """snntorch's ``Leaky`` as a cell: ``(x_t, LIFState | None) -> (spikes, LIFState)``."""

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
    ) -> None:
        super().__init__()
        snn = _require("snntorch", "snntorch")
        check_neuron(beta, threshold, reset)  # snntorch itself would clamp β silently
        self.leaky = snn.Leaky(
            beta=beta,
            threshold=threshold,
            spike_grad=_snntorch_spike_grad(surrogate),
            learn_beta=learn_beta,
            learn_threshold=learn_threshold,
            reset_mechanism=reset,
            reset_delay=reset_delay,
        )

    def forward(
        self, x: torch.Tensor, state: LIFState | None = None
    ) -> tuple[torch.Tensor, LIFState]:
        mem = torch.zeros_like(x) if state is None else state.mem
        spk, mem = self.leaky(x, mem)
        return spk, LIFState(mem)


def _snntorch_spike_grad(spec: str | Surrogate | None) -> Any:
    sg = surrogate("atan" if spec is None else spec)
    sur = _require("snntorch.surrogate", "snntorch")
    if isinstance(sg, Triangle):
        return sg  # snntorch's `triangular` is another function; use snnvar's
    if isinstance(sg, FastSigmoid):
        return sur.fast_sigmoid(slope=sg.slope)
    if isinstance(sg, StraightThrough):
        return sur.straight_through_estimator()
    return sur.atan(alpha=sg.alpha)  # type: ignore[attr-defined]


class NorseLIF(nn.Module):
    """norse's box LIF (or IAF for β = 1) as a cell, parameters mapped to snnvar's."""

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate | None = None,
    ) -> None:
        super().__init__()
        torch_ns = _require("norse.torch", "'snnvar[norse]'")
        check_neuron(beta, threshold, reset)
        if reset not in ("subtract", "zero"):
            raise ValueError(f"neuron='norse' supports reset 'subtract' or 'zero', got {reset!r}")
        method, alpha = _norse_method(surrogate)
        beta, threshold = float(beta), float(threshold)
        self.beta = beta
        if beta == 1.0:
            if reset != "zero":
                raise ValueError(
                    "neuron='norse' with beta=1 uses norse's IAFCell, which resets to zero only: "
                    "pass reset='zero', or use neuron='snnvar' / 'snntorch' for a subtractive IF"
                )
            p = torch_ns.IAFParameters(
                v_th=torch.as_tensor(threshold), method=method, alpha=torch.as_tensor(alpha)
            )
            self.cell = torch_ns.IAFCell(p, dt=1.0)
            self.scale = 1.0
        else:
            reset_fn = importlib.import_module("norse.torch.functional.reset")
            p = torch_ns.LIFBoxParameters(
                tau_mem_inv=torch.as_tensor(1.0 - beta),
                v_th=torch.as_tensor(threshold),
                method=method,
                alpha=torch.as_tensor(alpha),
                reset_method=reset_fn.reset_subtract
                if reset == "subtract"
                else reset_fn.reset_value,
            )
            self.cell = torch_ns.LIFBoxCell(p, dt=1.0)
            self.scale = 1.0 / (1.0 - beta)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return self.cell(x * self.scale if self.scale != 1.0 else x, state)


def _norse_method(spec: str | Surrogate | None) -> tuple[str, float]:
    if spec is None:
        return "super", 1.0
    if isinstance(spec, str) and spec in _NORSE_METHODS and spec != "triangle":
        return spec, 1.0
    sg = surrogate(spec)
    if isinstance(sg, Triangle) and sg.width == 1.0:
        return "triangle", sg.gamma
    if isinstance(sg, FastSigmoid) and sg.slope == 1.0:
        return "super", 1.0
    raise ValueError(
        f"surrogate {spec!r} has no exact norse counterpart; neuron='norse' accepts "
        f"{list(_NORSE_METHODS)} (norse's names), 'triangle' / Triangle(gamma, width=1), or "
        "FastSigmoid(slope=1) (norse 1.1's SuperSpike ignores its slope)"
    )


def make_cell(
    backend: str = "snnvar",
    beta: float = 0.9,
    threshold: float = 1.0,
    reset: str = "subtract",
    surrogate: str | Surrogate | None = None,
    learn_beta: bool = False,
    learn_threshold: bool = False,
    reset_delay: bool = True,
) -> nn.Module:
    """A LIF cell (IF when β = 1) from ``backend`` (``"snnvar"``, ``"snntorch"``, ``"norse"``)."""
    if backend == "snnvar":
        sg = "atan" if surrogate is None else surrogate
        if beta == 1.0 and not learn_beta:
            return IF(threshold, reset, sg, learn_threshold, reset_delay)
        return LIF(beta, threshold, reset, sg, learn_beta, learn_threshold, reset_delay)
    if backend == "snntorch":
        return SnntorchLIF(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold, reset_delay
        )
    if backend == "norse":
        if learn_beta or learn_threshold:
            raise ValueError(
                "learn_beta / learn_threshold need neuron='snnvar' or 'snntorch'; norse's cells "
                "keep beta and threshold outside the module's parameters"
            )
        return NorseLIF(beta, threshold, reset, surrogate)
    raise ValueError(f"unknown neuron backend {backend!r}; available: {list(BACKENDS)}")


def with_reset(model: nn.Module, reset: str) -> nn.Module:
    """A copy of ``model`` whose neurons reset by ``reset`` (``"subtract"``, ``"zero"``,
    ``"none"``); everything else (weights, β, θ, surrogates, backends) unchanged.

    The zero-reset variant is what NIR can express (its LIF / IF reset to
    ``v_reset``): ``snnvar.nir.to_nir(with_reset(model, "zero"))``. It is a different
    network, so evaluate (or fine-tune) it before deploying it. Raises
    ``ValueError`` for an unknown reset, a backend that lacks it (norse: subtract
    or zero only) or a model without neuron loops.
    """
    import copy

    from .functional import RESETS
    from .neurons import TimeLoop

    if reset not in RESETS:
        raise ValueError(f"unknown reset {reset!r}; allowed: {list(RESETS)}")
    out = copy.deepcopy(model)
    loops = [m for m in out.modules() if isinstance(m, TimeLoop)]
    if not loops:
        raise ValueError(f"{type(model).__name__} has no neuron loops (snnvar TimeLoop) to change")
    for loop in loops:
        cell = loop.cell
        if isinstance(cell, LIF):
            cell.reset = reset
        elif isinstance(cell, SnntorchLIF):
            leaky = cell.leaky
            leaky.reset_mechanism = reset
            # snntorch's Leaky picks its state function once, in __init__
            leaky.state_function = {
                "subtract": leaky._base_sub, "zero": leaky._base_zero, "none": leaky._base_int,
            }[reset]  # fmt: skip
        elif isinstance(cell, NorseLIF):
            if reset not in ("subtract", "zero"):
                raise ValueError(
                    f"neuron='norse' supports reset 'subtract' or 'zero', got {reset!r}"
                )
            if cell.beta == 1.0 and reset != "zero":
                raise ValueError("neuron='norse' with beta=1 (IAFCell) resets to zero only")
            if cell.beta != 1.0:
                fn = importlib.import_module("norse.torch.functional.reset")
                method = fn.reset_subtract if reset == "subtract" else fn.reset_value
                cell.cell.p = cell.cell.p._replace(reset_method=method)
        else:
            raise ValueError(f"cannot change the reset of a {type(cell).__name__} cell")
    return out
