"""build_trainer is the one place a run becomes a Trainer."""

from __future__ import annotations

import torch

from snnvar import Variation, datasets
from snnvar.runs import build_trainer, model_for
from snnvar.training import (
    WVAT,
    Plain,
    SWAConfig,
    Trainer,
    create_method,
    create_optimizer,
)

from .helpers import LOOP, spec_of


def test_build_trainer_is_the_hand_assembled_trainer() -> None:
    """build_trainer = seed, model, base optimizer, method with the spec's variation,
    cosine schedule, SWA and the loop: two epochs of each end bit for bit equal."""
    train = torch.utils.data.Subset(datasets.get("digits"), range(128))
    spec = spec_of(swa_start=2, weight_decay=1e-4)
    trainer = build_trainer(spec, data=train)
    assert isinstance(trainer.optimizer, WVAT) and trainer.optimizer.variation == spec.variation
    assert trainer.config == LOOP and trainer.swa is not None
    trainer.fit(train)

    torch.manual_seed(3)
    from snnvar import models

    model = models.create("fc2", hidden=(16,), in_shape=(1, 8, 8), num_classes=10)
    base = create_optimizer("adam", model, 1e-3, weight_decay=1e-4)
    method = create_method("wvat", model, base, Variation(0.1), seed=3, w_th=0.5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(method, 2)
    Trainer(model, method, LOOP, scheduler=schedule, swa=SWAConfig(start_epoch=2)).fit(train)
    for (k, a), b in zip(trainer.model.state_dict().items(), model.state_dict().values(),
                         strict=True):  # fmt: skip
        assert torch.equal(a, b), k


def test_build_trainer_trains_a_given_model_and_changes_nothing_else() -> None:
    train = torch.utils.data.Subset(datasets.get("digits"), range(64))
    model = model_for(spec_of(), train)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = build_trainer(spec_of(method="sgd", method_options={}, cosine=False), model)
    assert trainer.model is model and isinstance(trainer.optimizer, Plain)
    assert trainer.scheduler is None and trainer.swa is None and trainer.out_dir is None
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
