"""docs/architecture.md matches the code: every module of the core is named there by its path, every module
it names exists, its layer table is the first import contract's, each package it describes has a contract of
its own, and the Slicer layer's Qt-free modules are named."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "architecture.md").read_text()
CORE = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopLib"
SLICER_LIB = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopSlicerLib"
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _modules() -> set[str]:
    """The core's modules by path, without .py: ``features/ibsi/gldzm``; packages' ``__init__`` left out."""
    return {str(p.relative_to(CORE).with_suffix("")) for p in CORE.rglob("*.py")
            if "__pycache__" not in p.parts and p.name != "__init__.py"}


def _packages() -> set[str]:
    return {str(p.parent.relative_to(CORE)) for p in CORE.rglob("__init__.py") if p.parent != CORE}


def _quoted() -> set[str]:
    return set(re.findall(r"`([a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*)/?`", DOC))


def test_every_core_module_is_named_by_its_path():
    missing = sorted(m for m in _modules() if m not in _quoted())
    assert not missing, f"docs/architecture.md does not name these modules of the core: {missing}"


def test_every_module_the_doc_names_exists():
    code = _modules() | _packages()
    named = {n for n in _quoted() if "/" in n and n.split("/")[0] in _packages()}
    assert named, "the doc names no module by its path"
    stale = sorted(n for n in named if n not in code and not (CORE / n).is_file())
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"
    for name in ("dependencies", "nodes", "processes"):
        assert name in DOC and (SLICER_LIB / f"{name}.py").is_file()


def test_the_layer_table_is_the_import_contract():
    """Each layer of the first contract is a row of the doc's layer table, in the contract's order."""
    first = next(c for c in CONTRACTS if c.get("containers") == ["RadiomicsWorkshopLib"])
    table = DOC.split("## The core's layers", 1)[1].split("## The packages", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]
    layers = [[m.strip() for m in re.split(r"[|:]", layer)] for layer in first["layers"]]
    assert len(rows) >= len(layers)
    for row, layer in zip(rows, layers):
        packages = row.split("|")[2]
        missing = [m for m in layer if f"`{m}`" not in packages and f"`{m}/`" not in packages]
        assert not missing, f"layer {layer}: {missing} not in the doc's row {row[:60]}..."
    assert f"`{first['exhaustive_ignores'][0]}`" in rows[len(layers)], "the module set apart has its own row"


def test_each_package_the_doc_describes_has_a_contract_of_its_own():
    layered = {c["containers"][0].removeprefix("RadiomicsWorkshopLib.").replace(".", "/")
               for c in CONTRACTS if c["type"] == "layers"}
    described = set(re.findall(r"^### `([a-z_/]+)/`", DOC, re.M))
    described |= {"preprocessing", "deep", "features/ibsi"}  # described under a shared heading / table
    missing = sorted(p for p in _packages() if p not in layered)
    assert not missing, f"packages without their own layers contract in pyproject.toml: {missing}"
    assert described <= _packages(), described - _packages()
    assert any(c["type"] == "acyclic_siblings" for c in CONTRACTS), "the no-loop contract is gone"


def test_nothing_cites_a_design_file_outside_the_repository():
    cited = []
    for path in [*REPO.glob("*.md"), *(REPO / "docs").glob("*.md"), *(REPO / "RadiomicsWorkshop").rglob("*.py"),
                 *(REPO / "Testing").rglob("*.py")]:
        if path.name == Path(__file__).name:
            continue
        if re.search(r"(?<![\w/])DESIGN\.md", path.read_text(errors="ignore")):
            cited.append(str(path.relative_to(REPO)))
    assert not cited, f"cite docs/architecture.md, not DESIGN.md (not in this repository): {cited}"
