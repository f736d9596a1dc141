"""Sample / apply / restore: seeds, exact restore, static vs dynamic, nesting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnvar.variation.engine as engine
from snnvar import Variation
from snnvar.variation.seeding import stream
from tests.conftest import assert_same_state, state


def test_sample_follows_the_documented_formula(cnn: nn.Module) -> None:
    """Δw = γ σ · 6 std(w) · ε, ε from the tensor's own stream (seed, name)."""
    draw = Variation(sigma=0.1, gamma=0.5).sample(cnn, seed=42)
    assert list(draw) == ["conv.weight", "fc.weight"]
    for name, p in cnn.named_parameters():
        if name not in draw:
            continue
        eps = torch.empty_like(p).normal_(generator=stream(42, name, torch.device("cpu")))
        expected = eps * (0.5 * 0.1 * 6 * p.detach().double().std(correction=0)).float()
        torch.testing.assert_close(draw[name], expected, rtol=1e-5, atol=1e-9)


def test_golden_stream_values() -> None:
    """Seeds must keep meaning the same chips: pin the first draws of one stream."""
    eps = torch.empty(4).normal_(generator=stream(0, "fc.weight", torch.device("cpu")))
    torch.testing.assert_close(eps, GOLDEN_EPS, rtol=0, atol=1e-6)


GOLDEN_EPS = torch.tensor(
    [1.3701624870300293, -1.3518006801605225, 1.153131127357483, 0.12927205860614777]
)


def test_sample_leaves_model_untouched(cnn: nn.Module) -> None:
    before = state(cnn)
    Variation(sigma=0.3, levels=4, clip=True).sample(cnn, seed=0)
    assert_same_state(cnn, before)


def test_same_seed_same_draw_other_seed_other_draw(cnn: nn.Module) -> None:
    v = Variation(sigma=0.1)
    a, b, c = v.sample(cnn, seed=1), v.sample(cnn, seed=1), v.sample(cnn, seed=2)
    for name in a:
        assert torch.equal(a[name], b[name])
        assert not torch.equal(a[name], c[name])
        # different seeds are uncorrelated, not just different
        corr = torch.corrcoef(torch.stack([a[name].flatten(), c[name].flatten()]))[0, 1]
        assert abs(corr.item()) < 0.2


def test_generator_is_accepted_and_recorded(cnn: nn.Module) -> None:
    v = Variation(sigma=0.1)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    d1, d2 = v.sample(cnn, generator=g1), v.sample(cnn, generator=g2)
    d3 = v.sample(cnn, generator=g1)  # the generator advanced: a new chip
    replay = v.sample(cnn, seed=d1.seed)  # the recorded seed reproduces the draw
    for name in d1:
        assert torch.equal(d1[name], d2[name])
        assert torch.equal(d1[name], replay[name])
        assert not torch.equal(d1[name], d3[name])
    with v.applied(cnn, generator=torch.Generator().manual_seed(7)) as draw:
        assert draw.seed == d1.seed


def test_layers_are_independent_of_the_selection(cnn: nn.Module) -> None:
    both = Variation(sigma=0.1).sample(cnn, seed=5)
    only_fc = Variation(sigma=0.1, exclude=("conv.*",)).sample(cnn, seed=5)
    assert list(only_fc) == ["fc.weight"]
    assert torch.equal(both["fc.weight"], only_fc["fc.weight"])


def test_threads_give_identical_draws(cnn: nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variation(sigma=0.1, distribution="weibull", include_bias=True)
    monkeypatch.setattr(engine, "PARALLEL_MIN_NUMEL", 10**12)
    serial = v.sample(cnn, seed=3)
    monkeypatch.setattr(engine, "PARALLEL_MIN_NUMEL", 0)
    parallel = v.sample(cnn, seed=3)
    with v.applied(cnn, seed=3):
        applied = {n: p.detach().clone() for n, p in cnn.named_parameters()}
    for name in serial:
        assert torch.equal(serial[name], parallel[name])
    clean = dict(cnn.named_parameters())
    for name in serial:
        assert torch.equal(applied[name], clean[name].detach() + serial[name])


def test_applied_perturbs_then_restores_exactly(cnn: nn.Module) -> None:
    before = state(cnn)
    params_before = {n: p for n, p in cnn.named_parameters()}
    v = Variation(sigma=0.2, include_bias=True)
    expected = v.sample(cnn, seed=11)
    with v.applied(cnn, seed=11) as draw:
        for name, p in cnn.named_parameters():
            assert torch.equal(p.detach(), before[name] + expected[name])
            assert torch.equal(draw[name], expected[name])  # recomputed on demand
    assert_same_state(cnn, before)
    # the very same Parameter objects (optimizers keep working)
    assert all(p is params_before[n] for n, p in cnn.named_parameters())
    assert not any(hasattr(p, engine._CLEAN) for p in cnn.parameters())


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_restore_after_exception(cnn: nn.Module, mode: str) -> None:
    before = state(cnn)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ZeroDivisionError), Variation(sigma=0.5, mode=mode).applied(cnn, seed=0):
        cnn(x)
        raise ZeroDivisionError
    assert_same_state(cnn, before)
    assert all(type(p) is nn.Parameter for p in cnn.parameters())
    assert not cnn.fc._forward_pre_hooks and not cnn.fc._forward_hooks


def test_restore_after_exception_inside_forward(cnn: nn.Module) -> None:
    """A dynamic read whose forward raises leaves no perturbed tensor behind."""
    before = state(cnn)
    with pytest.raises(RuntimeError), Variation(sigma=0.5, mode="dynamic").applied(cnn, seed=0):
        cnn(torch.randn(2, 3, 8, 8))  # wrong channel count: conv raises
    assert_same_state(cnn, before)
    assert isinstance(cnn.conv._parameters["weight"], nn.Parameter)


def test_static_same_output_dynamic_redraws(cnn: nn.Module) -> None:
    x = torch.randn(4, 1, 8, 8)
    clean = cnn(x)
    with Variation(sigma=0.1).applied(cnn, seed=0) as draw:
        a, b = cnn(x), cnn(x)
        assert torch.equal(a, b)
        assert not torch.allclose(a, clean)
        assert draw.reads == 1
    with Variation(sigma=0.1, mode="dynamic").applied(cnn, seed=0) as draw:
        a, b = cnn(x), cnn(x)
        assert not torch.allclose(a, b)
        assert draw.reads == 4  # two perturbed modules, two passes
    # dynamic reads are seeded too: the same seed replays the same sequence of reads
    with Variation(sigma=0.1, mode="dynamic").applied(cnn, seed=0):
        a2, b2 = cnn(x), cnn(x)
    assert torch.equal(a, a2) and torch.equal(b, b2)
    assert torch.equal(cnn(x), clean)


def test_dynamic_redraws_at_every_call_in_a_time_loop() -> None:
    """Read noise: a layer called once per time step sees a new draw each step."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 5)
    seen: list[torch.Tensor] = []
    layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with Variation(sigma=0.1, mode="dynamic").applied(layer, seed=1) as draw:
        x = torch.randn(3, 5)
        for _ in range(6):  # T = 6 steps
            x = layer(x)
    assert draw.reads == 6 and len(seen) == 6
    assert len({tuple(w.flatten().tolist()) for w in seen}) == 6
    assert isinstance(layer.weight, nn.Parameter)


def test_redraw_per_pass_holds_one_read_for_all_steps() -> None:
    """redraw="pass": every call within one forward pass of the model sees the same
    weights, a new pass a new draw; the first pass is the static chip of that seed."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 5)

    class Unrolled(nn.Module):  # snntorch style: the model calls the layer per step
        def __init__(self) -> None:
            super().__init__()
            self.fc = layer

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for _ in range(4):
                x = self.fc(x)
            return x

    model = Unrolled()
    seen: list[torch.Tensor] = []
    layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    x = torch.randn(3, 5)
    with Variation(sigma=0.1).applied(model, seed=2):
        static = model(x)
    seen.clear()
    v = Variation(sigma=0.1, mode="dynamic", redraw="pass")
    with v.applied(model, seed=2) as draw:
        first, second = model(x), model(x)
        assert not engine.per_read(layer)  # SNN containers keep the batched path
    assert draw.reads == 2 and len(seen) == 8
    assert all(torch.equal(w, seen[0]) for w in seen[:4])
    assert all(torch.equal(w, seen[4]) for w in seen[4:])
    assert not torch.equal(seen[0], seen[4])
    assert torch.equal(first, static) and not torch.equal(second, static)
    with pytest.raises(ValueError, match=r"unknown redraw 'batch'; allowed: \['step', 'pass'\]"):
        Variation(sigma=0.1, mode="dynamic", redraw="batch")


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_gradient_is_taken_at_the_perturbed_weights(mode: str) -> None:
    """d/dW of 0.5 ||x (W + Δ)^T||² = y^T x with y computed at W + Δ, into W.grad."""
    torch.manual_seed(0)
    layer = nn.Linear(6, 3, bias=False)
    x = torch.randn(4, 6)
    w = layer.weight.detach().clone()
    with Variation(sigma=0.3, mode=mode).applied(layer, seed=2) as draw:
        y = layer(x)
        (0.5 * y.square().sum()).backward()
        delta = draw["weight"]
    y_ref = x @ (w + delta).T
    torch.testing.assert_close(layer.weight.grad, y_ref.T @ x)
    assert torch.equal(layer.weight.detach(), w)


def test_sample_inside_applied_uses_clean_references(cnn: nn.Module) -> None:
    v = Variation(sigma=0.1, clip=True, levels=8)
    outside = v.sample(cnn, seed=4)
    with Variation(sigma=0.5).applied(cnn, seed=0):
        inside = v.sample(cnn, seed=4)
    for name in outside:
        assert torch.equal(outside[name], inside[name])


@pytest.mark.parametrize("outer", ["static", "dynamic"])
def test_nested_application_is_refused(cnn: nn.Module, outer: str) -> None:
    before = state(cnn)
    with (
        Variation(sigma=0.1, mode=outer).applied(cnn, seed=0),
        pytest.raises(RuntimeError, match="already applied"),
        Variation(sigma=0.1).applied(cnn, seed=1),
    ):
        pass
    assert_same_state(cnn, before)


def test_in_place_changes_inside_the_block_are_discarded(mlp: nn.Module) -> None:
    before = state(mlp)
    with Variation(sigma=0.1).applied(mlp, seed=0), torch.no_grad():
        mlp[0].weight.add_(1.0)
    assert_same_state(mlp, before)


class _Halving:
    """A device model of the least kind: every chip reads each weight as ``w / 2 + u``
    (``u`` uniform from the chip's stream); dynamic reads add a count."""

    mode = "static"
    redraw = "step"
    modules = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    on_devices = True

    def __init__(self, mode: str = "static") -> None:
        self.mode = mode
        self.programmed: list[str] = []

    def targets(self, model: nn.Module) -> list:
        from snnvar.variation import select_targets

        return select_targets(model)

    def sample(self, model, *, seed=None, generator=None, domain="chip"):
        return engine.sample(self, model, seed=seed, generator=generator, domain=domain)

    def applied(self, model, *, seed=None, generator=None, domain="chip"):
        return engine.applied(self, model, seed=seed, generator=generator, domain=domain)

    def label(self) -> str:
        return "halving"

    def to_dict(self, strict: bool = True) -> dict:
        return {"kind": "halving"}

    def chip_weights(self, w: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return w / 2 + torch.rand(w.shape, generator=generator)

    def chip_reads(self, w, generator, read_generator):
        self.programmed.append("chip")
        base = self.chip_weights(w, generator)
        count = iter(range(1, 1000))
        return lambda: base + next(count)


def test_the_engine_reads_devices_through_the_perturbation_contract() -> None:
    from snnvar import Perturbation

    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    w = layer.weight.detach().clone()
    device = _Halving()
    assert isinstance(device, Perturbation)
    u = torch.rand(w.shape, generator=stream(4, "weight", torch.device("cpu")))
    assert torch.equal(device.sample(layer, seed=4)["weight"], w / 2 + u - w)
    with device.applied(layer, seed=4):
        assert torch.equal(layer.weight, w / 2 + u)
    assert torch.equal(layer.weight, w)
    dynamic = _Halving(mode="dynamic")
    seen = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(m.weight.detach().clone()))
    with dynamic.applied(layer, seed=4) as draw:
        layer(torch.zeros(1, 3))
        layer(torch.zeros(1, 3))
    hook.remove()
    assert dynamic.programmed == ["chip"] and draw.reads == 2  # programmed once, read twice
    assert torch.equal(seen[0], w / 2 + u + 1) and torch.equal(seen[1], w / 2 + u + 2)
    assert torch.equal(layer.weight, w)


class _Silent(_Halving):
    """Says it is on devices but reads none."""

    def chip_weights(self, w, generator):
        return None

    def chip_reads(self, w, generator, read_generator):
        return None


def test_a_perturbation_on_devices_that_reads_none_is_refused() -> None:
    layer = nn.Linear(3, 2)
    w = layer.weight.detach().clone()
    for mode in ("static", "dynamic"):
        refused = pytest.raises(TypeError, match=r"_Silent says on_devices but its chip_weights")
        with refused, _Silent(mode=mode).applied(layer, seed=0):
            layer(torch.zeros(1, 3))
        assert torch.equal(layer.weight, w)  # restored all the same
