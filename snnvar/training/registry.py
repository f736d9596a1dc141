"""Training methods by name, for configuration files and the command line:
``@register_method(name)`` at a method's class, ``create_method(name, ...)`` to build one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, overload

import torch
from torch import nn

from ..registry import Registry
from ..variation import Variation
from .base import Method, Plain, VariationMethod

__all__ = [
    "METHODS",
    "OPTIMIZERS",
    "create_method",
    "create_optimizer",
    "method_options",
    "register_method",
]

METHODS: Registry[type[Method]] = Registry("method")
"""Method name -> class, read-only (``sgd``: :class:`Plain`, the base optimizer alone);
:func:`register_method` adds one."""


@overload
def register_method(name: str) -> Callable[[type[Method]], type[Method]]: ...


@overload
def register_method(name: str, cls: type[Method]) -> type[Method]: ...


def register_method(name: str, cls: type[Method] | None = None) -> Any:
    """Add a method: ``@register_method("name")`` above a subclass of :class:`Method`
    (of :class:`VariationMethod` if it perturbs through a Variation), or
    ``register_method("name", cls)``. Its ``__init__`` takes ``(model, optimizer,
    [variation,] ..., seed=0)``; the keyword arguments in between are the options
    :func:`create_method` accepts. A name already taken is refused."""

    def add(method: type[Method]) -> type[Method]:
        if not (isinstance(method, type) and issubclass(method, Method)):
            raise TypeError(f"method {name!r} must be a subclass of Method, got {method!r}")
        return METHODS.register(name, method)

    return add if cls is None else add(cls)


register_method("sgd", Plain)

OPTIMIZERS = ("adam", "sgd")
"""Base optimizers by name: Adam, or SGD with momentum."""


def create_optimizer(
    name: str, model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """A base optimizer over ``model``'s parameters."""
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    raise ValueError(f"unknown optimizer {name!r}; allowed: {list(OPTIMIZERS)}")


def create_method(
    name: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    variation: Variation | None = None,
    seed: int = 0,
    **options: Any,
) -> Method:
    """The method ``name`` wrapping ``optimizer`` (``sgd``: :class:`Plain`).

    Methods that perturb through the engine (:class:`VariationMethod`: noise
    injection, WVAT, HA-SGD, adversarial regularisation) need ``variation``; the
    others ignore it. ``options`` are the method's hyperparameters (e.g. ``w_th``,
    ``samples``, ``rho``).
    """
    cls = METHODS[name]
    if issubclass(cls, VariationMethod):
        if variation is None:
            raise ValueError(f"method {name!r} needs a variation (e.g. Variation(sigma=0.1))")
        options = {"variation": variation, **options}
    allowed = method_options(name)
    takes_any = any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()
    )
    unknown = [k for k in options if k not in allowed and k != "variation"]
    if unknown and not takes_any:
        raise ValueError(
            f"unknown option(s) {unknown} for method {name!r}; allowed: {allowed or 'none'}"
        )
    try:
        return cls(model, optimizer, seed=seed, **options)
    except TypeError as err:
        raise ValueError(f"bad options for method {name!r}: {err}") from None


def method_options(name: str) -> list[str]:
    """The hyperparameters method ``name`` takes (its keyword arguments beyond the model,
    the optimizer, the variation and the seed)."""
    params = inspect.signature(METHODS[name].__init__).parameters
    skip = {"self", "model", "optimizer", "variation", "seed"}
    return [p for p in params if p not in skip and params[p].kind is not params[p].VAR_KEYWORD]
