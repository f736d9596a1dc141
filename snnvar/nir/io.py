"""Reading and writing NIR files, and the ``nir`` package itself (an optional dependency)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_bytes

__all__ = ["plain", "read", "require_nir", "write"]


def require_nir() -> Any:
    """The ``nir`` package; an ``ImportError`` naming the extra to install without it."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - nir is in the [test] and [nir] extras
        raise ImportError("snnvar.nir needs the nir package: pip install 'snnvar[nir]'") from err
    return nir


def read(path: str | Path) -> Any:
    """``nir.read`` with a clear error for a missing or unreadable file."""
    nir = require_nir()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no NIR file at {p}")
    try:
        return nir.read(p)
    except Exception as err:  # h5py / KeyError on a corrupt or foreign file
        raise ValueError(f"{p} is not a readable NIR graph: {type(err).__name__}: {err}") from None


def write(path: str | Path, graph: Any) -> Path:
    """``nir.write`` into memory, then the bytes to ``path`` in one atomic write
    (:func:`snnvar.files.write_bytes`): a full disk is an ``OSError`` of that one
    write (h5py writing to a full disk itself can crash the process) and leaves no
    half or temporary file."""
    nir = require_nir()
    p = Path(path)
    buffer = io.BytesIO()
    nir.write(buffer, graph)
    write_bytes(p, buffer.getvalue())
    return p


def plain(v: Any) -> Any:
    """A metadata value as plain Python (``nir.read`` gives numpy scalars / bytes)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v
