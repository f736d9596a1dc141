"""What a step does besides its update: BatchNorm statistics, seed domains, the
reported loss, hyperparameters in the state dict, dropout masks, AWP's K steps,
ASAM, and methods under a dynamic (read-noise) variation."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import snnvar
from snnvar import Variation
from snnvar.evaluation import chip_seed
from snnvar.training import (
    AWP,
    HASGD,
    SAM,
    WVAT,
    AdversarialRegularization,
    NoiseInjection,
    Plain,
    derive_seed,
)
from snnvar.variation import engine
from tests.training.grads import grads_at

HSV = Variation(sigma=0.1)


class _Instance(nn.Module):
    """InstanceNorm1d over 12 features seen as one channel of length 12 ([B, 12])."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm1d(1, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.unsqueeze(1)).squeeze(1)


def _bn_model(seed: int = 0, instance: bool = False) -> nn.Sequential:
    torch.manual_seed(seed)
    second = _Instance() if instance else nn.BatchNorm1d(12)
    return nn.Sequential(
        nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 12), second,
        nn.ReLU(), nn.Linear(12, 3),
    )  # fmt: skip


def _data(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 6, generator=g), torch.randint(0, 3, (32,), generator=g)


def _closure(model, x, y):
    def closure():
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure


def _method(kind: str, model: nn.Module):
    base = torch.optim.SGD(model.parameters(), lr=0.05)
    return {
        "noise": lambda: NoiseInjection(model, base, HSV, seed=3),
        "hsv": lambda: WVAT(model, base, HSV, w_th=0.0, seed=3),
        "none": lambda: WVAT(model, base, HSV, p=0.0, seed=3),
        "gav": lambda: WVAT(model, base, HSV, w_th=1.0, seed=3),
        "hasgd": lambda: HASGD(model, base, HSV, samples=3, seed=3),
        "sam": lambda: SAM(model, base, rho=0.05),
        "asam": lambda: SAM(model, base, rho=0.5, adaptive=True),
        "awp": lambda: AWP(model, base, gamma=0.01, steps=2),
        "adv": lambda: AdversarialRegularization(model, base, HSV, attack_steps=2, seed=3),
    }[kind]()


def _noisy(kind: str, model: nn.Module, base, variation: Variation, seed: int):
    """A method that draws from ``variation``: noise injection, WVAT's HSV or GAV
    branch, HA-SGD or adversarial regularisation."""
    return {
        "noise": lambda: NoiseInjection(model, base, variation, seed=seed),
        "hsv": lambda: WVAT(model, base, variation, w_th=0.0, seed=seed),
        "gav": lambda: WVAT(model, base, variation, w_th=1.0, seed=seed),
        "hasgd": lambda: HASGD(model, base, variation, samples=2, seed=seed),
        "adv": lambda: AdversarialRegularization(model, base, variation, attack_steps=1, seed=seed),
    }[kind]()


def _step(method, model, x, y):
    closure = _closure(model, x, y)
    return method.step(closure, inputs=x)


FIRST_PASS = {  # what the first pass of a step sees: the clean or a perturbed model
    "noise": "train-draw",
    "hsv": "train-draw-1",
    "none": "clean",
    "gav": "clean",
    "hasgd": "train-draw-0",
    "sam": "clean",
    "asam": "clean",
    "awp": "clean",
    "adv": "train-draw",
}
METHODS = list(FIRST_PASS)


def _first_pass_stats(kind: str, model: nn.Module, method, x: torch.Tensor):
    """BN running statistics after one training-mode pass like the step's first."""
    twin = copy.deepcopy(model).train()
    how = FIRST_PASS[kind]
    with torch.no_grad():
        if how == "clean":
            twin(x)
        else:
            seed = method.step_seed
            if how.endswith("-1"):
                seed = derive_seed(seed, 1)
            elif how.endswith("-0"):
                seed = derive_seed(seed, 0)
            with HSV.applied(twin, seed=seed, domain="train"):
                twin(x)
    return [(m.running_mean.clone(), m.running_var.clone()) for m in _bns(twin)]


def _bns(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.InstanceNorm1d)]


@pytest.mark.parametrize("instance", [False, True], ids=["batchnorm", "instancenorm"])
@pytest.mark.parametrize("kind", METHODS)
def test_batchnorm_statistics_update_once_per_step_from_the_first_pass(kind, instance) -> None:
    model = _bn_model(instance=instance)
    method = _method(kind, model)
    momenta = [bn.momentum for bn in _bns(model)]
    for step in range(3):
        x, y = _data(step)
        expected = _first_pass_stats(kind, model, method, x)
        _step(method, model, x, y)
        for bn, (mean, var) in zip(_bns(model), expected, strict=True):
            if isinstance(bn, nn.BatchNorm1d):  # InstanceNorm counts no batches
                assert int(bn.num_batches_tracked) == method.steps == step + 1
            torch.testing.assert_close(bn.running_mean, mean, rtol=0, atol=1e-6)
            torch.testing.assert_close(bn.running_var, var, rtol=0, atol=1e-6)
        assert all(bn.track_running_stats for bn in _bns(model))
        assert [bn.momentum for bn in _bns(model)] == momenta


def test_a_warmup_step_updates_batchnorm_once() -> None:
    model = _bn_model()
    method = _method("hasgd", model)
    x, y = _data()
    Plain(model, method.base).step(_closure(model, x, y))
    assert [int(bn.num_batches_tracked) for bn in _bns(model)] == [1, 1]


@pytest.mark.parametrize("kind", METHODS)
def test_step_returns_the_first_pass_loss(kind) -> None:
    model = _bn_model()
    method = _method(kind, model)
    x, y = _data()
    twin = copy.deepcopy(model).train()
    how = FIRST_PASS[kind]
    seed = method.step_seed
    if how.endswith("-1"):
        seed = derive_seed(seed, 1)
    elif how.endswith("-0"):
        seed = derive_seed(seed, 0)
    with torch.no_grad():
        if how == "clean":
            expected = nn.functional.cross_entropy(twin(x), y)
        else:
            with HSV.applied(twin, seed=seed, domain="train"):
                expected = nn.functional.cross_entropy(twin(x), y)
    loss = _step(method, model, x, y)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)


def test_trainer_reports_loss_and_accuracy_of_the_first_pass() -> None:
    """SAM's reported training loss is the clean loss, not the loss at w + e."""
    from snnvar.training import TrainConfig, Trainer

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3))
    x, y = _data()
    data = torch.utils.data.TensorDataset(x, y)
    with torch.no_grad():
        logits = model(x)
    clean_loss = float(nn.functional.cross_entropy(logits, y))
    clean_acc = float((logits.argmax(-1) == y).float().mean())
    sam = SAM(model, torch.optim.SGD(model.parameters(), lr=0.1), rho=0.5)
    cfg = TrainConfig(epochs=1, batch_size=32, encoder="none", progress=False)
    row = Trainer(model, sam, cfg).fit(data)[0]
    assert row["train_loss"] == pytest.approx(clean_loss, rel=1e-6)
    assert row["train_accuracy"] == pytest.approx(clean_acc)
    assert row["passes"] == 2


# -- seed domains ---------------------------------------------------------------------


def _spy_streams(monkeypatch) -> list[tuple[str, int]]:
    """Record (domain, generator seed) of every stream the engine creates."""
    seen: list[tuple[str, int]] = []
    real = engine.stream

    def spy(root, key, device, domain="chip"):
        gen = real(root, key, device, domain)
        seen.append((domain, gen.initial_seed()))
        return gen

    monkeypatch.setattr(engine, "stream", spy)
    return seen


@pytest.mark.parametrize("kind", ["noise", "hsv", "gav", "hasgd", "adv"])
def test_no_training_draw_is_a_test_chip(kind, monkeypatch) -> None:
    """Seeds 0 everywhere (the defaults): the training streams of the first steps and
    the chips of snnvar.evaluate never share a generator seed, nor a noise value."""
    seen = _spy_streams(monkeypatch)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    base = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay put
    method = _noisy(kind, model, base, HSV, seed=0)
    seen_weights: list[torch.Tensor] = []
    hook = model[0].register_forward_pre_hook(
        lambda m, _: seen_weights.append(m.weight.detach().clone())
    )
    x, y = _data()
    for _ in range(10):
        _step(method, model, x, y)
    hook.remove()
    train = {s for d, s in seen if d == "train"}
    assert train and all(d == "train" for d, _ in seen)
    seen.clear()
    snnvar.evaluate(model, (x, y), HSV, draws=10, seed=0, spikes=False)
    chips = {s for d, s in seen if d == "chip"}
    assert len(chips) == 10 * 2 and not (train & chips)
    clean = model[0].weight.detach()
    for k in range(10):
        chip = HSV.sample(model, seed=chip_seed(0, k))["0.weight"]
        for w in seen_weights:
            assert not torch.allclose(w - clean, chip, atol=1e-6)


def test_domains_are_refused_unless_known() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"unknown seed domain 'test'.*\['chip', 'train'\]"):
        HSV.sample(model, seed=0, domain="test")
    assert HSV.sample(model, seed=0, domain="train").domain == "train"


# -- hyperparameters in the state dict -----------------------------------------------


def test_state_dict_with_other_hyperparameters_is_refused() -> None:
    model = nn.Linear(4, 2)
    saved = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.1), HSV, w_th=1.0).state_dict()
    other = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.1), HSV, w_th=0.5)
    with pytest.raises(ValueError, match=r"w_th: saved 1\.0, this method 0\.5"):
        other.load_state_dict(saved)
    noisier = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.1), Variation(0.2), w_th=1.0)
    with pytest.raises(ValueError, match="variation"):
        noisier.load_state_dict(saved)
    same = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.1), HSV, w_th=1.0)
    same.load_state_dict(saved)  # the same settings load
    assert saved["method"]["hyperparameters"]["w_th"] == 1.0


def test_state_dict_without_hyperparameters_is_refused() -> None:
    model = nn.Linear(4, 2)
    sam = SAM(model, torch.optim.SGD(model.parameters(), lr=0.1))
    state = sam.state_dict()
    del state["method"]["hyperparameters"]
    with pytest.raises(ValueError, match="records no hyperparameters"):
        sam.load_state_dict(state)


# -- adversarial regularisation -------------------------------------------------------


def test_adversarial_regulariser_sees_one_set_of_dropout_masks() -> None:
    """With a zero-size attack, w* = w: the distance between f(w) and f(w*) is 0
    exactly when both passes use the same dropout masks (0.3 nats apart otherwise)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _data()
    for boundary in ("kl", "mse"):
        method = AdversarialRegularization(
            model, base, HSV, attack_steps=2, attack_size=0.0, initial_std=0.0,
            boundary=boundary, seed=0,
        )  # fmt: skip
        method.step(_closure(model, x, y), inputs=x)
        assert float(method.last_regularizer) == 0.0
    with torch.no_grad():  # without shared masks the two passes disagree
        a, b = model(x), model(x)
    assert float(nn.functional.mse_loss(a, b)) > 1e-2


def test_every_pass_of_the_regulariser_starts_from_one_random_state() -> None:
    """Target, attack steps, clean and attacked passes: one RNG state at the dropout
    layer (so one mask), and another one for the noisy task pass before them."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    states: list[torch.Tensor] = []
    model[2].register_forward_pre_hook(lambda m, _: states.append(torch.get_rng_state()))
    method = AdversarialRegularization(
        model, torch.optim.SGD(model.parameters(), lr=0.1), HSV, attack_steps=3,
        attack_size=0.2, seed=0,
    )  # fmt: skip
    x, y = _data()
    method.step(_closure(model, x, y), inputs=x)
    assert len(states) == 1 + 1 + 3 + 2  # task, target, 3 attack steps, clean, attacked
    task, *regulariser = states
    assert all(torch.equal(s, regulariser[0]) for s in regulariser)
    assert not torch.equal(task, regulariser[0])


def test_adversarial_random_start_lies_in_the_ball_without_attack_steps() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    method = AdversarialRegularization(
        model, torch.optim.SGD(model.parameters(), lr=0.0), HSV, attack_steps=0,
        attack_size=0.1, initial_std=1.0, seed=0,
    )  # fmt: skip
    x, y = _data()
    method.step(_closure(model, x, y), inputs=x)
    for name, p in model.named_parameters():
        if name in method.last_attack:
            radius = 0.1 * p.detach().abs()
            assert bool((method.last_attack[name].abs() <= radius).all())
            assert bool((method.last_attack[name].abs() == radius).any())  # it was clipped


@pytest.mark.parametrize("boundary", ["kl", "mse"])
def test_adversarial_boundary_gradient_is_exact(boundary) -> None:
    """beta * d(f(w), f(w + Δ*)) adds exactly its own gradient to the task gradient."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = _data()
    twin = copy.deepcopy(model)
    method = AdversarialRegularization(
        model, torch.optim.SGD(model.parameters(), lr=0.0), HSV, beta=0.5, attack_steps=2,
        boundary=boundary, seed=5,
    )  # fmt: skip
    method.step(_closure(model, x, y), inputs=x)
    delta = method.last_attack
    with HSV.applied(twin, seed=derive_seed(5, 0), domain="train"):  # step 0's task draw
        nn.functional.cross_entropy(twin(x), y).backward()
    task = {n: p.grad.clone() for n, p in twin.named_parameters()}
    twin.zero_grad()
    params = dict(twin.named_parameters())
    clean = twin(x)
    moved = torch.func.functional_call(twin, {n: params[n] + delta[n] for n in delta}, (x,))
    if boundary == "kl":
        d = nn.functional.kl_div(
            moved.log_softmax(-1), clean.log_softmax(-1), reduction="batchmean", log_target=True
        )
    else:
        d = nn.functional.mse_loss(moved, clean)
    (0.5 * d).backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, task[n] + params[n].grad, rtol=1e-5, atol=1e-7)
    assert float(method.last_regularizer) == pytest.approx(float(d.detach()), rel=1e-5)


# -- AWP with K steps, ASAM -----------------------------------------------------------


def test_awp_k_steps_follow_the_projected_ascent() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    x, y = _data()
    gamma, k = 0.05, 3
    awp = AWP(model, torch.optim.SGD(model.parameters(), lr=0.0), gamma=gamma, steps=k)
    awp.step(_closure(model, x, y))
    assert awp.passes == k + 1
    # by hand: v ← Π(v + (γ/K)‖w‖ g/‖g‖), g at w + v
    weights = {n: p.detach() for n, p in twin.named_parameters() if p.dim() >= 2}
    radius = {n: gamma * w.norm() for n, w in weights.items()}
    v = {n: torch.zeros_like(w) for n, w in weights.items()}
    for _ in range(k):
        g = grads_at(twin, x, y, v)
        for n in weights:
            v[n] = v[n] + g[n] * (radius[n] / k / g[n].norm())
            if v[n].norm() > radius[n]:
                v[n] = v[n] * (radius[n] / v[n].norm())
    expected = grads_at(twin, x, y, v)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], rtol=1e-5, atol=1e-7, msg=n)


def test_awp_refuses_bad_steps() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        AWP(model, torch.optim.SGD(model.parameters(), lr=0.1), steps=0)


def test_asam_perturbation_follows_kwon_et_al() -> None:
    """ASAM: e = ρ T² g / ‖T g‖, T = |w| + η for weights and 1 for biases."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    x, y = _data()
    rho, eta = 0.5, 0.01
    asam = SAM(model, torch.optim.SGD(model.parameters(), lr=0.0), rho=rho, adaptive=True, eta=eta)
    asam.step(_closure(model, x, y))
    g = grads_at(twin, x, y, {})
    t = {
        n: (p.detach().abs() + eta if n.endswith("weight") else torch.ones_like(p))
        for n, p in twin.named_parameters()
    }
    norm = torch.sqrt(sum(((t[n] * g[n]) ** 2).sum() for n in g))
    expected = grads_at(twin, x, y, {n: rho * t[n] ** 2 * g[n] / norm for n in g})
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], rtol=1e-5, atol=1e-7, msg=n)
    assert asam.hyperparameters() == {"rho": 0.5, "adaptive": True, "eta": 0.01}


# -- methods under read noise (dynamic variation) -------------------------------------


@pytest.mark.parametrize("kind", ["noise", "hsv", "gav", "hasgd", "adv"])
def test_methods_under_a_dynamic_variation(kind) -> None:
    """Read noise redrawn per call: the step updates the clean weights with the
    gradient it computed (w ← w − lr·g: no read leaks into the stored weights), two
    runs are bit-identical, and the gradient is not the one without read noise."""
    lr = 0.1

    def run(sigma: float):
        read = Variation(sigma=sigma, mode="dynamic")
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        base = torch.optim.SGD(model.parameters(), lr=lr)
        method = _noisy(kind, model, base, read, seed=1)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        x, y = _data()
        _step(method, model, x, y)
        for n, p in model.named_parameters():
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, n
            # (the optimizer's fused update may round differently in the last bit)
            torch.testing.assert_close(p.detach(), before[n] - lr * p.grad, rtol=0, atol=1e-7)
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    a, b, clean = run(0.1), run(0.1), run(0.0)
    for n in a:
        assert torch.equal(a[n], b[n])
    assert (a["0.weight"] - clean["0.weight"]).abs().max() > 1e-4
