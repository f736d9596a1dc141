"""snnvar.files.read_toml: the one TOML reader (tomllib, or tomli on Python 3.10)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import snnvar
from snnvar.files import read_toml


def test_reads_a_table(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('model = "fc2"\n[hardware]\nweight_levels = 15\n', encoding="utf-8")
    assert read_toml(f) == {"model": "fc2", "hardware": {"weight_levels": 15}}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: None, r"device file .*x\.toml does not exist"),
        (lambda p: p.mkdir(), r"device file .*x\.toml is a directory; give a \.toml file"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00"), r"x\.toml is not a UTF-8 text file"),
        (lambda p: p.write_text("[device\n"), r"device file .*x\.toml is not valid TOML"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, make, match: str) -> None:
    path = tmp_path / "x.toml"
    make(path)
    with pytest.raises(ValueError, match=match):
        read_toml(path, "device")


def test_python_3_10_reads_toml_through_tomli(tmp_path: Path) -> None:
    """Without ``tomllib`` (Python 3.10) the same files are read through ``tomli``, and
    the device and variation readers (which once imported tomllib themselves) work."""
    import tomli  # noqa: F401  (a test requirement: fails, never skips, when missing)

    device = tmp_path / "d.toml"
    device.write_text('[device]\nkind = "pcm"\n', encoding="utf-8")
    variation = tmp_path / "v.toml"
    variation.write_text("[variation]\nsigma = 0.1\n", encoding="utf-8")
    code = f"""
import sys
sys.modules["tomllib"] = None  # as on Python 3.10: `import tomllib` fails
from snnvar import files
from snnvar.hardware import devices_from_toml
from snnvar.variation import variations_from_toml
assert files.tomllib.__name__ == "tomli", files.tomllib.__name__
print(sorted(devices_from_toml({str(device)!r})), len(variations_from_toml({str(variation)!r})))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['pcm']", "1"]


def test_toml_is_read_in_one_place() -> None:
    """No module but snnvar.files imports tomllib or tomli."""
    root = Path(snnvar.__file__).parent
    importers = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("tomllib", "tomli") for n in names):
                importers.append(path.relative_to(root).as_posix())
    assert sorted(set(importers)) == ["files.py"]


def test_a_failed_atomic_write_names_the_file_not_the_temporary(tmp_path, monkeypatch) -> None:
    import errno

    from snnvar.files import write_text

    real = Path.write_text

    def full(self, text, *a, **k):
        if ".tmp" in self.name:
            real(self, text[:3])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left") as failed:
        write_text(tmp_path / "checkpoint.json", "{}" * 10)
    assert failed.value.filename == str(tmp_path / "checkpoint.json")
    assert list(tmp_path.iterdir()) == []  # no temporary left
