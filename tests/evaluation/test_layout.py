"""The layout reads as the design: training does not import evaluation, reports import
plots only to save them, no module imports another's private names; and the Trainer's own
evaluation pass equals evaluation's ``run_pass`` exactly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from snnvar import datasets, models
from snnvar.evaluation import prepare, run_pass
from snnvar.training import TrainConfig, Trainer

PACKAGE = Path(__file__).resolve().parents[2] / "snnvar"


def _imports(path: Path, top_level: bool = False) -> list[tuple[str, str, int]]:
    """(module, imported name, line) of every import in ``path`` (function-level and
    TYPE_CHECKING ones too; ``top_level``: those the module runs on import alone),
    relative imports resolved to ``snnvar.…``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a module (or an __init__) is in
    out = []
    tree = ast.parse(path.read_text())
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out += [(module, a.name, node.lineno) for a in node.names]
    return out


def _targets(path: Path, top_level: bool = False) -> set[str]:
    """The snnvar modules ``path`` imports (``from . import x`` names module ``x``)."""
    out = set()
    for module, name, _ in _imports(path, top_level):
        if module.startswith("snnvar"):
            sub = f"{module}.{name}"
            is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").is_file()
            is_package = (PACKAGE.parent / sub.replace(".", "/") / "__init__.py").is_file()
            out.add(sub if name and (is_module or is_package) else module)
    return out


def test_training_does_not_import_evaluation() -> None:
    for path in sorted((PACKAGE / "training").glob("*.py")):
        bad = sorted(t for t in _targets(path) if t.startswith("snnvar.evaluation"))
        assert not bad, f"{path.name} imports {bad}"


def test_reports_import_plots_only_to_save_them() -> None:
    """``Report.save`` draws the plots, importing them when called; the plots read
    reports and import them for type checking only: neither module loads the other."""
    report, plots = PACKAGE / "evaluation" / "report.py", PACKAGE / "evaluation" / "plots.py"
    assert "snnvar.evaluation.plots" in _targets(report)
    assert "snnvar.evaluation.plots" not in _targets(report, top_level=True)
    assert "snnvar.evaluation.report" not in _targets(plots, top_level=True)


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, name, line in _imports(path):
            private = name.startswith("_") and not name.startswith("__")
            if module.startswith("snnvar") and private:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} from {module}")
    assert not bad, bad


@pytest.mark.parametrize("spiking", [True, False])
def test_trainer_evaluate_is_run_pass_exactly(spiking: bool) -> None:
    torch.manual_seed(0)
    if spiking:
        model = models.create("fc2", in_shape=(1, 8, 8), hidden=(16,))
    else:
        model = nn.Sequential(
            nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.Dropout(0.5),
            nn.ReLU(), nn.Linear(16, 10),
        )  # fmt: skip
    encoder = "rate" if spiking else "none"
    cfg = TrainConfig(epochs=1, batch_size=32, time_steps=3, encoder=encoder, seed=4)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), cfg)
    data = torch.utils.data.Subset(datasets.get("digits", train=False), range(100))

    def loss_fn(logits, y):
        return nn.functional.cross_entropy(logits, y) * 2.0

    trainer.loss_fn = loss_fn
    model.train()
    got = trainer.evaluate(data)
    assert model.training  # the mode is restored
    batches = prepare(data, model, encoder, 3, 32, seed=4, cache_mb=0)
    expected = run_pass(model, batches, spikes=False, loss_fn=loss_fn)
    assert got == {"loss": expected.loss, "accuracy": expected.accuracy}
    model.eval()
    trainer.evaluate(data)
    assert not model.training


def test_training_encodes_each_batch_from_the_shared_seed_scheme() -> None:
    torch.manual_seed(0)
    model = models.create("fc2", in_shape=(1, 8, 8), hidden=(8,))
    cfg = TrainConfig(epochs=2, batch_size=40, time_steps=2, seed=6, progress=False)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), cfg)
    seen: list[int] = []
    encode = trainer.encode

    def spy(x, generator=None):
        seen.append(generator.initial_seed())
        return encode(x, generator)

    trainer.encode = spy
    trainer.fit(torch.utils.data.Subset(datasets.get("digits"), range(100)))
    # batch b of epoch e: encoding_seed(seed, b, e), evaluation's scheme with the epoch added
    assert seen == [datasets.encoding_seed(6, b, e) for e in range(2) for b in range(3)]
