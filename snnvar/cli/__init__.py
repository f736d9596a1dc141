"""The ``snnvar`` command: ``train``, ``evaluate``, ``convert``, ``export`` and ``demo``.

``snnvar train``'s flags are the fields of :class:`~snnvar.runs.RunSpec` and
:class:`~snnvar.training.TrainConfig` (name, default and help text come from
the dataclasses). Every option is a flag and may also come from a TOML file
(``--config FILE``; its keys are the flags' names with underscores, flags
given on the command line win); the training variation is a ``[variation]``
table with :class:`~snnvar.Variation`'s field names (measured device data from
a file too), and ``snnvar evaluate --variation FILE`` tests on chips drawn
from one or several such tables. Results go to a directory that is never
overwritten without ``--overwrite``.

The package is a parser (``parser``), the merging of a ``--config`` file under
the flags (``config``) and thin commands over :mod:`snnvar.runs` (``commands``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from ..distributed import RankError
from ..files import OutputExists
from ..runs import SettingsDiffer
from .commands import COMMANDS, interrupted_hint, join_group
from .config import flag_for, parse_args
from .errors import CLIError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def _failure(err: BaseException, args: argparse.Namespace | None) -> tuple[str, int] | None:
    """The one-line message and exit status of an error ``main`` reports (None: not
    one of them, a bug: its traceback)."""
    if isinstance(err, SettingsDiffer):  # named by the flags that set them
        listed = "; ".join(f"{flag_for(k)}: saved {a!r}, given {b!r}" for k, a, b in err.pairs)
        return (
            f"the run at {err.path} was made with other settings ({listed}); give the saved "
            "values with --resume, or train into a new --out", 2,
        )  # fmt: skip
    if isinstance(err, OutputExists):  # the library's message speaks Python; this one the CLI's
        return (
            f"output directory {err.path} already holds files; choose another --out, or add "
            "--overwrite to replace them", 2,
        )  # fmt: skip
    if isinstance(err, CLIError | ValueError | FileExistsError | FileNotFoundError):
        return str(err), 2
    if isinstance(err, RankError):
        return str(err), 1
    if isinstance(err, FloatingPointError):  # training diverged
        return (
            f"training diverged ({err}); lower --lr or the method's step sizes (a run that "
            "diverged after its first checkpoint keeps its files: rerun with --overwrite)", 1,
        )  # fmt: skip
    if isinstance(err, OSError):  # a read-only or full disk: what failed, not a traceback
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        return f"{err.strerror or err}{where}", 1
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snnvar`` console script: 0 on success, 2 for a usage
    error (one line naming what is wrong), 1 when a file cannot be written (a
    read-only or full disk) or a process of a torchrun group failed, 130 when
    interrupted (Ctrl-C)."""
    group = False
    args = None
    # a warning is one line, as the errors are (no source line, no file:line); the
    # process's own format comes back when main returns (main may run in a notebook)
    formatwarning = warnings.formatwarning
    warnings.formatwarning = lambda message, *_a, **_k: f"snnvar: warning: {message}\n"
    try:
        args = parse_args(argv)
        group = join_group(args.command)
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"\nsnnvar: interrupted{interrupted_hint(args)}", file=sys.stderr)
        return 130
    except Exception as err:
        failure = _failure(err, args)
        if failure is None:
            raise
        print(f"snnvar: error: {failure[0]}", file=sys.stderr)
        return failure[1]
    finally:
        warnings.formatwarning = formatwarning
        if group:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
