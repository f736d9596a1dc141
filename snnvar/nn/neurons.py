"""Thin module wrappers over :mod:`snnvar.nn.functional`, and the loop over time.

A *cell* advances one time step: ``cell(x_t, state) -> (spikes_t, state)``
(``state=None`` at rest). snnvar's :class:`LIF` and :class:`IF`, snntorch's
``Leaky`` and norse's cells all have that shape (see :mod:`snnvar.nn.backends`).
:class:`TimeLoop` runs a cell over time-major input ``[T, B, ...]``; it is the
module that spike recording hooks into.
"""

from __future__ import annotations

import torch
from torch import nn

from ..variation import per_read
from .functional import RESETS, LIFParameters, LIFState, lif_sequence, lif_step
from .surrogate import Surrogate
from .surrogate import surrogate as make_surrogate

__all__ = ["IF", "LIF", "TimeLoop", "check_neuron", "check_time_major"]


def _as_tensor(name: str, value: float | torch.Tensor, low: float, high: float) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
    if not torch.isfinite(t).all() or (t < low).any() or (t > high).any():
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return t


def check_neuron(
    beta: float | torch.Tensor, threshold: float | torch.Tensor, reset: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate LIF parameters for every backend; β and θ as tensors.

    Raises ``ValueError`` for β outside [0, 1], θ <= 0 or not finite, an unknown
    reset (snntorch would clamp β silently).
    """
    if reset not in RESETS:
        raise ValueError(f"unknown reset {reset!r}; allowed: {list(RESETS)}")
    beta_t = _as_tensor("beta", beta, 0.0, 1.0)
    thr_t = _as_tensor("threshold", threshold, 0.0, float("inf"))
    if (thr_t <= 0).any():
        raise ValueError(f"threshold must be > 0, got {threshold}")
    return beta_t, thr_t


class LIF(nn.Module):
    """Leaky integrate-and-fire neuron (one step per call); snntorch ``Leaky`` dynamics.

    Args:
        beta: leak β in [0, 1]; a float or a tensor with one value per neuron.
        threshold: firing threshold θ > 0; float or tensor.
        reset: ``"subtract"``, ``"zero"`` or ``"none"``.
        surrogate: a surrogate name (``"atan"``, ``"fast_sigmoid"``, ``"triangle"``,
            ``"straight_through"``) or a :class:`~snnvar.nn.surrogate.Surrogate`.
        learn_beta, learn_threshold: make β / θ trainable parameters (else buffers).
        reset_delay: reset one step after the spike (snntorch) or in the same step.
    """

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float | torch.Tensor = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
    ) -> None:
        super().__init__()
        beta_t, thr_t = check_neuron(beta, threshold, reset)
        self.reset = reset
        self.reset_delay = reset_delay
        self.surrogate = make_surrogate(surrogate)
        if learn_beta:
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)
        if learn_threshold:
            self.threshold = nn.Parameter(thr_t)
        else:
            self.register_buffer("threshold", thr_t)

    @property
    def params(self) -> LIFParameters:
        """The parameters as passed to the pure functions (read at every call, so a
        reloaded or perturbed β / θ takes effect)."""
        return LIFParameters(
            self.beta, self.threshold, self.reset, self.reset_delay, self.surrogate
        )

    def forward(
        self, x: torch.Tensor, state: LIFState | None = None
    ) -> tuple[torch.Tensor, LIFState]:
        """One time step: ``(spikes, state)``."""
        return lif_step(x, state, self.params)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, ...]`` for a whole time-major input from rest.

        Eager: one fused call with a hand-written backward through time. Under
        ``torch.compile``: the loop of pure steps, which the compiler fuses.
        """
        p = self.params
        if not torch.compiler.is_compiling():
            return lif_sequence(x, p)
        state, out = None, []
        for t in range(x.shape[0]):
            spk, state = lif_step(x[t], state, p)
            out.append(spk)
        return torch.stack(out)

    def extra_repr(self) -> str:
        beta = _show(self.beta)
        thr = _show(self.threshold)
        return (
            f"beta={beta}, threshold={thr}, reset={self.reset!r}, "
            f"reset_delay={self.reset_delay}, surrogate={self.surrogate}"
        )


class IF(LIF):
    """Integrate-and-fire neuron: :class:`LIF` with β = 1 (no leak)."""

    def __init__(
        self,
        threshold: float | torch.Tensor = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        learn_threshold: bool = False,
        reset_delay: bool = True,
    ) -> None:
        super().__init__(1.0, threshold, reset, surrogate, False, learn_threshold, reset_delay)


def _show(t: torch.Tensor) -> str:
    return f"{t.item():g}" if t.dim() == 0 else f"tensor{tuple(t.shape)}"


def check_time_major(x: torch.Tensor, min_dim: int, where: str) -> None:
    """Raise a ``ValueError`` unless ``x`` is time-major with at least ``min_dim`` dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where} expects a tensor, got {type(x).__name__}")
    if x.dim() < min_dim:
        raise ValueError(
            f"{where} expects time-major input [T, B, ...] with at least {min_dim} dimensions, "
            f"got shape {tuple(x.shape)}; for a [B, ...] batch, encode it over time first "
            "(snnvar.datasets.rate / direct / latency)"
        )


class TimeLoop(nn.Module):
    """Run a neuron cell over time-major input ``[T, B, ...] -> [T, B, ...]`` spikes.

    Cells with a ``sequence`` method (snnvar's :class:`LIF` and :class:`IF`) run
    the whole sequence in one fused call; others are stepped from rest, and so
    is any cell whose parameters a dynamic variation redraws at every call
    (then each time step reads its own threshold / leak).
    """

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_time_major(x, 2, type(self).__name__)
        sequence = getattr(self.cell, "sequence", None)
        if sequence is not None and not per_read(self.cell):
            return sequence(x)
        state = None
        out = []
        for t in range(x.shape[0]):
            spk, state = self.cell(x[t], state)
            out.append(spk)
        return torch.stack(out)
