"""Variation-aware training methods on the shared engine.

- :class:`NoiseInjection`: the gradient at ``w + Δw`` updates the clean ``w``
  (Joshi et al., Nat. Commun. 2020; WVAT with ``w_th = 0``).
- :class:`WVAT`: with probability ``p`` a variation ``w_v`` is added; ``u ~ U(0,1)``
  chooses the hardware-simulated ``Δw`` (``u < w_th``) or the gradient-ascent
  variation ``α ∇L/‖∇L‖ ‖Δw‖`` per tensor; the clean ``w`` is updated with
  ``∇L(w + w_v)`` (WVAT, Sec. 3.2-3.3).
- :class:`HASGD`: the mean of the gradients at ``L`` independent draws
  (HA-SGD poster; a mean shift comes through the variation).
- :class:`SAM` (Foret et al., ICLR 2021; ``adaptive=True``: Kwon et al., ICML 2021)
  and :class:`AWP` (Wu et al., NeurIPS 2020; weight perturbation only): the WVAT
  paper's baselines.

Plain SGD is the base optimizer alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..variation import Variation
from .base import Method, derive_seed, offset

__all__ = ["AWP", "HASGD", "SAM", "WVAT", "NoiseInjection", "gradient_ascent_variation"]


def _check_variation(variation: object) -> Variation:
    if not isinstance(variation, Variation):
        raise TypeError(f"variation must be a snnvar.Variation, got {type(variation).__name__}")
    return variation


def _unit(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    value = float(value)
    if not (value >= 0.0 if allow_zero else value > 0.0) or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


class NoiseInjection(Method):
    """Noise injection: ``w ← step(w, ∇L(w + Δw))`` with a fresh draw every step."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Variation,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.variation = _check_variation(variation)

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with self.variation.applied(self.model, seed=self.step_seed):
            loss = self._loss(closure)
        self.base.step()
        return loss


def gradient_ascent_variation(
    grads: dict[str, torch.Tensor], deltas: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """WVAT's GAV per tensor: ``α · g / ‖g‖ · ‖Δw‖`` (zero where ``g = 0``)."""
    out = {}
    for name, g in grads.items():
        norm = g.norm()
        scale = alpha * deltas[name].norm() / norm if norm > 0 else torch.zeros(())
        out[name] = g * scale
    return out


class WVAT(Method):
    """Weight variation-aware training (WVAT paper, Algorithm 1).

    Args:
        variation: the hardware-simulated variation (HSV), e.g. ``Variation(0.1)``.
        w_th: probability of HSV among added variations (``1 − w_th``: GAV).
        p: probability of adding a variation at all in a step.
        alpha: GAV size relative to ``‖Δw‖`` (paper: 0.01-0.1).

    ``last_kind`` is ``"none"``, ``"hsv"`` or ``"gav"``; a GAV step costs two passes.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Variation,
        w_th: float = 0.5,
        p: float = 1.0,
        alpha: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.variation = _check_variation(variation)
        self.w_th = _unit("w_th", w_th)
        self.p = _unit("p", p)
        self.alpha = _positive("alpha", alpha, allow_zero=True)
        self.last_kind = "none"

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        g = torch.Generator().manual_seed(derive_seed(self.step_seed, 0))
        add, u = float(torch.rand((), generator=g)), float(torch.rand((), generator=g))
        seed = derive_seed(self.step_seed, 1)
        if add >= self.p:
            self.last_kind = "none"
            loss = self._loss(closure)
        elif u < self.w_th:
            self.last_kind = "hsv"
            with self.variation.applied(self.model, seed=seed):
                loss = self._loss(closure)
        else:
            self.last_kind = "gav"
            loss = self._gav(closure, seed)
        self.base.step()
        return loss

    def _gav(self, closure: Callable[[], torch.Tensor], seed: int) -> torch.Tensor:
        self._loss(closure)  # ∇L at the clean weights
        targets = [t for t in self.variation.targets(self.model) if t.tensor.grad is not None]
        draw = self.variation.sample(self.model, seed=seed)
        grads = {t.name: t.tensor.grad.detach().clone() for t in targets}
        wv = gradient_ascent_variation(grads, {n: draw[n] for n in grads}, self.alpha)
        with offset({t.tensor: wv[t.name] for t in targets}):
            return self._loss(closure)


class HASGD(Method):
    """Mean of the gradients at ``samples`` independent variation draws per step."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Variation,
        samples: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.variation = _check_variation(variation)
        if not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
        self.samples = samples

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        params = [p for p in self._params() if p.requires_grad]
        total = [torch.zeros_like(p) for p in params]
        losses = []
        for i in range(self.samples):
            with self.variation.applied(self.model, seed=derive_seed(self.step_seed, i)):
                losses.append(self._loss(closure))
            for acc, p in zip(total, params, strict=True):
                if p.grad is not None:
                    acc.add_(p.grad)
        for acc, p in zip(total, params, strict=True):
            p.grad = acc.div_(self.samples)
        return torch.stack(losses).mean()


class SAM(Method):
    """Sharpness-aware minimisation: the gradient at ``w + ρ g / ‖g‖`` updates ``w``.

    ``adaptive=True`` is ASAM: ``e = ρ w² g / ‖|w| g‖``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        rho: float = 0.05,
        adaptive: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.rho = _positive("rho", rho)
        self.adaptive = adaptive

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        self._loss(closure)
        params = [p for p in self._params() if p.grad is not None]
        scaled = [(p.abs() * p.grad if self.adaptive else p.grad).detach() for p in params]
        norm = torch.linalg.vector_norm(torch.stack([s.norm() for s in scaled]))
        e = {
            p: (p.detach() ** 2 if self.adaptive else 1.0) * p.grad * (self.rho / (norm + 1e-12))
            for p in params
        }
        with offset(e):
            loss = self._loss(closure)
        self.base.step()
        return loss


class AWP(Method):
    """Adversarial weight perturbation, weights only: ``v_l = γ ‖w_l‖ g_l / ‖g_l‖``.

    Applied to tensors of dim >= 2 (Conv/Linear weights), as in Wu et al. (2020).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        gamma: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.gamma = _positive("gamma", gamma)

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        self._loss(closure)
        v = {}
        for p in self._params():
            if p.grad is None or p.dim() < 2:
                continue
            gn = p.grad.norm()
            if gn > 0:
                v[p] = p.grad * (self.gamma * p.detach().norm() / gn)
        with offset(v):
            loss = self._loss(closure)
        self.base.step()
        return loss
