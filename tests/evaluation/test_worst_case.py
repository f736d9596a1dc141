"""The worst-case chip's two objectives: the cross-entropy on the labels and the paper's
KL divergence to the clean network's output (Büchel et al. 2022), which reads no labels."""

from __future__ import annotations

import pytest
import torch

import snnvar
from snnvar import Variation
from snnvar.evaluation import ATTACK_LOSSES, Report, worst_case, worst_case_attack
from snnvar.variation.seeding import derive_seed
from tests.conftest import assert_same_state, state


@pytest.fixture
def data(mlp) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(2)
    x = torch.randn(200, 8)
    return x, mlp(x).argmax(-1).detach()


def test_kl_attack_reads_no_labels_and_ce_does(mlp, data) -> None:
    x, y = data
    wrong = (y + 1) % 4  # every label wrong
    kl = worst_case_attack(mlp, (x, y), zeta=0.3, steps=5, seed=1, loss="kl")
    kl_wrong = worst_case_attack(mlp, (x, wrong), zeta=0.3, steps=5, seed=1, loss="kl")
    for n, d in kl.delta.items():  # the same computation: the labels never enter it
        assert torch.equal(d, kl_wrong.delta[n])
    ce = worst_case_attack(mlp, (x, y), zeta=0.3, steps=5, seed=1, loss="ce")
    ce_wrong = worst_case_attack(mlp, (x, wrong), zeta=0.3, steps=5, seed=1, loss="ce")
    assert any(not torch.equal(d, ce_wrong.delta[n]) for n, d in ce.delta.items())
    assert kl.objective == "kl" and ce.objective == "ce"
    assert kl.accuracy < kl.clean_accuracy == 1.0 and ce.accuracy < 1.0


def test_kl_step_is_the_signed_gradient_of_the_kl_divergence(mlp, data) -> None:
    """One step by hand: Δ = clip(Δ0 + ζ|w| sign(∇ KL(p(w) || p(w + Δ0)))), Δ0 the start."""
    x, y = data
    zeta, std, seed = 0.2, 1e-2, 3
    before = state(mlp)
    found = worst_case_attack(mlp, (x, y), zeta=zeta, steps=1, seed=seed, loss="kl",
                              initial_std=std, batch_size=len(y))  # fmt: skip
    assert_same_state(mlp, before)
    params = dict(mlp.named_parameters())
    names = [n for n in params if n.endswith("weight")]
    w = {n: params[n].detach() for n in names}
    gen = torch.Generator().manual_seed(derive_seed(seed, 7))
    start = {n: (std * w[n].abs() * torch.randn(w[n].shape, generator=gen)).clamp(
        -zeta * w[n].abs(), zeta * w[n].abs()) for n in names}  # fmt: skip
    leaves = {n: d.clone().requires_grad_() for n, d in start.items()}
    out = torch.func.functional_call(mlp, {n: w[n] + leaves[n] for n in names}, (x,))
    p = torch.softmax(mlp(x).detach(), -1)
    kl = (p * (p.log() - out.log_softmax(-1))).sum()
    grads = torch.autograd.grad(kl, list(leaves.values()))
    for n, g in zip(names, grads, strict=True):
        expected = (start[n] + zeta * w[n].abs() * g.sign()).clamp(
            -zeta * w[n].abs(), zeta * w[n].abs()
        )
        # a sign may flip where a gradient component is within rounding of 0 (none here
        # by more than one entry): compare entry by entry at float32 rounding
        off = ((found.delta[n] - expected).abs() > 1e-6).sum()
        assert int(off) <= 1, f"{n}: {int(off)} of {g.numel()} entries differ"


def test_bad_objective_is_refused(mlp, data) -> None:
    assert ATTACK_LOSSES == ("ce", "kl")
    with pytest.raises(ValueError, match=r"unknown attack loss 'mse'; allowed: \['ce', 'kl'\]"):
        worst_case_attack(mlp, data, loss="mse")


def test_the_report_tells_the_objectives_apart() -> None:
    rows = [
        {"method": "sgd", "zeta": 0.1, "steps": 10, "seed": 0, "objective": obj,
         "accuracy": acc, "clean_accuracy": 0.9, "loss": 1.0}
        for obj, acc in (("ce", 0.2), ("kl", 0.5))
    ]  # fmt: skip
    table = Report(results=[], config={}, seed=0, worst_case=rows).worst_case_table()
    assert "worst case, ζ = 10 % (CE) | worst case, ζ = 10 % (KL)" in table
    assert "| sgd | 90.00 | 20.00 | 50.00 |" in table
    one = Report(results=[], config={}, seed=0, worst_case=rows[:1]).worst_case_table()
    assert "| method | clean | worst case, ζ = 10 % |" in one


def test_an_snn_is_attacked_through_its_surrogate_gradients_with_kl(data) -> None:
    import snnvar

    x, _ = data
    torch.manual_seed(0)
    snn = snnvar.models.create("fc2", spiking=True, in_shape=(8,), num_classes=4, hidden=(32,))
    with torch.no_grad():
        y = snn(snnvar.datasets.direct(x, 4)).argmax(-1)  # its own decisions: clean = 100 %
    before = state(snn)
    hit = worst_case_attack(snn, (x, y), zeta=0.5, steps=3, encoder="direct", time_steps=4,
                            loss="kl")  # fmt: skip
    assert_same_state(snn, before)
    assert hit.clean_accuracy == 1.0 and hit.accuracy < 0.9


def test_worst_case_is_below_random_chips_and_restores_the_weights(mlp) -> None:

    torch.manual_seed(2)
    x = torch.randn(300, 8)
    y = mlp(x).argmax(-1)
    before = state(mlp)
    assert worst_case(mlp, (x, y), zeta=0.0) == 1.0
    found = worst_case_attack(mlp, (x, y), zeta=0.3, steps=10, seed=1)
    assert_same_state(mlp, before)
    assert found.clean_accuracy == 1.0 and found.accuracy < 0.9
    for name, d in found.delta.items():  # inside the relative ball
        assert torch.all(d.abs() <= 0.3 * before[name].abs() + 1e-7)
    # random chips of the same relative size (|Δ| ~ ζ|w| uniform) hurt far less
    rand = snnvar.evaluate(mlp, (x, y), Variation(0.3, relative_to="weight",
                                                  distribution="uniform"), draws=5)  # fmt: skip
    assert found.accuracy < rand.results[0].accuracy_min
    # an SNN, through its surrogate gradients
    snn = snnvar.models.create("fc2", spiking=True, in_shape=(8,), num_classes=4, hidden=(32,))
    snn_state = state(snn)
    hit = worst_case_attack(snn, (x, y), zeta=0.5, steps=3, encoder="direct", time_steps=4)
    assert_same_state(snn, snn_state)
    assert hit.accuracy < hit.clean_accuracy
    with pytest.raises(ValueError, match="zeta must be a number >= 0"):
        worst_case(mlp, (x, y), zeta=-0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        worst_case(mlp, (x, y), steps=0)
