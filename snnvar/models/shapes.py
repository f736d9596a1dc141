"""Checks of the zoo builders' shape options."""

from __future__ import annotations

__all__ = ["check_shape", "hidden_widths"]


def hidden_widths(hidden: tuple[int, ...], classes: int) -> tuple[int, ...]:
    """``hidden`` checked: every width and ``classes`` >= 1 (a zero-width layer
    trains to chance and cannot be evaluated)."""
    hidden = tuple(hidden)
    if any(int(w) < 1 for w in hidden):
        raise ValueError(f"hidden widths must be >= 1, got {list(hidden)}")
    if int(classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {classes}")
    return hidden


def check_shape(name: str, in_shape: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """``in_shape`` as ``rank`` positive integers, else a ``ValueError`` naming ``name``."""
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != rank or min(in_shape) < 1:
        raise ValueError(f"{name}: in_shape must be {rank} positive sizes, got {in_shape}")
    return in_shape
