"""RunSpec holds the whole Variation and the TrainConfig; run.json records them
losslessly; a run file (TOML) and the command line give the same spec."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from snnvar import Variation, Weibull
from snnvar.fields import check_types, field_docs
from snnvar.hardware import PCM, Restrictions
from snnvar.runs import RunSpec
from snnvar.training import TrainConfig

from .helpers import LOOP, MEASURED, spec_of


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
    spec = spec_of(variation=variation, swa_start=2, dataset_options={"size": 8})
    text = json.dumps(spec.to_dict(), allow_nan=False)
    back = RunSpec.from_dict(json.loads(text))
    assert back == spec
    assert back.variation == variation and back.variation.label() == variation.label()
    assert json.loads(text)["format"] == 3 and "progress" not in json.loads(text)["train"]


def test_bad_specs_name_the_key_and_the_value() -> None:
    good = spec_of().to_dict()
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


def test_fields_check_types_and_docs() -> None:
    assert field_docs(RunSpec)["method"] == "A name of :data:`snnvar.training.METHODS`."
    assert set(field_docs(TrainConfig)) >= {"epochs", "batch_size", "warmup_epochs"}
    check_types(LOOP)
    with pytest.raises(ValueError, match=r"seed must be an integer, got True"):
        TrainConfig(seed=True)
    with pytest.raises(TypeError, match="dataclass instance"):
        check_types(3)


def test_progress_is_not_part_of_the_run() -> None:
    spec = spec_of(train=replace(LOOP, progress=True))
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_a_run_json_of_another_format_is_refused_naming_it() -> None:
    data = spec_of().to_dict()
    for form in (None, 2):
        with pytest.raises(ValueError, match=rf"run.json format {form!r} is not known.*reads 3"):
            RunSpec.from_dict({**data, "format": form})


RUN_FILE = """
model = "fc2"
method = "wvat"
epochs = 2
batch_size = 64
time_steps = 2
encoder = "direct"
seed = 3
sigma = 0.05
[model_options]
hidden = [16]
[method_options]
w_th = 0.5
[variation]
distribution = { empirical = "measured.csv" }
relative_to = "max"
[hardware]
weight_levels = 16
[device]
kind = "pcm"
"""


def test_a_run_file_is_the_spec_it_says(tmp_path) -> None:
    """from_toml reads every table: flat settings into RunSpec / TrainConfig, sigma into
    the [variation] table, measured data relative to the file, [hardware], [device]."""
    (tmp_path / "cfg").mkdir()
    np.savetxt(tmp_path / "cfg" / "measured.csv", MEASURED.values)
    (tmp_path / "cfg" / "run.toml").write_text(RUN_FILE)
    spec = RunSpec.from_toml(tmp_path / "cfg" / "run.toml")
    variation = Variation.from_dict(
        {"sigma": 0.05, "relative_to": "max", "distribution": {"empirical": "measured.csv"}},
        tmp_path / "cfg",
    )
    expected = replace(
        spec_of(), model_options={"hidden": [16]}, variation=variation,
        hardware=Restrictions(weight_levels=16), device_model=PCM(),
    )  # fmt: skip
    assert spec == expected
    assert spec.training_noise == PCM()  # the device model, not the variation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sigma = 0.2\n[variation]\nsigma = 0.1\n", r"sigma is given twice: sigma = 0.2 and"),
        ("modle = 'fc2'\n", r"unknown run settings \['modle'\]"),
        ("[hardware]\n", r"the \[hardware\] table is empty"),
        ("spiking = false\nencoder = 'rate'\n", r"spiking = false trains an ANN.*got 'rate'"),
        ("[[device]]\nkind = 'pcm'\n", r"a run trains with one \[device\] table"),
        ("[variation]\nsigmaa = 1\n", r"sigmaa"),
    ],
)
def test_a_bad_run_file_names_the_file_and_the_key(tmp_path, text, message) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        RunSpec.from_toml(tmp_path / "bad.toml")
    assert str(tmp_path / "bad.toml") in str(info.value)


def test_an_ann_run_file_reads_its_inputs_as_they_are(tmp_path) -> None:
    (tmp_path / "ann.toml").write_text("spiking = false\n")
    spec = RunSpec.from_toml(tmp_path / "ann.toml")
    assert (spec.spiking, spec.encoder) == (False, "none")
    with pytest.raises(ValueError, match=r"run file .*missing.toml does not exist"):
        RunSpec.from_toml(tmp_path / "missing.toml")
