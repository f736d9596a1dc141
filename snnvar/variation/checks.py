"""Checks of configuration values shared by the variation and the device models:
finite numbers, glob patterns, module types written as names."""

from __future__ import annotations

import importlib
import math

from torch import nn

__all__ = ["finite", "module_type", "patterns", "type_name"]


def finite(name: str, value: object) -> float:
    """``value`` as a float; a bool, a non-number or a non-finite number is refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def patterns(name: str, value: object) -> tuple[str, ...]:
    """One glob pattern or an iterable of them, as a tuple of strings."""
    if isinstance(value, str):
        return (value,)
    items = tuple(value)  # type: ignore[call-overload]
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{name} must hold glob patterns (str), got {item!r}")
    return items


def type_name(kind: type) -> str:
    """``module.qualname`` of a type, e.g. ``"torch.nn.modules.linear.Linear"``."""
    return f"{kind.__module__}.{kind.__qualname__}"


def module_type(entry: object) -> type[nn.Module] | str:
    """A ``modules`` entry from its written form: a class name stays a string, a
    dotted name is imported and must be an ``nn.Module`` subclass."""
    if isinstance(entry, type):
        return entry
    if not isinstance(entry, str) or not entry:
        raise ValueError(
            "modules entries must be class names (e.g. 'Linear') or dotted paths to "
            f"nn.Module subclasses (e.g. 'torch.nn.Linear'), got {entry!r}"
        )
    if "." not in entry:
        return entry
    parts = entry.split(".")
    found: object = None
    for split in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            found = getattr(found, attr, None)
        break
    if found is None:
        raise ValueError(
            f"modules entry {entry!r} cannot be imported; allowed: a class name (e.g. "
            "'Linear') or the dotted path of an importable nn.Module subclass "
            "(e.g. 'torch.nn.Linear')"
        )
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ValueError(
            f"modules entry {entry!r} is {found!r}, not an nn.Module subclass; allowed: a "
            "class name (e.g. 'Linear') or the dotted path of an nn.Module subclass"
        )
    return found
