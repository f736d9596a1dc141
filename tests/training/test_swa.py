"""SWA on top of any method: the average, BatchNorm statistics over encoded batches,
the Trainer integration (exact resume included) and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

from snnvar import Variation, datasets, models
from snnvar.training import SWA, WVAT, SWAConfig, TrainConfig, Trainer, update_bn


def _data() -> tuple[Subset, Subset]:
    full = datasets.get("digits")
    return Subset(full, range(96)), Subset(full, range(96, 160))


def _trainer(out_dir, epochs: int, swa: SWAConfig | None, batch_norm: bool = False) -> Trainer:
    torch.manual_seed(0)
    if batch_norm:
        model = models.create("spiking_cnn1", in_shape=(1, 8, 8), batch_norm=True)
    else:
        model = models.create("fc2", in_shape=(1, 8, 8), hidden=(32,))
    opt = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), Variation(0.1))
    cfg = TrainConfig(epochs=epochs, batch_size=32, time_steps=5, seed=1, progress=False)
    return Trainer(model, opt, cfg, out_dir=out_dir, swa=swa)


def test_average_is_the_mean_of_the_epoch_end_weights() -> None:
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    swa = SWA(model, opt, SWAConfig(start_epoch=2))
    seen = []
    for epoch in range(1, 5):
        with torch.no_grad():
            model.weight.add_(float(epoch))  # stands in for an epoch of training
        if swa.epoch_end(epoch):
            seen.append(model.weight.detach().clone())
    assert swa.count == 3
    torch.testing.assert_close(swa.averaged.module.weight, torch.stack(seen).mean(0))


# no optimizer step happens here, so torch warns about the scheduler order
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_swalr_anneals_the_shared_learning_rate() -> None:
    model = nn.Linear(3, 2)
    opt = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.1), Variation(0.1))
    cfg = SWAConfig(start_epoch=1, lr=0.01, anneal_epochs=2, anneal_strategy="linear")
    swa = SWA(model, opt, cfg)
    lrs = []
    for epoch in (1, 2, 3):
        swa.epoch_end(epoch)
        lrs.append(opt.base.param_groups[0]["lr"])  # the base optimizer sees it too
    assert lrs == pytest.approx([0.055, 0.01, 0.01])


def test_update_bn_uses_encoded_batches() -> None:
    model = models.create("spiking_cnn1", in_shape=(1, 8, 8), batch_norm=True)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    x = torch.rand(40, 1, 8, 8)
    encode = lambda b: datasets.direct(b, 3)  # noqa: E731
    update_bn(model, [(x[:20], None), (x[20:], None)], encode=encode)
    # the BN after the first convolution sees the same direct current at every
    # step: its running mean is that convolution's output mean over all 40 samples
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        expected = first(x).mean((0, 2, 3))
    torch.testing.assert_close(bn.running_mean, expected, rtol=1e-5, atol=1e-5)
    assert bn.momentum == 0.1  # restored


def test_trainer_with_swa_ends_on_the_average(tmp_path) -> None:
    train, val = _data()
    t = _trainer(tmp_path, epochs=3, swa=SWAConfig(start_epoch=2), batch_norm=True)
    history = t.fit(train, val)
    assert [r["swa_averaged"] for r in history] == [False, True, True]
    assert t.swa is not None and t.swa.count == 2
    for a, b in zip(t.model.parameters(), t.swa.averaged.module.parameters(), strict=True):
        assert torch.equal(a, b)
    bn = next(m for m in t.model.modules() if isinstance(m, nn.BatchNorm2d))
    assert int(bn.num_batches_tracked) == 3  # update_bn's one pass over 96 samples / 32


class _Crash(RuntimeError):
    pass


def test_trainer_with_swa_resumes_exactly(tmp_path, monkeypatch) -> None:
    train, val = _data()
    cfg = SWAConfig(start_epoch=1, lr=0.02)
    full = _trainer(tmp_path / "full", epochs=3, swa=cfg, batch_norm=True)
    full.fit(train, val)

    crashing = _trainer(tmp_path / "part", epochs=3, swa=cfg, batch_norm=True)
    real = crashing._train_epoch

    def crash_in_epoch_3(data, epoch):
        if epoch == 2:
            raise _Crash
        return real(data, epoch)

    monkeypatch.setattr(crashing, "_train_epoch", crash_in_epoch_3)
    with pytest.raises(_Crash):
        crashing.fit(train, val)
    resumed = _trainer(tmp_path / "part", epochs=3, swa=cfg, batch_norm=True)
    resumed.fit(train, val, resume=True)
    for (k, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert resumed.history == full.history

    # a finished 2-epoch run extended to 3 trains on from its trained weights, not
    # from the average it ended on, and so also ends where the 3-epoch run did
    _trainer(tmp_path / "short", epochs=2, swa=cfg, batch_norm=True).fit(train, val)
    extended = _trainer(tmp_path / "short", epochs=3, swa=cfg, batch_norm=True)
    extended.fit(train, val, resume=True)
    for (k, a), b in zip(
        full.model.state_dict().items(), extended.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


def test_bad_input(tmp_path) -> None:
    with pytest.raises(ValueError, match="start_epoch must be >= 1"):
        SWAConfig(start_epoch=0)
    with pytest.raises(ValueError, match=r"lr must be > 0 or None, got -0.1"):
        SWAConfig(lr=-0.1)
    with pytest.raises(ValueError, match=r"unknown anneal_strategy 'step'"):
        SWAConfig(anneal_strategy="step")
    with pytest.raises(ValueError, match="start_epoch 5 is after the last epoch 3"):
        _trainer(None, epochs=3, swa=SWAConfig(start_epoch=5))
    model = nn.Linear(2, 2)
    swa = SWA(model, torch.optim.SGD(model.parameters(), lr=0.1), SWAConfig(start_epoch=3))
    with pytest.raises(ValueError, match="no epoch was averaged"):
        swa.finish([])
    _trainer(tmp_path, epochs=1, swa=None).fit(_data()[0])
    with pytest.raises(ValueError, match="written without SWA"):
        _trainer(tmp_path, epochs=2, swa=SWAConfig()).fit(_data()[0], resume=True)
