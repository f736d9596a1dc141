"""evaluate_runs: run directories on the same chips, as evaluate() gives them for the
loaded models; what it refuses, before anything is loaded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from snnvar import Variation, evaluate
from snnvar.hardware import PCM, Restrictions
from snnvar.runs import WorstCaseSearch, evaluate_runs, load_run, run_dataset, train_run

from .helpers import LOOP, spec_of


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list:
    """A spiking SGD run and an ANN run of fc2 on the digits (one epoch each)."""
    root = tmp_path_factory.mktemp("runs")
    snn = spec_of(method="sgd", method_options={}, train=replace(LOOP, epochs=1))
    ann = replace(snn, spiking=False, train=replace(snn.train, encoder="none"))
    train_run(snn, root / "snn", validate=False)
    train_run(ann, root / "ann", validate=False)
    return [root / "snn", root / "ann"]


def test_runs_meet_the_chips_evaluate_gives_their_models(runs) -> None:
    conditions = {"static": Variation(0.0), "dynamic": Variation(0.0, mode="dynamic")}
    report = evaluate_runs(runs, conditions, sigmas=(0.0, 0.1), draws=3, seed=5)
    loaded = [load_run(r) for r in runs]
    by_hand = evaluate(
        {"sgd (snn)": loaded[0][0], "sgd (ann)": loaded[1][0]}, run_dataset(loaded[0][1]),
        conditions, sigmas=(0.0, 0.1), draws=3, seed=5,
        encoder={"sgd (snn)": "direct", "sgd (ann)": "none"},
        time_steps={"sgd (snn)": 2, "sgd (ann)": 2}, dataset="digits",
    )  # fmt: skip
    assert report.methods == ["sgd (snn)", "sgd (ann)"]  # one method: named by directory
    assert [r.accuracies for r in report.results] == [r.accuracies for r in by_hand.results]
    assert report.config["runs"] == [str(r) for r in runs] and report.seed == 5
    assert report.config["dataset_options"] == {}


def test_names_time_steps_and_the_worst_case(runs) -> None:
    search = WorstCaseSearch((0.05, 0.1), steps=2)
    report = evaluate_runs(
        runs, sigmas=(0.0,), draws=1, names=["spiking", "ann"], time_steps=3, worst_case=search
    )
    assert report.methods == ["spiking", "ann"]
    assert report.models["spiking"]["time_steps"] == 3
    found = [(w["method"], w["zeta"], w["steps"]) for w in report.worst_case]
    assert found == [("spiking", 0.05, 2), ("spiking", 0.1, 2), ("ann", 0.05, 2), ("ann", 0.1, 2)]
    assert all(w["accuracy"] <= w["clean_accuracy"] + 1e-12 for w in report.worst_case)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"draws": 0}, r"draws must be an integer in \[1, "),
        ({"names": ["a"]}, r"1 names for 2 runs"),
        ({"time_steps": 0}, r"time_steps must be >= 1, got 0"),
        ({"times": [1.0]}, r"times read device models"),
        ({"conditions": {"pcm": PCM()}, "times": []}, r"times is empty"),
        ({"conditions": {"pcm": PCM(time=60.0)}, "times": [1.0]}, r"both set when \['pcm'\]"),
        ({"ablation": True}, r"the ablation takes the restrictions of hardware"),
        (
            {"conditions": {"a": PCM(), "b": PCM(include=("*.0.*",))},
             "worst_case": WorstCaseSearch((0.1,))},
            r"the device models select different weights",
        ),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_before_anything_is_loaded(tmp_path, kwargs, message) -> None:
    missing = [tmp_path / "a", tmp_path / "b"]  # loading them first would fail otherwise
    with pytest.raises(ValueError, match=message):
        evaluate_runs(missing, **kwargs)


def test_no_run_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one run directory"):
        evaluate_runs([])


def test_a_bad_worst_case_search_is_refused() -> None:
    with pytest.raises(ValueError, match=r"radii ζ must lie in \[0, 1\].*got 1.5"):
        WorstCaseSearch((1.5,))
    with pytest.raises(ValueError, match=r"gives a radius twice"):
        WorstCaseSearch((0.1, 0.1))
    with pytest.raises(ValueError, match=r"unknown worst-case loss 'mse'"):
        WorstCaseSearch((0.1,), loss="mse")


def test_runs_of_other_data_set_options_are_refused(runs, tmp_path) -> None:
    small = replace(load_run(runs[1])[1], dataset_options={"size": 16})
    train_run(small, tmp_path / "small", validate=False)
    with pytest.raises(ValueError, match=r"need the same data set and data set options"):
        evaluate_runs([runs[1], tmp_path / "small"], draws=1)


def test_a_restricted_chip_deploys_every_run(runs) -> None:
    chip = Restrictions(weight_levels=16)
    report = evaluate_runs(runs[1:], sigmas=(0.0,), draws=1, hardware=chip, ablation=True)
    assert report.methods[0] == "sgd" and all(m.startswith("sgd / ") for m in report.methods[1:])
    assert report.models["sgd"]["hardware"] is not None
