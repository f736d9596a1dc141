"""``import snnvar`` stays light: conversion, datasets, training, runs and the CLI are
package attributes imported on first access (PEP 562)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import snnvar

LAZY = ("cli", "conversion", "datasets", "runs", "training")


def test_lazy_submodules_are_not_imported_until_used() -> None:
    code = (
        "import sys, snnvar\n"
        "assert 'snnvar.conversion' not in sys.modules, 'conversion imported eagerly'\n"
        "assert 'snnvar.training' not in sys.modules, 'training imported eagerly'\n"
        "assert 'snnvar.runs' not in sys.modules and 'snnvar.cli' not in sys.modules\n"
        "convert = snnvar.conversion.convert\n"
        "assert 'snnvar.conversion' in sys.modules and callable(convert)\n"
        "assert snnvar.training.Trainer.__name__ == 'Trainer'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_attributes_are_listed_and_unknown_ones_refused() -> None:
    names = dir(snnvar)
    for name in (*LAZY, "evaluation", "models", "nn", "Variation"):
        assert name in names, name
    assert snnvar.datasets.get is not None and snnvar.cli.main is not None
    with pytest.raises(AttributeError, match="'snnvar' has no attribute 'no_such_module'"):
        _ = snnvar.no_such_module
