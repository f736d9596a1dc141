"""Accuracy under variation over many simulated chips, paired across models.

Chip ``k`` of a run with seed ``s`` is the draw seeded ``derive_seed(s, k)``:
the same for every model, every variation level and every mode, so two models
(two training methods) are compared on identical chips, and one chip's unit
noise ε is only rescaled as σ grows. Input spikes are encoded once per batch
from ``(s, batch)``-derived generators (:func:`snnvar.datasets.encoding_seed`),
so every chip and every model also sees the same input spikes. A variation
that is the identity (σ = 0, no mean shift, no clipping or quantisation) is
evaluated once and counted for all chips: it equals the plain accuracy exactly;
unless the model is a restricted chip with output noise
(``Restrictions.output_noise``), whose every chip reads its own noise, seeded as
its weights (:func:`snnvar.hardware.output_reads`).

Noise streams are keyed by *device weight* (:func:`~snnvar.variation.device_keys`),
not by module name: an ANN and its converted SNN draw the same ε for the same
device weight on the same chip. The report records each model's device
weights and the chip scheme, so :meth:`Report.merge` can refuse reports whose
chips are not paired. Training methods draw from a separate seed domain, so no
training draw is a test chip.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..datasets.batches import Batches, prepare, prepare_models
from ..distributed import gather_work, rank_and_world
from ..hardware import DeviceModel, parse_time, refuse_undeployed, restrictions_of
from ..hardware.chip import Chip
from ..hardware.energy import EnergyCosts, energy_meter, mean_energy
from ..hardware.readout import noisy_layers, output_reads
from ..nn.modes import eval_mode
from ..nn.recording import is_spiking, neuron_layer_names, record_spikes
from ..nn.unroll import check_logits
from ..progress import progress_bar
from ..variation import Perturbation, Variation
from ..variation.seeding import derive_seed
from . import calibration as calibrations
from .calibration import Calibration
from .report import Report, Row
from .synops import count_synops
from .yields import chip_yield, percentiles
from .yields import yield_target as yield_target_fn

__all__ = [
    "CHIP_SCHEME",
    "MAX_DRAWS",
    "Batches",
    "PassResult",
    "chip_seed",
    "device_weights",
    "evaluate",
    "is_identity",
    "labelled_variations",
    "named_models",
    "prepare",
    "prepare_models",
    "run_pass",
    "variations",
]

MAX_DRAWS = 100_000
"""The most simulated chips per condition one evaluation takes (a report keeps every chip's
accuracy and seed; a million chips of even a small model is days of CPU time)."""


def chip_seed(seed: int, chip: int) -> int:
    """The seed of simulated chip ``chip`` in a run seeded ``seed``."""
    return derive_seed(seed, chip)


def is_identity(v: Perturbation) -> bool:
    """Whether ``v`` leaves every weight exactly as it is (a device model never does)."""
    if not isinstance(v, Variation):
        return False
    return v.sigma == 0.0 and v.mean == 0.0 and not v.clip and v.levels is None


@dataclass
class PassResult:
    """One pass over the data: accuracy, loss, spikes and synaptic operations per sample."""

    accuracy: float
    """Correct predictions / samples."""
    loss: float
    """Mean loss per sample."""
    spikes: dict[str, float]
    """Spikes per sample by neuron layer (SNNs; empty for an ANN)."""
    rates: dict[str, float]
    """Spikes per neuron per time step by neuron layer."""
    synops: dict[str, float]
    """Synaptic operations per sample by layer."""
    energy: dict[str, Any] | None = None
    """A chip's energy, latency and area per inference
    (:meth:`snnvar.hardware.EnergyReport.to_dict`, less the costs); None: not metered."""


@torch.no_grad()
def run_pass(
    model: nn.Module,
    batches: Batches,
    spikes: bool = True,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    energy: EnergyCosts | None = None,
) -> PassResult:
    """Accuracy (fraction), mean loss (``loss_fn(logits, targets)``, batch-mean;
    cross-entropy by default), and for SNNs spikes / rates / SynOps per sample.

    The pass runs in eval mode (BatchNorm uses and keeps its running statistics,
    dropout is off); the model's mode is restored afterwards."""
    with eval_mode(model):
        return _run_pass(model, batches, spikes, loss_fn, energy)


def _run_pass(
    model: nn.Module,
    batches: Batches,
    spikes: bool,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
    energy: EnergyCosts | None = None,
) -> PassResult:
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    record = spikes and bool(neuron_layer_names(model))
    correct = 0
    loss = 0.0
    with contextlib.ExitStack() as stack:
        rec = stack.enter_context(record_spikes(model)) if record else None
        syn = stack.enter_context(count_synops(model)) if record else None
        meter = None if energy is None else stack.enter_context(energy_meter(model, energy))
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            logits = check_logits(model, x, len(y), "evaluate")
            correct += int((logits.argmax(-1) == y).sum())
            if loss_fn is None:
                loss += float(nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
            else:
                loss += float(loss_fn(logits, y)) * len(y)
    n = batches.samples
    if rec is not None:  # every layer saw every sample (cells stepped per call included)
        for layer in rec.layers.values():
            layer.samples = n
    return PassResult(
        accuracy=correct / n,
        loss=loss / n,
        spikes={} if rec is None else rec.counts(),
        rates={} if rec is None else rec.rates(),
        synops={} if syn is None else {k: v / n for k, v in syn.layers.items()},
        energy=None if meter is None else _without_costs(meter.to_dict()),
    )


def _without_costs(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("costs", "samples")}


def named_models(model: nn.Module | Mapping[str, nn.Module]) -> dict[str, nn.Module]:
    """``method name -> model``: a dict as given (names as strings), one model under its
    ``name`` attribute (else its class name); anything else is refused."""
    if isinstance(model, nn.Module):
        return {str(getattr(model, "name", type(model).__name__)): model}
    if isinstance(model, Mapping):
        if not model:
            raise ValueError("no models to evaluate")
        for k, m in model.items():
            if not isinstance(m, nn.Module):
                raise TypeError(f"model {k!r} is a {type(m).__name__}, not an nn.Module")
        return {str(k): m for k, m in model.items()}
    raise TypeError(f"model must be an nn.Module or a dict name -> module, got {type(model)}")


def _condition_time(v: Perturbation) -> float | None:
    """A device model's read time (s; ``t0`` when not set), else None."""
    if isinstance(v, DeviceModel):
        return v.t0 if v.time is None else v.time
    return None


Conditions = Perturbation | Sequence[Perturbation] | Mapping[str, Perturbation] | None
"""What ``evaluate`` takes as its ``variation``: one perturbation, a list of them, a dict
label -> perturbation, or None (clean weights)."""


def _unit(v: Perturbation) -> Perturbation:
    """``v`` with its swept setting cleared (a device model's time, a variation's σ): two
    conditions with one label must differ only there."""
    if isinstance(v, DeviceModel):
        return replace(v, time=None)
    return replace(v, sigma=0.0) if isinstance(v, Variation) else v


def labelled_variations(
    variation: Conditions,
    sigmas: Sequence[float] | None,
    times: Sequence[float | str] | None = None,
) -> list[tuple[str, Perturbation]]:
    """``(label, condition)`` of every condition of a sweep (a perturbation the chips are
    drawn from): each variation at each sigma (or as given), each device model at each
    of ``times`` (seconds after programming, or e.g. ``"1h"``; or at its own ``time``).
    The label is the mapping's key, else the condition's ``label()``; two different
    variations with one label, or one condition given twice, are refused."""
    kinds = "a Variation, a device model (snnvar.hardware.PCM, ...), a list of them or a dict"
    if variation is None:
        base: list[tuple[str | None, Perturbation]] = [(None, Variation(sigma=0.0))]
    elif isinstance(variation, Perturbation):
        base = [(None, variation)]
    elif isinstance(variation, Mapping):
        base = list(variation.items())
        for k, v in base:
            if not isinstance(k, str) or not k:
                raise ValueError(f"variation labels must be non-empty strings, got {k!r}")
            if not isinstance(v, Perturbation):
                raise TypeError(
                    f"variation {k!r} is a {type(v).__name__}, not a Variation or device model"
                )
    elif isinstance(variation, Sequence) and not isinstance(variation, str):
        base = [(None, v) for v in variation]
        if not all(isinstance(v, Perturbation) for _, v in base):
            raise TypeError(f"variation must be {kinds} label -> one of them")
    else:
        raise TypeError(f"variation must be {kinds} label -> one of them, got {variation!r}")
    if not base:
        raise ValueError("no variation to evaluate")
    devices = [v for _, v in base if isinstance(v, DeviceModel)]
    if times is not None:
        times = [parse_time(t) for t in times]
        if not times:
            raise ValueError("times is empty")
        if len(set(times)) != len(times):
            raise ValueError(f"times holds a time twice: {times}")
        if not devices:
            raise ValueError(
                "times= reads device models (snnvar.hardware.PCM, RRAM, ...) at times after "
                "programming; the variations given have no time"
            )
    out: list[tuple[str | None, Perturbation]] = []
    for k, v in base:
        if isinstance(v, DeviceModel):
            reads = [v.at_time(t) for t in times] if times is not None else [v]
            for r in reads:  # refuse a time a model cannot be read at before any pass runs
                r.check_time(r.effective_time)
            out += [(k, r) for r in reads]
        elif sigmas is not None and isinstance(v, Variation):
            swept = [float(s) for s in sigmas]
            if not swept:
                raise ValueError("sigmas is empty")
            out += [(k, replace(v, sigma=s)) for s in swept]
        else:
            out.append((k, v))
    if sigmas is not None and len(devices) == len(base):
        raise ValueError(
            "sigmas= sweeps a Variation; a device model's noise is its own σ(g) (scale it "
            "with noise_scale): sweep times= or give several device models"
        )
    for _, v in out:
        if isinstance(v, Variation) and not 0.0 <= v.sigma <= 1.0:
            raise ValueError(f"sigma must lie in [0, 1] for an evaluation, got {v.sigma}")
    labelled = [(v.label() if k is None else k, v) for k, v in out]
    owner: dict[str, Perturbation] = {}
    seen: set[tuple[str, float | None, float | None]] = set()
    for label, v in labelled:
        unit = _unit(v)
        if owner.setdefault(label, unit) != unit:
            raise ValueError(
                f"two different variations carry the label {label!r}: {owner[label]} and "
                f"{unit}; pass a dict label -> variation to name them"
            )
        key = (label, getattr(v, "sigma", None) if isinstance(v, Variation) else None,
               _condition_time(v))  # fmt: skip
        if key in seen:
            what = f"at sigma {key[1]}" if key[2] is None else f"at time {key[2]:g} s"
            raise ValueError(f"the variation {label!r} {what} is given twice")
        seen.add(key)
    return labelled


def variations(
    variation: Conditions,
    sigmas: Sequence[float] | None,
    times: Sequence[float | str] | None = None,
) -> list[Perturbation]:
    """The conditions of a sweep (see ``labelled_variations``)."""
    return [v for _, v in labelled_variations(variation, sigmas, times)]


def _hardware(model: nn.Module) -> dict[str, Any] | None:
    """The circuit restrictions of a restricted (or deployed) model, for the report."""
    found = restrictions_of(model)
    return None if found is None else found.to_dict()


def device_weights(model: nn.Module, conditions: Sequence[Perturbation]) -> dict[str, list[int]]:
    """Device key -> shape of every tensor the conditions perturb in ``model``: what
    pairs its chips with another model's (same key, same noise)."""
    out: dict[str, list[int]] = {}
    for v in conditions:
        try:
            targets = v.targets(model)
        except ValueError:
            continue  # selects nothing in this model: it has no chips to pair
        for t in targets:
            out.setdefault(t.key, list(t.tensor.shape))
    return dict(sorted(out.items()))


def _mean_dict(ds: list[dict[str, float]]) -> dict[str, float]:
    if not ds or not ds[0]:
        return {}
    return {k: statistics.fmean(d[k] for d in ds) for k in ds[0]}


def _row(
    method: str,
    model: nn.Module,
    label: str,
    v: Perturbation,
    results: list[PassResult],
    seeds: list[int],
    ranks: list[int] | None = None,
    target: tuple[float, float] | None = None,
    calibration: tuple[str, list[dict[str, Any]]] | None = None,
) -> Row:
    """The row of ``results`` (one per chip); ``target``: (clean accuracy, yield target);
    ``calibration``: (its label, each chip's info)."""
    acc = [r.accuracy for r in results]
    extra: dict[str, Any] = {}
    if target is not None:
        extra.update(clean_accuracy=target[0], yield_target=target[1],
                     yield_fraction=chip_yield(acc, target[1]))  # fmt: skip
    if calibration is not None:
        extra.update(calibration=calibration[0], calibration_seconds=statistics.fmean(
            i["seconds"] for i in calibration[1]))  # fmt: skip
    spikes = _mean_dict([r.spikes for r in results])
    synops = _mean_dict([r.synops for r in results])
    return Row(
        method=method,
        model=str(getattr(model, "name", type(model).__name__)),
        sigma=v.sigma if isinstance(v, Variation) else None,
        time=_condition_time(v),
        mode=v.mode,
        redraw=v.redraw if v.mode == "dynamic" else None,
        variation_label=label,
        draws=len(acc),
        accuracy_mean=statistics.fmean(acc),
        accuracy_std=statistics.stdev(acc) if len(acc) > 1 else 0.0,
        accuracy_min=min(acc),
        accuracy_max=max(acc),
        loss_mean=statistics.fmean(r.loss for r in results),
        spikes_per_sample=sum(spikes.values()) if spikes else None,
        spikes=spikes,
        rates=_mean_dict([r.rates for r in results]),
        synops_per_sample=sum(synops.values()) if synops else None,
        synops=synops,
        accuracies=acc,
        seeds=seeds,
        variation=v.to_dict(strict=False),
        ranks=ranks,
        energy=mean_energy([r.energy for r in results]),
        percentiles=percentiles(acc),
        **extra,
    )


CLEAN_KEY = 1 << 22
"""Key of the clean pass's output noise, ``derive_seed(seed, CLEAN_KEY)`` (no chip's)."""


def _clean_accuracies(
    named: Mapping[str, nn.Module], batches: Mapping[str, Batches], seed: int
) -> dict[str, float]:
    """Each model's accuracy with its clean weights (the yield's reference)."""
    out = {}
    for method, m in named.items():
        with output_reads(m, seed=derive_seed(seed, CLEAN_KEY)):
            out[method] = run_pass(m, batches[method], spikes=False).accuracy
    return out


def evaluate(
    model: nn.Module | Mapping[str, nn.Module],
    data: Any,
    variation: Conditions | Chip = None,
    *,
    sigmas: Sequence[float] | None = None,
    times: Sequence[float | str] | None = None,
    draws: int = 20,
    seed: int = 0,
    encoder: str | Mapping[str, str] | None = None,
    time_steps: int | Mapping[str, int] | None = None,
    batch_size: int = 256,
    spikes: bool = True,
    dataset: str | None = None,
    progress: bool = False,
    cache_mb: float = 512.0,
    energy: EnergyCosts | None = None,
    calibrate: Calibration | str | Sequence[str] | None = None,
    calibration_data: Any = None,
    yield_target: float | None = None,
) -> Report:
    """Accuracy of ``model`` on ``draws`` simulated chips per condition (a variation
    at one σ, a device model at one read time).

    Args:
        model: one model, or a dict ``method name -> model`` evaluated on the same chips.
            The contract (:data:`snnvar.nn.CONTRACT`): an SNN takes time-major input
            ``[T, B, ...]`` and returns logits ``[B, classes]``, its state reset per
            batch; an ANN takes ``[B, ...]``. Wrap a model that is called once per
            time step (snntorch's ``init_hidden=True`` layers, norse's
            ``SequentialState``) with :func:`snnvar.nn.unroll`; anything else is
            refused with a message that says so.
        data: a Dataset, a DataLoader or an ``(inputs, targets)`` pair of tensors.
        variation: a :class:`~snnvar.Variation` (static: one draw per chip; dynamic:
            redrawn per time step or per pass, see ``Variation.redraw``), a list of
            them (e.g. a static and a dynamic one), a dict ``label -> Variation``
            (e.g. Gaussian vs a measured distribution, WVAT paper Fig. 13), None
            (clean weights), or a :class:`~snnvar.hardware.Chip`: every model
            programmed on it (an unrestricted one restricted on its circuit and
            deployed), drawn from its devices and priced with its energy costs.
            Every row carries its variation's label (:meth:`~snnvar.Variation.label`
            unless named).
            A device model (:mod:`snnvar.hardware`: PCM, RRAM, a custom σ(g), an
            ideal device with faults) is a condition too: one programmed chip per
            draw. Anything that is a :class:`~snnvar.Perturbation` is accepted.
        sigmas: a sweep: every variation at each of these σ, in [0, 1].
        times: device models only: read every chip at each of these times after
            programming (seconds, or ``"1h"``, ``"1d"``, ``"1y"``); one row per
            (model, device model, time), all on the same programmed chips (a chip is
            programmed once and read at each time; rows carry ``time``).
        draws: simulated chips per condition (>= 1); chip ``k`` is seeded
            :func:`chip_seed(seed, k) <chip_seed>`.
        seed: root of the chips and of the input encoding; recorded in the report.
        encoder: how inputs reach the models (:data:`snnvar.datasets.ENCODERS`), one
            for all or a dict per model name; None picks each model's own (a
            converted SNN's), else ``rate`` (SNN, static data), ``frames`` (SNN, event
            frames) or ``none`` (ANN).
        time_steps: T of the spike encoders, one for all or a dict per model name
            (None: each model's ``time_steps`` attribute, else 25).
        spikes: record spikes, firing rates and synaptic operations per layer (SNNs).
        dataset: the data set's name, for the report.
        cache_mb: keep encoded inputs in memory up to this size (same values either way).
        energy: price every chip's inference (``snnvar.hardware.energy``): each row
            then carries the energy (pJ by event), latency (ns) and area (mm²) per
            inference, means over its chips; every model must be a restricted chip.
        calibrate: also calibrate every chip after programming
            (:class:`~snnvar.evaluation.Calibration`, or its methods: ``"bn"``,
            ``"bn,threshold"``, ``["affine", "finetune"]``) on ``calibration_data``
            and test it again: each row then has a calibrated twin, method
            ``"<method> [<methods>]"``, on the same chips and the same test reads.
        calibration_data: the calibration set (a Dataset, a DataLoader or an
            ``(inputs, targets)`` pair; no method reads the labels), drawn from the
            training split: a calibration set that is part of the test data is
            refused, and the samples it shares with the test data are counted in
            ``config["calibration"]``. Encoded from ``derive_seed(seed, CALIBRATION_KEY)``.
        yield_target: the accuracy (a fraction) a chip must reach to count in the
            yield; None: each model's clean accuracy minus 1 point.

    Chips are paired across models by device weight: a tensor draws its noise
    from its device key (its name, or the ANN weight a converted SNN's
    ``weight_map`` names), so models that share device weights see the same
    chips. Models with the same encoder and T see the same input spikes. Every
    model is evaluated in eval mode, and left in the mode it was in.

    Returns a :class:`~snnvar.evaluation.Report` with one :class:`~snnvar.evaluation.Row`
    per (method, variation): ``accuracy_mean``, ``accuracy_std`` (sample std over
    chips), ``accuracy_min`` (worst chip), the per-chip ``accuracies`` and
    ``seeds``, ``loss_mean``, ``variation_label``, and for SNNs ``spikes`` /
    ``rates`` / ``synops`` per layer (means over chips, per sample), the
    ``clean_accuracy``, ``yield_target``, ``yield_fraction`` and ``percentiles``
    (5th, 50th, 95th percentile chip). Accuracies are
    fractions in [0, 1]. ``models`` records each model's encoder, T and device weights.
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be an integer in [1, {MAX_DRAWS:,}], got {draws!r}")
    named = named_models(model)
    yield_target_fn(yield_target, 1.0)  # refused before any pass
    if isinstance(variation, Chip):  # the models programmed on it, its devices, its prices
        chip = variation
        named = {k: chip.deploy(m) for k, m in named.items()}
        variation = chip.devices
        energy = chip.energy if energy is None else energy
    if energy is not None:
        if not isinstance(energy, EnergyCosts):
            raise TypeError(f"energy must be an EnergyCosts, got {type(energy).__name__}")
        plain = [k for k, m in named.items() if restrictions_of(m) is None]
        if plain:
            raise ValueError(
                f"energy is priced on a chip: models {plain} are not restricted (deploy "
                "them with snnvar.hardware.restrict and deploy, or pass hardware=)"
            )
    conditions = labelled_variations(variation, sigmas, times)
    if not all(is_identity(v) for _, v in conditions):  # chips: the weights they program
        for method, m in named.items():
            refuse_undeployed(m, "evaluate", method)
    batches = prepare_models(data, named, encoder, time_steps, batch_size, seed, cache_mb)
    seeds = [chip_seed(seed, k) for k in range(draws)]
    cal = calibrations.setup(named, calibrate, calibration_data, batches, encoder, time_steps,
                            seed, cache_mb, [v for _, v in conditions])  # fmt: skip
    rank, world = rank_and_world()
    # the work units: one clean pass per (condition, model) that changes no weight and reads
    # no output noise, else one per chip; under torch.distributed each is whole on one rank
    noisy = {method: bool(noisy_layers(m)) for method, m in named.items()}
    same = next((ci for ci, (_, v) in enumerate(conditions) if is_identity(v)), None)
    clean = _clean_accuracies(  # the yield's reference; an identity condition's pass is it
        {k: m for k, m in named.items() if same is None or noisy[k]}, batches, seed)  # fmt: skip

    def once(v: Perturbation, method: str) -> bool:
        return is_identity(v) and not noisy[method]

    units = [
        (ci, method, None if once(v, method) else k)
        for ci, (_, v) in enumerate(conditions)
        for method in named
        for k in ([0] if once(v, method) else range(draws))
    ]
    bar = progress_bar(total=len(units), desc="chips", enabled=progress and rank == 0, leave=False)

    def work(unit: tuple[int, str, int | None]) -> tuple[PassResult, Any]:
        ci, method, k = unit
        m, v = named[method], conditions[ci][1]
        if k is None:
            result = run_pass(m, batches[method], spikes, energy=energy)
        else:  # chip k: its weights and its output noise, both from its seed
            chip = contextlib.nullcontext() if is_identity(v) else v.applied(m, seed=seeds[k])
            with chip, output_reads(m, seed=seeds[k]):
                result = run_pass(m, batches[method], spikes, energy=energy)
        after = None
        if cal is not None:  # the same chip, calibrated, on the same test reads
            after = calibrations.calibrated_chip(
                m, v, seeds[0 if k is None else k], cal.references[method],
                cal.batches[method], cal.calibration,
                lambda: run_pass(m, batches[method], spikes, energy=energy),
                program=not is_identity(v),
            )  # fmt: skip
        bar.update(min(world, bar.total - bar.n))  # rank 0's share, scaled to the sweep
        return result, after

    results_all, ranks_all = gather_work(units, work)
    bar.close()
    found = {u: (r, rk) for u, r, rk in zip(units, results_all, ranks_all, strict=True)}
    clean |= {k: found[(same, k, None)][0][0].accuracy for k in named if k not in clean}
    rows = []
    for ci, (label, v) in enumerate(conditions):
        for method, m in named.items():
            keys = [None] * draws if once(v, method) else list(range(draws))
            pairs = [found[(ci, method, k)] for k in keys]
            results, ranks = [p[0][0] for p in pairs], [p[1] for p in pairs]
            target = (clean[method], yield_target_fn(yield_target, clean[method]))
            rows.append(_row(method, m, label, v, results, seeds, ranks, target))
            if cal is not None:
                after = [p[0][1] for p in pairs]
                rows.append(_row(
                    f"{method} [{cal.calibration.label}]", m, label, v, [a[0] for a in after],
                    seeds, ranks, target, (cal.calibration.label, [a[1] for a in after]),
                ))  # fmt: skip
    weights = {k: device_weights(m, [v for _, v in conditions]) for k, m in named.items()}
    encoding = {k: (b.encoder, b.time_steps) for k, b in batches.items()}
    common = set(encoding.values())
    first = next(iter(batches.values()))
    return Report(
        results=rows,
        seed=seed,
        dataset=dataset,
        models={
            k: {
                "model": str(getattr(m, "name", type(m).__name__)),
                "parameters": sum(p.numel() for p in m.parameters()),
                "spiking": is_spiking(m),
                "encoder": encoding[k][0],
                "time_steps": encoding[k][1],
                "device_weights": weights[k],
                "hardware": _hardware(m),
            }
            for k, m in named.items()
        },
        config={
            "draws": draws,
            "encoder": first.encoder if len(common) == 1 else None,
            "time_steps": first.time_steps if len(common) == 1 else None,
            "batch_size": batch_size,
            "samples": first.samples,
            "chips": CHIP_SCHEME,
            "paired": len({json.dumps(w) for w in weights.values()}) == 1,
            "world_size": world,
            "yield_target": yield_target,
            **({"calibration": cal.record} if cal is not None else {}),
            **({"energy_costs": energy.to_dict()} if energy is not None else {}),
        },
    )


CHIP_SCHEME = "snnvar-1: chip k = derive_seed(seed, k); stream = blake2b(f'{root}/{device key}')"
"""How chips are drawn, recorded in reports: reports merge only under the same scheme."""
