"""Checks of hardware settings: numbers that must be positive, non-negative or a
fraction (device models, faults) and optional ones (circuit restrictions).
Each returns the value as a float, or raises ``ValueError`` naming the setting."""

from __future__ import annotations

import math

from ..variation.checks import finite

__all__ = ["fraction", "int_at_least", "nonnegative", "optional_positive", "positive"]


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
