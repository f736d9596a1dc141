"""Stochastic weight averaging on top of any method (Izmailov et al., UAI 2018).

A thin layer over :mod:`torch.optim.swa_utils`: :class:`SWA` keeps an
``AveragedModel`` of the weights at the end of every epoch from
``start_epoch`` on, optionally anneals the learning rate to ``lr`` with
``SWALR`` (it acts on the shared ``param_groups``, so it works for a
:class:`~snnvar.training.Method` and a plain optimizer alike), and
:func:`update_bn` recomputes BatchNorm statistics of the averaged weights over
*encoded* batches (time-major spike trains for an SNN). The averaged weights
live on the same device weights a :class:`~snnvar.Variation` selects, so an
SWA model is evaluated under variation like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel
from torch.optim.swa_utils import update_bn as _torch_update_bn

from ..hardware.readout import output_reads

__all__ = ["SWA", "SWAConfig", "update_bn"]

ANNEAL_STRATEGIES = ("cos", "linear")


@dataclass(frozen=True)
class SWAConfig:
    """When and how weights are averaged."""

    start_epoch: int = 1
    """First epoch (1-based) whose final weights enter the average."""
    lr: float | None = None
    """Learning rate SWALR anneals to from ``start_epoch`` on; None leaves the
    learning rate to the optimizer (and to the Trainer's scheduler)."""
    anneal_epochs: int = 1
    """Epochs SWALR takes to reach ``lr``."""
    anneal_strategy: str = "cos"
    """``"cos"`` or ``"linear"`` annealing."""

    def __post_init__(self) -> None:
        if self.start_epoch < 1:
            raise ValueError(f"start_epoch must be >= 1 (1-based), got {self.start_epoch}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0 or None, got {self.lr}")
        if self.anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be >= 0, got {self.anneal_epochs}")
        if self.anneal_strategy not in ANNEAL_STRATEGIES:
            raise ValueError(
                f"unknown anneal_strategy {self.anneal_strategy!r}; allowed: "
                f"{list(ANNEAL_STRATEGIES)}"
            )


class SWA:
    """The running weight average of ``model`` and, if ``config.lr`` is set, its SWALR.

    Call :meth:`epoch_end` after every epoch (``epoch`` 1-based); it averages
    from ``start_epoch`` on and returns True when it did. ``averaged`` is the
    ``AveragedModel``; :meth:`finish` recomputes BatchNorm statistics and copies
    the average into ``model``, keeping the trained weights in ``trained`` (so a
    run extended past its last epoch goes on from them, not from the average).
    """

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, config: SWAConfig = SWAConfig()
    ) -> None:
        self.model = model
        self.config = config
        self.averaged = AveragedModel(model)
        self.scheduler = (
            None
            if config.lr is None
            else SWALR(
                optimizer,
                swa_lr=config.lr,
                anneal_epochs=config.anneal_epochs,
                anneal_strategy=config.anneal_strategy,  # type: ignore[arg-type]
            )
        )
        self.trained: dict[str, torch.Tensor] | None = None

    @property
    def count(self) -> int:
        """How many weight sets have been averaged."""
        return int(self.averaged.n_averaged)

    def active(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (1-based) is averaged (and SWALR drives the LR)."""
        return epoch >= self.config.start_epoch

    def epoch_end(self, epoch: int) -> bool:
        """Average the current weights if ``epoch`` is averaged; step SWALR."""
        if not self.active(epoch):
            return False
        self.averaged.update_parameters(self.model)
        if self.scheduler is not None:
            self.scheduler.step()
        return True

    def finish(self, batches: Iterable[Any], seed: int = 0) -> nn.Module:
        """BatchNorm statistics of the average over ``batches`` (``seed``: of a chip's
        output noise, :func:`update_bn`), then the average into ``model``. Returns
        ``model``."""
        if self.count == 0:
            raise ValueError(
                f"no epoch was averaged (start_epoch={self.config.start_epoch}): "
                "train up to start_epoch before finishing SWA"
            )
        update_bn(self.averaged.module, batches, seed=seed)
        self.trained = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.averaged.module.state_dict())
        return self.model

    def unfinish(self) -> None:
        """Put the trained weights back into ``model`` (to train on after :meth:`finish`)."""
        if self.trained is not None:
            self.model.load_state_dict(self.trained)
            self.trained = None

    def state_dict(self) -> dict[str, Any]:
        """The averaged model, its count and the SWA schedule, for a checkpoint."""
        return {
            "averaged": self.averaged.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "trained": self.trained,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.averaged.load_state_dict(state["averaged"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.trained = state["trained"]


def update_bn(
    model: nn.Module,
    batches: Iterable[Any],
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
) -> None:
    """Recompute the BatchNorm running statistics of ``model`` in one pass.

    ``batches`` yields inputs or ``(inputs, targets)`` pairs (a DataLoader);
    ``encode`` turns a raw batch into model input (e.g. a rate encoder to
    ``[T, B, ...]``), so SNN BatchNorm layers see spike trains, not images.
    A model without BatchNorm is left untouched. A restricted chip with output noise
    reads it from ``seed`` in the training domain (:func:`snnvar.hardware.output_reads`).
    """

    def inputs() -> Iterable[torch.Tensor]:
        for batch in batches:
            x = batch[0] if isinstance(batch, list | tuple) else batch
            yield x if encode is None else encode(x)

    with output_reads(model, seed=seed, domain="train"):
        _torch_update_bn(inputs(), model)
