"""The whole noise model from TOML on the command line: a measured distribution from a
CSV trains WVAT (``snnvar train --config``), run.json records it in full, and
``snnvar evaluate --variation`` tests that run and SGD on the same chips under
another distribution. Bad values end with exit status 2 and one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from snnvar import Empirical, Variation, datasets
from snnvar.evaluation import Report, chip_seed
from snnvar.runs import load_run
from tests.cli.invoke import cli

TINY = """model = "fc2"
epochs = 1
time_steps = 2
encoder = "direct"
batch_size = 64
no_progress = true
[model_options]
hidden = [16]
"""


def _measured(folder: Path) -> np.ndarray:
    """A skewed 'measured' device error, one value per line with a header and a comment."""
    values = np.random.default_rng(1).lognormal(0.0, 0.6, 300)
    lines = ["conductance_error", "# device batch 7", *(repr(float(v)) for v in values)]
    (folder / "measured.csv").write_text("\n".join(lines) + "\n")
    return values


def test_measured_distribution_trains_wvat_and_tests_against_sgd(tmp_path, capsys) -> None:
    configs = tmp_path / "configs"  # the data file lies beside the TOML, not in the cwd
    configs.mkdir()
    values = _measured(configs)
    (configs / "wvat.toml").write_text(
        'method = "wvat"\n' + TINY + "[method_options]\nw_th = 0.5\n"
        '[variation]\nsigma = 0.1\nrelative_to = "max"\n'
        'distribution = { empirical = "measured.csv" }\n'
    )
    code, out, err = cli(capsys, "train", "--config", configs / "wvat.toml", "--out",
                         tmp_path / "wvat")  # fmt: skip
    assert code == 0, err
    assert "variation empirical(samples n=300" in out
    measured = Empirical.from_samples(values)
    saved = json.loads((tmp_path / "wvat" / "run.json").read_text())
    assert saved["variation"]["distribution"] == {"empirical": {"values": list(measured.values)}}
    assert saved["variation"]["relative_to"] == "max" and saved["method"] == "wvat"
    (configs / "measured.csv").unlink()  # the run no longer needs the file
    _, spec = load_run(tmp_path / "wvat")
    assert spec.variation == Variation(0.1, distribution=measured, relative_to="max")

    (configs / "sgd.toml").write_text(TINY)
    assert cli(capsys, "train", "--config", configs / "sgd.toml", "--out", tmp_path / "sgd")[0] == 0

    # test under a Gaussian and under a Weibull, both relative to the layer's maximum
    (configs / "eval.toml").write_text(
        '[[variation]]\nname = "gaussian"\nrelative_to = "max"\n'
        '[[variation]]\nname = "weibull"\nrelative_to = "max"\n'
        "distribution = { weibull = { shape = 1.5 } }\n"
    )
    code, out, err = cli(
        capsys, "evaluate", tmp_path / "sgd", tmp_path / "wvat", "--variation",
        configs / "eval.toml", "--sigmas", "0,0.1", "--draws", "2", "--no-progress",
        "--out", tmp_path / "eval",
    )  # fmt: skip
    assert code == 0, err
    report = Report.load(tmp_path / "eval")
    assert report.methods == ["sgd", "wvat"] and sorted(report.labels) == ["gaussian", "weibull"]
    test = datasets.get("digits", train=False)
    x = datasets.direct(torch.stack([test[i][0] for i in range(len(test))]), 2)
    y = torch.tensor([int(test[i][1]) for i in range(len(test))])
    levels = {"gaussian": Variation(0.1, relative_to="max"),
              "weibull": Variation(0.1, relative_to="max", distribution="weibull")}  # fmt: skip
    for run in ("sgd", "wvat"):
        model, _ = load_run(tmp_path / run)
        for label, v in levels.items():
            chips = []
            with torch.no_grad():
                for k in range(2):  # the same chips for both runs: chip_seed(seed, k)
                    with v.applied(model, seed=chip_seed(0, k)):
                        chips.append(int((model(x).argmax(-1) == y).sum()) / len(y))
            assert report.row(run, 0.1, variation=label).accuracies == chips, (run, label)


def test_variation_flags_and_files_combine(tmp_path, capsys) -> None:
    (tmp_path / "run.toml").write_text(
        TINY + '[variation]\ndistribution = "uniform"\nmode = "dynamic"\n'
    )
    code, _, err = cli(capsys, "train", "--config", tmp_path / "run.toml", "--sigma", "0.05",
                       "--gamma", "-1", "--out", tmp_path / "a")  # fmt: skip
    assert code == 0, err
    _, spec = load_run(tmp_path / "a")
    assert spec.variation == Variation(0.05, gamma=-1.0, distribution="uniform", mode="dynamic")
    (tmp_path / "v.toml").write_text("[variation]\nlevels = 8\nclip = true\n")
    code, _, err = cli(capsys, "train", "--config", tmp_path / "run.toml", "--variation",
                       tmp_path / "v.toml", "--out", tmp_path / "b")  # fmt: skip
    assert code == 2 and "the variation is given twice" in err
    (tmp_path / "plain.toml").write_text(TINY)
    code, _, err = cli(capsys, "train", "--config", tmp_path / "plain.toml", "--variation",
                       tmp_path / "v.toml", "--out", tmp_path / "c")  # fmt: skip
    assert code == 0, err
    _, spec = load_run(tmp_path / "c")
    assert spec.variation == Variation(0.1, levels=8, clip=True)  # σ: RunSpec's default


BAD_TRAIN = [
    ("epochs = 1.5\n", "epochs = 1.5 in", "must be an integer"),
    ("epochs = [1, 2]\n", "epochs = [1, 2] in", "must be an integer"),
    ('no_progress = "yes"\n', "no_progress = 'yes' in", "must be true or false"),
    ("model_options = 5\n", "model_options = 5 in", "must be a table"),
    ('optimizer = "lbfgs"\n', "optimizer = 'lbfgs' in", "allowed: ['adam', 'sgd']"),
    ('[variation]\nsigma = "abc"\n', "sigma", "'abc'"),
    ("[variation]\nsigmaa = 0.1\n", "sigmaa", "allowed"),
    ('[variation]\nclip = "yes"\n', "clip", "'yes'"),
    ("[variation]\nlevels = 1.5\n", "levels", "1.5"),
    ('[variation]\ndistribution = "cauchy"\n', "cauchy", "allowed"),
    ('[variation]\ndistribution = { empirical = "missing.csv" }\n', "missing.csv", "no such file"),
    ('[variation]\ndistribution = { empirical = "text.csv" }\n', "text.csv", "line"),
    ('[variation]\ndistribution = { empirical = "flat.csv" }\n', "flat.csv", "zero variance"),
    ('[variation]\ndistribution = { empirical = "empty.csv" }\n', "empty.csv", ""),
    ("sigma = 0.2\n[variation]\nsigma = 0.1\n", "sigma is given twice", "keep one"),
]


@pytest.mark.parametrize(("toml", "first", "second"), BAD_TRAIN)
def test_bad_values_exit_2_with_one_line_and_leave_nothing(tmp_path, capsys, toml, first,
                                                           second) -> None:  # fmt: skip
    (tmp_path / "text.csv").write_text("error\n0.1\nabc\n0.3\n")
    (tmp_path / "flat.csv").write_text("0.5\n0.5\n0.5\n")
    (tmp_path / "empty.csv").write_text("# nothing measured\n")
    (tmp_path / "bad.toml").write_text(toml)
    code, out, err = cli(capsys, "train", "--config", tmp_path / "bad.toml", "--out",
                         tmp_path / "out")  # fmt: skip
    assert code == 2, (out, err)
    assert err.startswith("snnvar: error: ") and err.count("\n") == 1, err
    assert first in err and second in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_bad_evaluation_variations(tmp_path, capsys) -> None:
    (tmp_path / "run.toml").write_text(TINY)
    assert cli(capsys, "train", "--config", tmp_path / "run.toml", "--out", tmp_path / "r")[0] == 0
    cases = {
        "[[variation]]\nsigma = 0.1\n": "sets sigma = 0.1: an evaluation sweeps",
        '[[variation]]\nname = "a"\n[[variation]]\nname = "a"\nmode = "dynamic"\n': (
            "has the label 'a' of an earlier table"
        ),
        "sigma = 0.1\n": "unknown top-level key(s) ['sigma']; allowed: ['variation']",
        "[variation]\nname = 3\n": "name must be a non-empty string, got 3",
    }  # fmt: skip
    for i, (text, message) in enumerate(cases.items()):
        (tmp_path / f"e{i}.toml").write_text(text)
        code, _, err = cli(capsys, "evaluate", tmp_path / "r", "--variation",
                           tmp_path / f"e{i}.toml", "--out", tmp_path / f"o{i}")  # fmt: skip
        assert code == 2 and message in err, (text, err)
    (tmp_path / "ok.toml").write_text("[variation]\n")
    code, _, err = cli(capsys, "evaluate", tmp_path / "r", "--variation", tmp_path / "ok.toml",
                       "--mode", "dynamic", "--out", tmp_path / "o9")  # fmt: skip
    assert code == 2 and "--mode and --redraw set the default variation" in err


def test_switch_keys_take_their_settings_value(tmp_path, capsys, monkeypatch) -> None:
    """``cosine = false`` turns the schedule off and ``spiking = false`` trains the ANN;
    ``out`` is relative to the working directory, as the flag is."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "a.toml").write_text(
        'cosine = false\nspiking = false\nout = "runs/a"\n'
        + TINY.replace('encoder = "direct"\n', "")
    )
    code, _, err = cli(capsys, "train", "--config", tmp_path / "configs" / "a.toml")
    assert code == 0, err
    _, spec = load_run(tmp_path / "runs" / "a")
    assert (spec.cosine, spec.spiking, spec.encoder) == (False, False, "none")
    (tmp_path / "ev.toml").write_text('runs = ["runs/a"]\ndraws = 1\nsigmas = [0.0]\n')
    code, _, err = cli(capsys, "evaluate", "--config", tmp_path / "ev.toml", "--out", "ev",
                       "--no-progress")  # fmt: skip
    assert code == 0, err
    assert Report.load(tmp_path / "ev").config["runs"] == ["runs/a"]


def test_a_top_level_sigma_and_a_variation_file_conflict(tmp_path, capsys) -> None:
    (tmp_path / "run.toml").write_text("sigma = 0.2\n" + TINY)
    (tmp_path / "v.toml").write_text("[variation]\nsigma = 0.05\n")
    code, _, err = cli(capsys, "train", "--config", tmp_path / "run.toml", "--variation",
                       tmp_path / "v.toml", "--out", tmp_path / "o")  # fmt: skip
    assert code == 2 and "sigma is given twice" in err and not (tmp_path / "o").exists()
    code, _, err = cli(capsys, "train", "--config", tmp_path / "run.toml", "--variation",
                       tmp_path / "v.toml", "--sigma", "0.15", "--out", tmp_path / "o")  # fmt: skip
    assert code == 2 and "sigma is given twice" in err  # the config's sigma still clashes


def test_a_bad_test_variation_fails_before_anything_is_written(tmp_path, capsys) -> None:
    (tmp_path / "bad.toml").write_text("[variation]\nrelative_to = 'mean'\n")
    code, _, err = cli(capsys, "evaluate", tmp_path / "no-such-run", "--variation",
                       tmp_path / "bad.toml", "--out", tmp_path / "o")  # fmt: skip
    assert code == 2 and "relative_to" in err and "'mean'" in err
    assert not (tmp_path / "o").exists()
