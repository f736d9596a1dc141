"""Variation.to_dict / from_dict are lossless; TOML forms and measured data files."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snnvar.variation import (
    Empirical,
    Gaussian,
    Uniform,
    Variation,
    Weibull,
    distribution_from_dict,
    distribution_to_dict,
    read_histogram,
    read_samples,
    variations_from_toml,
)

SAMPLES = Empirical.from_samples(torch.linspace(-1.0, 2.0, 7) ** 3)
HISTOGRAM_EDGES = np.array([-1.0, 0.0, 0.5, 2.0, 3.25])
HISTOGRAM = Empirical.from_histogram([3, 5, 2, 1], HISTOGRAM_EDGES.tolist())

GRID = [
    Variation(0.1),
    Variation(0.0),
    Variation(0.07, distribution="uniform"),
    Variation(0.07, distribution="weibull"),
    Variation(0.07, distribution=Weibull(shape=2.5)),
    Variation(0.07, distribution=Weibull()),
    Variation(0.07, distribution=Gaussian()),
    Variation(0.07, distribution=Uniform()),
    Variation(0.05, distribution=SAMPLES, relative_to="max", mean=0.05),
    Variation(0.05, distribution=HISTOGRAM, relative_to="weight", gamma=-1.0),
    Variation(0.2, relative_to="absolute", mode="dynamic", redraw="pass"),
    Variation(0.2, mode="dynamic", distribution=SAMPLES),
    Variation(0.1, clip=True, window=(-0.5, 0.75), levels=16),
    Variation(0.1, clip=True, window_stds=2.5, levels=4),
    Variation(0.1, include_bias=True, bias_reference="own", relative_to="max"),
    Variation(0.1, include_bias=True),
    Variation(0.1, modules=(nn.Linear, "Conv2d")),
    Variation(0.1, modules=("Linear",)),
    Variation(0.1, include=("0.*", "2.weight"), exclude=("2.*",)),
    Variation(0.1, parameters=("2.bias",), exclude=("0.weight",)),
    Variation(
        0.123,
        distribution=HISTOGRAM,
        relative_to="max",
        gamma=0.5,
        mean=-0.01,
        mode="dynamic",
        redraw="pass",
        clip=True,
        window=(-1.0, 1.0),
        window_stds=2.0,
        levels=8,
        include_bias=True,
        bias_reference="own",
        modules=(nn.Linear,),
        include=("*",),
        exclude=("2.bias",),
        parameters=("0.bias",),
    ),
]


def _through_json(v: Variation) -> Variation:
    text = json.dumps(v.to_dict(), allow_nan=False)
    return Variation.from_dict(json.loads(text))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


@pytest.mark.parametrize("v", GRID, ids=lambda v: v.label())
def test_round_trip_is_lossless(v: Variation) -> None:
    out = v.to_dict()
    assert list(out) == [f.name for f in fields(Variation)]
    back = _through_json(v)
    assert back == v
    assert hash(back) == hash(v)
    assert back.to_dict() == out
    assert back.label() == v.label()
    for f in fields(Variation):
        assert type(getattr(back, f.name)) is type(getattr(v, f.name)), f.name


@pytest.mark.parametrize("v", GRID, ids=lambda v: v.label())
def test_round_trip_draws_the_same_chip(v: Variation) -> None:
    model = _model()
    back = _through_json(v)
    a = v.sample(model, seed=3)
    b = back.sample(model, seed=3)
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    if v.mode == "dynamic":
        x = torch.randn(2, 5, generator=torch.Generator().manual_seed(1))
        with v.applied(model, seed=3):
            ya = [model(x), model(x)]
        with back.applied(model, seed=3):
            yb = [model(x), model(x)]
        for p, q in zip(ya, yb, strict=True):
            assert torch.equal(p, q)


def test_written_forms() -> None:
    assert Variation(0.1, distribution=Gaussian()).distribution == "gaussian"
    assert Variation(0.1, distribution=Uniform()) == Variation(0.1, distribution="uniform")
    assert Variation(0.1, distribution="Weibull").to_dict()["distribution"] == "weibull"
    assert distribution_to_dict(Weibull(shape=2)) == {"weibull": {"shape": 2.0}}
    assert distribution_to_dict(SAMPLES) == {"empirical": {"values": list(SAMPLES.values)}}
    assert distribution_to_dict(HISTOGRAM) == {
        "empirical": {"edges": list(HISTOGRAM.values), "weights": list(HISTOGRAM.weights)}
    }
    modules = Variation(0.1, modules=(nn.Linear, "Conv2d")).to_dict()["modules"]
    assert modules == ["torch.nn.modules.linear.Linear", "Conv2d"]
    assert Variation.from_dict({"sigma": 0.1, "modules": ["torch.nn.Linear"]}).modules == (
        nn.Linear,
    )
    assert Variation.from_dict({"sigma": 0.1, "modules": "Linear"}).modules == ("Linear",)


def test_written_empirical_is_not_restandardised() -> None:
    # A standardised set, written and read back, keeps its floats bit for bit
    # (standardising it again would move the last digits).
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0)).exp()
    samples = Empirical.from_samples(x)
    restandardised = Empirical.from_samples(list(samples.values))
    assert restandardised.values != samples.values  # the trap this guards against
    back = distribution_from_dict(json.loads(json.dumps(distribution_to_dict(samples))))
    assert isinstance(back, Empirical)
    assert back.values == samples.values and back.weights is None
    assert Empirical.from_histogram(HISTOGRAM.weights, HISTOGRAM.values).values != HISTOGRAM.values
    back = distribution_from_dict(json.loads(json.dumps(distribution_to_dict(HISTOGRAM))))
    assert back.values == HISTOGRAM.values and back.weights == HISTOGRAM.weights


def test_custom_distribution_has_no_written_form() -> None:
    class Spiky(Gaussian):
        pass

    with pytest.raises(ValueError, match=r"Spiky.*no written form"):
        Variation(0.1, distribution=Spiky()).to_dict()


# -- TOML files and measured data ---------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_toml_single_table(tmp_path: Path) -> None:
    toml = _write(
        tmp_path / "v.toml",
        """
[variation]
sigma = 0.1
distribution = "weibull"
relative_to = "max"
mode = "static"
clip = true
levels = 16
window = [-1, 1]
modules = ["Linear", "torch.nn.Conv2d"]
include = ["0.*"]
""",
    )
    (v,) = variations_from_toml(toml).values()
    assert v == Variation(
        0.1,
        distribution="weibull",
        relative_to="max",
        clip=True,
        levels=16,
        window=(-1.0, 1.0),
        modules=("Linear", nn.Conv2d),
        include=("0.*",),
    )


def test_toml_array_of_tables_and_default_sigma(tmp_path: Path) -> None:
    toml = _write(
        tmp_path / "v.toml",
        """
[[variation]]
distribution = "gaussian"

[[variation]]
sigma = 0.3
distribution = { weibull = { shape = 1.5 } }
mode = "dynamic"
""",
    )
    vs = list(variations_from_toml(toml, default_sigma=0.05).values())
    assert vs == [
        Variation(0.05),
        Variation(0.3, distribution=Weibull(shape=1.5), mode="dynamic"),
    ]
    with pytest.raises(ValueError, match=r"v\.toml.*\[\[variation\]\] #1.*variation needs sigma"):
        variations_from_toml(toml)


MEASURED = [0.1, 0.3, -0.2, 0.5, 0.45, -0.05]


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("measured.csv", '{ empirical = "data/measured.csv" }'),
        ("measured.txt", '{ empirical = { samples = "data/measured.txt" } }'),
        ("measured.npy", '{ empirical = { samples = "data/measured.npy" } }'),
    ],
)
def test_toml_samples_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, form: str
) -> None:
    data = tmp_path / "cfg" / "data" / name
    if name.endswith(".npy"):
        data.parent.mkdir(parents=True)
        np.save(data, np.asarray(MEASURED).reshape(2, 3))
    else:
        body = "\n".join(str(x) for x in MEASURED[:3]) + "\n\n# a comment\n"
        body += "\n".join(str(x) for x in MEASURED[3:])
        _write(data, f"# measured conductance errors\n\nerror_uS\n{body}\n")
    toml = _write(tmp_path / "cfg" / "v.toml", f"[variation]\nsigma = 0.1\ndistribution = {form}\n")
    monkeypatch.chdir(tmp_path)  # paths are relative to the TOML file, not the cwd
    (v,) = variations_from_toml(toml).values()
    expected = Empirical.from_samples(MEASURED)
    assert v.distribution == expected
    data.unlink()  # the variation holds the data: its record needs no file
    assert _through_json(v) == v
    model = _model()
    a, b = v.sample(model, seed=3), _through_json(v).sample(model, seed=3)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_toml_inline_samples_and_histograms(tmp_path: Path) -> None:
    _write(tmp_path / "hist.csv", "low,high,count\n# bins\n-1,0,3\n0,0.5,5\n\n0.5,2,2\n2,3.25,1\n")
    np.savez(tmp_path / "hist.npz", counts=np.array([3, 5, 2, 1]), edges=HISTOGRAM_EDGES)
    toml = _write(
        tmp_path / "v.toml",
        """
[[variation]]
sigma = 0.1
distribution = { empirical = { samples = [0.1, 0.3, -0.2, 0.5, 0.45, -0.05] } }

[[variation]]
name = "csv"
sigma = 0.1
distribution = { empirical = { histogram = "hist.csv" } }

[[variation]]
name = "npz"
sigma = 0.1
distribution = { empirical = { histogram = "hist.npz" } }

[[variation]]
name = "inline"
sigma = 0.1
distribution = { empirical = { counts = [3, 5, 2, 1], edges = [-1, 0, 0.5, 2, 3.25] } }
""",
    )
    labelled = variations_from_toml(toml)
    assert list(labelled)[1:] == ["csv", "npz", "inline"]
    vs = list(labelled.values())
    assert vs[0].distribution == Empirical.from_samples(MEASURED)
    for v in vs[1:]:
        assert v.distribution == HISTOGRAM
    (tmp_path / "hist.csv").unlink()
    (tmp_path / "hist.npz").unlink()
    assert [_through_json(v) for v in vs] == vs


def test_tables_with_one_label_are_refused(tmp_path: Path) -> None:
    toml = _write(tmp_path / "v.toml", "[[variation]]\nsigma = 0.1\n[[variation]]\nsigma = 0.2\n")
    with pytest.raises(ValueError, match=r"#2 has the label 'gaussian, range, static'.*name ="):
        variations_from_toml(toml)


def test_relative_paths_default_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "m.csv", "\n".join(map(str, MEASURED)))
    monkeypatch.chdir(tmp_path)
    v = Variation.from_dict({"sigma": 0.1, "distribution": {"empirical": "m.csv"}})
    assert v.distribution == Empirical.from_samples(MEASURED)
    absolute = {"empirical": str(tmp_path / "m.csv")}
    assert distribution_from_dict(absolute, base_dir="/nowhere") == v.distribution


def test_readers(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "# c\nvalue\n1\n2.5\n-3e-1\n")
    assert read_samples(path).tolist() == [1.0, 2.5, -0.3]
    path = _write(tmp_path / "h.csv", "0,1,3\n1,2,0\n2,4,2\n")
    counts, edges = read_histogram(path)
    assert counts.tolist() == [3.0, 0.0, 2.0] and edges.tolist() == [0.0, 1.0, 2.0, 4.0]


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"sigma": 0.1, "sigmaa": 1}, r"unknown variation key.*'sigmaa'.*allowed: \['sigma'"),
        ({"sigma": "abc"}, r"sigma must be a finite number, got 'abc'"),
        ({"sigma": 0.1, "clip": "yes"}, r"clip must be True or False, got 'yes'"),
        ({"sigma": 0.1, "include_bias": "no"}, r"include_bias must be True or False, got 'no'"),
        ({"sigma": 0.1, "levels": 1.5}, r"levels must be an integer >= 2 or None, got 1\.5"),
        ({"sigma": 0.1, "window": [1]}, r"window must be \[low, high\].*got \[1\]"),
        ({"sigma": 0.1, "window": "ab"}, r"window must be \[low, high\].*got 'ab'"),
        ({"sigma": 0.1, "mode": "often"}, r"unknown mode 'often'; allowed: \['static'"),
        ({"sigma": 0.1, "distribution": 5}, r"distribution must be a name.*got 5"),
        ({"sigma": 0.1, "distribution": "cauchy"}, r"unknown distribution 'cauchy'; allowed"),
        ({"sigma": 0.1, "distribution": "empirical"}, r"'empirical' needs measured data"),
        (
            {"sigma": 0.1, "distribution": {"weibull": {"shape": "x"}}},
            r"distribution\.weibull\.shape must be a finite number > 0, got 'x'",
        ),
        (
            {"sigma": 0.1, "distribution": {"weibull": {"shape": -1}}},
            r"distribution\.weibull\.shape must be a finite number > 0, got -1",
        ),
        (
            {"sigma": 0.1, "distribution": {"weibull": {"scale": 2}}},
            r"unknown parameter.*'scale'.*distribution\.weibull.*allowed: \['shape'\]",
        ),
        (
            {"sigma": 0.1, "distribution": {"weibull": {}, "gaussian": {}}},
            r"exactly one key.*'weibull'.*'gaussian'",
        ),
        ({"sigma": 0.1, "distribution": {"cauchy": {}}}, r"unknown distribution 'cauchy'"),
        (
            {"sigma": 0.1, "distribution": {"gaussian": {"std": 2}}},
            r"distribution\.gaussian takes no parameters.*'std': 2",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"samples": [1, 1, 1]}}},
            r"distribution\.empirical\.samples = \[1, 1, 1\]: .*zero variance",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"samples": [0.1, "a"]}}},
            r"distribution\.empirical\.samples\[1\] must be a finite number, got 'a'",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"samples": []}}},
            r"distribution\.empirical\.samples = \[\]: .*at least 2",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"edges": [0, 1]}}},
            r"distribution\.empirical.*keys \['edges'\]; allowed",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"values": [1.0, 2.0, 3.0]}}},
            r"distribution\.empirical\.values = \[1\.0, 2\.0, 3\.0\] is not standardised",
        ),
        (
            {"sigma": 0.1, "distribution": {"empirical": {"counts": [1, -1], "edges": [0, 1, 2]}}},
            r"distribution\.empirical = .*'counts': \[1, -1\].*counts must be >= 0",
        ),
        ({"sigma": 0.1, "distribution": {"empirical": 3}}, r"distribution\.empirical.*got 3"),
        (
            {"sigma": 0.1, "modules": ["nonexistent_pkg.layers.Thing"]},
            r"modules entry 'nonexistent_pkg\.layers\.Thing' cannot be imported",
        ),
        (
            {"sigma": 0.1, "modules": ["os.path"]},
            r"modules entry 'os\.path' is .*not an nn\.Module",
        ),
        ({"sigma": 0.1, "modules": [3]}, r"modules entries must be class names.*got 3"),
        ({"sigma": 0.1, "include": 3}, r"include must be a glob pattern.*got 3"),
        ({"sigma": 0.1, "exclude": [3]}, r"exclude must hold glob patterns \(str\), got 3"),
        ({"mode": "static"}, r"variation needs sigma"),
        ([0.1], r"a variation must be a table of settings, got \[0\.1\]"),
    ],
)
def test_bad_dict(data: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Variation.from_dict(data)  # type: ignore[arg-type]


def _bad_file(tmp_path: Path, name: str, content: str | bytes | None) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("kind", "name", "content", "match"),
    [
        ("samples", "m.csv", "0.1\n0.2\nabc\n", r"m\.csv', line 3: 'abc' is not a number"),
        ("samples", "m.csv", "value\nunit\n0.1\n", r"m\.csv', line 2: 'unit' is not a number"),
        ("samples", "m.csv", "0.1,0.2\n0.3,0.4\n", r"m\.csv', line 1: '0\.1,0\.2'.*columns"),
        ("samples", "m.csv", "# only\n\n# comments\n", r"m\.csv' holds no values"),
        ("samples", "m.csv", "", r"m\.csv' holds no values"),
        ("samples", "m.csv", "value\n", r"m\.csv' holds no values"),
        ("samples", "m.csv", "2\n2\n2\n", r"m\.csv'.*zero variance"),
        ("samples", "m.csv", "1\nnan\n", r"m\.csv'.*NaN"),
        ("samples", "m.csv", b"\xff\xfe\x00\x01", r"m\.csv' is not a UTF-8 text file"),
        ("samples", "m.npz", None, r"m\.npz' is an \.npz archive"),
        ("histogram", "h.csv", "0,1,3\n1.5,2,4\n", r"h\.csv', line 2: '1\.5,2,4'.*contiguous"),
        ("histogram", "h.csv", "0,1\n", r"h\.csv', line 1: '0,1' is not a histogram row"),
        ("histogram", "h.csv", "low,high,count\n1,0,3\n", r"h\.csv', line 2.*low < high"),
        ("histogram", "h.csv", "low,high,count\n", r"h\.csv' holds no histogram rows"),
        ("histogram", "h.csv", "0,1,0\n1,2,0\n", r"h\.csv'.*positive total"),
    ],
)
def test_bad_data_file(
    tmp_path: Path, kind: str, name: str, content: str | bytes | None, match: str
) -> None:
    path = _bad_file(tmp_path, name, content)
    if content is None:
        np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match=match) as info:
        distribution_from_dict({"empirical": {kind: name}}, base_dir=tmp_path)
    assert f"distribution.empirical.{kind} = {name!r}" in str(info.value)


def test_bad_npy_and_npz(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"s\.npy' holds an array of dtype <U1"):
        distribution_from_dict({"empirical": "s.npy"}, base_dir=tmp_path)
    np.save(tmp_path / "o.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"o\.npy' is not a readable \.npy"):
        distribution_from_dict({"empirical": "o.npy"}, base_dir=tmp_path)
    np.savez(tmp_path / "h.npz", counts=np.ones(3))
    with pytest.raises(ValueError, match=r"h\.npz' holds the arrays \['counts'\]"):
        distribution_from_dict({"empirical": {"histogram": "h.npz"}}, base_dir=tmp_path)
    np.savez(tmp_path / "h.npz", counts=np.ones(3), edges=np.arange(3.0))
    with pytest.raises(ValueError, match=r"h\.npz'.*one more bin edge than counts"):
        distribution_from_dict({"empirical": {"histogram": "h.npz"}}, base_dir=tmp_path)


def test_missing_file_names_the_resolved_path(tmp_path: Path) -> None:
    resolved = re.escape(repr(str(tmp_path / "sub" / "gone.csv")))
    with pytest.raises(
        ValueError,
        match=rf"distribution\.empirical\.samples = 'sub/gone\.csv': no such file 'sub/gone\.csv': "
        rf"{resolved} \(resolved relative to base_dir",
    ):
        Variation.from_dict(
            {"sigma": 0.1, "distribution": {"empirical": "sub/gone.csv"}}, base_dir=tmp_path
        )
    with pytest.raises(ValueError, match=r"gone\.csv.*resolved relative to the current directory"):
        distribution_from_dict({"empirical": {"histogram": "gone.csv"}})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[variation\nsigma = 0.1\n", r"variation file .*v\.toml is not valid TOML"),
        (
            "model = 'x'\n[variation]\nsigma = 0.1\n",
            r"unknown top-level key.*'model'.*\['variation'\]",
        ),
        ("", r"v\.toml' holds no variation"),
        ("variation = []\n", r"v\.toml': variation must be"),
        ("variation = 3\n", r"v\.toml': variation must be.*got 3"),
        (
            "[[variation]]\nsigma = 0.1\n[[variation]]\nsigma = 0.1\nlevels = 1.5\n",
            r"v\.toml', \[\[variation\]\] #2: levels must be an integer >= 2 or None, got 1\.5",
        ),
        (
            "[variation]\nsigma = 0.1\ndistribution = { empirical = 'nope.csv' }\n",
            r"v\.toml', \[variation\]: distribution\.empirical\.samples = 'nope\.csv'.*base_dir",
        ),
    ],
)
def test_bad_toml(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path / "v.toml", text)
    with pytest.raises(ValueError, match=match):
        variations_from_toml(path)


# -- the import graph -----------------------------------------------------------------------


def test_variation_package_has_no_import_cycle() -> None:
    package = Path(__file__).parents[2] / "snnvar" / "variation"
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(alias.name for alias in node.names)
        graph[path.stem] = deps - {"__init__"}
    assert "config" not in graph["engine"]
    assert "engine" in graph["config"]

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, f"import cycle: {' -> '.join([*stack, node])}"
        for dep in graph.get(node, ()):
            visit(dep, [*stack, node])

    for module in graph:
        if module != "__init__":
            visit(module, [])


def test_a_users_own_distribution_is_recorded_by_its_label_where_strictness_is_off() -> None:
    """to_dict refuses what it cannot write back; reports and method states record the
    label instead (strict=False), so an evaluation with such a distribution completes."""
    import json as _json

    import snnvar
    from snnvar.variation import UnitDistribution

    class Laplace(UnitDistribution):
        name = "laplace"

        def fill_(self, out, generator):
            u = torch.rand(out.shape, generator=generator, device=out.device) - 0.5
            return out.copy_(-torch.sign(u) * torch.log1p(-2 * u.abs()) / 2**0.5)

    v = Variation(0.1, distribution=Laplace())
    with pytest.raises(ValueError, match=r"laplace|Laplace"):
        v.to_dict()
    assert v.to_dict(strict=False)["distribution"] == {"unserialisable": "laplace"}
    model = nn.Sequential(nn.Linear(4, 3))
    data = (torch.rand(10, 4), torch.randint(0, 3, (10,)))
    report = snnvar.evaluate(model, data, v, draws=2)
    row = _json.loads(report.to_json())["results"][0]
    assert row["variation"]["distribution"] == {"unserialisable": "laplace"}
    with pytest.raises(ValueError, match="unserialisable"):
        Variation.from_dict(row["variation"])
