"""A report's files and plots in one directory: ``report.json``, ``results.csv``,
``results.md`` (:meth:`Report.write`) and the PNGs of :func:`~snnvar.evaluation.plots.save_all`
(``accuracy.png``, plus ``landscape.png`` and ``histograms.png`` when computed).

This module depends on both :mod:`~snnvar.evaluation.report` and
:mod:`~snnvar.evaluation.plots`; neither of them depends on it.
"""

from __future__ import annotations

from pathlib import Path

from .plots import save_all
from .report import Report, prepare_out_dir

__all__ = ["save_report", "write_report"]


def write_report(report: Report, out: str | Path, plots: bool = True) -> list[Path]:
    """Write ``report``'s files and (``plots``) its PNGs into the existing directory
    ``out`` (no overwrite check); their paths."""
    out = Path(out)
    written = report.write(out)
    if plots:
        written += save_all(report, out)
    return written


def save_report(
    report: Report, out_dir: str | Path, overwrite: bool = False, plots: bool = True
) -> Path:
    """Write ``report``'s files and (``plots``) its PNGs to ``out_dir``, created if
    needed; a directory that already holds files needs ``overwrite=True``."""
    out = prepare_out_dir(out_dir, overwrite)
    write_report(report, out, plots)
    return out
