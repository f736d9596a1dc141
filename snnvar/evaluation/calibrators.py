"""The four calibrations of a programmed chip (:mod:`snnvar.evaluation.calibration`
says what each does and when): BatchNorm statistics (AdaBS), thresholds, a
per-column affine correction, fine-tuning of the digital parameters."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..datasets.batches import Batches
from ..hardware.readout import output_reads
from ..hardware.restrict import restricted_layers
from ..nn.modes import eval_mode
from ..nn.recording import neuron_layer_names, record_spikes

__all__ = [
    "ColumnAffine",
    "Reference",
    "batchnorm_statistics",
    "digital_tensors",
    "finetune_digital",
    "firing_rates",
    "fit_columns",
    "install_columns",
    "reference",
    "scale_thresholds",
]

BATCHNORM = nn.modules.batchnorm._BatchNorm
"""The BatchNorm base class (1d, 2d, 3d)."""
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class Reference:
    """The clean model and what the calibrations match on the calibration set."""

    model: nn.Module
    """A copy of the model as given, before any chip (eval mode)."""
    rates: dict[str, float]
    """Firing rate (spikes per neuron per step) of each neuron layer."""
    logits: list[torch.Tensor] = field(default_factory=list)
    """Its logits per calibration batch (the ``"finetune"`` targets)."""
    read_seed: int = 0
    """Root of its output-noise reads (a restricted chip with output noise)."""


def reference(model: nn.Module, batches: Batches, read_seed: int = 0) -> Reference:
    """The clean copy of ``model`` and its firing rates and logits on ``batches``."""
    clean = copy.deepcopy(model).eval()
    for p in clean.parameters():
        p.requires_grad_(False)
    with output_reads(clean, seed=read_seed), torch.no_grad():
        rates = firing_rates(clean, batches) if neuron_layer_names(clean) else {}
        logits = [clean(x).detach() for x in _inputs(clean, batches)]
    return Reference(model=clean, rates=rates, logits=logits, read_seed=read_seed)


class ColumnAffine(nn.Module):
    """A gain and an offset per output column, after a layer's ADC (digital periphery)."""

    def __init__(self, columns: int, dim: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(columns))
        self.offset = nn.Parameter(torch.zeros(columns))
        self.dim = dim
        """The dimension of the layer's output that holds its columns."""

    def hook(self, _module: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
        """The forward hook: ``out · gain + offset`` per column."""
        shape = [1] * out.dim()
        shape[self.dim % out.dim()] = -1
        return out * self.gain.view(shape).to(out) + self.offset.view(shape).to(out)


# -- BatchNorm (AdaBS) -------------------------------------------------------------------


def batchnorm_statistics(model: nn.Module, batches: Batches) -> None:
    """Re-estimate every BatchNorm's running statistics on ``batches`` under the chip
    (AdaBS): PyTorch's cumulative average (``momentum=None``) over the calibration
    batches, each call weighted equally (a short last batch counts as a full one);
    nothing else trained, dropout off."""
    bns = [m for m in model.modules() if isinstance(m, BATCHNORM) and m.track_running_stats]
    if not bns:
        raise ValueError(
            "calibration 'bn' re-estimates BatchNorm statistics, and the model has no "
            "BatchNorm that tracks them; choose among 'threshold', 'affine', 'finetune'"
        )
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration set
    with eval_mode(model), torch.no_grad():
        for m in bns:
            m.train()
        for x in _inputs(model, batches):
            model(x)


def _inputs(model: nn.Module, batches: Batches) -> Iterator[torch.Tensor]:
    """The encoded calibration inputs, on the model's device."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    for x, _ in batches:
        yield x.to(device)


# -- thresholds ---------------------------------------------------------------------------


def _threshold_tensor(name: str, module: nn.Module) -> torch.Tensor:
    """The threshold a neuron layer fires at (snnvar's and snntorch's neurons)."""
    cell = getattr(module, "cell", module)
    for holder in (cell, getattr(cell, "leaky", None)):
        t = getattr(holder, "threshold", None)
        if isinstance(t, torch.Tensor):
            return t
    raise ValueError(
        f"calibration 'threshold' scales a neuron layer's threshold; layer {name!r} "
        f"({type(cell).__name__}) has no threshold tensor (snnvar's and snntorch's "
        "neurons have one; norse keeps its parameters in immutable tuples)"
    )


def firing_rates(model: nn.Module, batches: Batches) -> dict[str, float]:
    """Spikes per neuron per time step of each neuron layer on ``batches``."""
    with eval_mode(model), torch.no_grad(), record_spikes(model) as rec:
        for x in _inputs(model, batches):
            model(x)
    for layer in rec.layers.values():
        layer.samples = batches.samples
    return rec.rates()


def scale_thresholds(
    model: nn.Module,
    ref: Reference,
    batches: Batches,
    iterations: int,
    limit: float,
    frozen: Sequence[torch.Tensor] = (),
) -> dict[str, float]:
    """Scale each neuron layer's threshold, in forward order, by a factor in
    [1 / limit, limit] found by ``iterations`` bisection steps in log scale, so the
    layer's firing rate on ``batches`` matches the clean model's; the scales by layer."""
    names = neuron_layer_names(model)
    if not names:
        raise ValueError("calibration 'threshold' needs an SNN; the model has no neuron layer")
    modules = dict(model.named_modules())
    held = {id(t) for t in frozen}
    scales: dict[str, float] = {}
    for name in names:  # forward order: each layer sees the layers before calibrated
        thr = _threshold_tensor(name, modules[name])
        if id(thr) in held:
            raise ValueError(
                f"calibration 'threshold' would tune {name!r}'s threshold, which the "
                "variation perturbs as a device (it is analog, not digital)"
            )
        target = ref.rates.get(name, 0.0)
        if target <= 0.0:  # the clean layer is silent: nothing to match
            scales[name] = 1.0
            continue
        base = thr.detach().clone()
        lo, hi = -math.log(limit), math.log(limit)
        with torch.no_grad():
            for _ in range(iterations):
                mid = 0.5 * (lo + hi)
                thr.copy_(base * math.exp(mid))
                if firing_rates(model, batches)[name] > target:
                    lo = mid  # fires too often: a higher threshold
                else:
                    hi = mid
            scale = math.exp(0.5 * (lo + hi))
            thr.copy_(base * scale)
        scales[name] = scale
    return scales


# -- per-column affine --------------------------------------------------------------------


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, _LAYERS)]
    if not found:
        raise ValueError("calibration 'affine' corrects Linear and convolution layers; none found")
    return found


def install_columns(model: nn.Module, handles: list[RemovableHandle]) -> dict[str, ColumnAffine]:
    """An identity :class:`ColumnAffine` after every Linear and convolution of ``model``,
    by layer name; their hooks are appended to ``handles``."""
    out = {}
    device = next(model.parameters()).device
    for name, m in _layers(model):
        columns, dim = (m.out_features, -1) if isinstance(m, nn.Linear) else (m.out_channels, 1)
        out[name] = ColumnAffine(columns, dim).to(device=device, dtype=torch.float32)
        handles.append(m.register_forward_hook(out[name].hook))
    return out


def _columns_into(store: list[torch.Tensor], dim: int) -> Any:
    """A forward hook appending a layer's output to ``store`` as rows ``[N, columns]``."""

    def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        store.append(out.detach().movedim(dim % out.dim(), -1).reshape(-1, out.shape[dim]))

    return hook


def fit_columns(
    model: nn.Module,
    ref: Reference,
    batches: Batches,
    affine: dict[str, ColumnAffine],
    restat: bool = False,
) -> None:
    """Fit the column corrections (:func:`install_columns`), layer by layer in forward
    order, by least squares against the clean model's output of that layer on the same
    inputs: per column, gain · chip + offset ≈ clean. ``restat`` (after AdaBS): the
    BatchNorm statistics are estimated again after each layer's fit, so the next layer
    is fitted on the chip as corrected so far and every BatchNorm ends with the
    statistics of its corrected input."""
    clean = dict(ref.model.named_modules())
    for name, m in _layers(model):
        corr = affine[name]
        stats = torch.zeros(5, corr.gain.numel(), dtype=torch.float64)  # n, Σx, Σy, Σx², Σxy
        chip_out: list[torch.Tensor] = []
        clean_out: list[torch.Tensor] = []
        with torch.no_grad():
            corr.gain.fill_(1.0)
            corr.offset.fill_(0.0)
        # hooks run in the order registered: the capture sees the output after this
        # layer's correction, which is the identity (gain 1, offset 0) until it is fitted
        h_chip = m.register_forward_hook(_columns_into(chip_out, corr.dim))
        h_clean = clean[name].register_forward_hook(_columns_into(clean_out, corr.dim))
        try:
            with eval_mode(model), torch.no_grad(), output_reads(ref.model, seed=ref.read_seed):
                for x in _inputs(model, batches):
                    model(x)
                    ref.model(x)
                    if len(chip_out) != len(clean_out):
                        raise RuntimeError(
                            f"layer {name!r} ran {len(chip_out)} times on the chip and "
                            f"{len(clean_out)} times in the clean model"
                        )
                    for a, b in zip(chip_out, clean_out, strict=True):
                        a, b = a.double(), b.double()
                        stats += torch.stack(
                            [
                                torch.full_like(a[0], a.shape[0]),
                                a.sum(0), b.sum(0), (a * a).sum(0), (a * b).sum(0),
                            ]
                        )  # fmt: skip
                    chip_out.clear()
                    clean_out.clear()
        finally:
            h_chip.remove()
            h_clean.remove()
        n, sx, sy, sxx, sxy = stats
        var = sxx / n - (sx / n) ** 2
        cov = sxy / n - (sx / n) * (sy / n)
        live = var > 1e-12 * (sxx / n).clamp_min(1e-30)
        gain = torch.where(live, cov / var.where(live, torch.ones_like(var)), torch.ones_like(var))
        offset = sy / n - gain * sx / n
        with torch.no_grad():
            corr.gain.copy_(gain.float())
            corr.offset.copy_(offset.float())
        if restat:
            batchnorm_statistics(model, batches)


# -- fine-tuning of the digital parameters ------------------------------------------------


def digital_tensors(
    model: nn.Module, affine: dict[str, ColumnAffine], frozen: Sequence[torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The tensors ``"finetune"`` tunes (no device holds them: not ``frozen``, not the
    bias of a restricted layer that keeps it on the crossbar), and the thresholds among them."""
    held = {id(t) for t in frozen}
    for m in restricted_layers(model).values():  # a bias in a row of the crossbar is analog
        if m.bias is not None and not m.restrictions.digital_bias:
            held.add(id(m.bias))
    tuned: list[torch.Tensor] = []
    for m in model.modules():
        if isinstance(m, BATCHNORM) and m.affine:
            tuned += [m.weight, m.bias]
        elif isinstance(m, _LAYERS) and m.bias is not None:
            tuned.append(m.bias)
    for corr in affine.values():
        tuned += [corr.gain, corr.offset]
    modules = dict(model.named_modules())
    thresholds = []
    for name in neuron_layer_names(model):
        with contextlib.suppress(ValueError):  # a neuron without a threshold tensor
            thresholds.append(_threshold_tensor(name, modules[name]))
    keep = [t for t in tuned + thresholds if id(t) not in held and t.is_floating_point()]
    return keep, [t for t in thresholds if id(t) not in held]


def finetune_digital(
    model: nn.Module,
    ref: Reference,
    batches: Batches,
    steps: int,
    lr: float,
    affine: dict[str, ColumnAffine],
    frozen: Sequence[torch.Tensor] = (),
) -> list[float]:
    """``steps`` Adam steps (learning rate ``lr``) on the digital tensors only (biases
    no device holds, BatchNorm's affine, thresholds, the column corrections), in eval
    mode, minimising KL(clean ‖ chip) on the calibration batches; the first and last loss."""
    tuned, thresholds = digital_tensors(model, affine, frozen)
    for p in model.parameters():
        p.requires_grad_(False)
    for t in tuned:
        t.requires_grad_(True)
    opt = torch.optim.Adam(tuned, lr=lr)
    losses: list[float] = []
    n = len(batches.raw)
    with eval_mode(model):  # BatchNorm uses its statistics and keeps them
        for step in range(steps):
            i = step % n
            x = batches.encoded(i).to(next(iter(tuned)).device)
            with torch.enable_grad():
                logits = model(x)
                target = ref.logits[i].to(logits)
                loss = nn.functional.kl_div(
                    logits.log_softmax(-1), target.log_softmax(-1),
                    log_target=True, reduction="batchmean",
                )  # fmt: skip
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            with torch.no_grad():
                for t in thresholds:
                    t.clamp_(min=1e-6)  # a threshold stays positive
            losses.append(float(loss.detach()))
    return [losses[0], losses[-1]] if losses else []
