"""The documentation's examples run, so they cannot rot.

Every ```python block of the README and of docs/ runs on its own (a fresh namespace,
its own imports, in an empty working directory); every ``>>>`` example of a
docstring passes as a doctest; the README keeps its quick start.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import snnvar

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [p for p in PAGES if "_build" not in p.parts]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


EXAMPLES = [
    pytest.param(page, i, block, id=f"{page.relative_to(ROOT)}:{i}")
    for page in PAGES
    for i, block in enumerate(_blocks(page))
]


def test_the_docs_have_examples() -> None:
    pages = {page for page, *_ in (p.values for p in EXAMPLES)}
    assert ROOT / "README.md" in pages
    assert len(pages) >= 8, sorted(str(p) for p in pages)


@pytest.mark.parametrize(("page", "index", "block"), EXAMPLES)
def test_example_runs_alone(page: Path, index: int, block: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(block, f"{page}:block {index}", "exec")
    exec(code, {"__name__": f"docs_example_{index}"})


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(snnvar.__path__, "snnvar.")]
    return ["snnvar", *(n for n in names if not n.endswith("__main__"))]


DOCTESTS = [
    pytest.param(test, id=test.name)
    for name in _modules()
    for test in doctest.DocTestFinder().find(importlib.import_module(name))
    if test.examples
]


def test_there_are_docstring_examples() -> None:
    assert len(DOCTESTS) >= 5


@pytest.mark.parametrize("test", DOCTESTS)
def test_docstring_example(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


def _quickstart(path: Path) -> list[str]:
    text = path.read_text()
    block = text.split("<!-- quickstart:begin -->")[1].split("<!-- quickstart:end -->")[0]
    return [line for line in block.splitlines() if line and not line.startswith("```")]


def test_quickstart_block_has_exactly_two_commands() -> None:
    commands = _quickstart(ROOT / "README.md")
    assert len(commands) == 2
    assert "pytest" in commands[1]
    # The site's quick start is the README's, word for word (CI runs the README's).
    assert _quickstart(ROOT / "docs" / "guide" / "quickstart.md") == commands


def test_readme_links_into_the_docs_resolve() -> None:
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    local = [t for t in targets if "://" not in t]
    assert len(local) >= 10
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_fits_two_screens() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) < 150
