"""The optimizer wrapper every variation-aware method shares.

A method wraps an already-built torch optimizer and keeps the ``torch.optim``
contract: ``step(closure)``, ``zero_grad``, ``param_groups`` *shared* with the
base optimizer (so LR schedulers act on both), and ``state_dict`` /
``load_state_dict``. The closure recomputes the loss and its gradients
(``loss = criterion(model(x), y); loss.backward(); return loss``), as for LBFGS
or SAM; the method zeroes the gradients before every closure call, so a
closure need not. Weights are perturbed only through :mod:`snnvar.variation`
(or, for gradient-ascent steps, by an exactly restored in-place offset).

Every step draws its randomness from ``step_seed``, a function of the method's
``seed`` and its step count: replicas of a data-parallel job that share the
seed apply the same perturbation at the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ..variation.seeding import derive_seed

__all__ = ["Method", "derive_seed"]


class Method(torch.optim.Optimizer):
    """Base class of the variation-aware methods (see the module docstring).

    Attributes: ``base`` (the wrapped optimizer), ``model``, ``seed``, ``steps``
    (steps taken), ``passes`` (forward/backward passes spent, i.e. closure calls).
    A method whose ``needs_inputs`` is True is stepped as ``step(closure, inputs=x)``.
    """

    needs_inputs: bool = False

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, seed: int = 0) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model)}")
        if isinstance(optimizer, Method):
            raise ValueError("wrap the base optimizer, not another method")
        super().__init__(optimizer.param_groups, optimizer.defaults)
        self.base = optimizer
        self.model = model
        self.param_groups = optimizer.param_groups  # shared: schedulers see one list
        self.defaults = optimizer.defaults
        self.state = optimizer.state
        self.seed = int(seed)
        self.steps = 0
        self.passes = 0

    # -- the torch.optim contract -----------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def step(  # type: ignore[override]
        self, closure: Callable[[], torch.Tensor] | None = None, plain: bool = False
    ) -> torch.Tensor:
        """One training step; ``closure`` is required. ``plain``: a step of the wrapped
        optimizer alone (a warm-up step: no variation, not counted in ``steps``)."""
        if closure is None:
            raise ValueError(
                f"{type(self).__name__}.step needs a closure that recomputes the loss, calls "
                "backward() and returns the loss: def closure(): loss = loss_fn(model(x), y); "
                "loss.backward(); return loss"
            )
        if plain:
            loss = self._loss(closure)
            self.base.step()
            return loss
        loss = self._step(closure)
        self.steps += 1
        return loss

    def _step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"base": self.base.state_dict(), "method": self._method_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"base", "method"}:
            raise ValueError(
                f"not a {type(self).__name__} state dict: keys {sorted(state_dict)}, "
                "expected ['base', 'method']"
            )
        self.base.load_state_dict(state_dict["base"])
        self.param_groups = self.base.param_groups
        self.state = self.base.state
        method = state_dict["method"]
        if method.get("name") != type(self).__name__:
            raise ValueError(f"state dict of {method.get('name')!r} given to {type(self).__name__}")
        self.seed, self.steps, self.passes = method["seed"], method["steps"], method["passes"]

    def _method_state(self) -> dict[str, Any]:
        return {
            "name": type(self).__name__,
            "seed": self.seed,
            "steps": self.steps,
            "passes": self.passes,
        }

    # -- helpers for the methods ------------------------------------------------------

    @property
    def step_seed(self) -> int:
        """The seed of the current step (the same on every replica)."""
        return derive_seed(self.seed, self.steps)

    def _loss(self, closure: Callable[[], torch.Tensor], zero: bool = True) -> torch.Tensor:
        """Zero the gradients (unless ``zero=False``: accumulate), call the closure (one
        forward/backward pass), check its loss."""
        if zero:
            self.zero_grad()
        with torch.enable_grad():
            loss = closure()
        self.passes += 1
        if not isinstance(loss, torch.Tensor):
            raise ValueError(
                f"the closure must return the loss tensor (after calling backward()), "
                f"got {type(loss).__name__}"
            )
        return loss.detach()

    def _params(self) -> Iterator[torch.Tensor]:
        for group in self.param_groups:
            yield from group["params"]


@contextmanager
def offset(tensors: dict[torch.Tensor, torch.Tensor]) -> Iterator[None]:
    """Add ``tensors[p]`` to each ``p`` in place; restore the exact values on exit."""
    saved = {p: p.detach().clone() for p in tensors}
    try:
        with torch.no_grad():
            for p, v in tensors.items():
                p.add_(v)
        yield
    finally:
        with torch.no_grad():
            for p, clean in saved.items():
                p.copy_(clean)
