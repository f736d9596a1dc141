"""The optimizer wrapper every variation-aware method shares.

A method wraps an already-built torch optimizer and keeps the ``torch.optim``
contract: ``step(closure)``, ``zero_grad``, ``param_groups`` *shared* with the
base optimizer (so LR schedulers act on both), and ``state_dict`` /
``load_state_dict``. The closure recomputes the loss and its gradients
(``loss = criterion(model(x), y); loss.backward(); return loss``), as for LBFGS
or SAM; the method zeroes the gradients before every closure call, so a
closure need not. Weights are perturbed only through :mod:`snnvar.variation`
(or, for gradient-ascent steps, by an exactly restored in-place offset).

Every step draws its randomness from ``step_seed``, a function of the method's
``seed`` and its step count: replicas of a data-parallel job that share the
seed apply the same perturbation at the same step. Variation draws use the
engine's ``"train"`` seed domain, so no training draw repeats a test chip of
:func:`snnvar.evaluate`, whatever the seeds; so does the output noise of a
restricted chip (``Restrictions.output_noise``), read from the step's seed in
every pass of the step (:func:`snnvar.hardware.output_reads`; under
torch.distributed from ``derive_seed(step_seed, rank)``: each replica reads its own
samples' noise, while the weights' noise is the same on every replica).

Side effects, the same for every method:

- BatchNorm (any ``_NormBase`` layer in training mode: BatchNorm, SyncBatchNorm,
  InstanceNorm with running statistics) updates its running statistics exactly
  once per ``step`` call (a warm-up step included), from the step's *first* pass (the clean
  pass of SAM, AWP and WVAT's GAV; the perturbed pass of noise injection and
  WVAT's HSV; the first draw of HA-SGD; the noisy task pass of adversarial
  regularisation). Later passes normalise with their batch statistics and
  leave the running ones alone (:func:`frozen_norm_stats`). A BatchNorm fused
  into a restricted layer (HRAT, :func:`snnvar.hardware.restrict`) takes its
  statistics from the layer's clean programmed output: the noise is read on the
  fused W' after them, as on the chip, so the running statistics are those of
  the nominal weights that :func:`~snnvar.hardware.deploy` folds in; an unfused
  BatchNorm sees the perturbed pass's output.
- ``step`` returns the loss of the step's first pass, and the Trainer reports
  the accuracy of that same pass.
- ``state_dict`` records the method's hyperparameters; loading a state saved
  with other hyperparameters is refused with an error naming both values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from ..distributed import rank_and_world
from ..hardware.chip import Chip
from ..hardware.readout import noisy_layers, output_reads
from ..hardware.restrict import restrictions_of
from ..hardware.restrictions import Restrictions
from ..variation import Perturbation
from ..variation.seeding import derive_seed

__all__ = [
    "Method",
    "Plain",
    "RngState",
    "VariationMethod",
    "derive_seed",
    "frozen_norm_stats",
    "rng_state",
    "set_rng_state",
]


@contextmanager
def frozen_norm_stats(model: nn.Module) -> Iterator[None]:
    """Inside the block, normalisation layers in training mode use batch statistics
    without updating their running statistics (nor ``num_batches_tracked``).

    BatchNorm (and SyncBatchNorm) stops tracking; InstanceNorm, which updates the
    statistics it is handed whatever its flag, also gets momentum 0 (an exact
    no-op update: ``1 · running + 0 · batch``).
    """
    tracked = [
        m
        for m in model.modules()
        if isinstance(m, _NormBase) and m.training and m.track_running_stats
    ]
    saved = [(m, m.momentum) for m in tracked]
    try:
        for m in tracked:
            m.track_running_stats = False
            m.momentum = 0.0
        yield
    finally:
        for m, momentum in saved:
            m.track_running_stats = True
            m.momentum = momentum


RngState = tuple[
    torch.Tensor, torch.device, torch.Tensor | None, list[tuple[torch.Generator, torch.Tensor]]
]
"""The CPU generator's state, the model's device, that device's generator state, and
the states of the model's output-noise streams (:func:`snnvar.hardware.output_reads`)."""


def rng_state(model: nn.Module) -> RngState:
    """The random state that dropout in ``model`` draws from: the CPU's, the
    accelerator's for a model on one (CUDA, or any backend with ``get_rng_state``),
    and the output-noise streams of a restricted chip read now."""
    streams = [
        (gen, gen.get_state())
        for m in noisy_layers(model).values()
        if (gen := m.output_stream) is not None  # type: ignore[union-attr]
    ]
    return (*_global_rng_state(model), streams)


def _global_rng_state(
    model: nn.Module,
) -> tuple[torch.Tensor, torch.device, torch.Tensor | None]:
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if device.type == "cpu":
        return torch.get_rng_state(), device, None
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.get_rng_state(), torch.device("cuda", index), torch.cuda.get_rng_state(index)
    backend = getattr(torch, device.type, None)
    if backend is None or not hasattr(backend, "get_rng_state"):
        raise NotImplementedError(
            f"cannot save the random state of device {device}: dropout masks could not be "
            "shared between passes"
        )
    return torch.get_rng_state(), device, backend.get_rng_state()


def set_rng_state(state: RngState) -> None:
    """Restore a state from :func:`rng_state`: the next pass draws the same dropout masks
    (and output noise)."""
    cpu, device, accelerator, streams = state
    for gen, saved in streams:
        gen.set_state(saved)
    torch.set_rng_state(cpu)
    if accelerator is None:
        return
    if device.type == "cuda":
        torch.cuda.set_rng_state(accelerator, device.index)
    else:
        getattr(torch, device.type).set_rng_state(accelerator)


class Method(torch.optim.Optimizer):
    """Base class of the variation-aware methods (see the module docstring).

    Attributes: ``base`` (the wrapped optimizer), ``model``, ``seed``, ``steps``
    (steps taken), ``passes`` (forward/backward passes spent, i.e. closure calls).
    Every method is stepped as ``step(closure, inputs=None)``.
    """

    perturbed_first_pass = False
    """Whether a step's first pass, whose loss and accuracy the Trainer reports as
    ``train_loss`` / ``train_accuracy``, may run at perturbed weights (noise
    injection, WVAT's HSV steps, HA-SGD, adversarial regularisation) rather than
    at the clean ones (SGD, SAM, AWP)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, seed: int = 0) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model)}")
        if isinstance(optimizer, Method):
            raise ValueError("wrap the base optimizer, not another method")
        super().__init__(optimizer.param_groups, optimizer.defaults)
        self.base = optimizer
        self.model = model
        self.param_groups = optimizer.param_groups  # shared: schedulers see one list
        self.defaults = optimizer.defaults
        self.state = optimizer.state
        self.seed = int(seed)
        self.steps = 0
        self.passes = 0
        self._step_passes = 0  # passes in the current step
        self._first_loss: torch.Tensor | None = None
        self._inputs: torch.Tensor | None = None  # the current step's inputs

    # -- the torch.optim contract -----------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients, as the wrapped optimizer's ``zero_grad``."""
        self.base.zero_grad(set_to_none=set_to_none)

    def step(  # type: ignore[override]
        self,
        closure: Callable[[], torch.Tensor] | None = None,
        inputs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One training step; ``closure`` is required. ``inputs``: the batch as the model
        takes it, for methods that pass it to the model themselves
        (:class:`~snnvar.training.AdversarialRegularization`); the others ignore it."""
        if closure is None:
            raise ValueError(
                f"{type(self).__name__}.step needs a closure that recomputes the loss, calls "
                "backward() and returns the loss: def closure(): loss = loss_fn(model(x), y); "
                "loss.backward(); return loss"
            )
        self._step_passes = 0
        self._first_loss = None
        self._inputs = inputs
        rank, world = rank_and_world()  # every replica its own samples' output noise
        reads = self.step_seed if world == 1 else derive_seed(self.step_seed, rank)
        try:  # a chip's output noise (restricted layers) from the step's seed
            with output_reads(self.model, seed=reads, domain="train"):
                self._step(closure)
        finally:
            self._inputs = None
        self.steps += 1
        assert self._first_loss is not None
        return self._first_loss

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        """The method's passes and the base optimizer's step."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """The method's settings, as recorded in its state dict (JSON-serialisable)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """``{"base": the wrapped optimizer's state dict, "method": the method's own
        state (steps, passes, seed, hyperparameters)}``."""
        return {"base": self.base.state_dict(), "method": self._method_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the output of ``state_dict()`` (refused if it is not one of this method)."""
        if set(state_dict) != {"base", "method"}:
            raise ValueError(
                f"not a {type(self).__name__} state dict: keys {sorted(state_dict)}, "
                "expected ['base', 'method']"
            )
        method = state_dict["method"]
        if method.get("name") != type(self).__name__:
            raise ValueError(f"state dict of {method.get('name')!r} given to {type(self).__name__}")
        saved = method.get("hyperparameters")
        if not isinstance(saved, dict):
            raise ValueError(
                f"the {type(self).__name__} state dict records no hyperparameters: not one "
                "that state_dict() writes"
            )
        mine = self.hyperparameters()
        differ = {k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k)}
        if differ:
            pairs = ", ".join(
                f"{k}: saved {saved.get(k)!r}, this method {mine.get(k)!r}" for k in sorted(differ)
            )
            raise ValueError(
                f"the {type(self).__name__} state dict was saved with other "
                f"hyperparameters ({pairs}); build the method with the saved ones"
            )
        self.base.load_state_dict(state_dict["base"])
        self.param_groups = self.base.param_groups
        self.state = self.base.state
        self.seed, self.steps, self.passes = method["seed"], method["steps"], method["passes"]

    def _method_state(self) -> dict[str, Any]:
        return {
            "name": type(self).__name__,
            "seed": self.seed,
            "steps": self.steps,
            "passes": self.passes,
            "hyperparameters": self.hyperparameters(),
        }

    # -- helpers for the methods ------------------------------------------------------

    @property
    def step_seed(self) -> int:
        """The seed of the current step (the same on every replica)."""
        return derive_seed(self.seed, self.steps)

    def _loss(self, closure: Callable[[], torch.Tensor], zero: bool = True) -> torch.Tensor:
        """Zero the gradients (unless ``zero=False``: accumulate), call the closure (one
        forward/backward pass), check its loss. Only the step's first pass updates
        BatchNorm running statistics; its loss is what ``step`` returns."""
        if zero:
            self.zero_grad()
        first = self._step_passes == 0
        with torch.enable_grad(), nullcontext() if first else frozen_norm_stats(self.model):
            loss = closure()
        self.passes += 1
        self._step_passes += 1
        if not isinstance(loss, torch.Tensor):
            raise ValueError(
                f"the closure must return the loss tensor (after calling backward()), "
                f"got {type(loss).__name__}"
            )
        loss = loss.detach()
        if first:
            self._first_loss = loss
        return loss

    def _params(self) -> Iterator[torch.Tensor]:
        for group in self.param_groups:
            yield from group["params"]


class Plain(Method):
    """The base optimizer alone (``"sgd"``): one pass at the clean weights, then its step.

    The Trainer wraps a plain ``torch.optim`` optimizer in it, and runs a method's
    warm-up epochs (``TrainConfig.warmup_epochs``) as ``Plain(model, method.base)``,
    so every optimizer is stepped the same way and BatchNorm updates once per step.
    """

    def _step(self, closure: Callable[[], torch.Tensor]) -> None:
        self._loss(closure)
        self.base.step()


class VariationMethod(Method):
    """A method that perturbs the weights through a :class:`~snnvar.Perturbation` (a
    :class:`~snnvar.Variation` or a device model; noise injection, WVAT, HA-SGD,
    adversarial regularisation): the variation is checked here and recorded among the
    hyperparameters."""

    perturbed_first_pass = True

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        variation: Perturbation | Chip,
        seed: int = 0,
    ) -> None:
        super().__init__(model, optimizer, seed)
        if isinstance(variation, Chip):  # its devices, on a model restricted on its circuit
            variation = _devices_of(variation, model)
        if not isinstance(variation, Perturbation):
            raise TypeError(
                "variation must be a snnvar.Perturbation: a snnvar.Variation or a device model "
                f"(snnvar.hardware.PCM, ...), or a snnvar.hardware.Chip; got "
                f"{type(variation).__name__}"
            )
        self.variation = variation

    def hyperparameters(self) -> dict[str, Any]:
        record = self.variation.to_dict(strict=False)  # a user's own distribution: its label
        return {"variation": record, "variation_label": self.variation.label()}

    def _draw(self, seed: int) -> Any:
        """``variation.applied`` on the model in the training seed domain."""
        return self.variation.applied(self.model, seed=seed, domain="train")


def _devices_of(chip: Chip, model: nn.Module) -> Perturbation:
    """The devices of ``chip`` to train ``model`` under, refused unless ``model`` is
    restricted on the chip's circuit (HRAT; an unrestricted model for a chip with no
    circuit) and the chip has devices."""
    own = restrictions_of(model)
    if (own or Restrictions()) != chip.circuit:
        on = "unrestricted" if own is None else f"restricted on {own.label()}"
        raise ValueError(
            f"the model is {on}; the chip's circuit is {chip.circuit.label()}: train the "
            "model the chip computes, chip.restrict(model) (HRAT)"
        )
    if chip.devices is None:
        raise ValueError(
            "the chip's devices are exact (no variation or device model): a variation-aware "
            "method needs what they do; train with sgd, or give the chip its devices"
        )
    return chip.devices


@contextmanager
def offset(tensors: dict[torch.Tensor, torch.Tensor]) -> Iterator[None]:
    """Add ``tensors[p]`` to each ``p`` in place; restore the exact values on exit."""
    saved = {p: p.detach().clone() for p in tensors}
    try:
        with torch.no_grad():
            for p, v in tensors.items():
                p.add_(v)
        yield
    finally:
        with torch.no_grad():
            for p, clean in saved.items():
                p.copy_(clean)
