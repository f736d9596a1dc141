"""The `snnvar` command: every command end to end in a subprocess, on tiny
settings; options, configs and bad input in-process through ``main(argv)``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnvar import datasets
from snnvar.evaluation import Report
from snnvar.nn import TimeLoop
from snnvar.runs import load_run
from tests.cli.invoke import cli


def snnvar(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snnvar", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


TINY = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "1", "--time-steps", "2")
TINY += ("--no-progress",)


def test_help(capsys) -> None:
    done = snnvar("--help")  # the console entry point itself
    assert done.returncode == 0, done.stderr
    assert "usage: snnvar" in done.stdout and "demo" in done.stdout
    for command in ("train", "evaluate", "demo"):
        code, out, _ = cli(capsys, command, "--help")
        assert code == 0 and f"usage: snnvar {command}" in out


def test_every_flag_has_help() -> None:
    from snnvar.cli import build_parser

    commands = build_parser().get_default("_commands")
    missing = [
        f"snnvar {name} {action.option_strings or action.dest}"
        for name, sub in commands.items()
        for action in sub._actions
        if action.dest != "help" and not action.help
    ]
    assert missing == []  # the documentation's command-line reference reads these
    assert len(commands) == 5


def test_train_then_evaluate(tmp_path) -> None:
    for method in ("sgd", "wvat"):
        done = snnvar("train", *TINY, "--method", method, "--out", tmp_path / method)
        assert done.returncode == 0, done.stderr
        assert f"trained fc2 with {method} on digits for 1 epochs (seed 0" in done.stdout
        # the training noise is named only where the method draws one (issue 34)
        assert ("variation gaussian" in done.stdout) == (method == "wvat")
        spec = json.loads((tmp_path / method / "run.json").read_text())
        assert spec["method"] == method and spec["train"]["seed"] == 0
        assert (tmp_path / method / "checkpoint.pt").is_file()
    out = tmp_path / "eval"
    done = snnvar(
        "evaluate", tmp_path / "sgd", tmp_path / "wvat", "--draws", "2", "--sigmas", "0,0.1",
        "--mode", "both", "--histograms", "--out", out, "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| sgd | gaussian, range, static |" in done.stdout
    assert "| wvat | gaussian, range, dynamic/step |" in done.stdout
    report = Report.load(out)
    assert report.methods == ["sgd", "wvat"] and report.config["draws"] == 2
    assert len(report.results) == 2 * 2 * 2
    for name in ("results.csv", "results.md", "accuracy.png", "histograms.png"):
        assert (out / name).stat().st_size > 0


def test_toml_config_and_flags_override_it(tmp_path, capsys) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'model = "fc2"\nepochs = 1\ntime_steps = 2\nmethod = "hasgd"\nseed = 5\n'
        "no_progress = true\n[model_options]\nhidden = [8]\n[method_options]\nsamples = 2\n"
    )
    code, _, err = cli(
        capsys, "train", "--config", config, "--seed", "6", "--out", tmp_path / "run"
    )
    assert code == 0, err
    spec = json.loads((tmp_path / "run" / "run.json").read_text())
    assert spec["method"] == "hasgd" and spec["method_options"] == {"samples": 2}
    assert spec["model_options"] == {"hidden": [8]} and spec["train"]["seed"] == 6
    config.write_text('modle = "fc2"\n')
    code, _, err = cli(capsys, "train", "--config", config, "--out", tmp_path / "other")
    assert code == 2 and "unknown key 'modle'" in err


def test_warmup_epochs(tmp_path, capsys) -> None:
    args = ("train", *TINY, "--method", "wvat", "--epochs", "2", "--warmup-epochs", "1")
    code, _, err = cli(capsys, *args, "--out", tmp_path / "run")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["train"]["warmup_epochs"] == 1
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [r["warmup"] for r in metrics] == [True, False]
    code, _, err = cli(capsys, *args[:-1], "2", "--out", tmp_path / "bad")
    assert code == 2 and "warmup_epochs must be in [0, epochs - 1] = [0, 1]" in err
    assert not (tmp_path / "bad").exists()


def test_existing_output_is_never_overwritten(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert cli(capsys, "train", *TINY, "--out", out)[0] == 0
    before = (out / "checkpoint.pt").read_bytes()
    code, _, err = cli(capsys, "train", *TINY, "--seed", "1", "--out", out)
    assert code == 2 and "--overwrite" in err
    assert (out / "checkpoint.pt").read_bytes() == before
    code, _, _ = cli(capsys, "train", *TINY, "--seed", "1", "--out", out, "--overwrite")
    assert code == 0 and (out / "checkpoint.pt").read_bytes() != before


def test_bad_input(tmp_path, capsys) -> None:
    code, _, err = cli(capsys, "train", *TINY, "--method", "adamw", "--out", tmp_path / "a")
    assert code == 2 and "unknown method 'adamw'" in err
    code, _, err = cli(capsys, "train", *TINY, "--model", "resnet", "--out", tmp_path / "b")
    assert code == 2 and "unknown model 'resnet'" in err
    code, _, err = cli(capsys, "train", *TINY, "--model-option", "hidden", "--out", tmp_path / "c")
    assert code == 2 and "--model-option takes KEY=VALUE, got 'hidden'" in err
    assert cli(capsys, "train", *TINY, "--out", tmp_path / "run")[0] == 0
    run = tmp_path / "run"
    code, _, err = cli(capsys, "evaluate", run, "--sigmas", "0,1.5", "--out", tmp_path / "e")
    assert code == 2 and "sigma must lie in [0, 1]" in err
    code, _, err = cli(capsys, "evaluate", run, "--draws", "0", "--out", tmp_path / "e2")
    assert code == 2 and "argument --draws: must be >= 1, got 0" in err
    code, _, err = cli(capsys, "evaluate", tmp_path / "nothing", "--out", tmp_path / "e3")
    assert code == 2 and "run.json is missing" in err
    code, _, err = cli(capsys, "evaluate", run, "--sigmas", "0,x", "--out", tmp_path / "e5")
    assert code == 2 and "expected comma-separated numbers, got '0,x'" in err
    spec_path = run / "run.json"
    spec = json.loads(spec_path.read_text())
    spec["model_options"] = {"hidden": [17]}
    spec_path.write_text(json.dumps(spec))
    code, _, err = cli(capsys, "evaluate", run, "--out", tmp_path / "e4")
    assert code == 2 and "does not fit the model" in err


def test_demo_quick(tmp_path) -> None:
    done = snnvar("demo", "--quick", "--no-progress", "--out", tmp_path / "demo")
    assert done.returncode == 0, done.stderr
    assert "| method | σ = 0 % | σ = 5 % | σ = 10 % | σ = 15 % |" in done.stdout
    report = Report.load(tmp_path / "demo")
    assert report.methods == ["sgd", "wvat", "hasgd"] and report.config["draws"] == 5
    assert sorted({r.sigma for r in report.results}) == [0.0, 0.05, 0.1, 0.15]
    for name in ("accuracy.png", "histograms.png", "results.md"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    done = snnvar("demo", "--quick", "--no-progress", "--out", tmp_path / "demo")
    assert done.returncode == 2 and "--overwrite" in done.stderr


def test_convert_then_evaluate(tmp_path) -> None:
    ann = ("--ann", "--lr", "3e-3", "--epochs", "3")
    done = snnvar("train", *TINY, *ann, "--out", tmp_path / "ann")
    assert done.returncode == 0, done.stderr
    done = snnvar(
        "convert", tmp_path / "ann", "--time-steps", "16", "--sweep", "4,8",
        "--finetune-epochs", "1", "--method", "wvat", "--out", tmp_path / "snn", "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads((tmp_path / "snn" / "conversion.json").read_text())
    assert [r["time_steps"] for r in info["accuracy_vs_time_steps"]] == [4, 8, 16]
    # by hand: the trained ANN on the digits' test split, and the one hidden layer's
    # threshold, the maximum of W1 x + b1 over the 256 first training images (direct input)
    ann, _ = load_run(tmp_path / "ann")
    test = datasets.get("digits", train=False)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([int(test[i][1]) for i in range(len(test))])
    train = datasets.get("digits")
    calib = torch.stack([train[i][0] for i in range(256)])
    fc1 = next(m for m in ann.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        ann_accuracy = int((ann(x).argmax(-1) == y).sum()) / len(y)
        theta = float((calib.flatten(1) @ fc1.weight.T + fc1.bias).max())
    assert info["ann_accuracy"] == ann_accuracy
    assert info["thresholds"] == {"layers_2": pytest.approx(theta, rel=1e-6)}
    assert "| T | converted SNN accuracy (%) |" in done.stdout
    done = snnvar(
        "evaluate", tmp_path / "ann", tmp_path / "snn", "--draws", "2", "--sigmas", "0,0.1",
        "--out", tmp_path / "eval", "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = Report.load(tmp_path / "eval")
    # labelled by what made them, as conversion.json records it ("wvat+finetune")
    assert info["method"] == "wvat+finetune"
    assert report.methods == ["sgd", "sgd→snn+wvat fine-tune"]
    assert report.row("sgd", 0.0).accuracies == [ann_accuracy] * 2
    snn_row = report.row("sgd→snn+wvat fine-tune", 0.0)
    assert snn_row.accuracy_mean == pytest.approx(info["finetuned_accuracy"])
    # the fine-tuned SNN at spike level, by hand: T = 16 steps of direct input, the spikes
    # of its one IF layer per test sample
    snn, _ = load_run(tmp_path / "snn")
    counts: list[float] = []
    loop = next(m for m in snn.modules() if isinstance(m, TimeLoop))
    hook = loop.register_forward_hook(lambda m, i, out: counts.append(float(out.sum())))
    with torch.no_grad():
        snn_accuracy = int((snn(datasets.direct(x, 16)).argmax(-1) == y).sum()) / len(y)
    hook.remove()
    assert snn_row.accuracies == [snn_accuracy] * 2
    assert snn_row.spikes == {"layers.layers_2": pytest.approx(counts[0] / len(y), rel=1e-6)}
    assert snn_row.spikes["layers.layers_2"] > 0


def test_convert_refuses_an_snn_run(tmp_path, capsys) -> None:
    assert cli(capsys, "train", *TINY, "--out", tmp_path / "snn")[0] == 0
    code, _, err = cli(capsys, "convert", tmp_path / "snn", "--out", tmp_path / "c")
    assert code == 2 and "is an SNN run; convert an ANN" in err


@pytest.mark.parametrize(
    ("device", "message"),
    [("tpu", "not a device; allowed: cpu, cuda, cuda:N"), ("meta", "allowed: cpu, cuda")]
    + ([] if torch.cuda.is_available() else [("cuda", "no CUDA device")]),
)  # fmt: skip
def test_torch_device_is_checked_before_anything_is_written(
    tmp_path, capsys, device, message
) -> None:
    code, _, err = cli(capsys, "train", *TINY, "--torch-device", device, "--out", tmp_path / "r")
    assert code == 2 and message in err and not (tmp_path / "r").exists()


def test_torch_device_cpu_trains_as_without_it(tmp_path, capsys) -> None:
    assert cli(capsys, "train", *TINY, "--out", tmp_path / "a")[0] == 0
    assert cli(capsys, "train", *TINY, "--torch-device", "cpu", "--out", tmp_path / "b")[0] == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a == b


def test_evaluate_reloads_the_test_set_with_the_runs_dataset_options(tmp_path, capsys) -> None:
    """A run trained on 16x16 digits is evaluated on 16x16 digits (issue 33: the options
    were dropped and fc2 got 8x8 inputs); runs with other options are not mixed."""
    small = (*TINY, "--method", "sgd", "--seed", "1")
    code, _, err = cli(capsys, "train", *small, "--dataset-option", "size=16",
                       "--model-option", "reset=zero", "--out", tmp_path / "big")  # fmt: skip
    assert code == 0, err
    code, _, err = cli(capsys, "train", *small, "--out", tmp_path / "plain")
    assert code == 0, err
    code, _out, err = cli(capsys, "evaluate", tmp_path / "big", "--sigmas", "0", "--draws", "1",
                         "--worst-case", "0.2", "--attack-loss", "kl", "--attack-steps", "2",
                         "--no-progress", "--out", tmp_path / "eval")  # fmt: skip
    assert code == 0, err
    report = Report.load(tmp_path / "eval")
    assert report.config["dataset_options"] == {"size": 16}
    assert [(w["zeta"], w["objective"]) for w in report.worst_case] == [(0.2, "kl")]
    code, _, err = cli(capsys, "evaluate", tmp_path / "big", "--worst-case", "0.2",
                       "--attack-loss", "mse", "--out", tmp_path / "bad")  # fmt: skip
    assert code == 2 and "invalid choice: 'mse'" in err
    _model, spec = load_run(tmp_path / "big")
    assert spec.dataset_options == {"size": 16}
    test = datasets.get("digits", train=False, size=16)
    assert tuple(test[0][0].shape) == (1, 16, 16)
    code, _, err = cli(capsys, "evaluate", tmp_path / "big", tmp_path / "plain", "--sigmas", "0",
                       "--no-progress", "--out", tmp_path / "mixed")  # fmt: skip
    assert code == 2
    assert "need the same data set and data set options" in err and "{'size': 16}" in err
    assert not (tmp_path / "mixed").exists()
    code, _, err = cli(capsys, "export", tmp_path / "big", "--nir", tmp_path / "big.nir")
    assert code == 0, err
    info = json.loads((tmp_path / "big.nir.json").read_text())
    assert info["nodes"][0] == {"name": "input", "type": "Input", "shape": [1, 16, 16]}


def test_evaluate_calibrates_chips_and_reports_the_yield(tmp_path, capsys) -> None:
    """--calibrate adds a calibrated row per run and level on the same chips, drawn from
    the training split (seeded, recorded); --yield-target sets the target."""
    code, _, err = cli(capsys, "train", *TINY, "--method", "sgd", "--out", tmp_path / "run")
    assert code == 0, err
    args = ("evaluate", tmp_path / "run", "--sigmas", "0.1", "--draws", "2", "--no-progress")
    code, out, err = cli(capsys, *args, "--calibrate", "threshold,affine",
                         "--calibration-samples", "32", "--yield-target", "0.5",
                         "--out", tmp_path / "e")  # fmt: skip
    assert code == 0, err
    assert "| sgd [threshold+affine] |" in out and "yield (%)" in out
    report = Report.load(tmp_path / "e")
    assert [r.method for r in report.results] == ["sgd", "sgd [threshold+affine]"]
    assert [r.yield_target for r in report.results] == [0.5, 0.5]
    record = report.config["calibration"]
    assert record["samples"] == 32 and record["split"] == "train"
    assert record["methods"] == ["threshold", "affine"] and record["shared_with_test"] == 0
    assert (tmp_path / "e" / "yield.png").exists()
    for bad, message in [
        (("--calibrate", "bn,adabn"), "unknown calibration ['adabn']"),
        (("--calibration-time", "1h"), "--calibration-time sets how --calibrate calibrates"),
        (("--calibration-samples", "8"), "--calibration-samples sets how --calibrate"),
        (("--calibrate", "threshold", "--calibration-time", "1h"), "hold no device model"),
        (("--calibrate", "bn"), "has no BatchNorm"),
    ]:
        code, _, err = cli(capsys, *args, *bad, "--out", tmp_path / "bad")
        assert code == 2 and message in err, err
        assert not (tmp_path / "bad").exists()
