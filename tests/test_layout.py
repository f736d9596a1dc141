"""The shape of the package (issue 36): small modules, a command line without
orchestration."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "snnvar"
MAX_MODULE_LINES = 600
MAX_CLI_FUNCTION_LINES = 60


def test_no_module_is_over_600_lines() -> None:
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_command_line_holds_no_orchestration() -> None:
    """No function of snnvar/cli is over 60 lines but the parser builder, and the
    commands reach the library through snnvar.runs, not its pieces."""
    long = {}
    for path in (ROOT / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name != "build_parser":
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLI_FUNCTION_LINES:
                    long[f"{path.name}:{node.name}"] = lines
    assert long == {}
    commands = ast.parse((ROOT / "cli" / "commands.py").read_text(encoding="utf-8"))
    reached = {
        node.module
        for node in ast.walk(commands)
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module
    }
    assert not reached & {"evaluation", "training", "models", "variation.engine"}, reached
