"""docs/architecture.md matches the code: every module and package of the core and of the Slicer layer's
Qt-free part is named there, every module it names exists, and its layer table is the import contract's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "architecture.md").read_text()
CORE = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopLib"
SLICER_LIB = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopSlicerLib"


def _code_names(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        relative = path.relative_to(folder)
        if "__pycache__" in relative.parts:
            continue
        if relative.parts[0] != relative.name:  # inside a subpackage: cli/models
            names.add(f"{relative.parts[0]}/{relative.stem}")
        elif relative.stem != "__init__":  # the package's face
            names.add(relative.stem)
    return names


def _named_in_doc() -> set[str]:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)?)/?`", DOC))


def test_every_core_module_is_described():
    missing = sorted(name for name in _code_names(CORE) if name not in _named_in_doc()
                     and name.split("/")[0] + "/" not in DOC)
    assert not missing, f"docs/architecture.md does not name these modules of the core: {missing}"
    subpackage_modules = {n for n in _code_names(CORE) if "/" in n}
    undocumented = sorted(n for n in subpackage_modules if f"`{n}`" not in DOC)
    assert not undocumented, f"docs/architecture.md does not describe {undocumented}"


def test_every_module_the_doc_names_in_its_tables_exists():
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    code = _code_names(CORE)
    for row in rows:
        cells = row.split("|")[1:-1]
        if len(cells) < 2:
            continue
        for name in re.findall(r"`([a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)?)/?`", cells[0] + cells[1]):
            if name in ("radiomics-workshop", "python", "kind"):
                continue
            if "/" in name or name in code or (CORE / name).is_dir():
                assert name in code or (CORE / name).is_dir() or (CORE / f"{name}.py").is_file(), name
    for name in ("dependencies", "nodes", "processes"):
        assert name in DOC and (SLICER_LIB / f"{name}.py").is_file()


def test_the_layer_table_is_the_import_contract():
    """Each layer of pyproject's contract is a row of the doc's table; the domain layer's modules are the
    doc's 'domain modules, by concern'."""
    contract = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    table = DOC.split("## The core's layers", 1)[1].split("### The command line", 1)[0]
    domain = DOC.split("### The domain modules, by concern", 1)[1].split("## Data contracts", 1)[0]
    layers = [[m.strip() for m in re.split(r"[|:]", layer)] for layer in contract["layers"]]
    biggest = max(layers, key=len)
    for layer in layers:
        where = domain if layer is biggest else table
        missing = [m for m in layer if f"`{m}`" not in where and f"`{m}/`" not in where]
        assert not missing, f"layer {layer[:3]}...: {missing} not where docs/architecture.md describes the layer"
    described = set(re.findall(r"`([a-z_0-9]+)`", domain))
    assert described <= set(biggest) | {"workshop:"}, f"the doc's domain table names {described - set(biggest)}"


def test_nothing_cites_a_design_file_outside_the_repository():
    cited = []
    for path in [*REPO.glob("*.md"), *(REPO / "docs").glob("*.md"), *(REPO / "RadiomicsWorkshop").rglob("*.py"),
                 *(REPO / "Testing").glob("*.py")]:
        if path.name == Path(__file__).name:
            continue
        if re.search(r"(?<![\w/])DESIGN\.md", path.read_text(errors="ignore")):
            cited.append(str(path.relative_to(REPO)))
    assert not cited, f"cite docs/architecture.md, not DESIGN.md (not in this repository): {cited}"
