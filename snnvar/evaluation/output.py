"""A report's files and plots in one directory: ``report.json``, ``results.csv``,
``results.md`` (:meth:`Report.write`) and the PNGs of :func:`~snnvar.evaluation.plots.save_all`
(``accuracy.png``, plus ``landscape.png`` and ``histograms.png`` when computed).

This module depends on both :mod:`~snnvar.evaluation.report` and
:mod:`~snnvar.evaluation.plots`; neither of them depends on it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .plots import save_all
from .report import Report, prepare_out_dir

__all__ = ["REPORT_FILES", "save_report", "write_report"]

REPORT_FILES = (
    "report.json",
    "results.csv",
    "results.md",
    "accuracy.png",
    "accuracy_time.png",
    "landscape.png",
    "histograms.png",
)
"""Every file a report writes; an overwritten report's are replaced together."""


def write_report(report: Report, out: str | Path, plots: bool = True) -> list[Path]:
    """Write ``report``'s files and (``plots``) its PNGs into the existing directory
    ``out`` (no overwrite check); their paths.

    The files are one unit: they are written into a hidden directory inside ``out``
    first and moved in when all are complete, replacing every file of a report
    already there (:data:`REPORT_FILES`: an old ``landscape.png`` does not stay
    beside a new report without one). A failure (a full disk) leaves the old files
    and no new or temporary one; the ``OSError`` names the file it could not write.
    """
    out = Path(out)
    staging = Path(tempfile.mkdtemp(prefix=".snnvar-report-", dir=out))
    try:
        try:
            staged = report.write(staging)
            if plots:
                staged += save_all(report, staging)
        except OSError as err:  # named by the staged file: name the file in ``out``
            if err.filename and Path(err.filename).parent == staging and err.errno is not None:
                raise OSError(err.errno, err.strerror, str(out / Path(err.filename).name)) from err
            raise
        for name in REPORT_FILES:
            (out / name).unlink(missing_ok=True)
        written = []
        for path in staged:
            os.replace(path, out / path.name)
            written.append(out / path.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_report(
    report: Report, out_dir: str | Path, overwrite: bool = False, plots: bool = True
) -> Path:
    """Write ``report``'s files and (``plots``) its PNGs to ``out_dir``, created if
    needed; a directory that already holds files needs ``overwrite=True``."""
    out = prepare_out_dir(out_dir, overwrite)
    write_report(report, out, plots)
    return out
