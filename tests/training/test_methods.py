"""The optimizer-wrapper methods: exact gradients and updates, the torch.optim contract."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from snnvar import Variation
from snnvar.training import (
    AWP,
    HASGD,
    METHODS,
    SAM,
    WVAT,
    AdversarialRegularization,
    NoiseInjection,
    Plain,
    VariationMethod,
    create_method,
    derive_seed,
    method_options,
    register_method,
)
from snnvar.training.methods import gradient_ascent_variation
from tests.training.grads import grads_at

LR = 0.1


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    return model, x, y


def _closure(model, x, y):
    def closure():
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure


def test_noise_injection_gradient_and_update_are_exact() -> None:
    model, x, y = _setup()
    v = Variation(sigma=0.1)
    method = NoiseInjection(model, torch.optim.SGD(model.parameters(), lr=LR), v, seed=7)
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    draw = v.sample(model, seed=method.step_seed, domain="train")
    expected = grads_at(model, x, y, dict(draw))
    method.step(_closure(model, x, y))
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(p.detach(), clean[n] - LR * expected[n], rtol=0, atol=1e-7)
    assert method.passes == 1 and method.steps == 1


def test_hasgd_is_the_mean_of_l_hand_computed_gradients() -> None:
    model, x, y = _setup(1)
    v = Variation(sigma=0.1, mean=0.02)
    method = HASGD(model, torch.optim.SGD(model.parameters(), lr=LR), v, samples=3, seed=3)
    draws = [
        v.sample(model, seed=derive_seed(method.step_seed, i), domain="train") for i in range(3)
    ]
    per = [grads_at(model, x, y, dict(d)) for d in draws]
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    method.step(_closure(model, x, y))
    for n, p in model.named_parameters():
        mean = sum(g[n] for g in per) / 3
        torch.testing.assert_close(p.grad, mean, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(p.detach(), clean[n] - LR * mean, rtol=0, atol=1e-6)
    assert method.passes == 3


def test_gav_direction_and_norm() -> None:
    g = {"a": torch.tensor([3.0, 4.0]), "b": torch.zeros(2)}
    d = {"a": torch.tensor([0.0, 2.0]), "b": torch.ones(2)}
    wv = gradient_ascent_variation(g, d, alpha=0.5)
    torch.testing.assert_close(wv["a"], torch.tensor([0.6, 0.8]))  # 0.5 * (3,4)/5 * 2
    assert wv["a"].norm() == pytest.approx(0.5 * 2.0)
    assert torch.equal(wv["b"], torch.zeros(2))


def test_wvat_gav_step_uses_the_gradient_at_w_plus_gav() -> None:
    model, x, y = _setup(2)
    v = Variation(sigma=0.1)
    method = WVAT(model, torch.optim.SGD(model.parameters(), lr=LR), v, w_th=1.0, alpha=0.5)
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    g0 = grads_at(model, x, y, {})
    draw = v.sample(model, seed=derive_seed(method.step_seed, 1), domain="train")
    names = list(draw)
    wv = gradient_ascent_variation({n: g0[n] for n in names}, dict(draw), 0.5)
    expected = grads_at(model, x, y, wv)
    method.step(_closure(model, x, y))
    assert method.last_kind == "gav" and method.passes == 2
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), clean[n] - LR * expected[n], rtol=0, atol=1e-6)


def test_wvat_hsv_equals_noise_at_its_seed_and_mix_costs_1_5_passes() -> None:
    model, x, y = _setup(3)
    v = Variation(sigma=0.1)
    method = WVAT(model, torch.optim.SGD(model.parameters(), lr=LR), v, w_th=0.0)
    draw = v.sample(model, seed=derive_seed(method.step_seed, 1), domain="train")
    expected = grads_at(model, x, y, dict(draw))
    method.step(_closure(model, x, y))
    assert method.last_kind == "hsv"
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], rtol=1e-6, atol=1e-7)
    model, x, y = _setup(4)
    mix = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.01), v, w_th=0.5, seed=11)
    kinds = []
    for _ in range(400):
        mix.step(_closure(model, x, y))
        kinds.append(mix.last_kind)
    assert mix.passes / mix.steps == pytest.approx(1.5, abs=0.08)  # 400 steps: sd 0.025
    none = WVAT(model, torch.optim.SGD(model.parameters(), lr=0.01), v, p=0.0)
    none.step(_closure(model, x, y))
    assert none.last_kind == "none" and none.passes == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda m, o: NoiseInjection(m, o, Variation(0.1)),
        lambda m, o: WVAT(m, o, Variation(0.1), w_th=1.0),
        lambda m, o: HASGD(m, o, Variation(0.1), samples=3),
        lambda m, o: SAM(m, o),
        lambda m, o: AWP(m, o),
        lambda m, o: AdversarialRegularization(m, o, Variation(0.1), attack_steps=2),
    ],
)
def test_plain_step_is_the_base_optimizer_step(make) -> None:
    """A warm-up step, ``Plain(model, method.base).step(closure)``, is one pass and exactly
    the wrapped optimizer's update at the clean weights; the method counts no step."""
    model, x, y = _setup(5)
    twin = copy.deepcopy(model)
    method = make(model, torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9))
    reference = torch.optim.SGD(twin.parameters(), lr=LR, momentum=0.9)
    warmup = Plain(model, method.base)
    for _ in range(2):
        warmup.step(_closure(model, x, y))
        reference.zero_grad()
        _closure(twin, x, y)()
        reference.step()
    assert (method.steps, method.passes, warmup.steps, warmup.passes) == (0, 0, 2, 2)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_sam_matches_the_reference_on_a_quadratic() -> None:
    a = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    holder = nn.Module()
    holder.w = w
    method = SAM(holder, torch.optim.SGD([w], lr=LR), rho=0.1)

    def closure():
        loss = 0.5 * w @ a @ w
        loss.backward()
        return loss

    w0 = w.detach().clone()
    g = a @ w0
    e = 0.1 * g / g.norm()
    expected = w0 - LR * (a @ (w0 + e))
    method.step(closure)
    torch.testing.assert_close(w.detach(), expected, rtol=1e-6, atol=1e-7)
    assert method.passes == 2


def test_awp_perturbs_weights_relative_to_their_norm() -> None:
    model, x, y = _setup(5)
    method = AWP(model, torch.optim.SGD(model.parameters(), lr=LR), gamma=0.02)
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    g0 = grads_at(model, x, y, {})
    v = {n: g0[n] * (0.02 * clean[n].norm() / g0[n].norm()) for n in clean if clean[n].dim() > 1}
    expected = grads_at(model, x, y, v)
    method.step(_closure(model, x, y))
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), clean[n] - LR * expected[n], rtol=0, atol=1e-6)


def test_optim_contract_scheduler_and_state_dict_round_trip() -> None:
    model, x, y = _setup(6)
    base = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    method = WVAT(model, base, Variation(0.1), seed=5)
    assert method.param_groups is base.param_groups
    sched = torch.optim.lr_scheduler.StepLR(method, step_size=1, gamma=0.5)
    for _ in range(3):
        method.step(_closure(model, x, y))
        sched.step()
    assert base.param_groups[0]["lr"] == pytest.approx(LR / 8)
    saved = copy.deepcopy(method.state_dict())
    passes_at_save = method.passes
    weights = copy.deepcopy(model.state_dict())
    method.step(_closure(model, x, y))
    after = {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(weights)
    fresh = WVAT(model, torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9), Variation(0.1))
    fresh.load_state_dict(saved)
    assert (fresh.steps, fresh.passes, fresh.seed) == (3, passes_at_save, 5)
    fresh.step(_closure(model, x, y))
    for k, v in model.state_dict().items():
        assert torch.equal(v, after[k]), k
    with pytest.raises(ValueError, match="state dict of 'WVAT' given to SAM"):
        SAM(model, torch.optim.SGD(model.parameters(), lr=LR)).load_state_dict(saved)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda m, o: WVAT(m, o, Variation(0.1), p=1.5), r"p must lie in \[0, 1\], got 1.5"),
        (lambda m, o: WVAT(m, o, Variation(0.1), w_th=-0.1), r"w_th must lie in \[0, 1\]"),
        (lambda m, o: WVAT(m, o, Variation(0.1), alpha=-1), "alpha must be >= 0"),
        (lambda m, o: HASGD(m, o, Variation(0.1), samples=0), "samples must be an integer >= 1"),
        (lambda m, o: SAM(m, o, rho=0.0), "rho must be > 0"),
        (lambda m, o: AWP(m, o, gamma=float("nan")), "gamma must be > 0"),
    ],
)
def test_bad_hyperparameters(make, match: str) -> None:
    model, _, _ = _setup()
    with pytest.raises(ValueError, match=match):
        make(model, torch.optim.SGD(model.parameters(), lr=LR))


def test_closure_errors() -> None:
    model, x, y = _setup()
    method = NoiseInjection(model, torch.optim.SGD(model.parameters(), lr=LR), Variation(0.1))
    with pytest.raises(ValueError, match="needs a closure"):
        method.step()
    with pytest.raises(ValueError, match="must return the loss tensor"):
        method.step(lambda: nn.functional.cross_entropy(model(x), y).backward())
    with pytest.raises(TypeError, match=r"variation must be a snnvar\.(Perturbation|Variation)"):
        NoiseInjection(model, torch.optim.SGD(model.parameters(), lr=LR), 0.1)


def test_adversarial_regularization_with_beta_zero_is_noise_injection() -> None:
    model, x, y = _setup(7)
    twin = copy.deepcopy(model)
    v = Variation(sigma=0.1, relative_to="weight")
    a = AdversarialRegularization(model, torch.optim.SGD(model.parameters(), lr=LR), v, beta=0.0)
    b = NoiseInjection(twin, torch.optim.SGD(twin.parameters(), lr=LR), v)
    a.step(_closure(model, x, y), inputs=x)
    b.step(_closure(twin, x, y))
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


def test_adversarial_attack_stays_in_the_relative_ball_and_raises_the_distance() -> None:
    model, x, _ = _setup(8)
    v = Variation(sigma=0.1, relative_to="weight")
    method = AdversarialRegularization(
        model,
        torch.optim.SGD(model.parameters(), lr=LR),
        v,
        attack_steps=8,
        attack_size=0.1,
        initial_std=0.0,
    )
    names = [t.name for t in v.targets(model)]
    delta = method.attack(x, names, seed=0)
    params = dict(model.named_parameters())
    assert set(delta) == {"0.weight", "2.weight"}
    for n, d in delta.items():
        assert (d.abs() <= 0.1 * params[n].detach().abs() + 1e-7).all()
        assert (d.abs() > 0).float().mean() > 0.9  # the attack moves (almost) every weight
    with torch.no_grad():
        clean = model(x)
        moved = torch.func.functional_call(model, {n: params[n] + delta[n] for n in names}, (x,))
        rand = {n: 0.1 * params[n].abs() * torch.sign(torch.randn_like(params[n])) for n in names}
        random = torch.func.functional_call(model, {n: params[n] + rand[n] for n in names}, (x,))
    kl = torch.nn.functional.kl_div
    adv = kl(moved.log_softmax(-1), clean.log_softmax(-1), reduction="batchmean", log_target=True)
    rnd = kl(random.log_softmax(-1), clean.log_softmax(-1), reduction="batchmean", log_target=True)
    assert adv > 2 * rnd  # the adversary beats a random corner of the same ball
    assert method.passes == 8
    # a start far outside the ball (initial_std = 1) is projected back onto it
    wide = AdversarialRegularization(
        model,
        torch.optim.SGD(model.parameters(), lr=LR),
        v,
        attack_steps=2,
        attack_size=0.1,
        initial_std=1.0,
    )
    for n, d in wide.attack(x, names, seed=1).items():
        bound = 0.1 * params[n].detach().abs()
        assert (d.abs() <= bound + 1e-7).all()
        assert (d.abs() >= bound - 1e-7).float().mean() > 0.5  # many sit on the boundary


def test_adversarial_regularizer_gradient_is_exact() -> None:
    model, x, y = _setup(9)
    v = Variation(sigma=0.05, relative_to="weight")
    method = AdversarialRegularization(
        model,
        torch.optim.SGD(model.parameters(), lr=LR),
        v,
        beta=0.5,
        attack_steps=3,
        attack_size=0.2,
    )
    clean_w = {n: p.detach().clone() for n, p in model.named_parameters()}
    task = grads_at(model, x, y, dict(v.sample(model, seed=method.step_seed, domain="train")))
    method.step(_closure(model, x, y), inputs=x)
    delta = method.last_attack
    twin = copy.deepcopy(model)
    twin.load_state_dict(clean_w)
    params = dict(twin.named_parameters())
    out = twin(x)
    moved = torch.func.functional_call(twin, {n: params[n] + d for n, d in delta.items()}, (x,))
    reg = torch.nn.functional.kl_div(
        moved.log_softmax(-1), out.log_softmax(-1), reduction="batchmean", log_target=True
    )
    (0.5 * reg).backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, task[n] + params[n].grad, rtol=1e-5, atol=1e-7)
    assert method.passes == 1 + 3 + 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(beta=-1.0), "beta must be >= 0"),
        (dict(attack_steps=-1), "attack_steps must be an integer >= 0"),
        (dict(attack_size=-0.1), "attack_size must be >= 0"),
        (dict(boundary="l1"), r"unknown boundary loss 'l1'"),
    ],
)
def test_adversarial_regularization_bad_input(kwargs: dict, match: str) -> None:
    model, _, _ = _setup()
    with pytest.raises(ValueError, match=match):
        AdversarialRegularization(
            model, torch.optim.SGD(model.parameters(), lr=LR), Variation(0.1), **kwargs
        )
    method = AdversarialRegularization(
        model, torch.optim.SGD(model.parameters(), lr=LR), Variation(0.1)
    )
    with pytest.raises(ValueError, match=r"needs the batch inputs"):
        method.step(lambda: torch.zeros(()))


def test_a_registered_method_is_created_by_name() -> None:
    assert list(METHODS)[:2] == ["sgd", "noise_injection"] and METHODS["wvat"] is WVAT
    with METHODS.temporary():

        @register_method("every_other")
        class EveryOther(VariationMethod):
            """Noise injection on every other step."""

            def __init__(self, model, optimizer, variation, period: int = 2, seed: int = 0):
                super().__init__(model, optimizer, variation, seed)
                self.period = period

            def _step(self, closure) -> None:
                if self.steps % self.period:
                    with self._draw(self.step_seed):
                        self._loss(closure)
                else:
                    self._loss(closure)
                self.base.step()

        model, x, y = _setup()
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        method = create_method("every_other", model, opt, Variation(0.1), period=3)
        assert isinstance(method, EveryOther) and method.period == 3
        assert method_options("every_other") == ["period"]
        method.step(_closure(model, x, y))
        with pytest.raises(ValueError, match=r"unknown option\(s\) \['rho'\]"):
            create_method("every_other", model, opt, Variation(0.1), rho=1.0)
        with pytest.raises(ValueError, match="method 'every_other' is already registered"):
            register_method("every_other")(EveryOther)
        with pytest.raises(TypeError, match="must be a subclass of Method"):
            register_method("not_a_method")(dict)
    assert "every_other" not in METHODS
    with pytest.raises(ValueError, match=r"unknown method 'adamw'; available: \['sgd', "):
        create_method("adamw", model, opt)
    with pytest.raises(TypeError):
        METHODS["adamw"] = Plain  # type: ignore[index]  # read-only
