"""A residual block for ANNs and time-major SNNs: ``post(body(x) + shortcut(x))``.

One container covers the residual networks of the SNN literature:

- He et al.'s basic block (CVPR 2016), and the *spiking ResNet* built from it
  (Zheng et al.'s ResNet-19, AAAI 2021; Hu et al., 2021): ``body`` = conv-BN-act-conv-BN,
  ``post`` = the activation (ReLU or a neuron loop) *after* the addition;
- SEW-ResNet's ADD connection (Fang et al., NeurIPS 2021): ``body`` =
  conv-BN-SN-conv-BN-SN, ``post`` empty, so the block's output is the sum of the
  body's and the shortcut's spikes (integers: 0-2 after one block, growing along
  a stage of identity blocks).

``shortcut`` is an empty container (the identity) or a projection (1 × 1 conv and
BatchNorm, followed by a neuron loop in SEW-ResNet's downsampling blocks). In an
SNN the three parts are :class:`~snnvar.nn.SpikingSequential` s and the block
takes the whole sequence ``[T, B, ...]`` at once, so each layer inside keeps its
own treatment over time (neurons stepped, stateless layers batched over time,
per-read variation redrawn at each step); in an ANN they are ``nn.Sequential`` s.
The addition is digital (or the sum of two currents on the neuron's membrane):
no device weight lies on an identity shortcut.
"""

from __future__ import annotations

import torch
from torch import nn

from .sequential import SpikingSequential

__all__ = ["Residual"]


class Residual(nn.Module):
    """``post(body(x) + shortcut(x))`` (see the module docstring).

    Args:
        body: the residual branch.
        shortcut: the skip branch; an empty container is the identity.
        post: applied to the sum (an activation, or nothing).

    All three are ``nn.Sequential`` (ANN) or all :class:`~snnvar.nn.SpikingSequential`
    (SNN, time-major); mixing them is refused.
    """

    def __init__(
        self, body: nn.Sequential, shortcut: nn.Sequential | None = None,
        post: nn.Sequential | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if not isinstance(body, nn.Sequential):
            raise TypeError(
                f"Residual's body must be nn.Sequential (ANN) or SpikingSequential (SNN), "
                f"got {type(body).__name__}"
            )
        spiking = isinstance(body, SpikingSequential)
        kind = SpikingSequential if spiking else nn.Sequential
        shortcut = kind() if shortcut is None else shortcut
        post = kind() if post is None else post
        for name, part in (("body", body), ("shortcut", shortcut), ("post", post)):
            same = isinstance(part, SpikingSequential) == spiking
            if not (isinstance(part, nn.Sequential) and same):
                raise TypeError(
                    f"Residual's {name} must be {kind.__name__} like its body, got "
                    f"{type(part).__name__}"
                )
        if len(body) == 0:
            raise ValueError("Residual's body is empty: a block needs at least one layer")
        for name, part in (("body", body), ("shortcut", shortcut)):
            for path, m in part.named_modules():
                if getattr(m, "inplace", False):
                    raise ValueError(
                        f"Residual's {name} holds an in-place {type(m).__name__} at "
                        f"{path!r}: it would overwrite the input the other branch reads; "
                        "use inplace=False"
                    )
        self.body = body
        self.shortcut = shortcut
        self.post = post
        self.temporal = spiking
        """Takes the whole sequence ``[T, B, ...]`` in an SNN (see :func:`~snnvar.nn.over_time`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        s = self.shortcut(x)
        if y.shape != s.shape:
            raise ValueError(
                f"Residual: the body gives {tuple(y.shape)} but the shortcut "
                f"{tuple(s.shape)}; give the shortcut a projection (a strided 1 x 1 conv) where "
                "the body changes the channels or the size"
            )
        return self.post(y + s)

    def extra_repr(self) -> str:
        return "identity shortcut" if len(self.shortcut) == 0 else "projection shortcut"
