"""``snnvar export RUN --nir FILE``: the graph file, its report, chips, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from snnvar import Variation
from snnvar import nir as snn_nir
from snnvar.evaluation.montecarlo import chip_seed
from snnvar.runs import load_run

from .invoke import cli

TINY = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--time-steps", "3",
        "--encoder", "direct", "--no-progress")  # fmt: skip
ZERO = ("--model-option", "reset=zero")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    from snnvar.cli import main

    assert main(["train", *TINY, *ZERO, "--out", str(out)]) == 0
    return out


def test_export_writes_the_graph_and_its_report(run, tmp_path, capsys) -> None:
    path = tmp_path / "fc2.nir"
    code, out, err = cli(capsys, "export", run, "--nir", path)
    assert code == 0, err
    model, _ = load_run(run)
    graph = snn_nir.read(path)
    np.testing.assert_array_equal(graph.nodes["layers_1"].weight,
                                  model.layers[1].weight.detach().numpy())  # fmt: skip
    x = (torch.rand(3, 4, 1, 8, 8) < 0.5).float()
    assert torch.equal(snn_nir.from_nir(path)(x), model(x))
    report = json.loads((tmp_path / "fc2.nir.json").read_text())
    assert report["metadata"]["encoder"] == "direct" and report["metadata"]["time_steps"] == 3
    assert [n["type"] for n in report["nodes"]] == [
        "Input", "Flatten", "Affine", "LIF", "Affine", "Output",
    ]  # fmt: skip
    assert "| layers_2 | LIF | 16 | layers.2 |" in out and "the trained weights" in out
    code, _, err = cli(capsys, "export", run, "--nir", path)
    assert code == 2 and "--overwrite" in err
    assert cli(capsys, "export", run, "--nir", path, "--overwrite")[0] == 0


def test_export_a_chip(run, tmp_path, capsys) -> None:
    path = tmp_path / "chip.nir"
    code, out, err = cli(capsys, "export", run, "--nir", path, "--chip", 3, "--sigma", 0.1,
                         "--seed", 7)  # fmt: skip
    assert code == 0, err
    model, _ = load_run(run)
    with Variation(sigma=0.1).applied(model, seed=chip_seed(7, 3)):
        expected = model.layers[3].weight.detach().clone()
    graph = snn_nir.read(path)
    np.testing.assert_array_equal(graph.nodes["layers_3"].weight, expected.numpy())
    assert graph.metadata["chip"] == 3 and graph.metadata["chip_seed"] == chip_seed(7, 3)
    assert "chip 3 at σ = 0.1" in out


def test_export_from_a_config_file(run, tmp_path, capsys) -> None:
    config = tmp_path / "export.toml"
    path = tmp_path / "cfg.nir"
    config.write_text(f'nir = "{path}"\nchip = 1\nsigma = 0.05\n\n[variation]\n'
                      'distribution = "uniform"\n')  # fmt: skip
    code, out, err = cli(capsys, "export", run, "--config", config)
    assert code == 0, err
    model, _ = load_run(run)
    with Variation(sigma=0.05, distribution="uniform").applied(model, seed=chip_seed(0, 1)):
        expected = model.layers[1].weight.detach().clone()
    np.testing.assert_array_equal(snn_nir.read(path).nodes["layers_1"].weight, expected.numpy())
    assert "uniform" in out
    code, _, err = cli(capsys, "export", run)
    assert code == 2 and "needs --nir FILE" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--chip", "1"), "chip and sigma go together"),
     (("--sigma", "0.1"), "chip and sigma go together"),
    (("--chip", "-1", "--sigma", "0.1"), "chip must lie in [0, 99,999]"),
     (("--nir", "x.json"), "give the graph file (e.g. model.nir)")],
)  # fmt: skip
def test_export_usage_errors(run, tmp_path, capsys, args, message) -> None:
    nir_args = () if "--nir" in args else ("--nir", tmp_path / "m.nir")
    code, _, err = cli(capsys, "export", run, *nir_args, *args)
    assert code == 2 and message in err
    assert not (tmp_path / "m.nir").exists()


def test_export_refuses_a_subtract_reset_run_in_one_line(tmp_path, capsys) -> None:
    from snnvar.cli import main

    assert main(["train", *TINY, "--out", str(tmp_path / "soft")]) == 0
    code, _, err = cli(capsys, "export", tmp_path / "soft", "--nir", tmp_path / "m.nir")
    assert code == 2
    assert "--model-option reset=zero" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.nir").exists() and not (tmp_path / "m.nir.json").exists()
