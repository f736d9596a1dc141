"""Files as snnvar writes them: atomically, into output directories that are never
overwritten by accident, and without leaving empty directories behind a failure.

Every file snnvar writes (``report.json``, checkpoints, plots, ``run.json``,
NIR graphs, downloaded data) goes to a temporary file beside its destination
first and is renamed onto it when complete, so a full disk or an interrupted
run leaves either the old file or the new one, never half of one, and no
temporary file behind.

TOML files (run configurations, hardware, device and variation tables) are read
here, in one place (:func:`read_toml`): ``tomllib`` on Python 3.11+, ``tomli``
(the same parser, its backport) on 3.10.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport (a dependency there)
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "OutputExists",
    "atomic_path",
    "check_out_dir",
    "is_header",
    "prepare_out_dir",
    "read_toml",
    "removing_new_dirs",
    "write_bytes",
    "write_text",
]


class OutputExists(FileExistsError):
    """An output directory that already holds files, and no permission to replace them."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"output directory {path} already holds files; choose another or pass "
            "overwrite=True to replace them"
        )
        self.path = path
        """The directory."""


_NUMBER_LIKE = re.compile(r"^[+\-\u2212]?(\d|\.\d|(inf|infinity|nan)$)", re.IGNORECASE)


def is_header(fields: list[str]) -> bool:
    """Whether the cells of a data file's first line are a header: text in every
    column, none of it starting like a number (``0.5x`` and ``1e`` are typos in a
    value, not a column name; ``nan`` and ``inf`` are values, ``info`` is a name; a
    Unicode minus ``−0.1`` is a value too)."""
    if len(fields) > 1 and not fields[-1]:
        fields = fields[:-1]  # a trailing comma, as a data line may have
    return bool(fields) and all(f and not _NUMBER_LIKE.match(f) for f in fields)


def read_toml(path: str | Path, what: str = "TOML") -> dict[str, Any]:
    """The TOML file ``path`` as a dict. ``what`` names the file in errors
    (``"config"``, ``"hardware"``, ``"device"``, ``"variation"``).

    Raises ``ValueError`` naming the file for a missing file, a directory, a file
    that is not UTF-8 text or not valid TOML; other ``OSError`` (no permission)
    pass through.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{what} file {path} is a directory; give a .toml file") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} file {path} is not a UTF-8 text file ({err})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{what} file {path} is not valid TOML: {err}") from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that go by it
    choose the right format) to write to; renamed onto ``path`` when the block
    succeeds, removed when it fails. An ``OSError`` about the temporary file (a full
    disk) is raised again naming ``path``, the file the user asked for."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and err.filename == str(tmp) and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`); the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def check_out_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse ``path`` as an output directory (without creating it) if it is a file,
    or a directory that holds files and ``overwrite`` is false."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputExists(path)
    return path


def prepare_out_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create ``path`` for a run's outputs; an existing non-empty one needs ``overwrite``."""
    path = check_out_dir(path, overwrite)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _missing_ancestors(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist, deepest first."""
    out = []
    for p in (path, *path.parents):
        if p.exists():
            break
        out.append(p)
    return out


@contextlib.contextmanager
def removing_new_dirs(*paths: str | Path) -> Iterator[None]:
    """Remove the directories of ``paths`` (and their parents) that the block
    created, if the block fails and they are still empty: a run refused before it
    wrote anything leaves nothing that blocks its rerun."""
    new = [p for path in paths for p in _missing_ancestors(Path(path).absolute())]
    try:
        yield
    except BaseException:
        for p in sorted(set(new), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty, or not ours to remove
                p.rmdir()
        raise
