"""What a user runs into: bad values, full or read-only disks, Ctrl-C, logs."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from snnvar import conversion, datasets, files, models, progress
from snnvar.cli import main
from snnvar.datasets import read_nmnist_bin
from snnvar.training import TrainConfig, Trainer

from .invoke import cli

TINY = ("--model", "fc2", "--model-option", "hidden=(16,)", "--epochs", "2", "--time-steps", "2")
TINY += ("--no-progress",)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line, no traceback
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("hidden=abc", "model option hidden='abc' of 'fc2' must be a list of integers"),
        ("hidden=64", "model option hidden=64 of 'fc2' must be a list of integers"),
        ("dropout=x", "model option dropout='x' of 'fc2' must be a number"),
        ("beta=high", "neuron option beta must be a number, got 'high'"),
        ("hidden=[0]", "hidden widths must be >= 1, got [0]"),  # trained to 10 % before
    ],
)
def test_bad_model_options_exit_2_and_leave_no_directory(tmp_path, capsys, option, message):
    out = tmp_path / "deep" / "run"
    code, _, err = cli(capsys, "train", *TINY[:2], "--model-option", option, "--out", out)
    assert code == 2
    assert message in _one_line(err)
    assert not (tmp_path / "deep").exists()  # nothing that blocks the rerun


def test_negative_sigmas_reach_the_check(tmp_path, capsys) -> None:
    assert cli(capsys, "train", *TINY, "--out", tmp_path / "run")[0] == 0
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--sigmas", "-0.1,0.1",
                       "--out", tmp_path / "e")  # fmt: skip
    assert code == 2
    assert "sigma must be >= 0, got -0.1" in _one_line(err)  # not "expected one argument"
    code, _, err = cli(capsys, "train", *TINY, "--sigma", "-0.2", "--out", tmp_path / "r2")
    assert code == 2 and "sigma must be >= 0, got -0.2" in _one_line(err)
    assert not (tmp_path / "e").exists() and not (tmp_path / "r2").exists()


def test_an_existing_out_is_named_in_the_clis_words(tmp_path, capsys) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "train", *TINY, "--out", tmp_path / "run")
    line = _one_line(err)
    assert code == 2 and "--overwrite" in line and "overwrite=True" not in line
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_missing_data_root_is_not_created(tmp_path, capsys, monkeypatch) -> None:
    def offline(*_a, **_k):
        raise OSError(errno.ENETUNREACH, "network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    root = tmp_path / "no" / "data"
    code, _, err = cli(capsys, "train", *TINY, "--dataset", "mnist", "--data-root", root,
                       "--out", tmp_path / "run")  # fmt: skip
    assert code == 2 and f"Put these files in {root / 'mnist'}" in err
    assert list(tmp_path.iterdir()) == []  # neither the data root nor --out


def test_a_full_disk_exits_1_with_one_line_and_no_temporary_file(
    tmp_path, capsys, monkeypatch
) -> None:
    real_save = torch.save

    def full(obj, f, *a, **k):
        real_save(obj, f, *a, **k)  # half of it lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", full)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", *TINY, "--out", out)
    assert code == 1
    assert "No space left on device" in _one_line(err)
    assert not out.exists()  # no checkpoint, no .tmp, no run.json that blocks the rerun


def test_a_full_disk_during_evaluate_leaves_no_half_report(tmp_path, capsys, monkeypatch):
    assert cli(capsys, "train", *TINY, "--out", tmp_path / "run")[0] == 0
    real = Path.write_text

    def full(self, text, *a, **k):
        if self.name.endswith(".tmp.json"):
            real(self, text[: len(text) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    code, _, err = cli(capsys, "evaluate", tmp_path / "run", "--draws", "1",
                       "--out", tmp_path / "e")  # fmt: skip
    line = _one_line(err)
    assert code == 1 and "No space left on device" in line
    assert str(tmp_path / "e" / "report.json") in line  # the file it could not write
    assert not (tmp_path / "e").exists()  # no half report, nothing blocks the rerun
    monkeypatch.undo()
    # issue 34: an overwritten report replaces every file of the old one as one unit
    first = ("evaluate", tmp_path / "run", "--draws", "1", "--out", tmp_path / "e")
    assert cli(capsys, *first, "--histograms")[0] == 0
    assert (tmp_path / "e" / "histograms.png").is_file()
    monkeypatch.setattr(Path, "write_text", full)
    code, _, err = cli(capsys, *first, "--overwrite")
    assert code == 1 and "report.json" in _one_line(err)
    monkeypatch.undo()  # the old report stays whole
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        "accuracy.png",
        "histograms.png",
        "report.json",
        "results.csv",
        "results.md",
        "yield.png",
    ]
    assert cli(capsys, *first, "--overwrite")[0] == 0
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        "accuracy.png",
        "report.json",
        "results.csv",
        "results.md",
        "yield.png",
    ]


def test_ctrl_c_exits_130_and_resume_continues(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "run"
    real = Trainer._train_epoch

    def interrupted(self, data, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return real(self, data, epoch)

    monkeypatch.setattr(Trainer, "_train_epoch", interrupted)
    code, _, err = cli(capsys, "train", *TINY, "--out", out)
    assert code == 130
    assert "interrupted after epoch 1; continue with --resume" in err
    assert "Traceback" not in err
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 1
    monkeypatch.setattr(Trainer, "_train_epoch", real)
    assert cli(capsys, "train", *TINY, "--out", out, "--resume")[0] == 0
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 2


def test_interrupted_before_the_first_checkpoint_resume_starts_the_run(
    tmp_path, capsys, monkeypatch
) -> None:
    out = tmp_path / "run"
    real = Trainer._train_epoch
    monkeypatch.setattr(
        Trainer, "_train_epoch", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    code, _, err = cli(capsys, "train", *TINY, "--out", out)
    assert code == 130 and "before the first epoch ended" in err
    monkeypatch.setattr(Trainer, "_train_epoch", real)
    assert cli(capsys, "train", *TINY, "--out", out, "--resume")[0] == 0
    fresh = tmp_path / "fresh"
    assert cli(capsys, "train", *TINY, "--out", fresh)[0] == 0
    a = torch.load(out / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(fresh / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same run as one never interrupted


def test_atomic_path_keeps_the_old_file_and_removes_the_temporary(tmp_path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(OSError, match="disk full"), files.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    files.write_text(target, "new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_empty_data_sets_are_refused() -> None:
    model = models.create("fc2", in_shape=(1, 4, 4), hidden=(8,), num_classes=2)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), 0.1),
                      config=TrainConfig(epochs=1, time_steps=2, progress=False))  # fmt: skip
    empty = TensorDataset(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"the training set is empty \(0 samples\)"):
        trainer.fit(empty)
    full = TensorDataset(torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="the validation set is empty"):
        trainer.fit(full, empty)
    ann = models.create("fc2", spiking=False, in_shape=(1, 4, 4), hidden=(8,), num_classes=2)
    with pytest.raises(ValueError, match=r"calibration data is empty \(shape \(0, 1, 4, 4\)\)"):
        conversion.convert(ann, torch.zeros(0, 1, 4, 4), time_steps=4)


def test_an_empty_nmnist_file_is_refused(tmp_path) -> None:
    path = tmp_path / "00001.bin"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"00001\.bin: the file is empty \(0 bytes, no events\)"):
        read_nmnist_bin(path)
    path.write_bytes(bytes([0, 240, 0, 0, 0]))  # one overflow record, no event
    with pytest.raises(ValueError, match="5 bytes but no events"):
        read_nmnist_bin(path)
    assert datasets  # the loader that reads these files is snnvar.datasets.get("nmnist")


def test_progress_bars_stay_out_of_logs(monkeypatch) -> None:
    monkeypatch.delenv("SNNVAR_PROGRESS", raising=False)
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    assert not progress.shows_progress()
    for _ in progress.progress_bar(range(500), desc="epoch"):
        pass
    assert log.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress.shows_progress() and not progress.shows_progress(enabled=False)
    monkeypatch.setenv("SNNVAR_PROGRESS", "0")
    assert not progress.shows_progress()
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setenv("SNNVAR_PROGRESS", "1")
    assert progress.shows_progress()


def test_importing_in_jupyter_without_ipywidgets_is_quiet() -> None:
    """tqdm.auto warns at import in a Jupyter kernel without ipywidgets ("IProgress not
    found"); snnvar's import must not put that warning on top of every notebook."""
    code = """
import sys, types, warnings
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")  # a kernel
sys.modules["ipywidgets"] = None  # not installed
import IPython
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import snnvar.progress
    import tqdm.autonotebook  # the module that warns: imported here, and quietly
print(sorted({type(w.message).__name__ for w in caught}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_resume_with_changed_settings_names_the_flags(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert cli(capsys, "train", *TINY, "--out", out)[0] == 0
    before = (out / "checkpoint.pt").read_bytes()
    code, _, err = cli(capsys, "train", *TINY, "--lr", "0.01", "--gamma", "0.5", "--out", out,
                       "--resume")  # fmt: skip
    line = _one_line(err)
    assert code == 2
    assert "--lr: saved 0.001, given 0.01" in line and "--gamma: saved 1.0, given 0.5" in line
    assert "train.epochs" not in line and "variation.gamma" not in line
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "run"
    assert main(["train", *TINY, "--model-option", "reset=zero", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    ("args", "message"),
    [  # issue 34: each was accepted (or a traceback) before
        (("--time-steps", "0"), "argument --time-steps: must be >= 1, got 0"),
        (("--worst-case", "0.1,0.1"), "argument --worst-case: the worst case gives a radius twice"),
        (
            ("--worst-case", "1e9"),
            "argument --worst-case: worst-case radii ζ must lie in [0, 1] (as σ does)",
        ),
        (("--draws", "10000000000000000000000"), "argument --draws: must be <= 100,000 chips"),
    ],
)
def test_evaluate_refuses_before_anything_is_written(trained, tmp_path, capsys, args, message):
    code, _, err = cli(capsys, "evaluate", trained, *args, "--out", tmp_path / "e")
    assert code == 2  # argparse's: the usage, then the flag and what is wrong with it
    assert f"snnvar evaluate: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "e").exists()


def test_config_and_hardware_tables_are_checked(trained, tmp_path, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text('sigmas = [0, "a"]\n')  # an ArgumentTypeError traceback before
    code, _, err = cli(capsys, "evaluate", trained, "--config", config, "--out", tmp_path / "e")
    assert code == 2
    assert "sigmas = [0, 'a'] in" in _one_line(err) and "expected comma-separated numbers" in err
    hw = tmp_path / "hw.toml"
    hw.write_text("[hardware]\n")  # trained as "all off" before
    code, _, err = cli(capsys, "train", *TINY, "--hardware", hw, "--out", tmp_path / "r")
    assert code == 2 and "the [hardware] table is empty" in _one_line(err)
    code, _, err = cli(capsys, "train", *TINY, "--hardware", tmp_path, "--out", tmp_path / "r")
    assert code == 2 and "is a directory; give a .toml file" in _one_line(err)
    assert not (tmp_path / "e").exists() and not (tmp_path / "r").exists()


def test_export_refuses_a_sigma_evaluate_refuses(trained, tmp_path, capsys) -> None:
    nir_file = tmp_path / "g.nir"
    code, _, err = cli(capsys, "export", trained, "--nir", nir_file, "--chip", "1",
                       "--sigma", "5")  # fmt: skip
    assert code == 2 and "argument --sigma: must lie in [0, 1] (as --sigmas), got 5" in err
    assert not nir_file.exists()


def test_export_to_a_full_disk_exits_1_and_leaves_no_file(trained, tmp_path, capsys, monkeypatch):
    """Issue 34: h5py writing to a nearly full disk crashed (exit 139) and left a
    temporary .nir; the graph is serialised in memory and written in one step."""
    real = Path.write_bytes

    def full(self, data, *a, **k):
        if ".tmp" in self.name:
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data, *a, **k)

    monkeypatch.setattr(Path, "write_bytes", full)
    code, _, err = cli(capsys, "export", trained, "--nir", tmp_path / "g.nir")
    assert code == 1 and "No space left on device" in _one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_device_read_past_its_model_is_refused_before_run_json(tmp_path, capsys) -> None:
    """Issue 34: RRAM at 3 days (its fits end at 2) was refused at the first training
    step, after run.json was written, and the rerun found the directory taken."""
    dev = tmp_path / "rram.toml"
    dev.write_text('[device]\nkind = "rram"\ntime = "3d"\n')
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", *TINY, "--method", "hasgd", "--device", dev, "--out", out)
    assert code == 2 and "the RRAM fits end at 172800 s; cannot read at 259200 s" in err
    assert not out.exists()


def test_resume_of_a_damaged_run_names_the_file(trained, tmp_path, capsys) -> None:
    """Issue 34: a truncated checkpoint said only "Invalid argument", a truncated
    run.json gave the bare JSON error, a missing checkpoint restarted from epoch 1 and
    replaced the metrics, and --resume --overwrite was taken."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    args = ("train", *TINY, "--model-option", "reset=zero", "--out", run)
    code, _, err = cli(capsys, *args, "--resume", "--overwrite")
    assert code == 2 and "--resume continues the run in --out, --overwrite replaces" in err
    ckpt = run / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 3])
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 2 and f"the checkpoint {ckpt} is not readable" in _one_line(err)
    ckpt.unlink()
    metrics = (run / "metrics.json").read_text()
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 2 and "its checkpoint.pt is missing" in _one_line(err)
    assert (run / "metrics.json").read_text() == metrics  # not replaced
    spec = run / "run.json"
    spec.write_text(spec.read_text()[:40])
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 2 and f"{spec} is not valid JSON" in _one_line(err)


def test_messages_name_the_value_and_what_is_allowed(trained, tmp_path, capsys) -> None:
    """Issue 34, messages: an unknown method option lists the allowed ones; a checkpoint
    that does not fit is one line; --times does not silently override a device's time;
    a device file's bins are checked; sgd's summary names no training device."""
    code, _, err = cli(capsys, "train", *TINY, "--method", "wvat", "--method-option", "foo=1",
                       "--out", tmp_path / "r")  # fmt: skip
    assert code == 2
    assert "unknown option(s) ['foo'] for method 'wvat'; allowed: ['w_th', 'p', 'alpha']" in err
    dev = tmp_path / "pcm.toml"
    dev.write_text('[device]\nkind = "pcm"\ntime = "1h"\n')
    code, _, err = cli(capsys, "evaluate", trained, "--device", dev, "--times", "1d",
                       "--out", tmp_path / "e")  # fmt: skip
    assert code == 2 and "times and the device model's own time both set" in _one_line(err)
    (tmp_path / "m.csv").write_text("target,achieved\n5,5.1\n5,4.9\n20,20.3\n20,19.8\n")
    for bins, shown in (("0", "0"), ('"many"', "'many'")):
        dev.write_text(f'[device]\nkind = "custom"\nmeasurements = "m.csv"\nbins = {bins}\n')
        code, _, err = cli(capsys, "evaluate", trained, "--device", dev, "--out", tmp_path / "e")
        assert code == 2
        assert f"bins must be an integer >= 1 (target levels), got {shown}" in _one_line(err)
    dev.write_text('[device]\nkind = "pcm"\n')
    code, out, err = cli(capsys, "train", *TINY, "--method", "sgd", "--device", dev,
                         "--out", tmp_path / "sgd")  # fmt: skip
    assert code == 0, err
    assert "device pcm" not in out and "(seed 0)" in out
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    spec = json.loads((bad / "run.json").read_text())
    spec["model_options"]["hidden"] = [8]
    (bad / "run.json").write_text(json.dumps(spec))
    code, _, err = cli(capsys, "evaluate", bad, "--out", tmp_path / "e")
    assert code == 2 and "does not fit the model: size mismatch for" in _one_line(err)
    assert not (tmp_path / "e").exists()


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path, capsys) -> None:
    """Probed beyond issue 34's list: a diverging run printed a traceback and left a
    run.json that blocked the rerun; num_classes against the data set failed the same."""
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", *TINY, "--lr", "inf", "--out", out)
    assert code == 1 and "training diverged (loss became nan in epoch 1)" in _one_line(err)
    assert not out.exists()
    code, _, err = cli(capsys, "train", *TINY, "--model-option", "num_classes=3", "--out", out)
    assert code == 2 and "num_classes=3, but digits has 10 classes" in _one_line(err)
    assert not out.exists()
    code, _, err = cli(capsys, "evaluate", tmp_path, "--seed", "-1", "--out", tmp_path / "e")
    assert code == 2 and "a seed must lie in [0, 2**63 - 1], got -1" in err


def test_more_values_found_beyond_the_list(trained, tmp_path, capsys) -> None:
    """Probed beyond issue 34's list: an empty item in --sigmas was dropped, a negative
    number of fine-tuning epochs and a zero-size input were accepted."""
    from snnvar.runs import convert_run

    code, _, err = cli(capsys, "evaluate", trained, "--sigmas", "0,,0.1", "--out", tmp_path / "e")
    assert code == 2 and "an empty item in '0,,0.1'" in err
    with pytest.raises(ValueError, match=r"finetune_epochs must be an integer >= 0, got -1"):
        convert_run(trained, tmp_path / "c", conversion.ConversionConfig(), finetune_epochs=-1)
    with pytest.raises(ValueError, match=r"fc2: in_shape must be 1 positive sizes, got \(0,\)"):
        models.create("fc2", in_shape=(0,))
    assert not (tmp_path / "e").exists() and not (tmp_path / "c").exists()


def test_a_run_directory_and_a_report_do_not_mix(trained, tmp_path, capsys) -> None:
    """Issue 34 (review): evaluate --out RUN --overwrite wrote a report beside the run;
    train --overwrite into a report's directory kept the report's files."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    code, _, err = cli(capsys, "evaluate", run, "--out", run, "--overwrite")
    assert code == 2 and "is a run directory (run.json, checkpoint.pt)" in _one_line(err)
    report = tmp_path / "report"
    assert cli(capsys, "evaluate", run, "--draws", "1", "--out", report)[0] == 0
    code, _, err = cli(capsys, "train", *TINY, "--epochs", "1", "--out", report, "--overwrite")
    assert code == 0, err
    names = sorted(p.name for p in report.iterdir())
    assert "report.json" not in names and "accuracy.png" not in names and "run.json" in names
