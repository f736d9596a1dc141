"""Run directories: train_run writes one, load_run rebuilds it with its own data set
options, a failure leaves nothing behind."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from snnvar import Variation
from snnvar.runs import load_run, train_run

from .helpers import LOOP, MEASURED, spec_of


def test_train_run_writes_the_full_variation_and_resume_names_what_differs(tmp_path) -> None:
    spec = spec_of(variation=Variation(0.1, distribution=MEASURED, relative_to="max"),
                 train=replace(LOOP, epochs=1))  # fmt: skip
    train_run(spec, tmp_path / "run", validate=False)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["variation"]["distribution"] == {"empirical": {"values": list(MEASURED.values)}}
    assert saved["variation"]["relative_to"] == "max"
    _, loaded = load_run(tmp_path / "run")
    assert loaded == spec
    other = replace(spec, variation=replace(spec.variation, sigma=0.2), lr=2e-3)
    differ = r"variation\.sigma: saved 0\.1, given 0\.2; lr: saved 0\.001, given 0\.002\)"
    with pytest.raises(ValueError, match=differ):
        train_run(other, tmp_path / "run", resume=True, validate=False)


def test_a_missing_data_set_leaves_no_run_directory(tmp_path) -> None:
    spec = replace(spec_of(), dataset="mnist", dataset_options={"download": False})
    with pytest.raises(FileNotFoundError):
        train_run(spec, tmp_path / "out", root=tmp_path / "data")
    assert not (tmp_path / "out").exists()


def test_a_runs_data_is_reloaded_with_its_own_options(tmp_path) -> None:
    """load_run, convert_run and run_dataset read the run's dataset_options (a 16x16
    digits run is rebuilt for, converted on and tested with 16x16 digits)."""
    from pathlib import Path

    from snnvar.conversion import ConversionConfig
    from snnvar.runs import convert_run, run_dataset

    spec = spec_of(method="sgd", method_options={}, spiking=False, dataset_options={"size": 16},
                 train=replace(LOOP, epochs=1, encoder="none"))  # fmt: skip
    train_run(spec, tmp_path / "ann", validate=False)
    model, loaded = load_run(tmp_path / "ann")
    assert loaded.dataset_options == {"size": 16}
    test = run_dataset(loaded)
    assert tuple(test[0][0].shape) == (1, 16, 16) and len(test) == 360
    assert model(test[0][0][None]).shape == (1, 10)
    assert tuple(run_dataset(loaded, train=True)[0][0].shape) == (1, 16, 16)
    info = convert_run(tmp_path / "ann", tmp_path / "snn",
                       ConversionConfig(time_steps=2, encoder="direct"), calibration=8)  # fmt: skip
    with torch.no_grad():  # the ANN's accuracy on the 16x16 test set, computed here
        xs = torch.stack([test[i][0] for i in range(len(test))])
        ys = torch.tensor([int(test[i][1]) for i in range(len(test))])
        mine = float((model(xs).argmax(1) == ys).float().mean())
    # convert_run tested the same ANN on the same images (one tie may break otherwise)
    assert abs(info["ann_accuracy"] - mine) <= 1 / len(test) and mine > 0.2
    _snn, snn_spec = load_run(tmp_path / "snn")
    assert snn_spec.dataset_options == {"size": 16}
    # no path reloads a run's data set without its options
    root = Path(__file__).resolve().parents[1]
    offenders = [
        p.relative_to(root).as_posix()
        for folder in ("snnvar", "benchmarks")
        for p in (root / folder).rglob("*.py")
        if "datasets.get(spec.dataset" in p.read_text(encoding="utf-8") and p.name != "runs.py"
    ]
    assert offenders == []
