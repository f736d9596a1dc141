"""The model contract ([T, B, ...] in, [B, classes] out) and unroll for per-step models."""

from __future__ import annotations

import json

import norse.torch as norse
import pytest
import snntorch
import snntorch.utils
import torch
from torch import nn
from torch.utils.data import TensorDataset

import snnvar
from snnvar.nn import CONTRACT, Unrolled, check_logits, record_spikes, unroll
from tests.tolerances import spike_ties


def _snntorch_net(seed: int = 0, output: bool = False) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(16, 12),
        snntorch.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(12, 4),
        snntorch.Leaky(beta=0.8, init_hidden=True, output=output),
    )


def _manual_snntorch(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    snntorch.utils.reset(net)
    return torch.stack([net(x[t]) for t in range(x.shape[0])])


def test_snntorch_unrolled_equals_snntorchs_own_loop() -> None:
    net = _snntorch_net()
    x = torch.rand(10, 5, 1, 4, 4) * 2
    expected = _manual_snntorch(net, x)
    assert expected.sum() > 0  # the comparison is not between two all-zero outputs
    model = unroll(net)
    # unroll runs the loop above: the same operations in the same order, bit for bit
    assert torch.equal(model(x), expected.sum(0))
    assert torch.equal(unroll(net, readout="mean")(x), expected.mean(0))
    assert torch.equal(unroll(net, readout="last")(x), expected[-1])


def test_state_is_reset_for_every_batch() -> None:
    net = _snntorch_net()
    model = unroll(net)
    x = torch.rand(10, 5, 1, 4, 4) * 2
    first = model(x)
    assert torch.equal(model(x), first)  # the second call starts from rest too
    # another batch size starts from rest: the loop by hand on the same two samples
    two = model(x[:, :2])
    assert torch.equal(two, _manual_snntorch(net, x[:, :2]).sum(0))
    # and counts what those samples counted in the batch of 5, but for a threshold tie
    # (a matmul over 2 rows may round otherwise than one over 5)
    spike_ties(two, first[:2], unit_dims=(0,))
    assert torch.equal(model(x), first)


def test_tuple_output_selects_spikes_or_membrane() -> None:
    net = _snntorch_net(output=True)
    x = torch.rand(6, 3, 1, 4, 4) * 2
    snntorch.utils.reset(net)
    steps = [net(x[t]) for t in range(6)]
    assert torch.equal(unroll(net, output=0)(x), torch.stack([s for s, _ in steps]).sum(0))
    assert torch.equal(unroll(net, output=1, readout="last")(x), steps[-1][1])
    with pytest.raises(ValueError, match="output=2 is out of range"):
        unroll(net, output=2)(x)


def test_norse_sequential_state_is_stepped_with_its_state() -> None:
    torch.manual_seed(0)
    net = norse.SequentialState(
        nn.Flatten(), nn.Linear(16, 12), norse.LIFCell(), nn.Linear(12, 4), norse.LICell()
    )
    x = torch.rand(8, 3, 1, 4, 4) * 3
    state, outs = None, []
    for t in range(8):
        out, state = net(x[t], state)
        outs.append(out)
    expected = torch.stack(outs)
    model = unroll(net, readout="max")
    assert model.stateful
    assert torch.equal(model(x), expected.max(0).values)
    assert torch.equal(model(x), expected.max(0).values)  # fresh state per batch


def test_user_reset_is_called_before_each_batch() -> None:
    calls = []
    model = unroll(nn.Linear(3, 2), reset=lambda m: calls.append(type(m).__name__))
    model(torch.rand(4, 5, 3))
    model(torch.rand(4, 5, 3))
    assert calls == ["Linear", "Linear"]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown readout 'median'; allowed: \['sum'"):
        unroll(nn.Linear(3, 2), readout="median")
    with pytest.raises(ValueError, match="output must be an index >= 0"):
        unroll(nn.Linear(3, 2), output=-1)
    with pytest.raises(TypeError, match=r"expects an nn\.Module, got function"):
        unroll(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"time-major input \[T, B, \.\.\.\], got \(3,\)"):
        unroll(nn.Linear(3, 2))(torch.rand(3))
    with pytest.raises(ValueError, match="each step returned shape"):
        unroll(nn.Flatten(0))(torch.rand(4, 5, 3))  # [B·3] per step, not [B, C]


def _digits_like(n: int = 24) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(n, 1, 4, 4, generator=g), torch.arange(n) % 4)


def test_evaluate_refuses_a_per_step_model_and_names_the_adapter() -> None:
    data = _digits_like()
    with pytest.raises(ValueError, match=r"failed on input of shape \(6, 24, 1, 4, 4\)") as err:
        snnvar.evaluate({"m": _snntorch_net()}, data, sigmas=(0.0,), time_steps=6)
    assert "snnvar.nn.unroll(model)" in str(err.value)
    assert "mat1 and mat2" in str(err.value)  # torch's own message is kept
    flat = nn.Sequential(nn.Flatten(2), *list(_snntorch_net(output=True))[1:])
    with pytest.raises(TypeError, match="returned a tuple, not a tensor of logits") as err:
        snnvar.evaluate({"m": flat}, data, sigmas=(0.0,), time_steps=6)
    assert CONTRACT in str(err.value)


def test_check_logits_refuses_time_major_output() -> None:
    with pytest.raises(ValueError, match=r"returned shape \(6, 5, 4\) for a batch of 5"):
        check_logits(nn.Linear(3, 4), torch.rand(6, 5, 3), 5, "Trainer")
    other = nn.Module()
    other.forward = lambda x: (_ for _ in ()).throw(RuntimeError("out of memory"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match=r"^out of memory$"):  # not a shape error: as raised
        check_logits(other, torch.rand(2, 3), 2, "evaluate")


def test_an_unrolled_model_is_evaluated_trained_and_perturbed() -> None:
    data = _digits_like()
    model = unroll(_snntorch_net())
    report = snnvar.evaluate({"m": model}, data, snnvar.Variation(0.2), sigmas=(0.0, 0.2),
                             draws=3, time_steps=6, seed=0)  # fmt: skip
    spikes = report.row("m", 0.0, "static").spikes
    assert set(spikes) == {"model.2", "model.4"}  # the two snntorch neuron layers
    # spikes per sample = all spikes over the data / samples, counted by hand
    x = snnvar.datasets.encode(torch.stack([d[0] for d in data]), "rate", 6,
                               snnvar.datasets.encoding_generator(0, 0))  # fmt: skip
    with record_spikes(model) as rec:
        model(x)
    assert spikes["model.4"] == pytest.approx(rec.layers["model.4"].spikes / len(data))
    assert json.loads(report.to_json())  # strict JSON
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with snnvar.Variation(0.2).applied(model, seed=1):
        pass
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    from snnvar.training import TrainConfig, Trainer

    config = TrainConfig(epochs=2, batch_size=8, time_steps=6, progress=False)
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), 1e-2), config=config)
    history = trainer.fit(data)
    assert len(history) == 2
    assert all(h["train_loss"] == h["train_loss"] for h in history)  # finite, not NaN


def test_norse_leaky_integrator_readout_is_not_counted_as_spikes() -> None:
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Flatten(), nn.Linear(16, 12), norse.LIFCell(),
                                nn.Linear(12, 4), norse.LICell())  # fmt: skip
    model = unroll(net, readout="max")
    assert snnvar.nn.neuron_layer_names(model) == ["model.2"]
    report = snnvar.evaluate({"m": model}, _digits_like(), sigmas=(0.0,), time_steps=6)
    assert set(report.row("m", 0.0, "static").spikes) == {"model.2"}


def test_spikes_per_sample_are_known_without_an_encoder() -> None:
    """Frames that come time-major from the data set (encoder 'frames' / 'none'):
    spikes per sample is a number, not NaN (which is not JSON)."""
    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(12, 6, 1, 4, 4, generator=g) < 0.5).float()
    data = TensorDataset(frames, torch.arange(12) % 4)
    model = unroll(_snntorch_net())
    report = snnvar.evaluate({"m": model}, data, sigmas=(0.0,), encoder="frames")
    spikes = report.row("m", 0.0, "static").spikes
    assert all(v == v and v > 0 for v in spikes.values())
    assert "NaN" not in report.to_json()


def test_unrolled_is_exported() -> None:
    assert isinstance(unroll(nn.Linear(2, 2)), Unrolled)
    assert "unroll" in snnvar.nn.__all__
