"""One home for a run: RunSpec holds the whole Variation and the TrainConfig, run.json
records them losslessly (format 2; format 1 still loads), and build_trainer is the one
place a run becomes a Trainer."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from snnvar import Empirical, Variation, Weibull, datasets
from snnvar.fields import check_types, field_docs
from snnvar.runs import RunSpec, build_trainer, load_run, model_for, train_run
from snnvar.training import (
    WVAT,
    Plain,
    SWAConfig,
    TrainConfig,
    Trainer,
    create_method,
    create_optimizer,
)

LOOP = TrainConfig(epochs=2, batch_size=64, time_steps=2, encoder="direct", seed=3, progress=False)
MEASURED = Empirical.from_samples(np.random.default_rng(0).lognormal(0.0, 0.5, 200))


def _spec(**changes) -> RunSpec:
    base = RunSpec(
        model="fc2", model_options={"hidden": (16,)}, method="wvat",
        method_options={"w_th": 0.5}, variation=Variation(0.1), train=LOOP,
    )  # fmt: skip
    return replace(base, **changes)


@pytest.mark.parametrize(
    "variation",
    [
        Variation(0.05),
        Variation(0.1, distribution=Weibull(shape=2.0), relative_to="max", gamma=-1.0),
        Variation(0.1, distribution=MEASURED, mode="dynamic", redraw="pass", clip=True, levels=16),
        Variation(0.2, distribution="uniform", relative_to="weight", include_bias=True,
                  bias_reference="own", exclude=("*.2.*",), mean=0.01),
    ],
)  # fmt: skip
def test_run_json_round_trips_the_whole_variation(variation) -> None:
    spec = _spec(variation=variation, swa_start=2, dataset_options={"size": 8})
    text = json.dumps(spec.to_dict(), allow_nan=False)
    back = RunSpec.from_dict(json.loads(text))
    assert back == spec
    assert back.variation == variation and back.variation.label() == variation.label()
    assert json.loads(text)["format"] == 2 and "progress" not in json.loads(text)["train"]


def test_format_1_run_json_still_loads() -> None:
    """The flat run.json of earlier releases: sigma and gamma of a Gaussian HSV."""
    old = {
        "model": "fc2", "model_options": {"hidden": [16]}, "spiking": True, "dataset": "digits",
        "method": "wvat", "method_options": {}, "sigma": 0.05, "gamma": -1.0,
        "optimizer": "adam", "lr": 0.001, "cosine": True, "weight_decay": 0.0, "epochs": 2,
        "batch_size": 64, "time_steps": 2, "encoder": "direct", "swa_start": None,
        "warmup_epochs": 0, "seed": 3,
    }  # fmt: skip
    spec = RunSpec.from_dict(old)
    assert spec.variation == Variation(0.05, gamma=-1.0)
    assert spec.train == LOOP and spec.seed == 3 and spec.model_options == {"hidden": [16]}


def test_bad_specs_name_the_key_and_the_value() -> None:
    good = _spec().to_dict()
    cases = [
        ({**good, "train": {**good["train"], "epochs": 1.5}}, r"epochs must be an integer, got 1.5"),  # noqa: E501
        ({**good, "train": {**good["train"], "epochs": [1, 2]}}, r"epochs must be an integer"),
        ({**good, "lr": "fast"}, r"lr must be a number, got 'fast'"),
        ({**good, "cosine": "yes"}, r"cosine must be true or false, got 'yes'"),
        ({**good, "model_options": 5}, r"model_options must be a table.*got 5"),
        ({**good, "optimizer": "lbfgs"}, r"unknown optimizer 'lbfgs'; allowed: \['adam', 'sgd'\]"),
        ({**good, "format": 9}, r"format 9 is not known"),
        ({**good, "modle": "fc2"}, r"unknown run settings \['modle'\]"),
        ({**good, "train": {**good["train"], "progres": True}}, r"unknown train settings"),
        ({**good, "swa_start": 5}, r"swa_start must be in \[1, epochs\] = \[1, 2\], got 5"),
        ({**good, "variation": {**good["variation"], "sigma": 1.5}}, r"sigma must lie in \[0, 1\]"),
        ({**good, "variation": {**good["variation"], "sigmaa": 1}}, r"sigmaa"),
    ]  # fmt: skip
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            RunSpec.from_dict(data)


def test_build_trainer_is_the_hand_assembled_trainer() -> None:
    """build_trainer = seed, model, base optimizer, method with the spec's variation,
    cosine schedule, SWA and the loop: two epochs of each end bit for bit equal."""
    train = torch.utils.data.Subset(datasets.get("digits"), range(128))
    spec = _spec(swa_start=2, weight_decay=1e-4)
    trainer = build_trainer(spec, data=train)
    assert isinstance(trainer.optimizer, WVAT) and trainer.optimizer.variation == spec.variation
    assert trainer.config == LOOP and trainer.swa is not None
    trainer.fit(train)

    torch.manual_seed(3)
    from snnvar import models

    model = models.create("fc2", hidden=(16,), in_shape=(1, 8, 8), num_classes=10)
    base = create_optimizer("adam", model, 1e-3, weight_decay=1e-4)
    method = create_method("wvat", model, base, Variation(0.1), seed=3, w_th=0.5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(method, 2)
    Trainer(model, method, LOOP, scheduler=schedule, swa=SWAConfig(start_epoch=2)).fit(train)
    for (k, a), b in zip(trainer.model.state_dict().items(), model.state_dict().values(),
                         strict=True):  # fmt: skip
        assert torch.equal(a, b), k


def test_build_trainer_trains_a_given_model_and_changes_nothing_else() -> None:
    train = torch.utils.data.Subset(datasets.get("digits"), range(64))
    model = model_for(_spec(), train)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = build_trainer(_spec(method="sgd", method_options={}, cosine=False), model)
    assert trainer.model is model and isinstance(trainer.optimizer, Plain)
    assert trainer.scheduler is None and trainer.swa is None and trainer.out_dir is None
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_train_run_writes_the_full_variation_and_resume_names_what_differs(tmp_path) -> None:
    spec = _spec(variation=Variation(0.1, distribution=MEASURED, relative_to="max"),
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
    spec = replace(_spec(), dataset="mnist", dataset_options={"download": False})
    with pytest.raises(FileNotFoundError):
        train_run(spec, tmp_path / "out", root=tmp_path / "data")
    assert not (tmp_path / "out").exists()


def test_a_plain_optimizer_is_trained_as_plain_and_old_states_load() -> None:
    model = torch.nn.Linear(4, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(model, sgd, LOOP)
    assert isinstance(trainer.optimizer, Plain) and trainer.optimizer.base is sgd
    model(torch.randn(3, 4)).sum().backward()
    sgd.step()
    old_state = sgd.state_dict()  # what checkpoints of "sgd" runs held before
    twin = torch.nn.Linear(4, 2)
    plain = Plain(twin, torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9))
    plain.load_state_dict(old_state)
    momentum = plain.base.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(momentum, old_state["state"][0]["momentum_buffer"])


def test_fields_check_types_and_docs() -> None:
    assert field_docs(RunSpec)["method"] == "A name of :data:`snnvar.training.METHODS`."
    assert set(field_docs(TrainConfig)) >= {"epochs", "batch_size", "warmup_epochs"}
    check_types(LOOP)
    with pytest.raises(ValueError, match=r"seed must be an integer, got True"):
        TrainConfig(seed=True)
    with pytest.raises(TypeError, match="dataclass instance"):
        check_types(3)


def test_progress_is_not_part_of_the_run_and_legacy_gamma_alone_loads() -> None:
    spec = _spec(train=replace(LOOP, progress=True))
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    old = {"model": "fc2", "gamma": -1.0}  # format 1, σ left at its default of then
    assert RunSpec.from_dict(old).variation == Variation(0.1, gamma=-1.0)


def test_report_save_refuses_to_draw_plots(tmp_path) -> None:
    from snnvar.evaluation import Report

    report = Report(results=[], seed=0)
    with pytest.raises(TypeError, match=r"use snnvar\.evaluation\.save_report"):
        report.save(tmp_path / "r", plots=True)
    assert not (tmp_path / "r").exists()


def test_a_runs_data_is_reloaded_with_its_own_options(tmp_path) -> None:
    """load_run, convert_run and run_dataset read the run's dataset_options (a 16x16
    digits run is rebuilt for, converted on and tested with 16x16 digits)."""
    from pathlib import Path

    from snnvar.conversion import ConversionConfig
    from snnvar.runs import convert_run, run_dataset

    spec = _spec(method="sgd", method_options={}, spiking=False, dataset_options={"size": 16},
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
