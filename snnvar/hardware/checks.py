"""Checks of hardware settings: numbers that must be positive, non-negative or a
fraction (device models, faults) and optional ones (circuit restrictions).
Each returns the value as a float, or raises ``ValueError`` naming the setting. And
:func:`refuse_undeployed`: a restricted model must be deployed before its chips are
drawn."""

from __future__ import annotations

import math

from torch import nn

from ..variation.checks import finite

__all__ = [
    "fraction",
    "int_at_least",
    "nonnegative",
    "optional_positive",
    "positive",
    "refuse_undeployed",
]


def positive(name: str, value: object) -> float:
    """``value`` as a finite float > 0."""
    v = finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def nonnegative(name: str, value: object) -> float:
    """``value`` as a finite float >= 0."""
    v = finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def fraction(name: str, value: object) -> float:
    """``value`` as a float in [0, 1]."""
    v = finite(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def optional_positive(name: str, value: object) -> float | None:
    """None (the setting is off), or ``value`` as a finite float > 0 (a bool is refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def int_at_least(name: str, value: object, low: int) -> None:
    """Refuse ``value`` unless it is None (the setting is off) or an integer >= ``low``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low} or None, got {value!r}")


def refuse_undeployed(model: nn.Module, where: str, name: str | None = None) -> None:
    """Raise ``ValueError`` if ``model`` is restricted but not deployed: a chip's
    variation (or a worst-case attack) belongs on the weights it programs, which only
    :func:`~snnvar.hardware.deploy` writes into the parameters. ``where`` names the
    caller and ``name`` the model in the message."""
    from .restrict import restricted_layers

    layers = [path for path, m in restricted_layers(model).items() if not m.deployed]
    if layers:
        what = f"model {name!r}" if name is not None else "the model"
        raise ValueError(
            f"{where}: {what} is restricted (snnvar.hardware.restrict) but not deployed "
            f"(layers {layers}): its variation must land on the programmed weights W', not "
            "on the float weights before programming; pass snnvar.hardware.deploy(model), "
            "the chip after programming"
        )
