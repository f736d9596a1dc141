"""The command line's usage error."""

from __future__ import annotations

__all__ = ["CLIError"]


class CLIError(Exception):
    """A usage error: printed as one line, exit status 2."""
