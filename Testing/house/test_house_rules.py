"""The core stays readable: no module over 500 lines, no function over 80, one place in the command line
that turns errors into exit codes (cli/common.runs), nothing private imported across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "RadiomicsWorkshop" / "RadiomicsWorkshopLib"
MODULES = sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 500, 80


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_module_and_function_sizes(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: {len(text.splitlines())} lines"
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_command_line_handles_errors_in_one_place():
    handlers = []
    for path in sorted((CORE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None and "WorkshopError" in ast.unparse(node.type):
                handlers.append(f"{path.name}:{node.lineno}")
    assert handlers == [h for h in handlers if h.startswith("common.py:")] and len(handlers) == 1, handlers


def test_nothing_private_is_imported_across_modules():
    private = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                private += [f"{path.relative_to(CORE)}: from {'.' * node.level}{node.module or ''} import {a.name}"
                            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not private, private


def test_the_pip_package_holds_every_package_of_the_core():
    """pyproject.toml lists the core's packages one by one (its package-dir mapping rules out a find): a package
    missing there would be missing from a pip install while every test of the source tree passes."""
    import tomllib

    listed = set(tomllib.loads((CORE.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(("RadiomicsWorkshopLib", *p.parent.relative_to(CORE).parts))
               for p in CORE.rglob("__init__.py") if "__pycache__" not in p.parts}
    assert on_disk - listed == set(), f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
