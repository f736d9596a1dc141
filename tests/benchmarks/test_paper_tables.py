"""``benchmarks/paper_tables.py`` (issue 9) runs end to end on small data in the
real on-disk layouts and writes the paper's numbers beside ours."""

from __future__ import annotations

import gzip
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from snnvar import Variation, datasets
from snnvar.evaluation import chip_seed
from snnvar.variation.seeding import derive_seed
from tests.datasets.fakes import write_cifar10, write_mnist, write_nmnist

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "paper_tables.py"


def load_script() -> ModuleType:
    """benchmarks/paper_tables.py as a module (its training recipe, for checks by hand)."""
    spec = importlib.util.spec_from_file_location("paper_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def wvat_kind(seed: int, step: int, w_th: float) -> str:
    """WVAT's choice at step ``step`` of a method seeded ``seed``, by hand: two uniforms
    from the step's seed; GAV with probability ``w_th`` (p = 1: always a variation)."""
    g = torch.Generator().manual_seed(derive_seed(derive_seed(seed, step), 0))
    _add, u = float(torch.rand((), generator=g)), float(torch.rand((), generator=g))
    return "hsv" if u < 1.0 - w_th else "gav"


def test_fc_mnist_two_seeds_table_and_json(tmp_path: Path) -> None:
    write_mnist(tmp_path / "data" / "mnist", n_train=48, n_test=20)
    out = tmp_path / "out"
    done = run(
        "fc_mnist", "--data-root", str(tmp_path / "data"), "--epochs", "1",
        "--train-samples", "32", "--seeds", "0", "1", "--chips", "3",
        "--methods", "sgd", "wvat", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    md = (out / "fc_mnist.md").read_text()
    rows_md = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| ")}
    assert set(rows_md) == {"| method", "| sgd", "| wvat"}
    # The paper's Table 4 figures stand beside ours; two seeds give mean ± std.
    assert "98.13 ± 0.09 | 97.86 ± 0.14 | 96.54 ± 0.23" in rows_md["| sgd"]
    assert "98.47 ± 0.05 | 98.39 ± 0.04 | 97.98 ± 0.19" in rows_md["| wvat"]
    assert rows_md["| sgd"].split(" | ")[1].count("±") == 1
    assert "32 training / 20 test samples, 1 epochs" in md
    assert "seeds [0, 1]" in md

    result = json.loads((out / "fc_mnist.json").read_text())
    assert (result["train_samples"], result["test_samples"], result["epochs"]) == (32, 20, 1)
    assert sorted(result["reports"]) == ["0", "1"]
    assert sorted(result["histories"]) == ["sgd/0", "sgd/1", "wvat/0", "wvat/1"]
    assert result["settings"]["methods"]["wvat"] == {"w_th": 0.5, "alpha": 0.01}
    # By hand, in this process: the same training (the script's own recipe, same seeds),
    # then every chip k of seed s applied with chip_seed(s, k) and the 20 test images run
    # at once; each chip's accuracy must be the report's exactly.
    tables = load_script()
    train = tables.first(datasets.get("mnist", root=tmp_path / "data", download=False), 32)
    test = datasets.get("mnist", root=tmp_path / "data", train=False, download=False)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([int(test[i][1]) for i in range(len(test))])
    exp = tables.EXPERIMENTS["fc_mnist"]
    means: dict[tuple[str, float], list[float]] = {}
    for seed in (0, 1):
        rows = result["reports"][str(seed)]["results"]
        assert {(r["method"], r["sigma"]) for r in rows} == {
            (m, s) for m in ("sgd", "wvat") for s in (0.0, 0.05, 0.10)
        }
        for method in ("sgd", "wvat"):
            model, _ = tables.train_method(exp.spec(method, 1, seed), train)
            for r in (r for r in rows if r["method"] == method):
                chips = []
                with torch.no_grad():
                    for k in range(3):
                        with Variation(r["sigma"]).applied(model, seed=chip_seed(seed, k)):
                            chips.append(int((model(x).argmax(-1) == y).sum()) / len(y))
                assert r["accuracies"] == chips, (seed, method, r["sigma"])
                assert r["seeds"] == [chip_seed(seed, k) for k in range(3)]
                means.setdefault((method, r["sigma"]), []).append(statistics.fmean(chips))
    # the table's cells: mean ± std over the two seeds of the hand-computed chip means
    for method in ("sgd", "wvat"):
        cells = [
            f"{100 * statistics.mean(v):.2f} ± {100 * statistics.stdev(v):.2f}"
            for v in (means[method, s] for s in (0.0, 0.05, 0.10))
        ]
        assert rows_md[f"| {method}"].startswith(f"| {method} | " + " | ".join(cells) + " | ")
    # Every method of a seed meets the same chips.
    seeds = {
        r["method"]: r["seeds"] for r in result["reports"]["0"]["results"] if r["sigma"] == 0.10
    }
    assert seeds["sgd"] == seeds["wvat"] and len(set(seeds["sgd"])) == 3


def test_snn_nmnist_reads_the_original_layout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_nmnist(data, "Train", digits=(0, 1))
    write_nmnist(data, "Test", digits=(2,))
    out = tmp_path / "out"
    done = run(
        "snn_nmnist", "--data-root", str(data), "--epochs", "1", "--chips", "2",
        "--methods", "sgd", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    md = (out / "snn_nmnist.md").read_text()
    assert "4 training / 2 test samples" in md
    assert "| sgd | " in md and "98.64 ± 0.04" in md
    assert any((out / "nmnist-frames").iterdir()), "the frame cache was not written"


def test_vgg5_wvat_warms_up_and_a_tag_keeps_the_full_run(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "data" / "cifar-10-batches-py", {"data_batch_1": 12, "test_batch": 6})
    out = tmp_path / "out"
    (out / "vgg5_cifar.md").parent.mkdir()
    (out / "vgg5_cifar.md").write_text("the full run")
    done = run(
        "vgg5_cifar", "--data-root", str(tmp_path / "data"), "--epochs", "3", "--chips", "2",
        "--methods", "wvat", "--tag", "warm", "--seeds", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "vgg5_cifar.md").read_text() == "the full run"
    result = json.loads((out / "vgg5_cifar-warm.json").read_text())
    # The first third of the epochs is plain SGD (one pass), then WVAT: 12 samples are one
    # batch, so epochs 2 and 3 are WVAT's steps 0 and 1, each an HSV step (one pass) or a
    # GAV step (two), as drawn from the step's seed.
    history = result["histories"]["wvat/1"]
    assert [r["warmup"] for r in history] == [True, False, False]
    w_th = result["settings"]["methods"]["wvat"]["w_th"]
    kinds = [wvat_kind(seed=1, step=k, w_th=w_th) for k in (0, 1)]
    assert kinds == ["gav", "hsv"]  # seed 1 takes both kinds of step
    assert [r["passes"] for r in history] == [1, 2, 1]
    assert result["settings"]["warmup"] == {"wvat": 1 / 3}
    assert "12 training / 6 test samples, 3 epochs" in (out / "vgg5_cifar-warm.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fc_mnist", "--methods", "sam"), "unknown methods ['sam'] for fc_mnist; allowed:"),
        (("resnet_imagenet",), "invalid choice: 'resnet_imagenet'"),
        (("fc_mnist", "--tag", "../x"), "--tag must be letters, digits, '_', '.' or '-', got"),
    ],
)
def test_bad_arguments_name_what_is_allowed(args: tuple, message: str, tmp_path: Path) -> None:
    done = run(*args, "--data-root", str(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr


def test_missing_data_says_where_to_put_it(tmp_path: Path) -> None:
    done = run("fc_mnist", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert done.returncode == 2
    assert str(tmp_path / "nowhere") in done.stderr and "Traceback" not in done.stderr


def test_corrupt_data_names_the_file(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist", n_train=8, n_test=4)
    bad = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\0\0\x08"))
    done = run("fc_mnist", "--data-root", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert f"{bad}: bad IDX magic number" in done.stderr and "Traceback" not in done.stderr
