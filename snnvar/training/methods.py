"""Variation-aware training methods on the shared engine.

- :class:`NoiseInjection`: the gradient at ``w + Δw`` updates the clean ``w``
  (Joshi et al., Nat. Commun. 2020; WVAT with ``w_th = 0``, as in the paper).
- :class:`WVAT`: with probability ``p`` a variation ``w_v`` is added; ``u ~ U(0,1)``
  chooses the hardware-simulated ``Δw`` (``u < 1 − w_th``) or the gradient-ascent
  variation ``α ∇L/‖∇L‖ ‖Δw‖`` per tensor; the clean ``w`` is updated with
  ``∇L(w + w_v)`` (WVAT, Sec. 3.2-3.3).
- :class:`HASGD`: the mean of the gradients at ``L`` independent draws
  (HA-SGD poster; a mean shift comes through the variation).
- :class:`SAM` (Foret et al., ICLR 2021; ``adaptive=True``: Kwon et al., ICML 2021)
  and :class:`AWP` (Wu et al., NeurIPS 2020; weight perturbation only): the WVAT
  paper's baselines.

Plain SGD is the base optimizer alone (:class:`~snnvar.training.Plain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..variation import Variation
from ..variation.engine import programmed_delta, programs, reading_programmed
from .base import (
    Method,
    RngState,
    VariationMethod,
    derive_seed,
    frozen_norm_stats,
    offset,
    rng_state,
    set_rng_state,
)
from .registry import register_method

__all__ = [
    "AWP",
    "BOUNDARY_LOSSES",
    "HASGD",
    "SAM",
    "WVAT",
    "AdversarialRegularization",
    "NoiseInjection",
    "gradient_ascent_variation",
]


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


@register_method("noise_injection")
class NoiseInjection(VariationMethod):
    """Noise injection: ``w ← step(w, ∇L(w + Δw))`` with a fresh draw every step
    (``NoiseInjection(model, optimizer, variation, seed=0)``)."""

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        with self._draw(self.step_seed):
            self._loss(closure)
        self.base.step()


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


@register_method("wvat")
class WVAT(VariationMethod):
    """Weight variation-aware training (WVAT paper, Algorithm 1).

    Args:
        variation: the hardware-simulated variation (HSV), e.g. ``Variation(0.1)``.
        w_th: probability of GAV among added variations (``1 − w_th``: HSV), as in
            the paper (Sec. 4.1): ``w_th = 0`` is HSV only (noise injection),
            ``w_th = 1`` GAV only.
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
        super().__init__(model, optimizer, variation, seed)
        self.w_th = _unit("w_th", w_th)
        self.p = _unit("p", p)
        self.alpha = _positive("alpha", alpha, allow_zero=True)
        self.last_kind = "none"

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "w_th": self.w_th,
            "p": self.p,
            "alpha": self.alpha,
        }

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        g = torch.Generator().manual_seed(derive_seed(self.step_seed, 0))
        add, u = float(torch.rand((), generator=g)), float(torch.rand((), generator=g))
        seed = derive_seed(self.step_seed, 1)
        if add >= self.p:
            self.last_kind = "none"
            self._loss(closure)
        elif u < 1.0 - self.w_th:  # HSV with probability 1 − w_th
            self.last_kind = "hsv"
            with self._draw(seed):
                self._loss(closure)
        else:
            self.last_kind = "gav"
            self._gav(closure, seed)
        self.base.step()

    def _gav(self, closure: Callable[[], torch.Tensor], seed: int) -> None:
        """GAV on the weights the devices hold: the parameters, or on a restricted model
        before deploy the programmed W′ (:func:`~snnvar.variation.programs`), where the
        gradient, ‖Δw‖ and the shift are taken in W′'s units, as the chip's noise is."""
        every = self.variation.targets(self.model)
        seen: dict[str, list[tuple[torch.Tensor, dict[str, torch.Tensor]]]] = {}

        def capture(t: Any, value: torch.Tensor, programmed: Any) -> torch.Tensor:
            if value.requires_grad:
                value.retain_grad()  # ∂L/∂W′ of the programmed weight
            seen.setdefault(t.name, []).append((value, dict(programmed)))
            return value

        with reading_programmed(every, capture):
            self._loss(closure)  # ∇L at the clean weights (the step's first pass)
        plain = [t for t in every if not programs(t) and t.tensor.grad is not None]
        grads = {t.name: t.tensor.grad.detach().clone() for t in plain}
        deltas = {}
        if plain:
            draw = self.variation.sample(self.model, seed=seed, domain="train")
            deltas = {n: draw[n] for n in grads}
        for t in every:  # programmed weights: their own gradient and draw
            reads = [(v, p) for v, p in seen.get(t.name, []) if v.grad is not None]
            if reads:
                grads[t.name] = torch.stack([v.grad for v, _ in reads]).sum(0)
                value, programmed = reads[0]
                deltas[t.name] = programmed_delta(self.variation, t, value, programmed, seed,
                                                  domain="train")  # fmt: skip
        wv = gradient_ascent_variation(grads, deltas, self.alpha)

        def shifted(t: Any, value: torch.Tensor, _programmed: Any) -> torch.Tensor:
            return value + wv[t.name] if t.name in wv else value

        with reading_programmed(every, shifted), offset({t.tensor: wv[t.name] for t in plain}):
            self._loss(closure)


@register_method("hasgd")
class HASGD(VariationMethod):
    """Mean of the gradients at ``samples`` independent variation draws per step."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Variation,
        samples: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, variation, seed)
        if not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
        self.samples = samples
        self.last_mean_loss: torch.Tensor | None = None
        """The mean loss over the last step's draws (``step`` returns the first draw's)."""

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "samples": self.samples}

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        losses = []
        for i in range(self.samples):  # the L closures accumulate into .grad
            with self._draw(derive_seed(self.step_seed, i)):
                losses.append(self._loss(closure, zero=i == 0))
        for p in self._params():
            if p.grad is not None:
                p.grad.div_(self.samples)
        self.last_mean_loss = torch.stack(losses).mean()
        self.base.step()


@register_method("sam")
class SAM(Method):
    """Sharpness-aware minimisation: the gradient at ``w + ρ g / ‖g‖`` updates ``w``.

    ``adaptive=True`` is ASAM (Kwon et al., ICML 2021): ``e = ρ T² g / ‖T g‖``
    with ``T = |w| + η`` for parameters whose name contains ``weight`` and
    ``T = 1`` for the others (biases), as in the authors' implementation; the
    authors use ``ρ`` about ten times SAM's (0.5 on CIFAR).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        rho: float = 0.05,
        adaptive: bool = False,
        eta: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.rho = _positive("rho", rho)
        if not isinstance(adaptive, bool):
            raise ValueError(f"adaptive must be True or False, got {adaptive!r}")
        self.adaptive = adaptive
        self.eta = _positive("eta", eta, allow_zero=True)

    def hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "adaptive": self.adaptive, "eta": self.eta}

    def _scale(self) -> dict[torch.Tensor, torch.Tensor | float]:
        """T per parameter (ASAM), 1 for SAM."""
        if not self.adaptive:
            return {}
        names = {id(p): n for n, p in self.model.named_parameters()}
        return {
            p: p.detach().abs() + self.eta
            for p in self._params()
            if "weight" in names.get(id(p), "")
        }

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        self._loss(closure)
        params = [p for p in self._params() if p.grad is not None]
        t = self._scale()
        scaled = [(t.get(p, 1.0) * p.grad).detach() for p in params]
        norm = torch.linalg.vector_norm(torch.stack([s.norm() for s in scaled]))
        e = {
            p: t.get(p, 1.0) * s * (self.rho / (norm + 1e-12))
            for p, s in zip(params, scaled, strict=True)
        }
        with offset(e):
            self._loss(closure)
        self.base.step()


@register_method("awp")
class AWP(Method):
    """Adversarial weight perturbation, weights only (Wu et al., NeurIPS 2020).

    ``steps`` = K ascent steps per layer, ``v_l ← Π(v_l + (γ/K) ‖w_l‖ g_l / ‖g_l‖)``
    with ``g_l`` the gradient at ``w + v`` and Π the projection onto the ball
    ``‖v_l‖ ≤ γ ‖w_l‖``; K = 1 is ``v_l = γ ‖w_l‖ g_l / ‖g_l‖``. Applied to tensors
    of dim >= 2 (Conv/Linear weights). A step costs K + 1 passes.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        gamma: float = 0.01,
        steps: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        self.gamma = _positive("gamma", gamma)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        self.ascent_steps = steps

    def hyperparameters(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "steps": self.ascent_steps}

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        self._loss(closure)
        weights = [p for p in self._params() if p.dim() >= 2]
        radius = {p: self.gamma * p.detach().norm() for p in weights}
        v: dict[torch.Tensor, torch.Tensor] = {}
        k = self.ascent_steps
        for i in range(k):
            if i > 0:  # the gradient at w + v
                with offset(v):
                    self._loss(closure)
            for p in weights:
                if p.grad is None:
                    continue
                gn = p.grad.norm()
                if gn > 0:
                    moved = p.grad * (radius[p] / k / gn)
                    v[p] = moved if p not in v else v[p] + moved
                if k > 1 and p in v:  # K = 1 lies on the sphere by construction
                    norm = v[p].norm()
                    if norm > radius[p]:
                        v[p] = v[p] * (radius[p] / norm)
        with offset(v):
            self._loss(closure)
        self.base.step()


BOUNDARY_LOSSES = ("kl", "mse")
"""Output distances for :class:`AdversarialRegularization`."""


def _boundary(kind: str, clean: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    if kind == "kl":  # KL(softmax(clean) || softmax(other)), batch mean
        return torch.nn.functional.kl_div(
            other.log_softmax(-1), clean.log_softmax(-1), reduction="batchmean", log_target=True
        )
    return torch.nn.functional.mse_loss(other, clean)


@register_method("adversarial")
class AdversarialRegularization(VariationMethod):
    """Adversarial regularisation against parameter noise (Büchel, Faber & Muir, ICLR 2022).

    Loss = task loss under ``variation`` (the noisy forward pass)
    + ``beta`` · d(f(w, x), f(w*, x)), where ``w* = w + Δ*`` is found by
    ``attack_steps`` projected signed-gradient ascent steps on d, each of size
    ``attack_size · |w| / attack_steps``, from ``w + initial_std · |w| · ε``,
    projected onto the relative ball ``|Δ| ≤ attack_size · |w|``. The attack acts
    on the variation's selected parameters; d is ``"kl"`` (softmaxed outputs) or
    ``"mse"``; the regulariser's gradient reaches ``w`` through both outputs
    (``Δ*`` is held fixed). Reference implementation: rockpool's
    ``training.adversarial_jax``.

    ``step(closure, inputs)`` needs the batch inputs for the attack; the closure
    computes the task loss as for the other methods. ``last_attack`` holds Δ*,
    ``last_regularizer`` the step's d (the step returns the task loss alone).
    The regulariser's passes share one set of dropout masks and leave BatchNorm's
    running statistics alone.
    """

    local_passes = True
    """Its regulariser runs the model itself, outside the closure: under torch.distributed
    the Trainer averages the gradients before each base step."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Variation,
        beta: float = 0.25,
        attack_steps: int = 10,
        attack_size: float = 0.2,
        initial_std: float = 1e-3,
        boundary: str = "kl",
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, variation, seed)
        self.beta = _positive("beta", beta, allow_zero=True)
        if not isinstance(attack_steps, int) or attack_steps < 0:
            raise ValueError(f"attack_steps must be an integer >= 0, got {attack_steps!r}")
        self.attack_steps = attack_steps
        self.attack_size = _positive("attack_size", attack_size, allow_zero=True)
        self.initial_std = _positive("initial_std", initial_std, allow_zero=True)
        if boundary not in BOUNDARY_LOSSES:
            raise ValueError(
                f"unknown boundary loss {boundary!r}; allowed: {list(BOUNDARY_LOSSES)}"
            )
        self.boundary = boundary
        self.last_attack: dict[str, torch.Tensor] = {}
        """Δ* of the last step, by parameter name."""
        self.last_regularizer = torch.zeros(())

    def step(  # type: ignore[override]
        self,
        closure: Callable[[], torch.Tensor] | None = None,
        inputs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if inputs is None:
            raise ValueError(
                "AdversarialRegularization.step needs the batch inputs: step(closure, inputs=x)"
            )
        return super().step(closure, inputs)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "beta": self.beta,
            "attack_steps": self.attack_steps,
            "attack_size": self.attack_size,
            "initial_std": self.initial_std,
            "boundary": self.boundary,
        }

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        with self._draw(self.step_seed):
            self._loss(closure)  # task loss under noise; gradients kept; the first pass
        self.last_regularizer = torch.zeros(())
        if self.beta == 0.0:
            self.base.step()
            return
        x = self._inputs
        assert x is not None  # step() checked it
        params = dict(self.model.named_parameters())
        names = [t.name for t in self.variation.targets(self.model) if t.name in params]
        # The regulariser compares f(w, x) with f(w*, x) as functions of the weights:
        # every one of its passes (target, attack steps, clean, attacked) sees the same
        # dropout masks, and none of them updates BatchNorm's running statistics.
        masks = rng_state(self.model)
        delta = self.attack(x, names, derive_seed(self.step_seed, 1), masks)
        with frozen_norm_stats(self.model), torch.enable_grad():
            set_rng_state(masks)
            clean = self.model(x)
            set_rng_state(masks)
            moved = torch.func.functional_call(
                self.model, {n: params[n] + delta[n] for n in names}, (x,), strict=False
            )
            reg = _boundary(self.boundary, clean, moved)
            (self.beta * reg).backward()  # adds to the task gradients
        self.passes += 1
        self.last_regularizer = reg.detach()
        self.base.step()

    def attack(
        self,
        x: torch.Tensor,
        names: list[str],
        seed: int,
        masks: RngState | None = None,
    ) -> dict[str, torch.Tensor]:
        """Δ* of the projected signed-gradient attack on the parameters ``names``.

        ``masks``: an RNG state of the model (``snnvar.training.base.rng_state``)
        that every pass of the attack starts from (the same dropout masks); None: the current one.
        The attack's passes leave BatchNorm's running statistics alone.
        """
        with frozen_norm_stats(self.model):
            return self._attack(x, names, seed, masks)

    def _attack(
        self, x: torch.Tensor, names: list[str], seed: int, masks: RngState | None
    ) -> dict[str, torch.Tensor]:
        params = dict(self.model.named_parameters())
        if masks is None:
            masks = rng_state(self.model)
        w = {n: params[n].detach() for n in names}
        g = torch.Generator().manual_seed(seed)
        radius = {n: self.attack_size * w[n].abs() for n in names}
        delta = {  # the random start, projected onto the ball like every step
            n: _project(
                w[n].abs()
                * self.initial_std
                * torch.randn(w[n].shape, generator=g, dtype=w[n].dtype).to(w[n].device),
                radius[n],
            )
            for n in names
        }
        with torch.no_grad():
            set_rng_state(masks)
            target = self.model(x)
        for _ in range(self.attack_steps):
            leaves = {n: d.clone().requires_grad_() for n, d in delta.items()}
            with torch.enable_grad():
                set_rng_state(masks)
                out = torch.func.functional_call(
                    self.model, {n: w[n] + leaves[n] for n in names}, (x,), strict=False
                )
                grads = torch.autograd.grad(
                    _boundary(self.boundary, target, out), list(leaves.values()), allow_unused=True
                )
            self.passes += 1
            for (n, d), gr in zip(delta.items(), grads, strict=True):
                if gr is not None:
                    delta[n] = _project(d + radius[n] / self.attack_steps * gr.sign(), radius[n])
        self.last_attack = delta
        return delta


def _project(delta: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """``delta`` clipped element-wise to ``[-radius, radius]``."""
    return torch.maximum(torch.minimum(delta, radius), -radius)
