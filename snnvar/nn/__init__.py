"""Spiking layers: LIF and IF neurons as pure step functions with thin module
wrappers, surrogate gradients by name, the loop over time, readouts, per-layer
spike recording, and snntorch / norse neuron backends.

Time-major tensors ``[T, B, ...]`` throughout (the model contract: ``[T, B, ...]``
in, logits ``[B, classes]`` out; :func:`unroll` adapts a model that is called
once per time step); encoders that make them from
``[B, ...]`` data live in :mod:`snnvar.datasets` (``rate``, ``direct``, ``latency``).

>>> import torch
>>> from snnvar import nn as snn
>>> layer = snn.TimeLoop(snn.LIF(beta=0.9))
>>> spikes = layer(torch.rand(25, 8, 100))        # [T, B, neurons]
"""

from .backends import BACKENDS, NorseLIF, SnntorchLIF, make_cell, with_reset
from .functional import (
    RESETS,
    LIFParameters,
    LIFState,
    if_step,
    leaky_integrate,
    lif_sequence,
    lif_step,
)
from .modes import eval_mode
from .neurons import IF, LIF, TimeLoop, check_neuron, check_time_major
from .recording import LayerSpikes, SpikeRecord, is_spiking, neuron_layer_names, record_spikes
from .residual import Residual
from .sequential import READOUTS, Readout, SpikingSequential, over_time
from .surrogate import (
    SURROGATES,
    ATan,
    FastSigmoid,
    StraightThrough,
    Surrogate,
    Triangle,
    surrogate,
)
from .unroll import CONTRACT, UNROLL_READOUTS, Unrolled, check_logits, unroll

__all__ = [
    "BACKENDS",
    "CONTRACT",
    "IF",
    "LIF",
    "READOUTS",
    "RESETS",
    "SURROGATES",
    "UNROLL_READOUTS",
    "ATan",
    "FastSigmoid",
    "LIFParameters",
    "LIFState",
    "LayerSpikes",
    "NorseLIF",
    "Readout",
    "Residual",
    "SnntorchLIF",
    "SpikeRecord",
    "SpikingSequential",
    "StraightThrough",
    "Surrogate",
    "TimeLoop",
    "Triangle",
    "Unrolled",
    "check_logits",
    "check_neuron",
    "check_time_major",
    "eval_mode",
    "if_step",
    "is_spiking",
    "leaky_integrate",
    "lif_sequence",
    "lif_step",
    "make_cell",
    "neuron_layer_names",
    "over_time",
    "record_spikes",
    "surrogate",
    "unroll",
    "with_reset",
]
