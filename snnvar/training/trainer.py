"""The training loop: epochs, metrics, a checkpoint per epoch, exact resume.

All randomness of epoch ``k`` comes from seeds derived from ``(seed, k)``:
the shuffling (the loader's own ``torch.Generator``), the spike encoding (its
own generator), dropout (the global torch RNG, reseeded at each epoch start)
and the perturbations (the method's step counter, restored from its state
dict). A run resumed from the checkpoint of epoch ``k`` therefore reproduces
the uninterrupted run bit for bit on the CPU.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .. import datasets
from ..evaluation.montecarlo import prepare, run_pass
from .base import Method, derive_seed
from .swa import SWA, SWAConfig

__all__ = ["ENCODERS", "TrainConfig", "Trainer"]

ENCODERS = datasets.ENCODERS


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (the run's seed included)."""

    epochs: int = 10
    """Epochs to train."""
    batch_size: int = 128
    """Samples per step."""
    time_steps: int = 25
    """T for the spike encoders (``rate``, ``direct``, ``latency``)."""
    encoder: str = "rate"
    """One of :data:`ENCODERS`."""
    seed: int = 0
    """Root seed of shuffling, spike encoding and dropout (the perturbations of a
    method follow the method's own ``seed``)."""
    progress: bool = True
    """Show a tqdm progress bar per epoch."""
    warmup_epochs: int = 0
    """Epochs of plain base-optimizer steps before a :class:`~snnvar.training.Method`
    takes over: a warm start inside the same budget (the WVAT paper fine-tunes
    pre-trained networks; from scratch, variation from the first step can stall
    a deep network). Ignored for a plain optimizer."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.time_steps < 1:
            raise ValueError(
                f"epochs, batch_size and time_steps must be >= 1, got {self.epochs}, "
                f"{self.batch_size}, {self.time_steps}"
            )
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, epochs - 1] = [0, {self.epochs - 1}] so that "
                f"the method trains at least one epoch, got {self.warmup_epochs}"
            )
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; allowed: {list(ENCODERS)}")


class Trainer:
    """Train ``model`` with a method of :mod:`snnvar.training` or a plain optimizer (SGD).

    Args:
        model: an ANN (``encoder="none"``) or a time-major SNN.
        optimizer: a :class:`~snnvar.training.Method` or any ``torch.optim`` optimizer.
        config: a :class:`TrainConfig`.
        out_dir: where ``checkpoint.pt`` (after every epoch), ``metrics.csv`` and
            ``metrics.json`` are written; None keeps everything in memory.
        loss_fn: ``loss_fn(logits, targets)``; cross-entropy by default.
        scheduler: an LR scheduler stepped once per epoch (saved in checkpoints).
        swa: average the weights of the epochs from ``swa.start_epoch`` on
            (:class:`~snnvar.training.SWAConfig`); after the last epoch the
            BatchNorm statistics of the average are recomputed over the encoded
            training set and the average becomes ``model``. With ``swa.lr`` set,
            SWALR replaces ``scheduler`` from ``start_epoch`` on.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig = TrainConfig(),
        out_dir: str | Path | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        scheduler: Any = None,
        swa: SWAConfig | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.config = config
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.loss_fn = loss_fn or nn.functional.cross_entropy
        self.scheduler = scheduler
        if swa is not None and swa.start_epoch > config.epochs:
            raise ValueError(
                f"swa.start_epoch {swa.start_epoch} is after the last epoch {config.epochs}"
            )
        self.swa = None if swa is None else SWA(model, optimizer, swa)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    # -- data -------------------------------------------------------------------------

    def _loader(self, data: Dataset, epoch: int, shuffle: bool) -> DataLoader:
        g = torch.Generator().manual_seed(derive_seed(self.config.seed, epoch, 0))
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=shuffle, generator=g)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A batch as model input, per ``config.encoder`` (:func:`snnvar.datasets.encode`)."""
        return datasets.encode(x, self.config.encoder, self.config.time_steps, generator)

    # -- training ---------------------------------------------------------------------

    def fit(self, train: Dataset, val: Dataset | None = None, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` epochs (continuing from the checkpoint if ``resume``)."""
        if resume:
            self.load_checkpoint()
            if self.swa is not None and self.epoch < self.config.epochs:
                self.swa.unfinish()  # extended past a finished run: train on, not the average
        for epoch in range(self.epoch, self.config.epochs):
            row = {"epoch": epoch + 1, "seed": self.config.seed, **self._train_epoch(train, epoch)}
            swa_lr = self.swa is not None and self.swa.active(epoch + 1) and self.swa.scheduler
            if self.swa is not None:
                row["swa_averaged"] = self.swa.epoch_end(epoch + 1)
            if self.scheduler is not None and not swa_lr:
                self.scheduler.step()
            if self.swa is not None and epoch + 1 == self.config.epochs:
                self._finish_swa(train)
            if val is not None:
                row.update({f"val_{k}": v for k, v in self.evaluate(val).items()})
            self.epoch = epoch + 1
            self.history.append(row)
            self._write(row)
        return self.history

    def _finish_swa(self, data: Dataset) -> None:
        """BatchNorm statistics of the SWA average over the encoded training set (seeded)."""
        assert self.swa is not None
        torch.manual_seed(derive_seed(self.config.seed, self.config.epochs, 3))  # dropout
        gen = torch.Generator().manual_seed(derive_seed(self.config.seed, self.config.epochs, 4))
        loader = self._loader(data, 0, shuffle=False)
        self.swa.finish((self.encode(x, gen) for x, _ in loader))

    def _train_epoch(self, data: Dataset, epoch: int) -> dict[str, float]:
        self.model.train()
        torch.manual_seed(derive_seed(self.config.seed, epoch, 2))  # dropout
        enc_gen = torch.Generator().manual_seed(derive_seed(self.config.seed, epoch, 1))
        loss_sum = correct = count = 0.0
        warmup = epoch < self.config.warmup_epochs
        passes_before = self.optimizer.passes if isinstance(self.optimizer, Method) else 0
        batches = tqdm(
            self._loader(data, epoch, shuffle=True),
            desc=f"epoch {epoch + 1}",
            disable=not self.config.progress,
            leave=False,
        )
        for x, y in batches:
            inputs = self.encode(x, enc_gen)
            logits_box: list[torch.Tensor] = []

            def closure(inputs=inputs, y=y, box=logits_box) -> torch.Tensor:
                logits = self.model(inputs)
                loss = self.loss_fn(logits, y)
                loss.backward()
                if not box:  # the step's first pass, whose loss the method returns
                    box.append(logits.detach())
                return loss

            loss = self._step(closure, inputs, warmup)
            if not math.isfinite(float(loss)):
                raise FloatingPointError(f"loss became {float(loss)} in epoch {epoch + 1}")
            n = len(y)
            loss_sum += float(loss) * n
            correct += float((logits_box[0].argmax(-1) == y).sum())
            count += n
            batches.set_postfix(loss=f"{loss_sum / count:.4f}")
        # Loss and accuracy of each step's first pass (the clean pass of SAM, AWP and
        # WVAT's GAV; the perturbed one of noise injection and HSV; HA-SGD's first draw).
        row = {"train_loss": loss_sum / count, "train_accuracy": correct / count}
        if isinstance(self.optimizer, Method):
            row["passes"] = self.optimizer.passes - passes_before
            row["warmup"] = warmup
        else:
            row["passes"] = len(batches)  # plain optimizer: one forward/backward per batch
        return row

    def _step(
        self, closure: Callable[[], torch.Tensor], inputs: torch.Tensor, warmup: bool
    ) -> torch.Tensor:
        """One step of the method (in a warm-up epoch: of the optimizer it wraps)."""
        opt = self.optimizer
        if isinstance(opt, Method):
            if warmup:
                return opt.step(closure, plain=True)
            return opt.step(closure, inputs=inputs) if opt.needs_inputs else opt.step(closure)
        opt.zero_grad()
        loss = closure()
        opt.step()
        return loss.detach()

    def evaluate(self, data: Dataset) -> dict[str, float]:
        """Loss and accuracy on ``data`` (eval mode; the input encoding is seeded per
        batch from the config's seed, as in :func:`snnvar.evaluate`)."""
        cfg = self.config
        batches = prepare(
            data, self.model, cfg.encoder, cfg.time_steps, cfg.batch_size, cfg.seed, cache_mb=0
        )
        result = run_pass(self.model, batches, spikes=False, loss_fn=self.loss_fn)
        return {"loss": result.loss, "accuracy": result.accuracy}

    # -- checkpoints and logs ---------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "swa": None if self.swa is None else self.swa.state_dict(),
            "history": self.history,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("config", {}).get("seed") != self.config.seed:
            raise ValueError(
                f"checkpoint seed {state.get('config', {}).get('seed')} differs from the "
                f"config's seed {self.config.seed}: resuming would not reproduce the run"
            )
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise ValueError(f"the checkpoint does not fit the model: {err}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if (self.swa is None) != (state.get("swa") is None):
            raise ValueError(
                "the checkpoint was written "
                + ("without" if state.get("swa") is None else "with")
                + " SWA and this Trainer is configured "
                + ("with" if self.swa is not None else "without")
                + " it: resuming would not reproduce the run"
            )
        if self.swa is not None:
            self.swa.load_state_dict(state["swa"])
        self.epoch = state["epoch"]
        self.history = list(state["history"])
        torch.set_rng_state(state["torch_rng"])

    @property
    def checkpoint_path(self) -> Path:
        if self.out_dir is None:
            raise ValueError("checkpoints need out_dir")
        return self.out_dir / "checkpoint.pt"

    def load_checkpoint(self) -> None:
        path = self.checkpoint_path
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint to resume from at {path}")
        self.load_state_dict(torch.load(path, weights_only=False))

    def _write(self, row: dict[str, Any]) -> None:
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(self.checkpoint_path)  # atomic: a crash never leaves half a checkpoint
        (self.out_dir / "metrics.json").write_text(json.dumps(self.history, indent=1))
        with open(self.out_dir / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[-1]))
            writer.writeheader()
            writer.writerows(self.history)
