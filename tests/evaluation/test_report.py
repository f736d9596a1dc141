"""Reports (JSON schema and round-trip, CSV, Markdown), loss landscapes, weight
histograms and plots."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

import snnvar
from snnvar import Variation, datasets, models
from snnvar.evaluation import (
    REQUIRED_ROW_KEYS,
    Report,
    Row,
    chip_seed,
    loss_landscape,
    weight_histograms,
)
from snnvar.variation.seeding import derive_seed

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pair() -> dict:
    torch.manual_seed(0)
    a = models.create("fc2", in_shape=(1, 8, 8), hidden=(24,))
    b = models.create("fc2", in_shape=(1, 8, 8), hidden=(24,))
    return {"sgd": a, "wvat": b}


@pytest.fixture(scope="module")
def data() -> Subset:
    return Subset(datasets.get("digits", train=False), range(40))


@pytest.fixture(scope="module")
def report(pair, data) -> Report:
    r = snnvar.evaluate(
        pair, data, [Variation(0.1), Variation(0.1, mode="dynamic")],
        sigmas=(0.0, 0.05, 0.1), draws=3, seed=4, time_steps=3, dataset="digits",
    )  # fmt: skip
    r.landscape = loss_landscape(pair, data, sigmas=(0.0, 0.1), directions=2, seed=4, time_steps=3)
    r.histograms = weight_histograms(pair, bins=10)
    return r


def test_json_round_trip_and_schema(report, tmp_path) -> None:
    out = report.save(tmp_path / "run", plots=False)
    data = json.loads((out / "report.json").read_text())
    for key in ("snnvar_version", "seed", "dataset", "model", "results"):
        assert key in data
    assert data["snnvar_version"] == snnvar.__version__ and data["seed"] == 4
    assert data["dataset"] == "digits" and data["model"] == "fc2"
    for row in data["results"]:
        assert set(REQUIRED_ROW_KEYS) <= set(row)
        assert isinstance(row["spikes"], dict) and row["spikes"]
    loaded = Report.load(out)
    assert loaded.to_dict() == report.to_dict()
    assert len(data["results"]) == 2 * 2 * 3  # methods x modes x sigmas


def test_csv_and_markdown(report) -> None:
    rows = list(csv.DictReader(io.StringIO(report.csv())))
    assert len(rows) == 12 and rows[0]["method"] == "sgd"
    assert float(rows[1]["accuracy_mean"]) == pytest.approx(report.results[1].accuracy_mean)
    assert "spikes:layers.2" in rows[0]
    md = report.markdown()
    lines = md.strip().splitlines()
    assert lines[0] == (
        "| method | variation | σ = 0 % | σ = 5 % | σ = 10 % | worst chip, σ = 10 % |"
    )
    r = report.row("wvat", 0.1, "dynamic")
    cell = f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f}"
    head = "| wvat | gaussian, range, dynamic/step |"
    assert any(line.startswith(head) and cell in line for line in lines)
    assert len(lines) == 2 + 4
    with pytest.raises(ValueError, match="no rows at sigma"):
        report.markdown(sigmas=(0.3,))
    with pytest.raises(KeyError, match="no row for method='adam'"):
        report.row("adam", 0.1)


def test_files_and_plots_are_written_and_never_overwritten(report, tmp_path) -> None:
    out = report.save(tmp_path / "run")
    for name in ("report.json", "results.csv", "results.md"):
        assert (out / name).stat().st_size > 0
    for name in ("accuracy.png", "landscape.png", "histograms.png"):
        blob = (out / name).read_bytes()
        assert blob.startswith(PNG) and len(blob) > 5000
    before = (out / "report.json").read_text()
    with pytest.raises(
        FileExistsError, match=r"already holds files; choose another or pass overwrite=True"
    ):
        report.save(out)
    assert (out / "report.json").read_text() == before
    assert report.save(out, overwrite=True) == out
    # plots=False: the report's own files alone
    bare = report.save(tmp_path / "bare", plots=False)
    assert sorted(p.name for p in bare.iterdir()) == ["report.json", "results.csv", "results.md"]


def test_bad_reports(tmp_path) -> None:
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        Report.load(tmp_path)
    with pytest.raises(ValueError, match=r"report row 0 lacks \['accuracy_min'"):
        Report.from_dict(
            {"seed": 0, "snnvar_version": "x", "results": [
                {"method": "a", "sigma": 0, "mode": "static", "draws": 1,
                 "accuracy_mean": 1, "accuracy_std": 0, "spikes": {}}
            ]}
        )  # fmt: skip
    with pytest.raises(FileNotFoundError, match="no report at"):
        Report.load(tmp_path / "missing.json")
    other = Report(results=[], seed=1)
    with pytest.raises(ValueError, match="did not see the same chips"):
        Report(results=[], seed=0).merge(other)


def test_landscape_lines_through_the_clean_weights(report, pair, data) -> None:
    rows = report.landscape
    assert len(rows) == 2 * 2 * 2 * 2  # methods x gammas x sigmas x directions
    # By hand: the 40 samples in one batch, rate-encoded with the evaluation's generator,
    # the mean cross-entropy at w + γ σ 6 std(w) ε, ε the unit draw of chip seed(4, d).
    model = pair["sgd"].eval()
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.tensor([int(data[i][1]) for i in range(len(data))])
    spikes = datasets.rate(x, 3, torch.Generator().manual_seed(derive_seed(4, 1 << 20, 0)))

    def loss() -> float:
        with torch.no_grad():
            return float(nn.functional.cross_entropy(model(spikes), y))

    clean = loss()
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if n.endswith("weight")}
    for r in (r for r in rows if r["method"] == "sgd"):
        assert r["seed"] == chip_seed(4, r["direction"])
        if r["sigma"] == 0.0:
            assert r["loss"] == pytest.approx(clean, rel=1e-6)
            continue
        v = Variation(r["sigma"], gamma=r["gamma"])
        up = Variation(r["sigma"]).sample(model, seed=r["seed"])
        with v.applied(model, seed=r["seed"]):
            # γ = −1 walks the other way along the same direction: Δ(γ) = γ Δ(+1)
            params = dict(model.named_parameters())
            for n, w in weights.items():
                assert torch.equal(params[n], w + r["gamma"] * up[n]), n
            expected = loss()
        assert r["loss"] == pytest.approx(expected, rel=1e-6)
        assert r["loss"] != pytest.approx(clean, rel=1e-3)  # σ = 10 % does move the loss
    with pytest.raises(ValueError, match="directions must be >= 1"):
        loss_landscape(pair, data, directions=0)


def test_histograms_share_bins_and_count_every_weight(report, pair) -> None:
    h = report.histograms
    assert list(h["edges"]) == ["layers.1.weight", "layers.3.weight"]
    for method, model in pair.items():
        w = dict(model.named_parameters())
        for layer, counts in h["counts"][method].items():
            assert sum(counts) == w[layer].numel()
            assert h["std"][method][layer] == pytest.approx(
                float(w[layer].detach().std(correction=0))
            )
    other = models.create("fc2", in_shape=(1, 8, 8), hidden=(24, 12))
    with pytest.raises(ValueError, match="one architecture"):
        weight_histograms({"a": pair["sgd"], "b": other})


# -- rows -------------------------------------------------------------------------------

ROW_KEYS = (
    "method", "model", "sigma", "mode", "redraw", "variation_label", "draws",
    "accuracy_mean", "accuracy_std", "accuracy_min", "accuracy_max", "loss_mean",
    "spikes_per_sample", "spikes", "rates", "synops_per_sample", "synops", "accuracies",
    "seeds", "variation",
)  # fmt: skip
"""The first keys of a report.json row, in order (``time`` and ``ranks`` follow)."""


def test_rows_are_frozen_and_typed(report) -> None:
    row = report.row("wvat", 0.1, "dynamic")
    assert isinstance(row, Row) and all(isinstance(r, Row) for r in report.results)
    assert tuple(row.to_dict()) == (
        *ROW_KEYS, "time", "ranks", "energy", "calibration", "calibration_seconds",
        "clean_accuracy", "yield_target", "yield_fraction", "percentiles",
    )  # fmt: skip
    assert row.redraw == "step" and report.row("wvat", 0.1).redraw is None
    with pytest.raises(AttributeError):
        row.accuracy_mean = 1.0  # type: ignore[misc]
    assert (row.mode_label, row.label) == ("dynamic/step", "gaussian, range, dynamic/step")
    assert Row.from_dict(row.to_dict()) == row


def test_rows_from_report_json_and_strict_json(report) -> None:
    data = json.loads(report.to_json())
    assert Report.from_dict(data).results == report.results
    # a row written before variation labels (and before loss, spikes, SynOps per sample)
    old = {
        "method": "a", "sigma": 0.1, "mode": "dynamic", "redraw": "pass", "draws": 2,
        "accuracy_mean": 0.5, "accuracy_std": 0.1, "accuracy_min": 0.4, "spikes": {},
    }  # fmt: skip
    loaded = Report.from_dict({"seed": 0, "snnvar_version": "0.1", "results": [old]})
    assert loaded.results[0].label == "dynamic/pass" and loaded.results[0].loss_mean is None
    assert Report(results=[old], seed=0).results == loaded.results  # dicts become rows
    with pytest.raises(ValueError, match=r"report row 0 has unknown keys \['bogus'\]"):
        Report.from_dict({"seed": 0, "snnvar_version": "0.1", "results": [{**old, "bogus": 1}]})
    # numbers that are not finite (a diverged loss, unknown spikes) are null, not NaN
    nan = float("nan")
    bad = Row.from_dict({**old, "loss_mean": nan, "spikes": {"l": nan}, "accuracies": [nan]})
    assert bad.to_dict()["loss_mean"] is None and bad.to_dict()["spikes"] == {"l": None}
    text = Report(results=[bad], seed=0).to_json()  # allow_nan=False inside
    assert json.loads(text)["results"][0]["accuracies"] == [None]
    table = Report(results=[bad], seed=0).spike_table()  # no spikes per sample: a dash
    assert "| a | dynamic/pass | 10 % | - | - |" in table


def test_a_report_replaces_the_old_one_as_one_unit(report, tmp_path, monkeypatch) -> None:
    """Issue 34: an overwritten report kept the old landscape.png and histograms.png
    beside a report that has none, and a full disk left part of the new files."""
    import dataclasses
    import errno
    from pathlib import Path

    names = sorted(p.name for p in report.save(tmp_path).iterdir())
    assert names == ["accuracy.png", "histograms.png", "landscape.png", "report.json",
                     "results.csv", "results.md", "yield.png"]  # fmt: skip
    old = (tmp_path / "report.json").read_bytes()
    plain = dataclasses.replace(report, landscape=[], histograms={})
    real = Path.write_text

    def full(self, text, *a, **k):  # the disk fills while results.csv is written
        if self.name.startswith(".results.") and self.name.endswith(".csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left") as failed:
        plain.save(tmp_path, overwrite=True)
    assert failed.value.filename == str(tmp_path / "results.csv")  # the file, not a temp
    assert (tmp_path / "report.json").read_bytes() == old  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no temporary left
    monkeypatch.undo()
    plain.save(tmp_path, overwrite=True)
    written = sorted(p.name for p in tmp_path.iterdir())  # the old plots are gone
    assert written == ["accuracy.png", "report.json", "results.csv", "results.md", "yield.png"]
