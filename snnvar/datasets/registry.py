"""The data set registry: ``@register(name)`` at a loader's definition,
``get(name, root=None, train=True, **options)`` to load one."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, overload

from torch.utils.data import Dataset

from ..registry import Registry
from .storage import data_root

__all__ = ["available", "get", "register"]

DATASETS: Registry[Callable[..., Dataset]] = Registry("data set")
"""Data set name -> loader (the built-in ones of :mod:`.catalog` and any a user registers)."""


@overload
def register(name: str) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]: ...


@overload
def register(name: str, loader: Callable[..., Dataset]) -> Callable[..., Dataset]: ...


def register(name: str, loader: Callable[..., Dataset] | None = None) -> Any:
    """Add a data set: ``@register("name")`` above ``def loader(root: Path, train: bool,
    **options) -> Dataset``, or ``register("name", loader)``.

    ``root`` is the data root (:func:`data_root`), ``train`` the split; the loader's
    keyword arguments after them are the options :func:`get` accepts. A name already
    taken is refused.
    """
    return DATASETS.register(name) if loader is None else DATASETS.register(name, loader)


def available() -> list[str]:
    """The names :func:`get` accepts, in order of registration."""
    return DATASETS.available()


def _options(name: str) -> list[str] | None:
    """The options data set ``name`` accepts (None: any, its loader takes ``**options``)."""
    params = list(inspect.signature(DATASETS[name]).parameters.values())[2:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params]


def get(
    name: str,
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    **options: Any,
) -> Dataset:
    """A torch ``Dataset`` of ``(x, y)``.

    ``root``: the data root (else ``$SNNVAR_DATA``, else ``~/.cache/snnvar/data``).
    Options of the built-in sets: ``download`` (default True) for the downloadable
    ones; for ``nmnist`` and ``digits_events`` the frame options ``time_bins``
    (default 25, or None given a ``time_window``), ``time_window`` (µs),
    ``first_saccade_only``, ``denoise_us``, and for ``nmnist`` ``cache`` (default
    True) and ``cache_dir`` (default ``<root>/NMNIST/frames``); for ``digits``
    ``size`` (default 8; 32 for VGG). An option the data set does not take is
    refused, naming those it does.
    """
    loader = DATASETS[name]
    path: Path = data_root(root)
    allowed = _options(name)
    unknown = [] if allowed is None else sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown options {unknown} for {name!r}; allowed: {sorted(allowed or [])}"
        )
    return loader(path, train, **options)
