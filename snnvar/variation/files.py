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

from .config import Variation

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["variations_from_toml"]


def variations_from_toml(
    path: str | os.PathLike[str], *, default_sigma: float | None = None
) -> list[Variation]:
    """The variations of the TOML file ``path``: its ``[variation]`` table or its
    ``[[variation]]`` tables, in order.

    Data files are resolved relative to the file's folder. A table without
    ``sigma`` takes ``default_sigma`` (None: an error). Raises ``ValueError``
    naming the file (and the table) for bad TOML, other top-level keys, no
    variation, or a bad setting.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{str(file)!r} is not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(file)!r} is not a UTF-8 text file ({err})") from None
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
    tables = data["variation"]
    single = isinstance(tables, dict)
    if single:
        tables = [tables]
    if not isinstance(tables, list) or not tables:
        raise ValueError(
            f"{str(file)!r}: variation must be a [variation] table or [[variation]] tables, "
            f"got {tables!r}"
        )
    base_dir = file.parent.resolve()
    out = []
    for number, table in enumerate(tables, start=1):
        where = "[variation]" if single else f"[[variation]] #{number}"
        if not isinstance(table, dict):
            raise ValueError(f"{str(file)!r}: {where} must be a table, got {table!r}")
        try:
            out.append(Variation.from_dict(table, base_dir, default_sigma=default_sigma))
        except ValueError as err:
            raise ValueError(f"{str(file)!r}, {where}: {err}") from None
    return out
