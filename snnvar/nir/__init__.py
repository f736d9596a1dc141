"""NIR export and import: snnvar's SNNs as Neuromorphic Intermediate Representation graphs.

NIR (the ``nir`` package; Pedersen et al., Nat. Commun. 2024) is how SNNs reach
simulators and chips (SpiNNaker2, Loihi via Lava-DL, Xylo via rockpool, Speck
via sinabs, snntorch, norse, spikingjelly). ``to_nir(model)`` writes a snnvar SNN
(the zoo with every neuron backend, a converted SNN with its per-layer
thresholds, a restricted model's programmed weights, one simulated chip's
weights) as a graph; ``from_nir(graph)`` runs a graph as a snnvar network, which
:func:`snnvar.evaluate` and :class:`snnvar.Variation` take like any model.

>>> import torch
>>> from snnvar import models, nir as snnvar_nir
>>> snn = models.create("fc2", in_shape=(1, 8, 8), hidden=(32,), reset="zero")
>>> graph = snnvar_nir.to_nir(snn)               # nir.NIRGraph; nir.write(path, graph)
>>> back = snnvar_nir.from_nir(graph)           # same spikes, same logits
>>> x = torch.rand(10, 2, 1, 8, 8)
>>> bool(torch.equal(back(x), snn(x)))
True

The time-constant conversion (β ↔ τ, R) is stated once, in
:mod:`snnvar.nir.semantics`. NIR's LIF and IF reset to ``v_reset``; a model that
resets by subtraction is refused (export :func:`snnvar.nn.with_reset` ``(model,
"zero")``, a documented, different network). ``nir`` is an optional dependency
(``pip install 'snnvar[nir]'``): this package imports it when called.
"""

from .consumers import CONSUMERS, Agreement, compare, run_consumer
from .export import neuron_parameters, to_nir
from .io import read, require_nir, write
from .load import OUTPUT_READOUTS, CurrentLIF, Integrator, NIRNetwork, Placed, Scale, from_nir
from .semantics import DEFAULT_DT, beta_from_tau, r_from_beta, tau_from_beta
from .summary import summary, summary_text

__all__ = [
    "CONSUMERS",
    "DEFAULT_DT",
    "OUTPUT_READOUTS",
    "Agreement",
    "CurrentLIF",
    "Integrator",
    "NIRNetwork",
    "Placed",
    "Scale",
    "beta_from_tau",
    "compare",
    "from_nir",
    "neuron_parameters",
    "r_from_beta",
    "read",
    "require_nir",
    "run_consumer",
    "summary",
    "summary_text",
    "tau_from_beta",
    "to_nir",
    "write",
]
