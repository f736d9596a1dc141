"""The installed snnvar's version (``snnvar.__version__``, reports, ``snnvar --version``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["package_version"]


def package_version() -> str:
    """The version of the installed distribution (``0.0.0+unknown`` from a bare source
    tree); a module of its own so that any part of snnvar can read it without
    importing the package root."""
    try:
        return version("snnvar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"
