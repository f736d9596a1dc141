"""Model zoo and registry: FC-2/4, LeNet-5, Spiking-CNN1/2, VGG-5/11/16, ResNet-18/19/20
(and the CIFAR ResNet-32/44/56/110) as SNN and ANN;
:func:`register` adds a model of one's own (a layer plan for :func:`build`).

>>> from snnvar import models
>>> models.available()  # doctest: +NORMALIZE_WHITESPACE
['fc2', 'fc4', 'lenet5', 'resnet110', 'resnet18', 'resnet19', 'resnet20', 'resnet32',
 'resnet44', 'resnet56', 'spiking_cnn1', 'spiking_cnn2', 'vgg11', 'vgg16', 'vgg5']
>>> snn = models.create("spiking_cnn2")                   # input [T, B, 1, 28, 28]
>>> ann = models.create("spiking_cnn2", spiking=False)    # input [B, 1, 28, 28]
>>> copied = models.transfer(ann, snn)                     # same layer names
"""

from .network import ACT, Block, Concat, Network, NeuronConfig, build, transfer
from .registry import available, create, register
from .resnet import RESNETS
from .zoo import VGG_CONFIGS

__all__ = [
    "ACT",
    "RESNETS",
    "VGG_CONFIGS",
    "Block",
    "Concat",
    "Network",
    "NeuronConfig",
    "available",
    "build",
    "create",
    "register",
    "transfer",
]
