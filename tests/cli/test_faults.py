"""What a user runs into: bad values, full or read-only disks, Ctrl-C, logs."""

from __future__ import annotations

import errno
import io
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from snnvar import conversion, datasets, files, models, progress
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
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]  # no checkpoint, no .tmp


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
    assert code == 1 and "No space left on device" in _one_line(err)
    assert not (tmp_path / "e" / "report.json").exists()
    assert not [p for p in (tmp_path / "e").iterdir() if "tmp" in p.name]


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
