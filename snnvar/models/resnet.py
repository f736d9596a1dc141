"""Residual networks for CIFAR-size input, as ANN and SNN.

- ``resnet20`` / ``resnet32`` / ``resnet44`` / ``resnet56`` / ``resnet110``: He et al.'s
  CIFAR ResNet-(6n+2) (CVPR 2016, §4.2): a 16-channel 3 × 3 stem, three stages of
  n basic blocks with 16 / 32 / 64 channels (stride 2 at the start of the second
  and third), global average pooling and the classifier (the WVAT paper's ResNet-20 of Fig. 15;
  its ResNet-110 of Tables 1-2 is the pre-activation variant). This is not the
  "ResNet-20" of Sengupta et al. (2019) and Rathi et al. (ICLR 2020), a wider
  network with a three-conv 64-channel stem and 64-512 channels without BatchNorm.
- ``resnet18``: ResNet-18 with the CIFAR stem (a 3 × 3 stem, no max pooling):
  four stages of two blocks, 64 / 128 / 256 / 512 channels (the WVAT paper's
  Fig. 10 and 13).
- ``resnet19``: Zheng et al.'s spiking ResNet-19 (tdBN, AAAI 2021): a 128-channel
  stem, stages of 3 / 3 / 2 blocks with 128 / 256 / 512 channels, a 256-unit
  hidden layer before the classifier.

``block`` chooses where the activation sits (:class:`~snnvar.nn.Residual`):
``"basic"`` puts it after the addition (He et al.; in an SNN the *spiking
ResNet*, one neuron layer on the sum); ``"sew"`` is SEW-ResNet's ADD connection
(Fang et al., NeurIPS 2021): the body ends in its own activation and the block
outputs the sum (in an SNN, integer spike counts that grow along a stage of
identity blocks: 0-2 after the first, 0-3 after the second, ...). Where a block changes the
channels or the size, the shortcut is a projection, a strided 1 × 1 conv with
BatchNorm (He et al.'s option B; followed by an activation in SEW-ResNet);
elsewhere it is the identity, which holds no device weight: the addition is
digital, or two currents summed on one membrane. The global pooling is an
average pooling over the last feature map's size, so the model exports to NIR.
"""

from __future__ import annotations

import functools
import math

from torch import nn

from .network import ACT, Block, Network, NeuronConfig, build
from .registry import register
from .shapes import check_shape, hidden_widths

__all__ = ["BLOCKS", "RESNETS", "resnet"]

BLOCKS = ("basic", "sew")
"""Residual block kinds: the activation after the addition, or SEW-ResNet's ADD."""

RESNETS: dict[str, dict[str, tuple[int, ...]]] = {
    **{
        f"resnet{6 * n + 2}": {"stem": (16,), "blocks": (n,) * 3, "channels": (16, 32, 64)}
        for n in (3, 5, 7, 9, 18)
    },
    "resnet18": {"stem": (64,), "blocks": (2, 2, 2, 2), "channels": (64, 128, 256, 512)},
    "resnet19": {
        "stem": (128,),
        "blocks": (3, 3, 2),
        "channels": (128, 256, 512),
        "hidden": (256,),
    },
}
"""Per architecture: stem channels, blocks per stage, channels per stage, and the hidden
widths of the classifier (none where absent)."""


def _conv_bn(c_in: int, c_out: int, k: int, stride: int, bn: bool) -> list[nn.Module | str]:
    layers: list[nn.Module | str] = [
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=not bn)
    ]
    return [*layers, nn.BatchNorm2d(c_out)] if bn else layers


def _block(c_in: int, c_out: int, stride: int, kind: str, bn: bool) -> Block:
    body = [*_conv_bn(c_in, c_out, 3, stride, bn), ACT, *_conv_bn(c_out, c_out, 3, 1, bn)]
    shortcut: list[nn.Module | str] = []
    if stride != 1 or c_in != c_out:
        shortcut = _conv_bn(c_in, c_out, 1, stride, bn)
    if kind == "sew":
        return Block((*body, ACT), (*shortcut, ACT) if shortcut else ())
    return Block(tuple(body), tuple(shortcut), (ACT,))


def resnet(
    name: str,
    spiking: bool,
    neuron: NeuronConfig,
    in_shape: tuple[int, ...] = (3, 32, 32),
    num_classes: int = 10,
    width: float = 1.0,
    block: str = "basic",
    batch_norm: bool = True,
    hidden: tuple[int, ...] | None = None,
) -> Network:
    """A residual network of :data:`RESNETS` (see the module docstring); ``width``
    scales every conv's channels, ``hidden`` overrides the classifier's hidden widths."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; allowed: {list(BLOCKS)}")
    if not (width > 0 and math.isfinite(width)):
        raise ValueError(f"width must be a finite number > 0, got {width}")
    arch = RESNETS[name]
    shape = check_shape(name, in_shape, 3)
    c, h, w = shape
    size = lambda n: max(1, round(n * width))  # noqa: E731
    stem = size(arch["stem"][0])
    plan: list[nn.Module | str | Block] = [*_conv_bn(c, stem, 3, 1, batch_norm), ACT]
    c_in = stem
    for stage, (n, channels) in enumerate(zip(arch["blocks"], arch["channels"], strict=True)):
        c_out = size(channels)
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            if stride == 2:
                if min(h, w) < 2:
                    raise ValueError(f"{name}: input {shape} is too small for its strides")
                h, w = (h + 1) // 2, (w + 1) // 2
            plan.append(_block(c_in, c_out, stride, block, batch_norm))
            c_in = c_out
    plan += [nn.AvgPool2d((h, w)), nn.Flatten()]
    features = c_in
    widths = arch.get("hidden", ()) if hidden is None else tuple(hidden)
    for units in hidden_widths(widths, num_classes):
        plan += [nn.Linear(features, units), ACT]
        features = units
    plan.append(nn.Linear(features, num_classes))
    return build(name, plan, shape, num_classes, spiking, neuron)


for _name in RESNETS:  # one builder per architecture
    register(_name, functools.partial(resnet, _name))
