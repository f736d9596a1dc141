"""Progress bars that show where a person watches and stay out of logs.

tqdm redraws a bar by rewriting its line; where stderr is not a terminal (a log
file, CI, a pipe) every redraw becomes a line of its own (thousands in one
demo log). :func:`progress_bar` therefore shows a bar on a terminal and in
Jupyter, and none elsewhere; ``SNNVAR_PROGRESS=1`` shows it anyway and
``SNNVAR_PROGRESS=0`` never.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # In Jupyter without ipywidgets, tqdm.auto warns at import ("IProgress not found")
    # and falls back to the text bar: that fallback is fine, and the warning would sit
    # at the top of every notebook that imports snnvar.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["progress_bar", "shows_progress"]


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    ip = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    return type(ip).__name__ == "ZMQInteractiveShell"


def shows_progress(enabled: bool = True) -> bool:
    """Whether a bar asked for (``enabled``) is shown: on a terminal or in Jupyter,
    unless ``SNNVAR_PROGRESS`` says otherwise (``1``: always, ``0``: never)."""
    if not enabled:
        return False
    forced = os.environ.get("SNNVAR_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) or _in_jupyter()


def progress_bar(iterable: Any = None, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled unless :func:`shows_progress`."""
    return tqdm(iterable, disable=not shows_progress(enabled), **kwargs)
