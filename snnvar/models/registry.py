"""The model registry: ``@register(name)`` at a builder's definition,
``create(name, spiking=True, neuron="snnvar", **kwargs)`` to build one."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import fields
from typing import Any, overload

from ..fields import check_types, describe_type, matches_type
from ..nn import BACKENDS
from ..registry import Registry
from .network import Network, NeuronConfig

__all__ = ["available", "create", "register"]

MODELS: Registry[Callable[..., Network]] = Registry("model")
"""Model name -> builder (the zoo's and any a user registers)."""

_NEURON_KEYS = {f.name for f in fields(NeuronConfig)} - {"backend"}


@overload
def register(name: str) -> Callable[[Callable[..., Network]], Callable[..., Network]]: ...


@overload
def register(name: str, builder: Callable[..., Network]) -> Callable[..., Network]: ...


def register(name: str, builder: Callable[..., Network] | None = None) -> Any:
    """Add a model: ``@register("name")`` above ``def builder(spiking: bool,
    neuron: NeuronConfig, **options) -> Network``, or ``register("name", builder)``.

    The builder's keyword arguments with type hints are the architecture options
    :func:`create` accepts and checks; a name already taken is refused.
    """
    return MODELS.register(name) if builder is None else MODELS.register(name, builder)


def available() -> list[str]:
    """The registered model names, sorted."""
    return sorted(MODELS)


def create(name: str, spiking: bool = True, neuron: str = "snnvar", **kwargs: object) -> Network:
    """Build a zoo model.

    Args:
        name: one of :func:`available`.
        spiking: the SNN (input ``[T, B, ...]``) or the ANN of the same
            architecture with ReLU (input ``[B, ...]``); both return logits.
        neuron: the spiking neurons: ``"snnvar"``, ``"snntorch"`` or ``"norse"``.
        **kwargs: the architecture's options (``in_shape``, ``num_classes``,
            ``hidden``, ``batch_norm``, ``pool``, ``width``, ...) and the neuron
            options of :class:`~snnvar.models.NeuronConfig` (``beta``,
            ``threshold``, ``reset``, ``surrogate``, ``readout``, ...).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {available()}")
    if neuron not in BACKENDS:
        raise ValueError(f"unknown neuron backend {neuron!r}; available: {list(BACKENDS)}")
    builder = MODELS[name]
    arch_keys = [p for p in inspect.signature(builder).parameters if p not in ("spiking", "neuron")]
    unknown = sorted(set(kwargs) - set(arch_keys) - _NEURON_KEYS)
    if unknown:
        raise ValueError(
            f"unknown options {unknown} for model {name!r}; architecture options: {arch_keys}; "
            f"neuron options: {sorted(_NEURON_KEYS)}"
        )
    func = builder.func if isinstance(builder, functools.partial) else builder
    hints = typing.get_type_hints(func)
    for key, value in kwargs.items():
        if key in hints and not matches_type(value, hints[key]):
            raise ValueError(
                f"model option {key}={value!r} of {name!r} must be {describe_type(hints[key])}"
            )
    config = NeuronConfig(backend=neuron, **{k: v for k, v in kwargs.items() if k in _NEURON_KEYS})
    try:
        check_types(config)
    except ValueError as err:
        raise ValueError(f"neuron option {err} (model {name!r})") from None
    if spiking:
        config.cell()  # validates the backend and its options before building layers
    arch = {k: v for k, v in kwargs.items() if k not in _NEURON_KEYS}
    return builder(spiking=spiking, neuron=config, **arch)
