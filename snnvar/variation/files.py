"""Variations from a TOML file.

One variation::

    [variation]
    sigma = 0.1
    distribution = { empirical = "measured.csv" }   # relative to this file's folder
    relative_to = "max"

or several (an array of tables), each of which may leave ``sigma`` to the
caller (``default_sigma``; e.g. an evaluation that sweeps σ)::

    [[variation]]
    distribution = "gaussian"

    [[variation]]
    distribution = { weibull = { shape = 1.5 } }
    mode = "dynamic"

The keys of a table are the fields of :class:`~snnvar.Variation`; see
:meth:`Variation.from_dict <snnvar.Variation.from_dict>` and
:func:`~snnvar.variation.distribution_from_dict` for the values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..files import read_toml
from .config import Variation

__all__ = ["variation_tables", "variations_from_tables", "variations_from_toml"]


def variation_tables(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], bool]:
    """The raw ``[variation]`` table (``single`` True) or ``[[variation]]`` tables of
    the TOML file ``path``, in order. Raises ``ValueError`` naming the file for bad
    TOML, other top-level keys or no variation."""
    file = Path(path)
    data = read_toml(file, "variation")
    other = [k for k in data if k != "variation"]
    if other:
        raise ValueError(
            f"{str(file)!r}: unknown top-level key(s) {other}; allowed: ['variation'] "
            "(one [variation] table or several [[variation]] tables)"
        )
    if "variation" not in data:
        raise ValueError(
            f"{str(file)!r} holds no variation; write one [variation] table or several "
            "[[variation]] tables"
        )
    return _as_tables(data["variation"], repr(str(file)))


def _as_tables(tables: Any, where: str) -> tuple[list[dict[str, Any]], bool]:
    single = isinstance(tables, dict)
    if single:
        tables = [tables]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ValueError(
            f"{where}: variation must be a [variation] table or [[variation]] tables, "
            f"got {tables!r}"
        )
    return [dict(t) for t in tables], single


def variations_from_tables(
    tables: Any,
    base_dir: str | os.PathLike[str] | None = None,
    *,
    default_sigma: float | None = None,
    where: str = "the variation",
) -> dict[str, Variation]:
    """Label -> Variation of ``[variation]`` / ``[[variation]]`` tables (as TOML
    gives them): each table's optional ``name`` is its label, else
    :meth:`Variation.label`; two tables with one label are refused. Data files are
    resolved relative to ``base_dir``; a table without ``sigma`` takes
    ``default_sigma`` (None: an error)."""
    tables, single = _as_tables(tables, where)
    out: dict[str, Variation] = {}
    for number, table in enumerate(tables, start=1):
        at = f"{where}, " + ("[variation]" if single else f"[[variation]] #{number}")
        name = table.pop("name", None)
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{at}: name must be a non-empty string, got {name!r}")
        try:
            v = Variation.from_dict(table, base_dir, default_sigma=default_sigma)
        except ValueError as err:
            raise ValueError(f"{at}: {err}") from None
        label = name or v.label()
        if label in out:
            raise ValueError(
                f"{at} has the label {label!r} of an earlier table; tell them apart with "
                'name = "..."'
            )
        out[label] = v
    return out


def variations_from_toml(
    path: str | os.PathLike[str], *, default_sigma: float | None = None
) -> dict[str, Variation]:
    """Label -> Variation of the TOML file ``path``: its ``[variation]`` table or its
    ``[[variation]]`` tables, in order (:func:`variations_from_tables`; data files
    relative to the file's folder). The result goes straight into
    :func:`snnvar.evaluate` (``default_sigma=0.0`` with ``sigmas=`` to sweep)."""
    file = Path(path)
    tables, single = variation_tables(file)
    return variations_from_tables(
        tables[0] if single else tables, file.parent.resolve(), default_sigma=default_sigma,
        where=repr(str(file)),
    )  # fmt: skip
