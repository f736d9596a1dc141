"""The Trainer: metrics, checkpoints, exact resume, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from snnvar import Variation, datasets, models
from snnvar.training import WVAT, Plain, TrainConfig, Trainer


def _data() -> tuple[Subset, Subset]:
    full = datasets.get("digits")
    return Subset(full, range(96)), Subset(full, range(96, 160))


def _trainer(
    out_dir,
    epochs: int,
    method: str = "wvat",
    lr: float = 0.05,
    decay: float = 0.7,
    warmup: int = 0,
) -> Trainer:
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(32,))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    if method == "wvat":
        opt = WVAT(model, opt, Variation(sigma=0.1), seed=3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=decay)
    cfg = TrainConfig(
        epochs=epochs, batch_size=32, time_steps=5, seed=1, progress=False, warmup_epochs=warmup
    )
    return Trainer(model, opt, cfg, out_dir=out_dir, scheduler=sched)


def test_fit_logs_metrics_and_learns(tmp_path) -> None:
    train, val = _data()
    t = _trainer(tmp_path, epochs=6, lr=0.1, decay=1.0)
    history = t.fit(train, val)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.3
    # 96 training samples, T = 5, fixed seeds: measured 0.42; chance is 0.1
    assert history[-1]["val_accuracy"] > 0.3
    assert all(3 <= r["passes"] <= 6 for r in history)  # 3 batches, 1 or 2 passes each
    assert json.loads((tmp_path / "metrics.json").read_text()) == history
    csv_rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert csv_rows[0].startswith("epoch,seed,train_loss") and len(csv_rows) == 7


@pytest.mark.parametrize(("method", "warmup"), [("wvat", 0), ("sgd", 0), ("wvat", 1)])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, method: str, warmup: int) -> None:
    train, val = _data()
    full = _trainer(tmp_path / "full", epochs=3, method=method, warmup=warmup)
    full.fit(train, val)
    part = _trainer(tmp_path / "part", epochs=2, method=method, warmup=warmup)
    part.fit(train, val)
    resumed = _trainer(tmp_path / "part", epochs=3, method=method, warmup=warmup)
    resumed.fit(train, val, resume=True)
    for (k, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert resumed.history == full.history


def test_warmup_epochs_are_plain_optimizer_steps() -> None:
    """Warm-up epochs of a method are bit for bit the plain optimizer's epochs; the
    method takes over after them (its step count starts there)."""
    train, _ = _data()
    plain = _trainer(None, epochs=3, method="sgd")
    plain.fit(train)
    warm = _trainer(None, epochs=3, method="wvat", warmup=2)
    warm.fit(train)
    assert [r["warmup"] for r in warm.history] == [True, True, False]
    for a, b in zip(plain.history[:2], warm.history[:2], strict=True):
        assert (a["train_loss"], a["train_accuracy"], a["passes"]) == (
            b["train_loss"],
            b["train_accuracy"],
            b["passes"],
        )
    assert warm.history[2]["train_loss"] != plain.history[2]["train_loss"]
    assert warm.optimizer.steps == 3  # 96 samples / batch 32: only the last epoch
    assert [r["passes"] for r in warm.history[:2]] == [3, 3]  # warm-up: one per batch
    assert warm.optimizer.passes == warm.history[2]["passes"]  # the method's own passes
    assert warm.history[2]["passes"] == 4  # 3 batches, seeded: two HSV steps and one GAV


def test_bad_input(tmp_path) -> None:
    for bad in (-1, 3):
        with pytest.raises(
            ValueError, match=rf"warmup_epochs must be in \[0, epochs - 1\] = \[0, 2\].*got {bad}"
        ):
            TrainConfig(epochs=3, warmup_epochs=bad)
    with pytest.raises(ValueError, match=r"unknown encoder 'poisson'"):
        TrainConfig(encoder="poisson")
    with pytest.raises(ValueError, match="must be >= 1"):
        TrainConfig(epochs=0)
    t = _trainer(tmp_path / "none", epochs=1)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        t.fit(_data()[0], resume=True)
    _trainer(tmp_path / "a", epochs=1).fit(_data()[0])
    other = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,))
    t2 = Trainer(
        other,
        torch.optim.SGD(other.parameters(), lr=0.1),
        TrainConfig(epochs=2, seed=1, progress=False),
        out_dir=tmp_path / "a",
    )
    with pytest.raises(ValueError, match="does not fit the model"):
        t2.fit(_data()[0], resume=True)
    t3 = _trainer(tmp_path / "a", epochs=2)
    t3.config = TrainConfig(epochs=2, seed=9, progress=False)
    with pytest.raises(ValueError, match="checkpoint seed 1 differs"):
        t3.fit(_data()[0], resume=True)


def test_ann_training_without_encoding() -> None:
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    t = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.5),
        TrainConfig(epochs=5, batch_size=16, encoder="none", progress=False),
    )
    history = t.fit(TensorDataset(x, y))
    assert history[-1]["train_accuracy"] > 0.9 and history[-1]["passes"] == 4


def test_methods_that_need_inputs_get_them() -> None:
    from snnvar.training import AdversarialRegularization

    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,))
    opt = AdversarialRegularization(
        model, torch.optim.SGD(model.parameters(), lr=0.05), Variation(0.1), attack_steps=2
    )
    cfg = TrainConfig(epochs=1, batch_size=32, time_steps=4, progress=False)
    history = Trainer(model, opt, cfg).fit(Subset(datasets.get("digits"), range(64)))
    assert history[0]["passes"] == 2 * (1 + 2 + 1)  # per batch: task, 2 attack steps, regulariser


def test_a_plain_optimizer_is_trained_as_plain() -> None:
    model = torch.nn.Linear(4, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = Trainer(model, sgd, TrainConfig(epochs=1, progress=False))
    assert isinstance(trainer.optimizer, Plain) and trainer.optimizer.base is sgd
    with pytest.raises(
        ValueError, match=r"not a Plain state dict: keys \['param_groups', 'state'\]"
    ):
        trainer.optimizer.load_state_dict(sgd.state_dict())  # a bare torch state: not a method's
