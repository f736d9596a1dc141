"""The worst-case chip: the weight perturbation within a relative ball that hurts a
model most (Büchel, Faber & Muir, "Network insensitivity to parameter noise via
adversarial regularization", ICLR 2022, their test-time attack on the weights).

Projected signed-gradient ascent: ``steps`` steps of size ``zeta · |w| / steps``
from a small random start (``initial_std · |w| · ε``), each projected onto
``|Δ| ≤ zeta · |w|`` element-wise, on the weights a :class:`~snnvar.Variation`
selects (default: the weights of Linear and Conv layers). SNNs are attacked
through their surrogate gradients. The model is evaluated in eval mode
(BatchNorm keeps its running statistics), and its weights are restored bit for bit.

The objective the ascent maximises (``loss``):

- ``"kl"``: the KL divergence ``KL(softmax(f(w, x)) || softmax(f(w + Δ, x)))``
  between the clean network's output and the attacked one, summed over the
  samples. This is the paper's attack (Büchel et al., Sec. 3; rockpool's
  ``training.adversarial_jax.pga_attack`` with its KL boundary loss): it needs
  no labels and moves the network away from what it computed. (rockpool's
  attack takes the boundary loss as an argument and moves every parameter without
  a projection; here the selected weights move within the ball.) The KL divergence
  and its gradient vanish at Δ = 0, so it needs the random start (``initial_std
  > 0``).
- ``"ce"`` (the default): the cross-entropy on the labels, a label-aware attack
  that aims at misclassification directly.

Neither is the stronger attack on every network: on the demo's SNN the
cross-entropy finds the worse chip for SGD, the KL divergence for WVAT at
ζ ≥ 5 % (BENCHMARKS.md, "The worst-case objective"); the worst case of a
comparison is the lower of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..datasets.batches import prepare
from ..hardware.checks import refuse_undeployed
from ..hardware.readout import output_reads
from ..nn.modes import eval_mode
from ..variation import Perturbation, Variation
from ..variation.seeding import derive_seed
from .montecarlo import run_pass

__all__ = ["ATTACK_LOSSES", "WorstCase", "worst_case", "worst_case_attack"]

ATTACK_LOSSES = ("ce", "kl")
"""What :func:`worst_case_attack` can maximise: ``"ce"``, the cross-entropy on the
labels, or ``"kl"``, the KL divergence to the clean network's output (Büchel et al.)."""


@dataclass(frozen=True)
class WorstCase:
    """The result of :func:`worst_case_attack`."""

    accuracy: float
    """Accuracy (fraction) of the model with the worst-case perturbation."""
    clean_accuracy: float
    """Accuracy of the unperturbed model on the same data."""
    loss: float
    """Mean cross-entropy on the labels under the attack (whichever ``objective``)."""
    zeta: float
    """Radius of the relative ball."""
    steps: int
    """Ascent steps."""
    seed: int
    """Seed of the random start and of the input encoding."""
    delta: dict[str, torch.Tensor]
    """The perturbation found, per parameter name."""
    objective: str = "ce"
    """What the ascent maximised: ``"ce"`` or ``"kl"`` (:data:`ATTACK_LOSSES`)."""


def _selected(model: nn.Module, selection: Perturbation | None) -> list[str]:
    params = dict(model.named_parameters())
    chosen = (selection or Variation(sigma=0.0)).targets(model)
    names = [t.name for t in chosen if t.name in params]
    if not names:
        raise ValueError("the selection picks no parameters of the model to attack")
    return names


def worst_case_attack(
    model: nn.Module,
    data: Any,
    zeta: float = 0.1,
    steps: int = 10,
    seed: int = 0,
    *,
    variation: Perturbation | None = None,
    attack_samples: int | None = 1024,
    initial_std: float = 1e-3,
    encoder: str | None = None,
    time_steps: int | None = None,
    batch_size: int = 256,
    loss: str = "ce",
) -> WorstCase:
    """Search the worst chip within ``|Δw| ≤ zeta · |w|`` (see the module docstring).

    Args:
        model: any model; evaluated in eval mode and left as it was.
        data: a Dataset, a DataLoader or an ``(inputs, targets)`` pair.
        zeta: radius of the relative ball (0.05, 0.1: ζ = 5 / 10 %), >= 0.
        steps: ascent steps (Büchel et al. use 10), >= 1.
        seed: seed of the random start, of the input encoding and, on a chip with output
            noise (``Restrictions.output_noise``), of its reads (recorded).
        variation: selects the attacked weights (its ``targets``); None: Linear / Conv.
        attack_samples: the first samples whose loss the attack maximises (None: all);
            the accuracy is measured on all of ``data``.
        initial_std: random start, relative to ``|w|``.
        encoder, time_steps, batch_size: as for :func:`snnvar.evaluate`.
        loss: the objective, ``"ce"`` (cross-entropy on the labels) or ``"kl"`` (KL
            divergence to the clean network's output, no labels: the paper's).
    """
    if loss not in ATTACK_LOSSES:
        raise ValueError(f"unknown attack loss {loss!r}; allowed: {list(ATTACK_LOSSES)}")
    if loss == "kl" and not initial_std > 0:
        raise ValueError(
            "the KL attack needs initial_std > 0: at Δ = 0 the KL divergence and its gradient "
            f"are 0 (its minimum), so the ascent could not start; got {initial_std!r}"
        )
    refuse_undeployed(model, "worst_case_attack")
    if isinstance(zeta, bool) or not isinstance(zeta, int | float) or not zeta >= 0:
        raise ValueError(f"zeta must be a number >= 0, got {zeta!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if attack_samples is not None and (
        isinstance(attack_samples, bool) or not isinstance(attack_samples, int)
        or attack_samples < 1
    ):  # fmt: skip
        raise ValueError(f"attack_samples must be an integer >= 1 or None, got {attack_samples!r}")
    batches = prepare(data, model, encoder, time_steps, batch_size, seed)
    names = _selected(model, variation)
    params = dict(model.named_parameters())
    w = {n: params[n].detach() for n in names}
    radius = {n: float(zeta) * w[n].abs() for n in names}
    gen = torch.Generator().manual_seed(derive_seed(seed, 7))
    delta = {
        n: _clip(initial_std * w[n].abs() * torch.randn(
            w[n].shape, generator=gen, dtype=w[n].dtype).to(w[n].device), radius[n])
        for n in names
    }  # fmt: skip
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    # a chip with output noise reads it from its own seed (not one of evaluate's chips)
    with eval_mode(model), output_reads(model, seed=derive_seed(seed, 7, 1)):
        clean = run_pass(model, batches, spikes=False).accuracy
        targets = _clean_outputs(model, batches, attack_samples, device) if loss == "kl" else []
        for _ in range(steps):
            grads = {n: torch.zeros_like(w[n]) for n in names}
            for i, (x, y) in enumerate(_attacked_batches(batches, attack_samples)):
                x, y = x.to(device), y.to(device)
                leaves = {n: d.clone().requires_grad_() for n, d in delta.items()}
                with torch.enable_grad():
                    out = torch.func.functional_call(
                        model, {n: w[n] + leaves[n] for n in names}, (x,), strict=False
                    ).float()
                    if loss == "kl":  # KL(p_clean || p_attacked), summed over the samples
                        objective = nn.functional.kl_div(
                            out.log_softmax(-1), targets[i], reduction="sum", log_target=True
                        )
                    else:
                        objective = nn.functional.cross_entropy(out, y, reduction="sum")
                    got = torch.autograd.grad(objective, list(leaves.values()), allow_unused=True)
                for n, g in zip(names, got, strict=True):
                    if g is not None:
                        grads[n] += g
            delta = {n: _clip(delta[n] + radius[n] / steps * grads[n].sign(), radius[n])
                     for n in names}  # fmt: skip
        originals = {n: params[n].data for n in names}
        try:
            for n in names:
                params[n].data = w[n] + delta[n]
            attacked = run_pass(model, batches, spikes=False)
        finally:
            for n in names:
                params[n].data = originals[n]
    return WorstCase(
        accuracy=attacked.accuracy,
        clean_accuracy=clean,
        loss=attacked.loss,
        zeta=float(zeta),
        steps=steps,
        seed=seed,
        delta=delta,
        objective=loss,
    )


def worst_case(
    model: nn.Module,
    data: Any,
    zeta: float = 0.1,
    steps: int = 10,
    seed: int = 0,
    **options: Any,
) -> float:
    """The accuracy (fraction) of ``model`` on its worst-case chip within
    ``|Δw| ≤ zeta · |w|`` (:func:`worst_case_attack`; ``options`` are its keywords)."""
    return worst_case_attack(model, data, zeta, steps, seed, **options).accuracy


def _attacked_batches(batches: Any, attack_samples: int | None) -> Any:
    """The batches (the last one cut) holding the first ``attack_samples`` samples."""
    seen = 0
    for x, y in batches:
        if attack_samples is not None and seen >= attack_samples:
            return
        if attack_samples is not None:
            x, y = _head(x, y, attack_samples - seen, batches.encoder)
        seen += len(y)
        yield x, y


@torch.no_grad()
def _clean_outputs(
    model: nn.Module, batches: Any, attack_samples: int | None, device: torch.device
) -> list[torch.Tensor]:
    """The clean network's log-probabilities on each attacked batch (the KL's target)."""
    return [
        model(x.to(device)).float().log_softmax(-1)
        for x, _ in _attacked_batches(batches, attack_samples)
    ]


def _clip(delta: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    return torch.clamp(delta, -radius, radius)


def _head(
    x: torch.Tensor, y: torch.Tensor, n: int, encoder: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` samples of a batch (time-major inputs of the spike encoders)."""
    if n >= len(y):
        return x, y
    time_major = encoder in ("rate", "direct", "latency", "frames")
    return (x[:, :n] if time_major else x[:n]), y[:n]
