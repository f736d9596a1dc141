"""Which tensors of a model live on the device and get perturbed.

Default: the weights (dim >= 2) of Linear, Conv and ConvTranspose layers, which
map onto crossbar conductances. Biases are opt-in; so are neuron parameters
(thresholds, leaks), named by glob patterns and found among the model's
parameters *and* buffers (snntorch keeps a fixed ``threshold`` and ``beta`` as
buffers). Works on any ``nn.Module``: snnvar's, snntorch's, norse's, plain ANNs.

Each selected tensor has a *device key*: the name of the device weight it
stands for, which keys its random stream. It is the tensor's name, except
that a module with a ``weight_map`` attribute (``own name -> device weight
name``, as a :class:`~snnvar.conversion.ConvertedSNN` maps its weights to its
ANN's) names its tensors' device weights, and the ``module.`` of a
data-parallel, SWA or ``torch.compile`` wrapper is dropped. So an ANN, its converted SNN and the
same model inside ``DistributedDataParallel`` draw the same noise for the same
device weight on the same chip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

import torch
from torch import nn

__all__ = ["DEFAULT_MODULES", "WRAPPERS", "Target", "device_keys", "select_targets"]

DEFAULT_MODULES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
"""Module types whose weights are selected when ``modules`` is not given."""

WRAPPERS: dict[type[nn.Module], str] = {
    nn.DataParallel: "module",
    nn.parallel.DistributedDataParallel: "module",
    torch.optim.swa_utils.AveragedModel: "module",
}
"""Wrappers -> the attribute that holds the wrapped model; that segment is not part
of a device key (``torch.compile``'s ``_orig_mod`` is handled as well)."""


def _inner(module: nn.Module) -> str | None:
    """The attribute under which a wrapper holds its model (None: not a wrapper)."""
    for kind, attr in WRAPPERS.items():
        if isinstance(module, kind):
            return attr
    if type(module).__name__ == "OptimizedModule" and hasattr(module, "_orig_mod"):
        return "_orig_mod"  # torch.compile
    return None


@dataclass(frozen=True, eq=False)
class Target:
    """One selected tensor: where it lives and what it is called."""

    name: str
    """Its name as in ``model.named_parameters()`` (or ``named_buffers()``)."""
    module: nn.Module
    """The module that owns it directly."""
    attr: str
    """Its attribute name on ``module``."""
    is_buffer: bool
    """True for a buffer (e.g. snntorch's fixed threshold), False for a parameter."""
    key: str = ""
    """Its device key (see the module docstring); keys its random stream."""
    reference: str | None = None
    """Attribute on ``module`` whose clean statistics give this tensor's scale and
    device window: ``"weight"`` for a bias scaled by its layer
    (``Variation.bias_reference="layer"``), None for its own statistics."""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def tensor(self) -> torch.Tensor:
        """The tensor itself (a Parameter or a buffer)."""
        store = self.module._buffers if self.is_buffer else self.module._parameters
        return store[self.attr]

    @property
    def reference_tensor(self) -> torch.Tensor:
        """The tensor whose clean statistics scale this one: itself, or
        ``module.<reference>`` (a bias scaled by its layer's weight)."""
        return self.tensor if self.reference is None else getattr(self.module, self.reference)


def _matches_type(module: nn.Module, kinds: Sequence[type | str]) -> bool:
    for kind in kinds:
        if isinstance(kind, str):
            if any(cls.__name__ == kind for cls in type(module).__mro__):
                return True
        elif isinstance(module, kind):
            return True
    return False


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attr = name.rpartition(".")
    return (model.get_submodule(path) if path else model), attr


def device_keys(model: nn.Module, names: list[str]) -> list[str]:
    """The device key of each tensor name of ``model`` (see the module docstring).

    A ``weight_map`` entry names the device weight relative to the module that holds
    the map: a converted SNN nested at ``net.snn`` keys its weights ``net.snn.<ANN
    name>`` (the ANN name alone when nothing but wrappers lies above it). Raises
    ``ValueError`` if two names share a key (they would draw the same noise).
    """
    maps: list[tuple[str, dict[str, str]]] = []
    inner: list[tuple[str, str]] = []  # (the wrapped model's path, the wrapper's path)
    for prefix, module in model.named_modules():
        weight_map = getattr(module, "weight_map", None)
        if isinstance(weight_map, dict):
            maps.append((prefix, weight_map))
        attr = _inner(module)
        if attr is not None:
            inner.append((f"{prefix}.{attr}" if prefix else attr, prefix))
    maps.sort(key=lambda item: -len(item[0]))  # the innermost map wins
    inner.sort(key=lambda item: -len(item[0]))  # the innermost wrapper first

    def unwrapped(path: str) -> str:
        for wrapped, wrapper in inner:
            if path == wrapped or path.startswith(wrapped + "."):
                rest = path[len(wrapped) :].lstrip(".")
                path = ".".join(p for p in (wrapper, rest) if p)
        return path

    keys = []
    for name in names:
        key = unwrapped(name)
        for prefix, weight_map in maps:
            rest = name[len(prefix) + 1 :] if prefix else name
            if (not prefix or name.startswith(prefix + ".")) and rest in weight_map:
                owner = unwrapped(prefix)
                key = f"{owner}.{weight_map[rest]}" if owner else str(weight_map[rest])
                break
        keys.append(key)
    seen: dict[str, str] = {}
    for name, key in zip(names, keys, strict=True):
        if key in seen:
            raise ValueError(
                f"{seen[key]!r} and {name!r} stand for the same device weight {key!r} "
                "(check the model's weight_map): they would draw identical noise"
            )
        seen[key] = name
    return keys


def select_targets(
    model: nn.Module,
    *,
    modules: Sequence[type | str] | None = None,
    include_bias: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    parameters: Sequence[str] = (),
    bias_reference: str = "layer",
) -> list[Target]:
    """The tensors of ``model`` that a variation perturbs, in model order.

    ``modules``: module types (or class names) whose ``weight`` (dim >= 2) is
    selected, default :data:`DEFAULT_MODULES`; ``include_bias`` adds their
    biases; ``include`` keeps only names matching one of its glob patterns;
    ``exclude`` drops names matching one; ``parameters`` adds any floating-point
    parameter or buffer whose full name matches one of its patterns (e.g.
    ``"*.threshold"``). Every pattern must match something, and so must the
    whole selection: a ``ValueError`` says what was available otherwise.
    ``bias_reference="layer"`` gives a selected bias its layer weight's reference
    statistics (:attr:`Target.reference`), ``"own"`` its own.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    kinds = DEFAULT_MODULES if modules is None else tuple(modules)
    for kind in kinds:
        if not (isinstance(kind, str) or (isinstance(kind, type) and issubclass(kind, nn.Module))):
            raise ValueError(
                f"modules entries must be nn.Module subclasses or class names, got {kind!r}"
            )

    names = {id(p): n for n, p in model.named_parameters()}
    chosen: dict[int, Target] = {}
    for _, module in model.named_modules():
        if not _matches_type(module, kinds):
            continue
        for attr, p in module.named_parameters(recurse=False):
            is_bias = attr == "bias" and include_bias
            wanted = (attr == "weight" and p.dim() >= 2) or is_bias
            if wanted and id(p) not in chosen:
                weight = getattr(module, "weight", None)
                layered = is_bias and bias_reference == "layer" and isinstance(weight, torch.Tensor)
                chosen[id(p)] = Target(
                    names[id(p)],
                    module,
                    attr,
                    is_buffer=False,
                    reference="weight" if layered else None,
                )

    all_named = [(n, t, False) for n, t in model.named_parameters()]
    all_named += [(n, t, True) for n, t in model.named_buffers() if t.is_floating_point()]
    for pattern in parameters:
        hits = [(n, t, b) for n, t, b in all_named if fnmatchcase(n, pattern)]
        if not hits:
            raise ValueError(
                f"parameters pattern {pattern!r} matches no parameter or floating-point "
                f"buffer; available: {[n for n, _, _ in all_named]}"
            )
        for n, t, is_buffer in hits:
            if not t.is_floating_point():
                raise ValueError(f"{n!r} is not floating point ({t.dtype}); it cannot vary")
            if id(t) not in chosen:
                owner, attr = _owner(model, n)
                chosen[id(t)] = Target(n, owner, attr, is_buffer=is_buffer)

    targets = list(chosen.values())
    candidates = [t.name for t in targets]
    for pattern in include:
        if not any(fnmatchcase(n, pattern) for n in candidates):
            raise ValueError(f"include pattern {pattern!r} matches none of {candidates}")
    if include:
        targets = [t for t in targets if any(fnmatchcase(t.name, p) for p in include)]
    for pattern in exclude:
        if not any(fnmatchcase(t.name, pattern) for t in targets):
            raise ValueError(
                f"exclude pattern {pattern!r} matches none of {[t.name for t in targets]}"
            )
    targets = [t for t in targets if not any(fnmatchcase(t.name, p) for p in exclude)]
    if targets:
        keys = device_keys(model, [t.name for t in targets])
        targets = [replace(t, key=k) for t, k in zip(targets, keys, strict=True)]
    if not targets:
        kind_names = [k if isinstance(k, str) else k.__name__ for k in kinds]
        raise ValueError(
            f"the variation selects nothing in {type(model).__name__}: no weight of "
            f"{kind_names} (dim >= 2) is left after include={list(include)}, "
            f"exclude={list(exclude)}; name neuron or other tensors with parameters=(...), "
            f"available: {[n for n, _, _ in all_named]}"
        )
    return targets
