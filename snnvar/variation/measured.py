"""Read measured device variation from files: samples and histograms.

Used by :func:`~snnvar.variation.distribution_from_dict` for the TOML forms
``distribution = { empirical = "measured.csv" }`` (samples) and
``distribution = { empirical = { histogram = "hist.csv" } }``.

Samples files
    ``.npy``: a numeric array (``numpy.save``), flattened; read with
    ``allow_pickle=False``. Any other suffix (``.csv``, ``.txt``, ...): text
    with one value per line. Blank lines and lines starting with ``#`` are
    ignored; the first other line may be a header, text in every column that
    does not start like a number (``error``; ``0.5x`` is a typo, not a header);
    a header is said in a ``UserWarning``.
    Any other non-numeric line, or a line with several comma-separated columns,
    is an error naming the file and the line.

Histogram files
    ``.npz``: the arrays ``counts`` (one per bin) and ``edges`` (one more,
    increasing), nothing else. Any other suffix: CSV rows ``low,high,count``,
    one per bin, contiguous (each row's ``low`` equals the previous row's
    ``high``); blank lines, ``#`` lines and one header line are allowed as above.

The values are returned as read (float64); standardising them is
:meth:`Empirical.from_samples` / :meth:`Empirical.from_histogram`'s job.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..files import is_header

__all__ = ["read_histogram", "read_samples", "resolve_path"]


def resolve_path(
    path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None = None
) -> Path:
    """``path`` as an absolute path: itself if absolute, else relative to ``base_dir``
    (None: the current directory). Raises ``ValueError`` if no file is there."""
    p = Path(path).expanduser()
    base = Path.cwd() if base_dir is None else Path(base_dir)
    resolved = p if p.is_absolute() else base / p
    if not resolved.is_file():
        where = "the current directory" if base_dir is None else f"base_dir {str(base)!r}"
        relative = "" if p.is_absolute() else f" (resolved relative to {where})"
        raise ValueError(f"no such file {str(path)!r}: {str(resolved)!r}{relative}")
    return resolved


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _rows(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the data lines: no blanks, comments or header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(path)!r} is not a UTF-8 text file ({err})") from None
    rows: list[tuple[int, str]] = []
    first = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if first:
            first = False
            if is_header([f.strip() for f in line.split(",")]):
                warnings.warn(  # said, so that a header is never a value dropped unseen
                    f"{str(path)!r}, line {number}: {line!r} read as a header", stacklevel=3
                )
                continue
        rows.append((number, line))
    return rows


def _text_error(path: Path, number: int, line: str, expected: str) -> ValueError:
    return ValueError(f"{str(path)!r}, line {number}: {line!r} is not {expected}")


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{str(path)!r} is not a readable .npy array file ({err})") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ValueError(f"{str(path)!r} is an .npz archive; a samples file needs one array (.npy)")
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"{str(path)!r} holds an array of dtype {array.dtype}; samples must be numeric "
            "(integer or float)"
        )
    return array.astype(np.float64).ravel()


def read_samples(path: str | os.PathLike[str]) -> np.ndarray:
    """The measured samples in ``path`` as a flat float64 array (see the module doc).

    Raises ``ValueError`` naming the file if it holds no values or a line that
    is not one number.
    """
    p = Path(path)
    if p.suffix.lower() == ".npz":
        raise ValueError(
            f"{str(p)!r} is an .npz archive; a samples file is .npy or text with one value "
            "per line (an .npz with counts and edges is a histogram: "
            "{ empirical = { histogram = ... } })"
        )
    if p.suffix.lower() == ".npy":
        values = _load_npy(p)
    else:
        out: list[float] = []
        for number, line in _rows(p):
            if "," in line and len([f for f in line.split(",") if f.strip()]) > 1:
                raise _text_error(p, number, line, "one value (several comma-separated columns)")
            value = _number(line.rstrip(",").strip())
            if value is None:
                raise _text_error(p, number, line, "a number")
            out.append(value)
        values = np.asarray(out, dtype=np.float64)
    if values.size == 0:
        raise ValueError(f"{str(p)!r} holds no values")
    return values


def read_histogram(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the histogram in ``path`` (see the module doc), float64.

    Raises ``ValueError`` naming the file (and row) for a malformed file or
    bins that are not contiguous.
    """
    p = Path(path)
    if p.suffix.lower() == ".npz":
        try:
            archive = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{str(p)!r} is not a readable .npz archive ({err})") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{str(p)!r} is not an .npz archive of counts and edges")
        with archive:
            names = sorted(archive.files)
            if names != ["counts", "edges"]:
                raise ValueError(
                    f"{str(p)!r} holds the arrays {names}; a histogram .npz holds exactly "
                    "['counts', 'edges']"
                )
            arrays = {}
            for name in names:
                try:
                    array = archive[name]
                except ValueError as err:
                    raise ValueError(f"{str(p)!r}: array {name!r} is unreadable ({err})") from None
                if array.dtype.kind not in "iuf":
                    raise ValueError(
                        f"{str(p)!r}: array {name!r} has dtype {array.dtype}; it must be numeric"
                    )
                arrays[name] = array.astype(np.float64).ravel()
        return arrays["counts"], arrays["edges"]
    counts: list[float] = []
    edges: list[float] = []
    for number, line in _rows(p):
        fields = [f.strip() for f in line.split(",")]
        values = [_number(f) for f in fields]
        if len(fields) != 3 or any(v is None for v in values):
            raise _text_error(p, number, line, "a histogram row low,high,count")
        low, high, count = (float(v) for v in values)  # type: ignore[arg-type]
        if not low < high:
            raise _text_error(p, number, line, "a bin with low < high")
        if edges and low != edges[-1]:
            raise _text_error(
                p, number, line, f"contiguous with the previous bin (which ends at {edges[-1]!r})"
            )
        if not edges:
            edges.append(low)
        edges.append(high)
        counts.append(count)
    if not counts:
        raise ValueError(f"{str(p)!r} holds no histogram rows (low,high,count)")
    return np.asarray(counts, dtype=np.float64), np.asarray(edges, dtype=np.float64)
