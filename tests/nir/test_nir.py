"""snnvar.nir: export and import of NIR graphs, spike for spike.

Round trips compare spikes per layer and logits with ``torch.equal`` where the
imported network runs the same operations on the same weights (a zoo SNN without
BatchNorm, a restricted chip, a drawn chip); where it computes the same function
through other operations (BatchNorm or a spike amplitude folded into the weights,
another framework's neurons, a wider convolution) spikes agree but for a threshold
tie and logits within a float32 tolerance (see tests/tolerances.py). The
independent consumers (snntorch 1.0, spikingjelly 2.0, norse 1.1) run the
exported graphs on the same input. Where a consumer deviates from NIR, the test
pins the deviation to what its code does (see BENCHMARKS.md, "NIR export").
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnvar import Variation, models
from snnvar import nir as snn_nir
from snnvar.conversion import convert
from snnvar.hardware import Restrictions, deploy, restrict
from snnvar.nn import record_spikes, with_reset
from tests.tolerances import spike_ties


def snntorch_run(graph, x):
    return snn_nir.run_consumer("snntorch", graph, x)


def spikingjelly_run(graph, x, dt):
    assert dt == graph.metadata["dt"]
    return snn_nir.run_consumer("spikingjelly", graph, x)


def norse_run(graph, x, dt):
    assert dt == graph.metadata["dt"]
    return snn_nir.run_consumer("norse", graph, x)


SMALL = {
    "fc2": {"in_shape": (1, 8, 8), "hidden": (24, 16)},
    "fc4": {"in_shape": (1, 8, 8), "hidden": (24, 16, 12)},
    "lenet5": {"in_shape": (1, 16, 16)},
    "spiking_cnn1": {"in_shape": (1, 12, 12), "hidden": 20},
    "spiking_cnn2": {"in_shape": (1, 16, 16), "channels": (4, 6), "hidden": 20},
    "vgg5": {"in_shape": (3, 16, 16), "width": 0.0625, "hidden": (16, 16)},
    "vgg11": {"in_shape": (3, 32, 32), "width": 0.0625, "hidden": (16, 16)},
    "vgg16": {"in_shape": (3, 32, 32), "width": 0.0625, "hidden": (16, 16)},
}


def _zoo(name: str, neuron: str = "snnvar", seed: int = 0, **options) -> nn.Module:
    torch.manual_seed(seed)
    kw = {"reset": "zero", "threshold": 0.5, **SMALL[name], **options}
    model = models.create(name, neuron=neuron, **kw)
    return _random_batchnorm(model)


def _random_batchnorm(model: nn.Module) -> nn.Module:
    """``model`` in eval mode, its BatchNorms with statistics and affine parameters of
    their own (from torch's global generator), so that folding them is no no-op."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


def _input(shape: tuple[int, ...], steps: int = 8, batch: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, *shape, generator=g) < 0.5).float()


def _spikes(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    with record_spikes(model, keep=True) as rec:
        out = model(x)
    return out, {k: torch.cat(v.kept, 1) for k, v in rec.layers.items()}


def _by_module(graph, spikes: dict[str, torch.Tensor], prefix: str = "nodes.") -> dict:
    """Spikes of an imported network keyed by the snnvar module each node came from."""
    out = {}
    for key, value in spikes.items():
        node = key[len(prefix) :] if key.startswith(prefix) else key
        out[graph.nodes[node].metadata["module"]] = value
    return out


# --- the time-constant conversion -------------------------------------------------------


def test_beta_tau_golden_values() -> None:
    assert snn_nir.tau_from_beta(0.9, 1e-4) == pytest.approx(1e-3, rel=1e-12)
    assert snn_nir.r_from_beta(0.9) == pytest.approx(10.0, rel=1e-12)
    assert snn_nir.tau_from_beta(0.0, 1e-3) == pytest.approx(1e-3, rel=1e-15)
    assert snn_nir.beta_from_tau(0.02, 1e-3) == pytest.approx(0.95, rel=1e-12)


def test_beta_survives_the_round_trip_bit_for_bit() -> None:
    betas = torch.linspace(0.0, 0.9999, 4001, dtype=torch.float32).numpy()
    for dt in (1e-4, 1e-3, 1.0):
        back = snn_nir.beta_from_tau(snn_nir.tau_from_beta(betas, dt), dt).astype(np.float32)
        np.testing.assert_array_equal(back, betas)


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5])
def test_tau_refuses_beta_outside_0_1(beta: float) -> None:
    with pytest.raises(ValueError, match="beta must lie in"):
        snn_nir.tau_from_beta(beta, 1e-4)


@pytest.mark.parametrize("dt", [0.0, -1e-4, float("nan"), "1e-4", True])
def test_bad_dt_is_refused(dt: object) -> None:
    with pytest.raises(ValueError, match="dt must be"):
        snn_nir.to_nir(_zoo("fc2"), dt=dt)  # type: ignore[arg-type]


def test_tau_shorter_than_dt_names_dt() -> None:
    with pytest.raises(ValueError, match="is dt the one"):
        snn_nir.beta_from_tau(1e-5, 1e-4)


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SMALL))
def test_round_trip_every_zoo_snn(name: str, tmp_path) -> None:
    model = _zoo(name)
    graph = snn_nir.to_nir(model)
    path = snn_nir.write(tmp_path / f"{name}.nir", graph)
    back = snn_nir.from_nir(path)
    x = _input(model.in_shape)
    ref, ref_spikes = _spikes(model, x)
    out, spikes = _spikes(back, x)
    spikes = _by_module(graph, spikes)
    assert set(spikes) == set(ref_spikes)
    for layer, s in ref_spikes.items():
        assert s.sum() > 0, f"{layer} is silent: the comparison would prove little"
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        # the graph holds Conv2d with the BatchNorm folded in: the same function, rounded
        # once instead of twice, by kernels of the CPU's choosing. Spikes agree but for a
        # threshold tie; logits (|y| < 1, within 1e-7 of float64's for these 5 to 16
        # layers) within 1e-5 in the samples without one.
        tied = spike_ties(spikes, ref_spikes)
        torch.testing.assert_close(out[~tied], ref[~tied], rtol=1e-5, atol=1e-5)
    else:  # the same layers, weights bit for bit and operations in the same order
        for layer, s in ref_spikes.items():
            assert torch.equal(spikes[layer], s), layer
        assert torch.equal(out, ref)


@pytest.mark.parametrize("neuron", ["snntorch", "norse"])
def test_round_trip_other_backends(neuron: str) -> None:
    model = _zoo("spiking_cnn2", neuron=neuron)
    mine = _zoo("spiking_cnn2", neuron="snnvar")
    models.transfer(mine, model)
    x = _input(model.in_shape)
    graph = snn_nir.to_nir(model)
    back = snn_nir.from_nir(graph)
    ref, ref_spikes = _spikes(model, x)
    out, spikes = _spikes(back, x)
    spikes = _by_module(graph, spikes)
    assert set(spikes) == set(ref_spikes)
    for layer, s in ref_spikes.items():
        assert s.sum() > 0, layer
    # snntorch's and norse's neuron updates are not snnvar's operations: spikes agree but
    # for a threshold tie, logits (|y| ~ 1, 5 layers) within float32 rounding
    tied = spike_ties(spikes, ref_spikes)
    torch.testing.assert_close(out[~tied], ref[~tied], rtol=1e-5, atol=1e-5)
    # the graph does not depend on the backend that made it
    a, b = snn_nir.to_nir(model), snn_nir.to_nir(mine)
    for k in a.nodes:
        for field in ("weight", "bias", "tau", "r", "v_threshold"):
            if hasattr(a.nodes[k], field):
                np.testing.assert_array_equal(getattr(a.nodes[k], field),
                                              getattr(b.nodes[k], field))  # fmt: skip


@pytest.mark.parametrize(
    ("readout", "beta", "tail"),
    [("mean_membrane", 0.0, None), ("mean_membrane", 0.6, nir.LI),
     ("last_membrane", 1.0, nir.I), ("last_membrane", 0.3, nir.LI),
     ("spike_count", 0.0, nir.LIF)],
)  # fmt: skip
def test_readouts(readout: str, beta: float, tail: type | None) -> None:
    model = _zoo("fc2", readout=readout, readout_beta=beta)
    graph = snn_nir.to_nir(model)
    last = [src for src, dst in graph.edges if dst == "output"]
    assert graph.metadata["readout"] == readout
    if tail is None:
        assert isinstance(graph.nodes[last[0]], nir.Affine)
    else:
        assert isinstance(graph.nodes[last[0]], tail)
    x = _input(model.in_shape)
    # the readout folded back: the same layers and operations, bit for bit
    assert torch.equal(snn_nir.from_nir(graph)(x), model(x))


def test_converted_vgg_round_trip_and_per_layer_thresholds() -> None:
    torch.manual_seed(0)
    ann = models.create("vgg5", spiking=False, in_shape=(3, 16, 16), width=0.125, hidden=(32, 32))
    with torch.no_grad():
        for m in ann.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    ann.eval()
    calib = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    snn = convert(ann, calib, time_steps=16, encoder="direct", reset="zero", percentile=99.0)
    graph = snn_nir.to_nir(snn)
    thresholds = {
        graph.nodes[n].metadata["module"]: float(np.unique(graph.nodes[n].v_threshold)[0])
        for n in graph.nodes
        if isinstance(graph.nodes[n], nir.IF)
    }
    assert thresholds == pytest.approx({f"layers.{k}": v for k, v in snn.thresholds.items()})
    assert len(set(thresholds.values())) == len(thresholds)  # one θ per layer
    x = torch.rand(16, 3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    back = snn_nir.from_nir(graph)
    ref, ref_spikes = _spikes(snn, x)
    out, spikes = _spikes(back, x)
    spikes = _by_module(graph, spikes)
    for layer, s in ref_spikes.items():
        assert s.sum() > 0, layer
    # The graph folds each spike amplitude θ into the next layer's weights, past an
    # AvgPool2d: pool(θ s) * W and pool(s) * (θ W) round differently (and differently
    # on AVX2 and AVX-512). Spikes agree but for a threshold tie; the logits (|y| < 0.13,
    # each path within 1e-8 of float64's) within 1e-6 + 1e-5 |y|.
    tied = spike_ties(spikes, ref_spikes)
    torch.testing.assert_close(out[~tied], ref[~tied], rtol=1e-5, atol=1e-6)


def test_learned_beta_is_clamped_as_the_neuron_clamps_it() -> None:
    model = _zoo("fc2", learn_beta=True)
    with torch.no_grad():
        model.layers[2].cell.beta.fill_(1.05)  # the neuron runs with β = 1 (IF)
        model.layers[4].cell.beta.fill_(-0.2)  # and β = 0
    graph = snn_nir.to_nir(model)
    assert isinstance(graph.nodes["layers_2"], nir.IF)
    assert np.allclose(graph.nodes["layers_4"].tau, 1e-4)
    x = _input(model.in_shape)
    # β v with β = 1 or 0 is exact in either form (addcmul or add with alpha): bit for bit
    assert torch.equal(snn_nir.from_nir(graph)(x), model(x))


def test_export_leaves_the_model_as_it_was() -> None:
    model = _zoo("vgg5").train()
    model.layers[1].eval()  # a frozen BatchNorm in a model that trains
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    snn_nir.to_nir(model, chip=Variation(sigma=0.1).sample(model, seed=0))
    assert [m.training for m in model.modules()] == [
        m is not model.layers[1] for m in model.modules()
    ]
    assert all(torch.equal(stats[k], v) for k, v in model.state_dict().items())


def test_subtract_reset_is_refused_with_the_way_out() -> None:
    model = _zoo("fc2", reset="subtract")
    with pytest.raises(ValueError, match=r"layers\.2.*subtracting.*with_reset"):
        snn_nir.to_nir(model)
    variant = with_reset(model, "zero")
    assert model.layers[2].cell.reset == "subtract"  # the original is untouched
    x = _input(model.in_shape)
    assert torch.equal(snn_nir.from_nir(snn_nir.to_nir(variant))(x), variant(x))
    calib = torch.rand(16, 1, 8, 8)
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(16,))
    with pytest.raises(ValueError, match="ConversionConfig"):
        snn_nir.to_nir(convert(ann, calib, time_steps=4))


@pytest.mark.parametrize("neuron", ["snnvar", "snntorch", "norse"])
def test_with_reset_changes_every_backend(neuron: str) -> None:
    model = _zoo("fc2", neuron=neuron, reset="subtract")
    zero = with_reset(model, "zero")
    loops = [m for m in zero.modules() if type(m).__name__ == "TimeLoop"]
    assert [snn_nir.neuron_parameters(loop.cell)[2] for loop in loops] == ["zero"] * len(loops)
    x = _input(model.in_shape)
    fresh = _zoo("fc2", neuron=neuron, reset="zero")
    models.transfer(model, fresh)
    assert torch.equal(zero(x), fresh(x))
    with pytest.raises(ValueError, match="unknown reset 'soft'"):
        with_reset(model, "soft")


def test_unsupported_layers_are_named() -> None:
    with pytest.raises(ValueError, match=r"MaxPool2d at 'layers\.2'.*pool='avg'"):
        snn_nir.to_nir(_zoo("spiking_cnn2", pool="max"))
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(16,))
    with pytest.raises(ValueError, match="an ANN"):
        snn_nir.to_nir(ann)
    with pytest.raises(ValueError, match="in_shape"):
        snn_nir.to_nir(models.create("fc2", hidden=(8,), reset="zero").layers)
    from snnvar.conversion.convert import Amplitude
    from snnvar.models import Concat
    from snnvar.nn import IF, Readout, SpikingSequential, TimeLoop

    def seq(*layers):
        return SpikingSequential(*layers, Readout())

    cell = IF(reset="zero")
    amplitude_into_neuron = seq(nn.Linear(4, 4), TimeLoop(cell), Amplitude(2.0),
                                TimeLoop(IF(reset="zero")), nn.Linear(4, 2))  # fmt: skip
    with pytest.raises(ValueError, match="scaled spikes"):
        snn_nir.to_nir(amplitude_into_neuron, in_shape=(4,))
    grouped = seq(Concat(nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.Conv2d(4, 2, 1)),
                  TimeLoop(IF(reset="zero")), nn.Flatten(), nn.Linear(6 * 16, 2))  # fmt: skip
    with pytest.raises(ValueError, match="ungrouped"):
        snn_nir.to_nir(grouped, in_shape=(4, 4, 4))


# --- restricted models and chips ----------------------------------------------------------


def test_restricted_model_exports_its_programmed_levels() -> None:
    model = _zoo("spiking_cnn2", batch_norm=True)
    chip = deploy(restrict(model, Restrictions(weight_levels=7, bias_bits=6,
                                               fuse_batchnorm=True)))  # fmt: skip
    graph = snn_nir.to_nir(restrict(model, Restrictions(weight_levels=7, bias_bits=6,
                                                        fuse_batchnorm=True)))  # fmt: skip
    w = graph.nodes["layers_0"].weight
    assert len(np.unique(w)) <= 7
    np.testing.assert_array_equal(w, chip.layers[0].weight.detach().numpy())
    x = _input(model.in_shape)
    # the programmed weights, bit for bit, in the same layers (deploy leaves no BatchNorm)
    assert torch.equal(snn_nir.from_nir(graph)(x), chip(x))
    restricted = restrict(model, Restrictions(weight_levels=7))
    with pytest.raises(ValueError, match="not deployed"):
        snn_nir.to_nir(restricted, chip=Variation(sigma=0.1).sample(restricted, seed=0))
    on_chip = deploy(restricted)  # a chip after programming: what evaluate reads
    v = Variation(sigma=0.1)
    graph = snn_nir.to_nir(on_chip, chip=v.sample(on_chip, seed=5))
    with v.applied(on_chip, seed=5):
        assert torch.equal(snn_nir.from_nir(graph)(x), on_chip(x))


def test_converters_are_refused_unless_omitted() -> None:
    model = _zoo("fc2")
    hw = Restrictions(weight_levels=15, input_bits=8, input_range=1.0, learn_input_scale=True,
                      output_swing=50.0)  # fmt: skip
    restricted = restrict(model, hw)
    with torch.no_grad():
        restricted.layers[1].input_log_scale.fill_(0.25)
    with pytest.raises(ValueError, match="omit_converters=True"):
        snn_nir.to_nir(restricted)
    graph = snn_nir.to_nir(restricted, omit_converters=True)
    programmed = deploy(restricted).layers[1]
    a = float(restricted.layers[1].input_log_scale.detach().exp())
    np.testing.assert_allclose(
        graph.nodes["layers_1"].weight, programmed.weight.detach().numpy() * a, rtol=1e-6
    )


def test_output_noise_and_wires_are_named_and_omitted_on_request() -> None:
    model = _zoo("fc2")
    hw = Restrictions(input_range=1.0, output_noise=0.1, wire_resistance=1e-5)
    chip = deploy(restrict(model, hw))
    with pytest.raises(ValueError, match="output noise on every read and the wires' IR drop"):
        snn_nir.to_nir(chip)
    graph = snn_nir.to_nir(chip, omit_converters=True)  # traced on zeros: no block needed
    np.testing.assert_array_equal(graph.nodes["layers_1"].weight,
                                  chip.layers[1].weight.detach().numpy())  # fmt: skip


def test_chip_export_holds_the_chip_weights_bit_for_bit() -> None:
    model = _zoo("spiking_cnn2")
    v = Variation(sigma=0.1)
    draw = v.sample(model, seed=123)
    graph = snn_nir.to_nir(model, chip=draw)
    with v.applied(model, seed=123):
        chip = {n: p.detach().clone() for n, p in model.named_parameters()}
    np.testing.assert_array_equal(graph.nodes["layers_0"].weight, chip["layers.0.weight"].numpy())
    np.testing.assert_array_equal(graph.nodes["layers_7"].bias, chip["layers.7.bias"].numpy())
    clean = snn_nir.to_nir(model)
    assert not np.array_equal(clean.nodes["layers_0"].weight, graph.nodes["layers_0"].weight)
    np.testing.assert_array_equal(clean.nodes["layers_0"].weight,
                                  model.layers[0].weight.detach().numpy())  # fmt: skip
    with pytest.raises(ValueError, match="dynamic"):
        snn_nir.to_nir(model, chip=Variation(sigma=0.1, mode="dynamic").sample(model, seed=0))
    with pytest.raises(ValueError, match="another model"):
        snn_nir.to_nir(model, chip=v.sample(_zoo("fc2"), seed=0))
    with pytest.raises(TypeError, match="Draw"):
        snn_nir.to_nir(model, chip={"layers.0.weight": torch.zeros(1)})  # type: ignore[arg-type]


def test_exported_chip_is_the_chip_evaluate_tests() -> None:
    from snnvar import evaluate
    from snnvar.evaluation.montecarlo import chip_seed

    model = _zoo("fc2")
    g = torch.Generator().manual_seed(5)
    data = torch.utils.data.TensorDataset(torch.rand(40, 1, 8, 8, generator=g),
                                          torch.randint(0, 10, (40,), generator=g))  # fmt: skip
    v = Variation(sigma=0.15)
    kw = {"encoder": "direct", "time_steps": 6, "seed": 4, "spikes": False}
    report = evaluate(model, data, v, draws=3, **kw)
    x = _input(model.in_shape)
    for k in range(3):
        graph = snn_nir.to_nir(model, chip=v.sample(model, seed=chip_seed(4, k)))
        back = snn_nir.from_nir(graph)
        clean = evaluate(back, data, Variation(sigma=0.0), draws=1, **kw)
        assert clean.results[0].accuracies[0] == report.results[0].accuracies[k]
        with v.applied(model, seed=chip_seed(4, k)):  # the same logits, not only accuracy
            assert torch.equal(back(x), model(x))


def test_imported_concat_draws_the_original_chips() -> None:
    model = _zoo("spiking_cnn1")
    back = snn_nir.from_nir(snn_nir.to_nir(model))
    v = Variation(sigma=0.1)
    x = _input(model.in_shape)
    with v.applied(model, seed=3):
        ref = model(x)
    with v.applied(back, seed=3):
        assert torch.equal(back(x), ref)
    assert set(back.weight_map.values()) >= {
        "layers.3.branches.0.weight", "layers.3.branches.1.weight",
    }  # fmt: skip


def test_imported_network_draws_the_original_chips() -> None:
    model = _zoo("fc2")
    back = snn_nir.from_nir(snn_nir.to_nir(model))
    v = Variation(sigma=0.1, include_bias=True)
    a, b = v.sample(model, seed=9), v.sample(back, seed=9)
    assert len(a) == len(b) == 6  # three Linear layers, weights and biases
    for name in a:  # layers.1.weight -> nodes.layers_1.weight
        module, tensor = name.rsplit(".", 1)
        assert torch.equal(a[name], b[f"nodes.{module.replace('.', '_')}.{tensor}"])


# --- independent consumers --------------------------------------------------------------


@pytest.mark.parametrize("name", ["fc2", "spiking_cnn2", "lenet5"])
def test_snntorch_import_gives_the_same_spikes(name: str) -> None:
    model = _zoo(name)
    graph = snn_nir.to_nir(model)  # dt = 1e-4: what snntorch's importer assumes
    x = _input(model.in_shape)
    ref, ref_spikes = _spikes(model, x)
    signal, spikes = snntorch_run(graph, x)
    spikes = _by_module(graph, spikes, prefix="")
    assert set(spikes) == set(ref_spikes)
    for layer, s in ref_spikes.items():
        assert s.sum() > 0, layer
    # snntorch's own neuron loop: spikes agree but for a threshold tie, and the mean
    # current (|y| ~ 1) within float32 rounding in the samples without one
    tied = spike_ties({k: v.reshape(ref_spikes[k].shape) for k, v in spikes.items()}, ref_spikes)
    torch.testing.assert_close(signal.mean(0)[~tied], ref[~tied], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["fc2", "spiking_cnn2", "vgg5"])
def test_spikingjelly_import_gives_the_same_spikes(name: str) -> None:
    model = _zoo(name)
    graph = snn_nir.to_nir(model)
    x = _input(model.in_shape)
    ref, ref_spikes = _spikes(model, x)
    signal, spikes = spikingjelly_run(graph, x, dt=graph.metadata["dt"])
    spikes = _by_module(graph, spikes, prefix="")
    # spikingjelly's own neurons (firing at v >= θ, a tie more): spikes agree but for a
    # threshold tie, the mean current within the tolerance this test always allowed
    tied = spike_ties({k: spikes[k] for k in ref_spikes}, ref_spikes)
    torch.testing.assert_close(signal.mean(0)[~tied], ref[~tied], rtol=0, atol=1e-4)


def _converted_fc(seed: int = 0):
    torch.manual_seed(seed)
    ann = models.create("fc2", spiking=False, in_shape=(1, 8, 8), hidden=(32, 24)).eval()
    calib = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    return convert(ann, calib, time_steps=12, encoder="direct", reset="zero")


def test_converted_snn_in_spikingjelly_and_norse() -> None:
    snn = _converted_fc()
    graph = snn_nir.to_nir(snn)
    x = torch.rand(12, 3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    ref, ref_spikes = _spikes(snn, x)
    for layer, s in ref_spikes.items():
        assert s.sum() > 0, layer
    for run in (lambda: spikingjelly_run(graph, x, 1e-4), lambda: norse_run(graph, x, 1e-4)):
        signal, spikes = run()
        spikes = _by_module(graph, spikes, prefix="")
        # other frameworks' neurons, θ folded into the weights: spikes agree but for a
        # threshold tie, the mean current within the tolerance this test always allowed
        spikes = {k: spikes[k].reshape(s.shape) for k, s in ref_spikes.items()}
        tied = spike_ties(spikes, ref_spikes)
        y = signal.mean(0).reshape(ref.shape)
        torch.testing.assert_close(y[~tied], ref[~tied], rtol=0, atol=1e-4)


def test_snntorch_cannot_import_nir_if() -> None:
    """snntorch 1.0 asserts R = 1 for nir.IF (NIR's IF with dt = 1e-4 has R = 1/dt) and
    would build a Leaky with β = 0.9 anyway: converted (IF) SNNs go to other consumers."""
    graph = snn_nir.to_nir(_converted_fc())
    with pytest.raises(AssertionError, match="r != 1"):
        snntorch_run(graph, torch.zeros(2, 1, 1, 8, 8))


def test_spikingjelly_fires_at_the_threshold_itself() -> None:
    """NIR fires when v > θ; spikingjelly 2.0 fires when v ≥ θ (its heaviside is
    ``x >= 0``, surrogate.py): the first of the 4 neuron-steps in 57.5 million where
    the WVAT Spiking-CNN2 of BENCHMARKS.md differs is such a tie."""
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([1])}),
            "fc": nir.Linear(weight=np.ones((1, 1), dtype=np.float32)),
            "if": nir.IF(r=np.full(1, 1e4), v_threshold=np.ones(1), v_reset=np.zeros(1)),
            "out": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("in", "fc"), ("fc", "if"), ("if", "out")],
        metadata={"dt": 1e-4},
    )
    x = torch.full((4, 1, 1), 0.5)  # v = 0.5, 1.0 (= θ exactly), 1.5, ...
    mine, _ = snn_nir.run_consumer("snnvar", graph, x)
    theirs, _ = spikingjelly_run(graph, x, 1e-4)
    assert mine.flatten().tolist() == [0.0, 0.0, 1.0, 0.0]
    assert theirs.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_norse_lif_deviation_is_that_it_ignores_r() -> None:
    """norse 1.1 reads nir.LIF as v ← v + dt/τ (x − v), without R: its spikes are
    snnvar's on the input scaled by 1 − β (measured in BENCHMARKS.md)."""
    model = _zoo("fc2", threshold=0.05)
    graph = snn_nir.to_nir(model)
    x = _input(model.in_shape)
    _, norse_spikes = norse_run(graph, x, dt=1e-4)
    for node in graph.nodes.values():
        if isinstance(node, nir.LIF):
            node.r = np.ones_like(node.r)  # the graph norse actually runs
    _, expected = _spikes(snn_nir.from_nir(graph), x)
    expected = _by_module(graph, expected)
    norse_spikes = _by_module(graph, norse_spikes, prefix="")
    # norse's v + dt/τ (x − v) and snnvar's β v + (dt/τ) x round differently: spikes
    # agree but for a threshold tie
    spike_ties({k: norse_spikes[k].reshape(s.shape) for k, s in expected.items()}, expected)
    assert all(s.sum() > 0 for s in expected.values())


def test_compare_reports_agreement_and_consumer_failures() -> None:
    model = _zoo("fc2")
    graph = snn_nir.to_nir(model)
    x = _input(model.in_shape)
    for consumer in ("snnvar", "snntorch", "spikingjelly"):
        result = snn_nir.compare(model, graph, x, consumer)
        assert set(result.layers) == {"layers.2", "layers.4"}
        if consumer == "snnvar":  # the same layers and operations: spike for spike
            assert result.identical and result.same_prediction == 1.0
            assert result.logits_max_diff <= 1e-5
            continue
        # another framework's neurons: the spikes agree but for a threshold tie (a few of
        # the 384 to 576 neuron-steps per layer), and where they all agree the logits
        # (|y| ~ 1) are within float32 rounding
        assert result.error is None
        assert min(v["agreement"] for v in result.layers.values()) >= 0.99, consumer
        assert result.same_prediction >= 2 / 3, consumer  # all but the sample with a tie
        if result.identical:
            assert result.same_prediction == 1.0 and result.logits_max_diff <= 1e-5, consumer
    leaky = _zoo("fc2", readout="mean_membrane", readout_beta=0.6)
    result = snn_nir.compare(leaky, snn_nir.to_nir(leaky), x, "snnvar")
    assert result.identical and result.logits_max_diff <= 1e-5  # the LI readout as it is
    norse = snn_nir.compare(model, graph, x, "norse")
    assert not norse.identical and norse.error is None
    assert min(v["agreement"] for v in norse.layers.values()) < 1.0
    failed = snn_nir.compare(_converted_fc(), snn_nir.to_nir(_converted_fc()),
                             torch.rand(4, 2, 1, 8, 8), "snntorch")  # fmt: skip
    assert failed.error is not None and failed.error.startswith("AssertionError")
    assert not failed.identical and failed.version != "not installed"
    with pytest.raises(ValueError, match="unknown NIR consumer 'lava'"):
        snn_nir.compare(model, graph, x, "lava")


# --- import of foreign graphs and bad input -------------------------------------------------


def _tiny(**lif) -> nir.NIRGraph:
    w = np.ones((2, 3), dtype=np.float32)
    params = {"tau": np.full(2, 2e-3), "r": np.full(2, 20.0), "v_leak": np.zeros(2),
              "v_threshold": np.ones(2), "v_reset": np.zeros(2), **lif}  # fmt: skip
    return nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([3])}),
            "fc": nir.Affine(weight=w, bias=np.zeros(2, dtype=np.float32)),
            "lif": nir.LIF(**params),
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")],
    )


def test_foreign_lif_with_input_gain() -> None:
    """R dt/τ ≠ 1: v_t = β v + (R dt/τ) x, checked against the formula by hand."""
    net = snn_nir.from_nir(_tiny(r=np.full(2, 10.0)), dt=1e-4)  # gain 0.5, β = 0.95
    x = torch.full((6, 1, 3), 0.4)
    v, expected = 0.0, []
    for _ in range(6):
        v = 0.95 * v + 0.5 * 1.2
        expected.append(float(v > 1.0))
        v = 0.0 if v > 1.0 else v
    spikes = net.output_signal(x)[:, 0, 0]
    assert spikes.tolist() == expected
    assert net.readout_kind == "sum"  # a spiking output: spike counts
    assert torch.equal(net(x), spikes.sum().expand(1, 2))


def test_foreign_cubalif_matches_the_formula_and_snntorch() -> None:
    """A CubaLIF graph as snntorch writes them (R = τ_mem/dt, w_in = τ_syn/dt), then
    one with other gains."""
    dt, n = 1e-4, 5
    g = torch.Generator().manual_seed(0)
    w = (torch.rand(n, 4, generator=g) * 0.6).numpy()
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([4])}),
            "fc": nir.Affine(weight=w, bias=np.zeros(n, dtype=np.float32)),
            "cuba": nir.CubaLIF(
                tau_syn=np.full(n, 5e-4), tau_mem=np.full(n, 1e-3), r=np.full(n, 10.0),
                v_leak=np.zeros(n), v_threshold=np.full(n, 1.0), w_in=np.full(n, 5.0),
            ),
            "out": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("in", "fc"), ("fc", "cuba"), ("cuba", "out")],
        metadata={"dt": dt},
    )  # fmt: skip
    x = (torch.rand(12, 3, 4, generator=g) < 0.6).float()
    mine, recorded = snn_nir.run_consumer("snnvar", graph, x)
    assert torch.equal(recorded["cuba"], mine)  # recorded as a spiking layer
    # By hand: α = 0.8, β = 0.9, unit gains. The current is a matmul here and the
    # imported Linear's addmm there (sums of up to 4 weights, rounded differently on
    # other CPUs): the spikes agree but for a threshold tie of one neuron ([B, N] units).
    cur = x @ torch.as_tensor(w).T
    i = v = torch.zeros(3, n)
    expected = []
    for t in range(12):
        i = 0.8 * i + cur[t]
        v = 0.9 * v + i
        s = (v > 1.0).float()
        v = v * (1 - s)
        expected.append(s)
    spike_ties(mine, torch.stack(expected), unit_dims=(1, 2))
    assert mine.sum() > 0
    theirs, _ = snntorch_run(graph, x)  # snntorch's Synaptic: its own operations
    spike_ties(theirs.reshape(mine.shape), mine, unit_dims=(1, 2))
    cuba = graph.nodes["cuba"]  # g_syn = w_in dt/τ_syn = 2, g_mem = R dt/τ_mem = 0.25
    cuba.w_in, cuba.r = np.full(n, 10.0), np.full(n, 2.5)
    mine = snn_nir.run_consumer("snnvar", graph, x)[0]
    i = v = torch.zeros(3, n)
    expected = []
    for t in range(12):
        i = 0.8 * i + 2.0 * cur[t]
        v = 0.9 * v + 0.25 * i
        s = (v > 1.0).float()
        v = v * (1 - s)
        expected.append(s)
    spike_ties(mine, torch.stack(expected), unit_dims=(1, 2))
    assert mine.sum() > 0


def test_branch_metadata_that_does_not_fit_is_ignored_with_a_warning() -> None:
    model = _zoo("spiking_cnn1")
    x = _input(model.in_shape)
    ref, ref_spikes = _spikes(model, x)
    for bad in ([0, 32], "abc", [8, 2, 40]):
        graph = snn_nir.to_nir(model)
        graph.nodes["layers_3_branch1"].metadata["channels"] = bad
        with pytest.warns(UserWarning, match="does not describe a branch"):
            back = snn_nir.from_nir(graph)
        # imported wide: the same function, the branch's outputs from a wider Conv2d
        # (other kernels, other rounding): spikes but for a threshold tie, logits (|y| ~ 1)
        # within float32 rounding
        out, spikes = _spikes(back, x)
        tied = spike_ties(_by_module(graph, spikes), ref_spikes)
        torch.testing.assert_close(out[~tied], ref[~tied], rtol=1e-5, atol=1e-5)
    graph = snn_nir.to_nir(model)
    graph.nodes["layers_3_branch1"].bias[0] = 5.0  # a bias outside the branch's channels
    with pytest.warns(UserWarning, match="does not describe a branch"):
        back = snn_nir.from_nir(graph)
    assert not torch.equal(back(x), model(x))  # kept, not dropped


def test_foreign_graph_errors() -> None:
    with pytest.raises(ValueError, match="v_leak"):
        snn_nir.from_nir(_tiny(v_leak=np.full(2, 0.1)))
    with pytest.raises(ValueError, match="v_reset"):
        snn_nir.from_nir(_tiny(v_reset=np.full(2, -0.5)))
    cyclic = _tiny()
    cyclic.edges.append(("lif", "fc"))
    with pytest.raises(ValueError, match="cycle"):
        snn_nir.from_nir(cyclic)
    delay = _tiny()
    delay.nodes["lif"] = nir.Delay(delay=np.ones(2))
    with pytest.raises(ValueError, match="type Delay"):
        snn_nir.from_nir(delay)
    with pytest.raises(ValueError, match="unknown readout"):
        snn_nir.from_nir(_tiny(), readout="max")
    with pytest.raises(TypeError, match="NIRGraph"):
        snn_nir.from_nir({"nodes": {}})  # type: ignore[arg-type]
    nan = _tiny()  # issue 34: NaN weights ran, at 10 % accuracy, without a word
    nan.nodes["fc"] = nir.Affine(weight=np.full((2, 3), np.nan, dtype=np.float32),
                                 bias=np.zeros(2, dtype=np.float32))  # fmt: skip
    with pytest.raises(ValueError, match=r"node 'fc' \(Affine\): weight holds 6 non-finite"):
        snn_nir.from_nir(nan)
    with pytest.raises(ValueError, match=r"node 'lif' \(LIF\): tau holds 1 non-finite"):
        snn_nir.from_nir(_tiny(tau=np.array([2e-3, np.inf])))
    bias = _tiny()
    bias.nodes["fc"] = nir.Affine(weight=np.ones((2, 3), dtype=np.float32),
                                  bias=np.array([0.0, -np.inf], dtype=np.float32))  # fmt: skip
    with pytest.raises(ValueError, match=r"node 'fc' \(Affine\): bias holds 1 non-finite"):
        snn_nir.from_nir(bias)


def test_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        snn_nir.from_nir(tmp_path / "missing.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable NIR graph"):
        snn_nir.from_nir(bad)
    path = snn_nir.write(tmp_path / "m.nir", snn_nir.to_nir(_zoo("fc2")))
    assert not list(tmp_path.glob("*.tmp"))
    graph = snn_nir.read(path)
    assert graph.metadata["dt"] == pytest.approx(1e-4)
    assert snn_nir.from_nir(path, dt=2e-4).metadata["dt"] == pytest.approx(1e-4)
