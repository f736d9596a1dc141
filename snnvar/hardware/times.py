"""Times after programming, both ways: :func:`parse_time` reads ``"1h"`` or a number of
seconds, :func:`format_time` writes seconds for tables (``"1 h"``)."""

from __future__ import annotations

import math

__all__ = ["TIME_UNITS", "format_time", "parse_time"]

TIME_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "y": 3.15576e7}
"""Seconds per unit of a written time (``y``: a Julian year)."""

_TABLE_UNITS = (("y", 3.15576e7), ("d", 86400.0), ("h", 3600.0), ("min", 60.0))
"""The units :func:`format_time` writes, largest first (seconds below a minute)."""


def parse_time(text: str | float | int) -> float:
    """Seconds from ``"1"``, ``"30s"``, ``"5min"``, ``"1h"``, ``"1d"``, ``"1y"`` (a
    Julian year) or a number; negative or non-finite times are refused."""
    if isinstance(text, bool):
        raise ValueError(f"a time must be a number of seconds or e.g. '1h', got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = str(text).strip().lower()
        unit = next((u for u in sorted(TIME_UNITS, key=len, reverse=True) if s.endswith(u)), None)
        number = s[: -len(unit)] if unit else s
        try:
            value = float(number) * (TIME_UNITS[unit] if unit else 1.0)
        except ValueError:
            raise ValueError(
                f"cannot read the time {text!r}; write seconds or a number with a unit "
                f"({', '.join(TIME_UNITS)}), e.g. '1h' or '3.15e7'"
            ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a time after programming must be finite and >= 0 s, got {text!r}")
    return value


def format_time(seconds: float | None) -> str:
    """A read time for tables: ``"1 s"``, ``"1 h"``, ``"1 d"``, ``"1 y"`` (None: ``"t0"``)."""
    if seconds is None:
        return "t0"
    for unit, size in _TABLE_UNITS:
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
