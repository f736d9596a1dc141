"""The values of the command line's flags: the argparse types that check one (a bad
value is reported by argparse, naming the flag) and ``KEY=VALUE`` option pairs."""

from __future__ import annotations

import argparse
import ast
from typing import Any

from ..evaluation.montecarlo import MAX_DRAWS
from ..hardware import parse_time
from ..variation.seeding import MAX_SEED
from .errors import CLIError

__all__ = [
    "OPTION_TABLES",
    "chips",
    "count",
    "floats",
    "fraction",
    "ints",
    "literal",
    "parse_options",
    "radii",
    "seed_value",
    "times",
]


OPTION_TABLES = {
    "model_options": "model",
    "method_options": "method",
    "dataset_options": "dataset",
}
"""RunSpec's option tables and the prefix of their repeatable ``--X-option KEY=VALUE``."""


def literal(text: str) -> Any:
    """A flag value as a Python literal where it is one (``64``, ``(32, 16)``, ``true``)."""
    lowered = {"true": True, "false": False, "none": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """``--model-option KEY=VALUE`` pairs (``flag`` names them in errors) as a dict."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"{flag} takes KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = literal(value.strip())
    return out


def ints(text: str) -> list[int]:
    """Comma-separated integers (``16,32``)."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def seed_value(text: str) -> int:
    """A seed in [0, 2**63 - 1] (outside it, seeds would wrap onto others' chips)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must lie in [0, 2**63 - 1], got {value}")
    return value


def count(text: str) -> int:
    """An integer >= 1 (chips, steps, T)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def floats(text: str) -> list[float]:
    """Comma-separated numbers (``0,0.05,0.1``; a trailing comma is allowed)."""
    items = text.split(",")
    inner = items[1:-1] if len(items) > 2 else []
    if (len(items) > 1 and not items[0].strip()) or not all(s.strip() for s in inner):
        # "0,,0.1" or ",0.1": a value left out (a trailing comma is allowed)
        raise argparse.ArgumentTypeError(f"an empty item in {text!r}; give numbers between commas")
    try:
        return [float(s) for s in items if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def times(text: str) -> list[float]:
    """``1,1h,1d,1y`` -> seconds (argparse type of ``--times``)."""
    try:
        return [parse_time(t) for t in text.split(",") if t.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def chips(text: str) -> int:
    """Simulated chips per condition: an integer in [1, ``MAX_DRAWS``]."""
    value = count(text)
    if value > MAX_DRAWS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_DRAWS:,} chips per condition")
    return value


def fraction(text: str) -> float:
    """A σ in [0, 1], as ``--sigmas`` takes them."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1] (as --sigmas), got {value:g}")
    return value


def radii(text: str) -> list[float]:
    """Worst-case radii ζ (``0.05,0.1``), checked as :class:`~snnvar.runs.WorstCaseSearch`
    checks them."""
    from ..runs import WorstCaseSearch  # the runs import the CLI's library, not back

    zetas = floats(text)
    try:
        WorstCaseSearch(tuple(zetas))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return zetas
