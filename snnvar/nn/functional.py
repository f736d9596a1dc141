"""Neuron dynamics as pure functions: ``(input, state, params) -> (spikes, state)``.

Leaky integrate-and-fire (LIF) with leak β, threshold θ and a reset, in the
discrete form snntorch's ``Leaky`` uses (Eshraghian et al., Proc. IEEE 2023),
which is the reference: for the same β, θ and reset the two agree spike for
spike. With ``reset_delay=True`` (snntorch's default) the reset of a spike at
step t is applied at step t + 1::

    r_t = H(m_{t-1} − θ)                       (no gradient)
    m_t = β m_{t-1} + x_t − θ r_t               reset="subtract"
    m_t = β (1 − r_t) m_{t-1} + x_t             reset="zero"
    m_t = β m_{t-1} + x_t                       reset="none"
    s_t = H(m_t − θ)                            surrogate gradient

With ``reset_delay=False`` the reset follows the spike in the same step (norse's
box LIF, and the soft-reset IF neuron of ANN-to-SNN conversion)::

    v_t = β u_{t-1} + x_t,   s_t = H(v_t − θ),   u_t = v_t − θ s_t  (or (1 − s_t) v_t)

IF is LIF with β = 1 (for IF the two reset timings give the same spikes).
β is clamped to [0, 1] as in snntorch. :func:`lif_sequence` runs a whole
sequence from rest with a hand-written backward pass through time; it gives
the same spikes and gradients as looping :func:`lif_step`, with far fewer
kernel launches.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .surrogate import ATan, Surrogate

__all__ = [
    "IF_DEFAULTS",
    "LIF_DEFAULTS",
    "RESETS",
    "LIFParameters",
    "LIFState",
    "if_step",
    "leaky_integrate",
    "lif_sequence",
    "lif_step",
]

RESETS = ("subtract", "zero", "none")
"""The reset mechanisms."""


class LIFParameters(NamedTuple):
    """Parameters of a LIF neuron (a NamedTuple, so it passes through ``torch.compile``)."""

    beta: torch.Tensor | float = 0.9
    """Membrane leak β in [0, 1] (1 = IF); a scalar or one per neuron (broadcastable)."""
    threshold: torch.Tensor | float = 1.0
    """Firing threshold θ > 0; a scalar or one per neuron."""
    reset: str = "subtract"
    """``"subtract"`` (soft reset), ``"zero"`` (hard reset) or ``"none"``."""
    reset_delay: bool = True
    """Apply a spike's reset one step later (snntorch) or in the same step (norse)."""
    surrogate: Surrogate = ATan()
    """The spike function's surrogate gradient."""


class LIFState(NamedTuple):
    """State of a LIF neuron."""

    mem: torch.Tensor
    """Membrane potential: ``m_t`` (delayed reset) or ``u_t`` (after the reset)."""


LIF_DEFAULTS = LIFParameters()
"""β = 0.9, θ = 1, subtractive reset one step later, atan surrogate (snntorch's defaults but β)."""
IF_DEFAULTS = LIFParameters(beta=1.0)
"""θ = 1, subtractive reset, atan surrogate, no leak."""


def _beta(beta: torch.Tensor | float) -> torch.Tensor | float:
    return beta.clamp(0, 1) if isinstance(beta, torch.Tensor) else beta


def lif_step(
    x: torch.Tensor, state: LIFState | None, p: LIFParameters = LIF_DEFAULTS
) -> tuple[torch.Tensor, LIFState]:
    """One time step of a LIF neuron; ``state=None`` starts from rest (zero membrane)."""
    mem = torch.zeros_like(x) if state is None else state.mem
    beta, thr = _beta(p.beta), p.threshold
    if p.reset_delay:
        if p.reset == "zero":
            mem = (1 - (mem - thr > 0).to(x.dtype)) * mem
        base = beta * mem + x
        if p.reset == "subtract":
            base = base - (mem - thr > 0).to(x.dtype) * thr
        spk = p.surrogate(base - thr)
        return spk, LIFState(base)
    v = beta * mem + x
    spk = p.surrogate(v - thr)
    if p.reset == "subtract":
        v = v - spk.detach() * thr
    elif p.reset == "zero":
        v = v * (1 - spk.detach())
    return spk, LIFState(v)


def if_step(
    x: torch.Tensor, state: LIFState | None, p: LIFParameters = IF_DEFAULTS
) -> tuple[torch.Tensor, LIFState]:
    """One time step of an integrate-and-fire neuron (LIF with β = 1)."""
    return lif_step(x, state, p._replace(beta=1.0))


def _scalar(v: torch.Tensor | float) -> torch.Tensor | float:
    """A fixed 0-d tensor as a Python float (scalar kernels); others unchanged."""
    if isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad:
        return float(v)
    return v


def _run(
    x: torch.Tensor,
    beta: torch.Tensor | float,
    thr: torch.Tensor | float,
    reset: str,
    delay: bool,
    spk: torch.Tensor,
    step_done=None,
) -> None:
    """The LIF recursion from rest, spikes written into ``spk`` ``[T, ...]``.

    ``step_done(t, d_t)`` receives ``d_t = m_t − θ`` (a scratch buffer, reused).
    """
    mem = torch.zeros_like(x[0])
    d = torch.empty_like(mem)
    for t in range(x.shape[0]):
        if delay and t and reset == "zero":
            mem.mul_(1 - spk[t - 1])
        if isinstance(beta, torch.Tensor):
            mem = torch.addcmul(x[t], beta, mem)
        else:
            torch.add(x[t], mem, alpha=beta, out=mem)
        if delay and t and reset == "subtract":
            _sub_reset(mem, spk[t - 1], thr)
        torch.sub(mem, thr, out=d)
        torch.gt(d, 0, out=spk[t])
        if step_done is not None:
            step_done(t, d)
        if not delay:
            if reset == "subtract":
                _sub_reset(mem, spk[t], thr)
            elif reset == "zero":
                mem.mul_(1 - spk[t])


def _sub_reset(mem: torch.Tensor, spikes: torch.Tensor, thr: torch.Tensor | float) -> None:
    if isinstance(thr, torch.Tensor):
        mem.sub_(spikes * thr)
    else:
        mem.sub_(spikes, alpha=thr)


class _LIFSequence(torch.autograd.Function):
    """A whole LIF sequence from rest; backward is BPTT written out by hand.

    Forward stores the surrogate derivative ``σ'(d_t)`` of every step (computed
    in place while the step is in cache) and the spikes; ``d_t`` itself only
    when β or θ is learnable. Backward: with ``A_t = ∂L/∂s_t · σ'(d_t)`` and
    ``k_t = 1 − s_t`` for a zero reset (else 1), the gradient of the state that
    β multiplies obeys ``G_t = A_t + β k_t G_{t+1}``; ``∂L/∂x_t = G_t``.
    """

    @staticmethod
    def forward(ctx, x, beta, thr, reset, delay, sg):  # type: ignore[override]
        spk = torch.empty_like(x)
        sgp = torch.empty_like(x)
        keep_d = (isinstance(beta, torch.Tensor) and beta.requires_grad) or (
            isinstance(thr, torch.Tensor) and thr.requires_grad
        )
        d_all = torch.empty_like(x) if keep_d else None

        def step_done(t: int, d: torch.Tensor) -> None:
            if d_all is not None:
                d_all[t].copy_(d)
            sg.derivative_(sgp[t].copy_(d))

        _run(x, beta, thr, reset, delay, spk, step_done)
        ctx.save_for_backward(sgp, spk, d_all)
        ctx.beta, ctx.thr, ctx.reset, ctx.delay = beta, thr, reset, delay
        return spk

    @staticmethod
    def backward(ctx, grad_spk):  # type: ignore[override]
        sgp, spk, d = ctx.saved_tensors
        beta, thr, reset = ctx.beta, ctx.thr, ctx.reset
        a = sgp * grad_spk
        need_beta = isinstance(beta, torch.Tensor) and ctx.needs_input_grad[1]
        need_thr = isinstance(thr, torch.Tensor) and ctx.needs_input_grad[2]
        g = a.clone() if need_beta or need_thr else a
        for t in range(g.shape[0] - 2, -1, -1):
            carry = g[t + 1] * (1 - spk[t]) if reset == "zero" else g[t + 1]
            if isinstance(beta, torch.Tensor):
                g[t].addcmul_(beta, carry)
            else:
                g[t].add_(carry, alpha=beta)
        grad_beta = grad_thr = None
        if need_beta:
            # The state β multiplied at step t, rebuilt from d: m_{t-1} (or u_{t-1}).
            prev = torch.zeros_like(d)
            prev[1:] = d[:-1] + thr
            if reset == "zero":
                prev[1:] *= 1 - spk[:-1]
            elif reset == "subtract" and not ctx.delay:
                prev[1:] -= spk[:-1] * thr
            grad_beta = _sum_to(g * prev, beta.shape)
        if need_thr:
            total = -a
            if reset == "subtract":
                # delayed: m_t has −θ s_{t−1}; same step: u_t has −θ s_t, ∂L/∂u_t = β G_{t+1}.
                if ctx.delay:
                    total[1:] -= g[1:] * spk[:-1]
                else:
                    total[:-1] -= beta * g[1:] * spk[:-1]
            grad_thr = _sum_to(total, thr.shape)
        return g, grad_beta, grad_thr, None, None, None


def _sum_to(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a gradient over the dimensions a parameter of ``shape`` was broadcast along."""
    return t.sum_to_size(shape) if len(shape) else t.sum()


def lif_sequence(x: torch.Tensor, p: LIFParameters = LIF_DEFAULTS) -> torch.Tensor:
    """Spikes ``[T, ...]`` of a LIF neuron driven by ``x`` ``[T, ...]`` from rest.

    Same spikes and gradients as looping :func:`lif_step` over ``x``; β and θ
    may be learnable tensors (gradients are summed to their shapes). Without
    gradients (evaluation) it runs the bare recursion.
    """
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"lif_sequence needs at least one time step, got shape {tuple(x.shape)}")
    beta, thr = _scalar(_beta(p.beta)), _scalar(p.threshold)
    grads = torch.is_grad_enabled() and any(
        isinstance(v, torch.Tensor) and v.requires_grad for v in (x, beta, thr)
    )
    if not grads:
        spk = torch.empty_like(x)
        _run(x.detach(), beta, thr, p.reset, p.reset_delay, spk)
        return spk
    return _LIFSequence.apply(x, beta, thr, p.reset, p.reset_delay, p.surrogate)


def leaky_integrate(x: torch.Tensor, beta: float, readout: str) -> torch.Tensor:
    """Membrane readout of a non-spiking leaky integrator ``m_t = β m_{t-1} + x_t``.

    ``x`` is ``[T, B, ...]``; ``readout="mean"`` is ``mean_t m_t`` and ``"last"``
    is ``m_T``, both computed in closed form as one weighted sum over time.
    """
    steps = x.shape[0]
    powers = torch.arange(steps, dtype=x.dtype, device=x.device)
    if readout == "last":
        weights = beta ** (steps - 1 - powers)
    elif readout == "mean":
        # Σ_{t≥s} β^{t−s} / T: the weight of input x_s in the mean membrane.
        if beta == 1.0:
            weights = (steps - powers) / steps
        else:
            weights = (1 - beta ** (steps - powers)) / ((1 - beta) * steps)
    else:
        raise ValueError(f"unknown membrane readout {readout!r}; allowed: 'mean', 'last'")
    return torch.tensordot(weights, x, dims=([0], [0]))
