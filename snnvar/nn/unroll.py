"""The model contract of snnvar, and an adapter for models that step themselves.

Every model that :func:`snnvar.evaluate`, the :class:`~snnvar.training.Trainer`,
the variation-aware methods and the command line run takes **time-major input**
``[T, B, ...]`` (T time steps of a batch of B samples, as the encoders of
:mod:`snnvar.datasets` make it) and returns **logits** ``[B, classes]``, one row
per sample, for a batch it has not seen before (state reset per batch). An ANN
takes ``[B, ...]`` and returns ``[B, classes]``.

snntorch and norse models are usually written per step instead: an
``nn.Sequential`` of layers and neurons with ``init_hidden=True`` called once
per time step, norse's ``SequentialState`` returning ``(output, state)``, a
module returning ``(spikes, membrane)``. :func:`unroll` turns any of them into a
model of the contract.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["CONTRACT", "UNROLL_READOUTS", "Unrolled", "check_logits", "unroll"]

CONTRACT = (
    "snnvar runs a spiking model on time-major input [T, B, ...] and expects logits "
    "[B, classes] back; wrap a model that is called once per time step (snntorch "
    "layers with init_hidden=True, norse's SequentialState, a module returning "
    "(spikes, membrane)) with snnvar.nn.unroll(model)"
)
"""The input/output contract, as the error messages state it."""

UNROLL_READOUTS = ("sum", "mean", "last", "max")
"""How :class:`Unrolled` reduces the per-step outputs ``[T, B, C]`` to ``[B, C]``."""

_SHAPE_WORDS = ("shape", "size", "dimension", "mat1", "expected input", "must match")


def _is_snntorch_neuron(m: nn.Module) -> bool:
    return any(
        c.__module__.startswith("snntorch") and c.__qualname__ == "SpikingNeuron"
        for c in type(m).__mro__
    )


def _takes_state(model: nn.Module) -> bool:
    """Whether ``model.forward`` takes a recurrent state argument (norse's convention)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "state" in params


class Unrolled(nn.Module):
    """A per-step model run over time-major input; see :func:`unroll`."""

    def __init__(
        self,
        model: nn.Module,
        readout: str = "sum",
        output: int = 0,
        reset: Callable[[nn.Module], None] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"unroll expects an nn.Module, got {type(model).__name__}")
        if readout not in UNROLL_READOUTS:
            raise ValueError(f"unknown readout {readout!r}; allowed: {list(UNROLL_READOUTS)}")
        if isinstance(output, bool) or not isinstance(output, int) or output < 0:
            raise ValueError(f"output must be an index >= 0 into the step's tuple, got {output!r}")
        self.model = model
        self.readout = readout
        self.output = output
        self.reset = reset
        self.stateful = _takes_state(model)
        self.spiking = True

    def reset_state(self) -> None:
        """Clear the state a previous batch left: ``reset(model)`` if given, and the
        hidden state of every snntorch neuron (``init_hidden=True``)."""
        if self.reset is not None:
            self.reset(self.model)
        for m in self.model.modules():
            if _is_snntorch_neuron(m) and getattr(m, "init_hidden", False):
                _clear_hidden(m)

    def _step_output(self, out: object, t: int) -> torch.Tensor:
        if isinstance(out, (tuple, list)):
            if self.output >= len(out):
                raise ValueError(
                    f"the model returned a tuple of {len(out)} at step {t}; "
                    f"output={self.output} is out of range"
                )
            out = out[self.output]
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"the model returned {type(out).__name__} at step {t} (output={self.output}); "
                "expected a tensor [B, classes]"
            )
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Unrolled expects time-major input [T, B, ...], got {shape}")
        self.reset_state()
        state = None
        outs = []
        for t in range(x.shape[0]):
            if self.stateful:
                out, state = self.model(x[t], state)
            else:
                out = self.model(x[t])
            outs.append(self._step_output(out, t))
        y = torch.stack(outs)
        for m in self.model.modules():  # no graph left in the state (deepcopy, SWA)
            if _is_snntorch_neuron(m):
                for name in _SNNTORCH_STATE:
                    value = m._buffers.get(name)
                    if isinstance(value, torch.Tensor):
                        m._buffers[name] = value.detach()
        if y.dim() != 3 or y.shape[1] != x.shape[1]:
            raise ValueError(
                f"each step returned shape {tuple(y.shape[1:])} for a batch of {x.shape[1]}; "
                "expected [B, classes]"
            )
        if self.readout == "sum":
            return y.sum(0)
        if self.readout == "mean":
            return y.mean(0)
        if self.readout == "last":
            return y[-1]
        return y.max(0).values

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}, output={self.output}, stateful={self.stateful}"


_SNNTORCH_STATE = ("mem", "syn", "spk", "syn_exc", "syn_inh")


def _clear_hidden(m: nn.Module) -> None:
    """Zero a snntorch neuron's hidden state (snntorch keeps it in buffers and
    re-sizes it itself when the next batch has another size)."""
    for name in _SNNTORCH_STATE:
        value = m._buffers.get(name)
        if isinstance(value, torch.Tensor):
            m._buffers[name] = torch.zeros_like(value)


def unroll(
    model: nn.Module,
    readout: str = "sum",
    output: int = 0,
    reset: Callable[[nn.Module], None] | None = None,
) -> Unrolled:
    """Wrap a model that is called once per time step into one of snnvar's contract.

    The result takes ``[T, B, ...]``, clears the model's state, calls it on
    ``x[t]`` for each step (as ``model(x[t], state)`` when its ``forward`` takes a
    ``state``, norse's convention, starting from ``None``), and reduces the
    outputs ``[T, B, C]`` to logits ``[B, C]``.

    Args:
        model: the per-step model: snntorch layers with ``init_hidden=True``
            (their state is reset before each batch), norse's ``SequentialState``
            or cells, or any module returning a tensor or a tuple per step.
        readout: ``"sum"`` (spike count of a spiking output layer), ``"mean"``,
            ``"last"`` or ``"max"`` (norse's usual readout of a ``LICell``) over time.
        output: which element of a tuple per step to read: 0 for the spikes of
            snntorch's ``output=True`` layer, 1 for its membrane.
        reset: called with ``model`` before each batch, for state of the user's
            own that neither snntorch nor norse manages.

    >>> import torch, snntorch
    >>> from snnvar.nn import unroll
    >>> net = torch.nn.Sequential(torch.nn.Linear(64, 10),
    ...                           snntorch.Leaky(beta=0.9, init_hidden=True))
    >>> unroll(net)(torch.rand(25, 8, 64)).shape
    torch.Size([8, 10])
    """
    return Unrolled(model, readout=readout, output=output, reset=reset)


def check_logits(model: nn.Module, x: torch.Tensor, batch: int, where: str) -> torch.Tensor:
    """``model(x)`` for a batch of ``batch`` samples, refused with a message that
    states :data:`CONTRACT` when the model fails on ``x``'s shape or returns
    anything but logits ``[batch, classes]``."""
    name = type(getattr(model, "module", model)).__name__  # DDP: the model inside
    try:
        out = model(x)
    except RuntimeError as err:
        if any(w in str(err).lower() for w in _SHAPE_WORDS):
            raise ValueError(
                f"{where}: {name} failed on input of shape {tuple(x.shape)} ({err}). {CONTRACT}"
            ) from err
        raise
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"{where}: {name} returned a {type(out).__name__}, not a tensor of logits. {CONTRACT}"
        )
    if out.dim() != 2 or out.shape[0] != batch:
        raise ValueError(
            f"{where}: {name} returned shape {tuple(out.shape)} for a batch of {batch} "
            f"(input {tuple(x.shape)}). {CONTRACT}"
        )
    return out
