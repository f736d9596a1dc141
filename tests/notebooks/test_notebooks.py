"""The three notebooks run top to bottom (issue 8), on the embedded data and on
small data in each real data set's on-disk layout, with small settings injected
after the cell tagged ``parameters`` (papermill's convention)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from snnvar.evaluation.report import Report
from tests.datasets.fakes import write_cifar10, write_mnist, write_nmnist

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("01_train_spiking_cnn", "02_convert_wvat_vgg16", "03_nmnist_under_variation")

SMALL = {
    "01_train_spiking_cnn": {
        "EPOCHS": 1, "TRAIN_SAMPLES": 128, "TEST_SAMPLES": 48, "TIME_STEPS": 3, "CHIPS": 2,
        "SIGMAS": (0.0, 0.1),
    },
    "02_convert_wvat_vgg16": {
        "WIDTH": 0.125, "TRAIN_SAMPLES": 96, "TEST_SAMPLES": 24, "EPOCHS": 2,
        "WARMUP_EPOCHS": 1, "CALIBRATION": 16, "TIME_STEPS": 6, "SWEEP": (3, 6),
        "FINETUNE_SAMPLES": 16, "CHIPS": 2, "SIGMAS": (0.0, 0.1),
    },
    "03_nmnist_under_variation": {
        "TIME_BINS": 4, "TRAIN_SAMPLES": 64, "TEST_SAMPLES": 24, "HIDDEN": (16, 8), "EPOCHS": 1,
        "CHIPS": 2, "SIGMAS": (0.0, 0.1),
    },
}  # fmt: skip
"""Per notebook: the overrides that make it run in seconds."""

EMBEDDED = {
    "01_train_spiking_cnn": "digits",
    "02_convert_wvat_vgg16": "digits",
    "03_nmnist_under_variation": "digits_events",
}
"""Per notebook: the embedded data set it reads without ``SNNVAR_DATA``."""

IMAGES = {"01_train_spiking_cnn": 3, "02_convert_wvat_vgg16": 2, "03_nmnist_under_variation": 4}
"""Per notebook: the figures it shows."""

EXPECTED_METHODS = {
    "01_train_spiking_cnn": ["sgd", "wvat"],
    "02_convert_wvat_vgg16": [
        "sgd/ann",
        "wvat/ann",
        "wvat/converted",
        "wvat/finetuned",
    ],
    "03_nmnist_under_variation": ["sgd", "wvat"],
}


MODELS = {
    "01_train_spiking_cnn": '{m: (trained[m], "direct", TIME_STEPS) for m in trained}',
    "02_convert_wvat_vgg16": (
        '{"sgd/ann": (anns["sgd"], "none", 1), "wvat/ann": (anns["wvat"], "none", 1), '
        '"wvat/converted": (snn, "direct", TIME_STEPS), "wvat/finetuned": (tuned, "direct", '
        "TIME_STEPS)}"
    ),
    "03_nmnist_under_variation": '{m: (trained[m], "frames", 1) for m in trained}',
}
"""Per notebook: method -> (model, encoder, T), an expression in the notebook's names."""

HAND_CHECK = """
import json as _json

import torch as _torch

from snnvar import Variation as _Variation
from snnvar import datasets as _datasets
from snnvar.evaluation import chip_seed as _chip_seed

_x = _torch.stack([test[i][0] for i in range(len(test))])
_y = _torch.tensor([int(test[i][1]) for i in range(len(test))])
_hand = {}
for _method, (_model, _encoder, _steps) in (MODELS).items():
    _model.eval()
    _inputs = _datasets.encode(_x, _encoder, _steps)
    _row = {}
    with _torch.no_grad():
        _row["clean"] = int((_model(_inputs).argmax(-1) == _y).sum()) / len(_y)
        for _mode in MODES:
            _v = _Variation(max(SIGMAS), mode=_mode)
            _row[_mode] = []
            for _k in range(CHIPS):
                with _v.applied(_model, seed=_chip_seed(SEED, _k)):
                    _out = _model(_inputs)
                _row[_mode].append(int((_out.argmax(-1) == _y).sum()) / len(_y))
    _hand[_method] = _row
with open("hand_check.json", "w") as _f:
    _json.dump(_hand, _f)
"""
"""Appended to each notebook: every method's accuracy on the clean model and on each chip
at the largest σ, by hand (the chip's seed applied to the model, the whole test set in one
batch, as the evaluation's one batch of at most 256 samples), written to hand_check.json."""


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def execute(name: str, cwd: Path, overrides: dict) -> nbformat.NotebookNode:
    """Run the notebook in ``cwd`` with ``overrides`` injected; raises on any cell error."""
    nb = load(name)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters', found {len(tagged)}"
    source = "\n".join(f"{key} = {value!r}" for key, value in overrides.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, injected)
    modes = ("static", "dynamic") if name == "03_nmnist_under_variation" else ("static",)
    check = HAND_CHECK.replace("(MODELS)", MODELS[name]).replace("MODES", repr(modes))
    nb.cells.append(nbformat.v4.new_code_cell(check, metadata={"tags": ["hand-check"]}))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def report_of(name: str, cwd: Path, overrides: dict) -> tuple[Report, dict]:
    """The saved report and the accuracies computed by hand in the kernel."""
    nb = execute(name, cwd, overrides)
    images = sum(
        "image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", [])
    )
    assert images == IMAGES[name], f"{name}: expected {IMAGES[name]} figures, found {images}"
    out = cwd / "runs" / name
    return Report.load(out / "report.json"), json.loads((cwd / "hand_check.json").read_text())


def check(report: Report, hand: dict, name: str, chips: int, dataset: str) -> None:
    assert report.methods == EXPECTED_METHODS[name]
    assert report.dataset == dataset
    for row in report.results:
        assert len(row.accuracies) == chips
    noisy = [r for r in report.results if r.sigma > 0]
    assert noisy and all(len(set(r.seeds)) == chips for r in noisy)
    # every chip's accuracy is the one computed by hand in the notebook's kernel
    sigma = max(SMALL[name]["SIGMAS"])
    assert sorted(hand) == sorted(report.methods)
    for method, by_hand in hand.items():
        assert report.row(method, 0.0).accuracies == [by_hand["clean"]] * chips, method
        for mode in ("static", "dynamic"):
            if mode in by_hand:
                row = report.row(method, sigma, mode)
                assert row.accuracies == by_hand[mode], (method, mode)
                assert row.accuracy_mean == pytest.approx(sum(by_hand[mode]) / chips)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_on_embedded_data(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SNNVAR_DATA", raising=False)
    report, hand = report_of(name, tmp_path, SMALL[name])
    dataset = EMBEDDED[name]
    check(report, hand, name, SMALL[name]["CHIPS"], dataset)


def test_notebook_02_converts_a_residual_network(tmp_path: Path, monkeypatch) -> None:
    """The conversion notebook's flow with ``MODEL = "resnet20"``, as its first cell says."""
    monkeypatch.delenv("SNNVAR_DATA", raising=False)
    name = "02_convert_wvat_vgg16"
    overrides = dict(SMALL[name], MODEL="resnet20", WIDTH=0.25, PERCENTILE=99.9)
    report, hand = report_of(name, tmp_path, overrides)
    check(report, hand, name, SMALL[name]["CHIPS"], "digits")
    thresholds = report.config["notebook"]["thresholds"]
    assert "layers_3.post.0" in thresholds  # the neurons on the first block's sum


def write_real_layout(name: str, root: Path) -> str:
    """Small data in the real layout of the set ``name`` reads from ``SNNVAR_DATA``."""
    if name == "01_train_spiking_cnn":
        write_mnist(root / "mnist", n_train=40, n_test=12)
        return "mnist"
    if name == "02_convert_wvat_vgg16":
        write_cifar10(root / "cifar-10-batches-py", {"data_batch_1": 40, "test_batch": 12})
        return "cifar10"
    write_nmnist(root, "Train", digits=(0, 1, 2, 3))
    write_nmnist(root, "Test", digits=(4, 5))
    return "nmnist"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_on_real_layout(name: str, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "data"
    dataset = write_real_layout(name, root)
    monkeypatch.setenv("SNNVAR_DATA", str(root))
    overrides = dict(SMALL[name], TRAIN_SAMPLES=None, TEST_SAMPLES=None)
    if name == "02_convert_wvat_vgg16":
        overrides["CALIBRATION"] = 8
    report, hand = report_of(name, tmp_path, overrides)
    check(report, hand, name, SMALL[name]["CHIPS"], dataset)


def _executor():
    """``notebooks/execute.py``, the script that stores the executed notebooks."""
    spec = importlib.util.spec_from_file_location("notebook_execute", NOTEBOOKS / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _printed(nb: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs
    )


@pytest.mark.parametrize("name", NAMES)
def test_notebook_in_git_is_executed_and_has_a_full_size_switch(name: str) -> None:
    nb = load(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # executed top to bottom once, from a fresh kernel, without an error or injected cell
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), name
    assert not any(o.output_type == "error" for c in code for o in c.outputs), name
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in code)
    assert not any("execution" in c.metadata for c in nb.cells), "timestamps: noise in git"
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images == IMAGES[name], f"{name}: stored with {images} figures"
    # the outputs were produced by these code cells, on the embedded data, and tell the story
    executor = _executor()
    meta = nb.metadata["snnvar"]
    assert meta["source_sha256"] == executor.source_digest(nb), (
        f"{name}: code changed since its outputs were stored; run python notebooks/execute.py"
    )
    assert meta["dataset"] == EMBEDDED[name]
    modes = ["", " (dynamic)"] if name == "03_nmnist_under_variation" else [""]
    expected = sorted(m + mode for m in EXPECTED_METHODS[name] for mode in modes)
    assert sorted(meta["headline"]) == expected, name
    assert executor.story(name, meta["headline"]) == []
    # the stored headline is what its outputs print (the report's table, two decimals)
    printed = _printed(nb)
    for method, figures in meta["headline"].items():
        for label, (mean, std, _) in figures.items():
            text = f"{mean:.2f}" if label == "clean" else f"{mean:.2f} ± {std:.2f}"
            assert text in printed, (name, method, label, text)
    assert meta["seed"] == 0 and meta["wall_s"] < 300, meta
    switch = [c for c in code if c.source.startswith("FULL = False\nif FULL:")]
    assert len(switch) == 1, f"{name}: expected one 'FULL = False / if FULL:' cell"
    params = next(c for c in code if "parameters" in c.metadata.get("tags", []))
    assert 'os.environ.get("SNNVAR_DATA")' in params.source
    assert set(SMALL[name]) <= {line.split(" = ")[0] for line in params.source.splitlines()}


@pytest.mark.notebook_defaults
@pytest.mark.parametrize("name", NAMES)
def test_stored_outputs_match_a_fresh_run(name: str, tmp_path: Path) -> None:
    """The outputs in git come from this code: a fresh run at the defaults (embedded data)
    prints the stored headline within the executor's TOLERANCE (the same machine
    reproduces it exactly; another CPU trains through other roundings)."""
    executor = _executor()
    stored = load(name).metadata["snnvar"]["headline"]
    nb, _ = executor.run(name, tmp_path)
    fresh = executor.headline(json.loads(executor.report_path(name, tmp_path).read_text()))
    assert sorted(fresh) == sorted(stored)
    for method, figures in stored.items():
        assert sorted(fresh[method]) == sorted(figures), method
        for label, (mean, std, chips) in figures.items():
            new_mean, _, new_chips = fresh[method][label]
            assert new_chips == chips, (method, label)
            limit = executor.allowed(std, chips)
            assert abs(new_mean - mean) <= limit, (method, label, mean, new_mean, limit)
    assert executor.story(name, fresh) == []
    printed = _printed(nb)
    for method, figures in fresh.items():  # the fresh run prints its own headline
        for mean, _, _ in figures.values():
            assert f"{mean:.2f}" in printed, (method, mean)


def test_tolerance_and_story_of_a_fresh_run() -> None:
    """The accepted difference: TOLERANCE for one evaluation (no variation), widened by two
    standard errors of the stored mean over its chips, up to 12 points; the story's checks."""
    executor = _executor()
    assert executor.allowed(0.0, 5) == executor.TOLERANCE == 5.0
    assert executor.allowed(8.0, 4) == pytest.approx(13.0)
    assert executor.allowed(30.0, 3) == pytest.approx(17.0)
    told = {"sgd": {"clean": [97.5, 0, 5], "sigma=0.1": [40.4, 18.5, 5]},
            "wvat": {"clean": [96.0, 0, 5], "sigma=0.1": [50.4, 9.3, 5]}}  # fmt: skip
    assert executor.story("01_train_spiking_cnn", told) == []
    told["wvat"]["clean"][0] = 95.4
    told["wvat"]["sigma=0.1"][0] = 50.3
    assert executor.story("01_train_spiking_cnn", told) == [
        "wvat is 2.10 points below sgd without variation",
        "wvat leads sgd by 9.90 points at sigma=0.1",
    ]
    report = {
        "results": [
            {"method": "sgd", "sigma": 0.0, "accuracy_mean": 0.975, "accuracy_std": 0.0,
             "accuracies": [0.975, 0.975]},
            {"method": "sgd", "sigma": 0.1, "mode": "dynamic", "accuracy_mean": 0.40391,
             "accuracy_std": 0.18524, "accuracies": [0.2, 0.6]},
        ]
    }  # fmt: skip
    assert executor.headline(report) == {
        "sgd": {"clean": [97.5, 0.0, 2]}, "sgd (dynamic)": {"sigma=0.1": [40.39, 18.52, 2]}
    }  # fmt: skip


def test_docs_link_every_notebook() -> None:
    guide = (NOTEBOOKS.parent / "docs" / "guide" / "notebooks.md").read_text()
    for name in NAMES:
        assert f"](../notebooks/{name}.ipynb)" in guide, f"the notebooks guide does not link {name}"
    assert "](docs/guide/notebooks.md)" in (NOTEBOOKS.parent / "README.md").read_text()
    assert json.loads((NOTEBOOKS / f"{NAMES[0]}.ipynb").read_text())["nbformat"] == 4
