"""The `snnvar` command end to end, in subprocesses, on tiny settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from snnvar.evaluation import Report


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


@pytest.mark.parametrize("command", [(), ("train",), ("evaluate",), ("demo",)])
def test_help(command: tuple[str, ...]) -> None:
    done = snnvar(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: snnvar" in done.stdout


def test_train_then_evaluate(tmp_path) -> None:
    for method in ("sgd", "wvat"):
        done = snnvar("train", *TINY, "--method", method, "--out", tmp_path / method)
        assert done.returncode == 0, done.stderr
        assert f"trained fc2 with {method} on digits for 1 epochs (seed 0)" in done.stdout
        spec = json.loads((tmp_path / method / "run.json").read_text())
        assert spec["method"] == method and spec["seed"] == 0
        assert (tmp_path / method / "checkpoint.pt").is_file()
    out = tmp_path / "eval"
    done = snnvar(
        "evaluate", tmp_path / "sgd", tmp_path / "wvat", "--draws", "2", "--sigmas", "0,0.1",
        "--mode", "both", "--histograms", "--out", out, "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| sgd | static |" in done.stdout and "| wvat | dynamic/step |" in done.stdout
    report = Report.load(out)
    assert report.methods == ["sgd", "wvat"] and report.config["draws"] == 2
    assert len(report.results) == 2 * 2 * 2
    for name in ("results.csv", "results.md", "accuracy.png", "histograms.png"):
        assert (out / name).stat().st_size > 0


def test_toml_config_and_flags_override_it(tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'model = "fc2"\nepochs = 1\ntime_steps = 2\nmethod = "hasgd"\nseed = 5\n'
        "no_progress = true\n[model_options]\nhidden = [8]\n[method_options]\nsamples = 2\n"
    )
    done = snnvar("train", "--config", config, "--seed", "6", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    spec = json.loads((tmp_path / "run" / "run.json").read_text())
    assert spec["method"] == "hasgd" and spec["method_options"] == {"samples": 2}
    assert spec["model_options"] == {"hidden": [8]} and spec["seed"] == 6
    config.write_text('modle = "fc2"\n')
    done = snnvar("train", "--config", config, "--out", tmp_path / "other")
    assert done.returncode == 2 and "unknown key 'modle'" in done.stderr


def test_existing_output_is_never_overwritten(tmp_path) -> None:
    out = tmp_path / "run"
    assert snnvar("train", *TINY, "--out", out).returncode == 0
    before = (out / "checkpoint.pt").read_bytes()
    done = snnvar("train", *TINY, "--seed", "1", "--out", out)
    assert done.returncode == 2 and "--overwrite" in done.stderr
    assert (out / "checkpoint.pt").read_bytes() == before
    done = snnvar("train", *TINY, "--seed", "1", "--out", out, "--overwrite")
    assert done.returncode == 0 and (out / "checkpoint.pt").read_bytes() != before


def test_bad_input(tmp_path) -> None:
    done = snnvar("train", *TINY, "--method", "adamw", "--out", tmp_path / "a")
    assert done.returncode == 2 and "unknown method 'adamw'" in done.stderr
    done = snnvar("train", *TINY, "--model", "resnet", "--out", tmp_path / "b")
    assert done.returncode == 2 and "unknown model 'resnet'" in done.stderr
    assert snnvar("train", *TINY, "--out", tmp_path / "run").returncode == 0
    done = snnvar("evaluate", tmp_path / "run", "--sigmas", "0,1.5", "--out", tmp_path / "e")
    assert done.returncode == 2 and "sigma must lie in [0, 1]" in done.stderr
    done = snnvar("evaluate", tmp_path / "run", "--draws", "0", "--out", tmp_path / "e2")
    assert done.returncode == 2 and "--draws must be >= 1, got 0" in done.stderr
    done = snnvar("evaluate", tmp_path / "nothing", "--out", tmp_path / "e3")
    assert done.returncode == 2 and "run.json is missing" in done.stderr
    spec_path = tmp_path / "run" / "run.json"
    spec = json.loads(spec_path.read_text())
    spec["model_options"] = {"hidden": [17]}
    spec_path.write_text(json.dumps(spec))
    done = snnvar("evaluate", tmp_path / "run", "--out", tmp_path / "e4")
    assert done.returncode == 2 and "does not fit the model" in done.stderr


def test_demo_quick(tmp_path) -> None:
    done = snnvar("demo", "--quick", "--no-progress", "--out", tmp_path / "demo")
    assert done.returncode == 0, done.stderr
    assert "| method | σ = 0 % | σ = 5 % | σ = 10 % | σ = 15 % |" in done.stdout
    report = Report.load(tmp_path / "demo")
    assert report.methods == ["sgd", "wvat", "hasgd"] and report.config["draws"] == 5
    assert sorted({r["sigma"] for r in report.results}) == [0.0, 0.05, 0.1, 0.15]
    for name in ("accuracy.png", "histograms.png", "results.md"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    done = snnvar("demo", "--quick", "--no-progress", "--out", tmp_path / "demo")
    assert done.returncode == 2 and "--overwrite" in done.stderr
