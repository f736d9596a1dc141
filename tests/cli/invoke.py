"""``main(argv)`` of the ``snnvar`` command in this process, for the command-line tests."""

from __future__ import annotations

from snnvar.cli import main


def cli(capsys, *args) -> tuple[int, str, str]:
    """``main(argv)`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as done:  # argparse: --help, usage errors
        code = int(done.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
