"""Configuration dataclasses as data: their fields' docstrings and type checks.

The command line builds its flags from the fields of :class:`~snnvar.runs.RunSpec`
and :class:`~snnvar.training.TrainConfig` (name, default, help text from the
field's docstring), and values that arrive from a TOML file, which argparse
does not convert, are checked against the fields' annotations here.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
import types
import typing
from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any

__all__ = ["check_types", "describe_type", "field_docs", "matches_type"]


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it in ``cls``'s source (its first
    paragraph, joined into one line); fields without one are left out."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source (e.g. a frozen executable)
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            first = inspect.cleandoc(after.value.value).split("\n\n")[0]
            out[node.target.id] = " ".join(first.split())
    return out


def matches_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (``bool`` is not an integer here,
    an integer is a valid float; hints this checker does not know always fit)."""
    origin = typing.get_origin(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    args = typing.get_args(hint)
    if origin is not None:
        hint = origin
    if hint in (tuple, list):
        if not isinstance(value, tuple | list):
            return False
        if hint is tuple and len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif hint is list and len(args) == 1:
            args = args * len(value)
        if not args:
            return True
        return len(args) == len(value) and all(map(matches_type, value, args))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this checker does not know: not its business


def describe_type(hint: Any) -> str:
    """``int`` -> "an integer", ``int | None`` -> "an integer or None", ..."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe_type(h) for h in typing.get_args(hint))
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "None",
        dict: "a table (KEY = VALUE pairs)",
        tuple: "a list",
        list: "a list",
    }
    base = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    if base in (tuple, list) and args and (len(args) == 1 or args[1:] == (Ellipsis,)):
        return f"a list of {_plural(describe_type(args[0]))}"
    return names.get(base, getattr(base, "__name__", str(base)))


def _plural(described: str) -> str:
    """ "an integer" -> "integers", "a number or None" -> "numbers or None"."""
    words = [w.removeprefix("an ").removeprefix("a ") for w in described.split(" or ")]
    return " or ".join(w if w == "None" or w.startswith("true") else w + "s" for w in words)


def check_types(obj: Any) -> None:
    """Raise ``ValueError`` naming the field, the value and the allowed type for the
    first field of dataclass instance ``obj`` whose value does not fit its annotation
    (``bool`` is not an integer here, an integer is a valid float)."""
    if not is_dataclass(obj):
        raise TypeError(f"check_types needs a dataclass instance, got {type(obj).__name__}")
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        hint = hints.get(f.name, Any)
        if not matches_type(value, hint):
            raise ValueError(f"{f.name} must be {describe_type(hint)}, got {value!r}")
