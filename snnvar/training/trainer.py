"""The training loop: epochs, metrics, a checkpoint per epoch, exact resume.

All randomness of epoch ``k`` comes from seeds derived from ``(seed, k)``:
the shuffling (the loader's own ``torch.Generator``), the spike encoding (batch
``b`` from ``datasets.encoding_generator(seed, b, k)``, the scheme evaluation
uses without the epoch; the SWA BatchNorm pass counts as epoch ``epochs``),
dropout (the global torch RNG, reseeded at each epoch start) and the
perturbations (the method's step counter, restored from its state dict). A run
resumed from the checkpoint of epoch ``k`` therefore reproduces the
uninterrupted run bit for bit on the CPU.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .. import datasets
from ..distributed import is_main, rank_and_world
from ..fields import check_types
from ..files import write_bytes, write_text
from ..hardware.readout import output_reads
from ..nn.modes import eval_mode
from ..nn.unroll import check_logits
from ..progress import progress_bar
from .base import Method, Plain, derive_seed
from .swa import SWA, SWAConfig

__all__ = ["ENCODERS", "TrainConfig", "Trainer"]

ENCODERS = datasets.ENCODERS
"""The input encodings the Trainer takes (:data:`snnvar.datasets.ENCODERS`)."""


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
    """Root seed of shuffling, spike encoding and dropout; in a run (``build_trainer``)
    also of the initial weights and of the method's perturbations."""
    progress: bool = field(default=True, compare=False)
    """Show a tqdm progress bar per epoch, on a terminal or in Jupyter (not in a log:
    :mod:`snnvar.progress`); not part of the run: configs that differ only here are equal."""
    warmup_epochs: int = 0
    """Epochs of plain base-optimizer steps before a :class:`~snnvar.training.Method`
    takes over: a warm start inside the same budget (the WVAT paper fine-tunes
    pre-trained networks; from scratch, variation from the first step can stall
    a deep network). The warm-up steps are :class:`~snnvar.training.Plain` steps
    of the method's base optimizer (for ``sgd`` they are what every step is)."""

    def __post_init__(self) -> None:
        check_types(self)
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
    """Train ``model`` with a method of :mod:`snnvar.training` (``sgd``: a plain optimizer).

    Args:
        model: an ANN (``encoder="none"``) or a time-major SNN.
        optimizer: a :class:`~snnvar.training.Method`, or any ``torch.optim`` optimizer
            (trained as :class:`~snnvar.training.Plain`: ``trainer.optimizer`` is then
            that wrapper).
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
        if not isinstance(optimizer, Method):
            optimizer = Plain(model, optimizer, seed=config.seed)
        self.optimizer: Method = optimizer
        """The training method (a :class:`~snnvar.training.Method`) stepping the model."""
        self._warmup = Plain(model, optimizer.base, seed=config.seed)
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
        """One dict per epoch trained: epoch, seed, train/val loss and accuracy, passes."""
        self._ddp: nn.Module | None = None

    # -- torch.distributed ----------------------------------------------------------------

    @property
    def world_size(self) -> int:
        """Processes training this model together (1 without torch.distributed)."""
        return rank_and_world()[1]

    def _forward_model(self) -> nn.Module:
        """The module the closures call: ``model`` itself, or under torch.distributed
        ``model`` wrapped in DistributedDataParallel (made once; gradients all-reduced in
        every backward pass, BatchNorm buffers broadcast from rank 0 at every forward)."""
        if self.world_size == 1:
            return self.model
        if self._ddp is None:
            device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
            ids = [device.index] if device.type == "cuda" else None
            self._ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            for opt in {id(o): o for o in (self.optimizer, self._warmup)}.values():
                if getattr(opt, "local_passes", False):
                    # passes outside the closure (adversarial regularisation's): their
                    # gradients are averaged before the base optimizer steps
                    opt.base.register_step_pre_hook(_average_gradients)
        return self._ddp

    def _sync_buffers(self) -> None:
        """Rank 0's buffers (BatchNorm statistics) on every rank: replicas identical at
        the end of each epoch, before validation and the checkpoint."""
        if self.world_size > 1:
            for b in self.model.buffers():
                torch.distributed.broadcast(b, src=0)

    # -- data -------------------------------------------------------------------------

    def _loader(self, data: Dataset, epoch: int, shuffle: bool, shard: bool = False) -> DataLoader:
        """Batches of ``data``; with ``shard`` under torch.distributed each rank's share
        (a DistributedSampler seeded from ``(seed, epoch)``: every rank the same number
        of batches of ``batch_size``, the last samples repeated to fill them)."""
        seed = derive_seed(self.config.seed, epoch, 0)
        rank, world = rank_and_world()
        if shard and world > 1:
            sampler = torch.utils.data.DistributedSampler(
                data, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed
            )
            return DataLoader(data, batch_size=self.config.batch_size, sampler=sampler)
        g = torch.Generator().manual_seed(seed)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=shuffle, generator=g)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A batch as model input, per ``config.encoder`` (:func:`snnvar.datasets.encode`)."""
        return datasets.encode(x, self.config.encoder, self.config.time_steps, generator)

    # -- training ---------------------------------------------------------------------

    def fit(self, train: Dataset, val: Dataset | None = None, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` epochs (continuing from the checkpoint if ``resume``)."""
        for what, data in (("training", train), ("validation", val)):
            if data is not None and len(data) == 0:  # type: ignore[arg-type]
                raise ValueError(f"Trainer.fit: the {what} set is empty (0 samples)")
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
                with warnings.catch_warnings():
                    if epoch < self.config.warmup_epochs:
                        # the warm-up steps went to the base optimizer (through Plain), which
                        # a scheduler built on the method does not see; the epoch-wise
                        # schedule is the same either way
                        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
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
        seed, after = self.config.seed, self.config.epochs  # encoded as an epoch after the last
        loader = self._loader(data, 0, shuffle=False)
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        self.swa.finish(
            (
                self.encode(x, datasets.encoding_generator(seed, i, after)).to(device)
                for i, (x, _) in enumerate(loader)
            ),
            seed=derive_seed(seed, after, 4),
        )

    def _train_epoch(self, data: Dataset, epoch: int) -> dict[str, float]:
        self.model.train()
        rank, world = rank_and_world()
        # dropout: under torch.distributed each rank its own masks (its own samples)
        torch.manual_seed(derive_seed(self.config.seed, epoch, 2, *([rank] if world > 1 else [])))
        loss_sum = correct = count = 0.0
        warmup = epoch < self.config.warmup_epochs
        opt = self._warmup if warmup else self.optimizer
        passes_before = opt.passes
        forward = self._forward_model()
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        batches = progress_bar(
            self._loader(data, epoch, shuffle=True, shard=True),
            desc=f"epoch {epoch + 1}",
            enabled=self.config.progress and rank == 0,
            leave=False,
        )
        for i, (x, y) in enumerate(batches):
            # batch i of rank r is global batch i·world + r (one process: batch i)
            gen = datasets.encoding_generator(self.config.seed, i * world + rank, epoch)
            inputs = self.encode(x, gen).to(device)  # encoded on the CPU: the same spikes
            y = y.to(device)
            logits_box: list[torch.Tensor] = []

            def closure(inputs=inputs, y=y, box=logits_box) -> torch.Tensor:
                logits = check_logits(forward, inputs, len(y), "Trainer")
                loss = self.loss_fn(logits, y)
                loss.backward()
                if not box:  # the step's first pass, whose loss the method returns
                    box.append(logits.detach())
                return loss

            loss = opt.step(closure, inputs)
            bad = not math.isfinite(float(loss))
            if world > 1:  # one rank's non-finite loss stops every rank, not only its own
                flag = torch.tensor([float(bad)], device=device)
                torch.distributed.all_reduce(flag)
                if float(flag) > 0 and not bad:
                    raise FloatingPointError(
                        f"another rank's loss became non-finite in epoch {epoch + 1}"
                    )
            if bad:
                raise FloatingPointError(f"loss became {float(loss)} in epoch {epoch + 1}")
            n = len(y)
            loss_sum += float(loss) * n
            correct += float((logits_box[0].argmax(-1) == y).sum())
            count += n
            batches.set_postfix(loss=f"{loss_sum / count:.4f}")
        if world > 1:  # every rank's share: the epoch's figures over all the data
            totals = torch.tensor([loss_sum, correct, count], dtype=torch.float64, device=device)
            torch.distributed.all_reduce(totals)
            loss_sum, correct, count = (float(v) for v in totals)
        self._sync_buffers()
        # Loss and accuracy of each step's first pass (the clean pass of SAM, AWP and
        # WVAT's GAV; the perturbed one of noise injection and HSV; HA-SGD's first draw).
        return {
            "train_loss": loss_sum / count,
            "train_accuracy": correct / count,
            "passes": opt.passes - passes_before,
            "warmup": warmup,
            **({"world_size": world} if world > 1 else {}),
        }

    def evaluate(self, data: Dataset) -> dict[str, float]:
        """Loss (``loss_fn``, batch means weighted by batch size) and accuracy on ``data``,
        in eval mode (the model's mode is restored afterwards), without gradients; the
        input encoding of batch ``b`` is seeded ``datasets.encoding_seed(seed, b)``, as
        in :func:`snnvar.evaluate`; a restricted chip's output noise is read from
        ``derive_seed(seed, 5)`` in the training domain."""
        cfg = self.config
        batches = datasets.prepare(
            data, self.model, cfg.encoder, cfg.time_steps, cfg.batch_size, cfg.seed, cache_mb=0
        )
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        loss, correct = 0.0, 0
        reads = output_reads(self.model, seed=derive_seed(cfg.seed, 5), domain="train")
        with eval_mode(self.model), torch.no_grad(), reads:
            for x, y in batches:
                x, y = x.to(device), y.to(device)
                logits = check_logits(self.model, x, len(y), "Trainer.evaluate")
                loss += float(self.loss_fn(logits, y)) * len(y)
                correct += int((logits.argmax(-1) == y).sum())
        return {"loss": loss / batches.samples, "accuracy": correct / batches.samples}

    # -- checkpoints and logs ---------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: epoch, config, model, optimizer, schedule, SWA, history, RNG."""
        return {
            "epoch": self.epoch,
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "swa": None if self.swa is None else self.swa.state_dict(),
            "history": self.history,
            "torch_rng": torch.get_rng_state(),
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a state saved with another seed or world size is refused."""
        if state.get("config", {}).get("seed") != self.config.seed:
            raise ValueError(
                f"checkpoint seed {state.get('config', {}).get('seed')} differs from the "
                f"config's seed {self.config.seed}: resuming would not reproduce the run"
            )
        saved_world = state.get("world_size", 1)
        if saved_world != self.world_size:
            raise ValueError(
                f"the checkpoint was written by {saved_world} process(es) and this run has "
                f"{self.world_size}: resume with the same number (torchrun --nproc_per_node "
                f"{saved_world})"
            )
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise ValueError(
                f"the checkpoint does not fit the model: {state_mismatch(err)}"
            ) from None
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
        """``out_dir / 'checkpoint.pt'``, written after every epoch."""
        if self.out_dir is None:
            raise ValueError("checkpoints need out_dir")
        return self.out_dir / "checkpoint.pt"

    def load_checkpoint(self) -> None:
        """Load :attr:`checkpoint_path` into this trainer (what ``fit(resume=True)`` does)."""
        path = self.checkpoint_path
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint to resume from at {path}")
        # onto the CPU first: load_state_dict copies every tensor to where it belongs
        try:
            state = torch.load(path, weights_only=False, map_location="cpu")
            if not isinstance(state, dict) or not {"model", "optimizer"} <= set(state):
                raise ValueError("no model and optimizer state in it")
        except Exception as err:  # truncated, corrupt, not a torch file, another file
            raise ValueError(
                f"the checkpoint {path} is not readable ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else 'truncated'}); it is damaged: "
                "train again into a new directory (or with --overwrite)"
            ) from None
        self.load_state_dict(state)

    def _write(self, row: dict[str, Any]) -> None:
        if self.out_dir is None or not is_main():  # under torch.distributed: rank 0 writes
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # atomically: a crash or a full disk never leaves half a checkpoint, nor a .tmp
        # serialised in memory first: torch.save reports a full disk as a RuntimeError,
        # a plain write as the OSError the command line reports in one line
        buffer = io.BytesIO()
        torch.save(self.state_dict(), buffer)
        write_bytes(self.checkpoint_path, buffer.getvalue())
        write_text(self.out_dir / "metrics.json", json.dumps(self.history, indent=1))
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=list(self.history[-1]))
        writer.writeheader()
        writer.writerows(self.history)
        write_text(self.out_dir / "metrics.csv", table.getvalue())


def state_mismatch(err: RuntimeError) -> str:
    """torch's multi-line ``load_state_dict`` error in one line (its first two causes)."""
    lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
    causes = "; ".join(lines[:2]) + ("; ..." if len(lines) > 2 else "")
    return causes or str(err).splitlines()[0]


def _average_gradients(optimizer: torch.optim.Optimizer, *_: Any) -> None:
    """All-reduce every gradient of ``optimizer``'s parameters to its mean over ranks (a
    step pre-hook under torch.distributed)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world = torch.distributed.get_world_size()
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad.div_(world)
