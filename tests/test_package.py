"""Packaging: the public API, and snnvar importable without the optional norse."""

from __future__ import annotations

import subprocess
import sys

import snnvar


def test_public_api() -> None:
    for name in ("Variation", "Draw", "Empirical", "Weibull", "preset", "__version__"):
        assert hasattr(snnvar, name)
    assert callable(snnvar.models.create) and callable(snnvar.nn.lif_step)
    assert snnvar.__version__.count(".") >= 2


def test_import_without_norse() -> None:
    code = (
        "import sys; sys.modules['norse'] = None\n"
        "import torch, snnvar\n"
        "m = torch.nn.Linear(3, 2)\n"
        "snnvar.models.create('fc2', neuron='snntorch')\n"
        "with snnvar.Variation(0.1).applied(m, seed=0): m(torch.ones(1, 3))\n"
        "try:\n"
        "    snnvar.models.create('fc2', neuron='norse')\n"
        "except ImportError as e:\n"
        "    assert 'snnvar[norse]' in str(e)\n"
        "else:\n"
        "    raise SystemExit('a norse model was built without norse')\n"
        "assert 'norse' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
