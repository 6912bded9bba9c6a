"""Static checks of the Slicer layer (Slicer cannot run here; see DESIGN.md, Testing).

- every Python file of the module compiles;
- every widget the module uses as ``self.ui.<name>`` exists in the .ui file, and
  every ``SlicerParameterName`` in the .ui is a field of the parameter node;
- the module's CMakeLists lists every .py and resource file, and nothing else;
  the top-level CMakeLists is a real Slicer extension;
- the core never imports slicer, qt, ctk, vtk or MRML;
- the Slicer layer does no computation: it imports no numerical/imaging library
  at module level and never imports the core in-process (it runs it as a subprocess);
- every Slicer API the module uses is in Testing/slicer_api_reference.txt,
  built by reading Slicer's source.
"""

from __future__ import annotations

import ast
import py_compile
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULE_DIR = REPO / "RadiomicsWorkshop"
MODULE = MODULE_DIR / "RadiomicsWorkshop.py"
UI = MODULE_DIR / "Resources" / "UI" / "RadiomicsWorkshop.ui"
CORE = MODULE_DIR / "RadiomicsWorkshopLib"
API_REFERENCE = REPO / "Testing" / "slicer_api_reference.txt"
sys.path.insert(0, str(REPO / "Testing" / "tools"))
from update_slicer_api_reference import attribute_chain as _attribute_chain, used_apis  # noqa: E402  (one scanner)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", sorted(MODULE_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_python_compiles(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


def _ui_widgets() -> dict[str, ET.Element]:
    return {w.get("name"): w for w in ET.parse(UI).getroot().iter("widget")}


def test_widgets_used_exist_in_ui():
    used = {node.attr for node in ast.walk(_tree(MODULE))
            if isinstance(node, ast.Attribute) and _attribute_chain(node.value) == "self.ui"}
    assert used, "the module uses no widget?"
    missing = used - set(_ui_widgets())
    assert not missing, f"RadiomicsWorkshop.py uses widgets missing from the .ui: {sorted(missing)}"


def test_ui_parameter_names_are_parameter_node_fields():
    fields = set()
    for node in ast.walk(_tree(MODULE)):
        if isinstance(node, ast.ClassDef) and node.name.endswith("ParameterNode"):
            fields |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
    names = set()
    for widget in _ui_widgets().values():
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                names.add(prop.find("string").text)
    assert names and names <= fields, f"SlicerParameterName without a parameter: {sorted(names - fields)}"
    # MRML widgets must get the scene from the module widget, as Slicer's template does.
    connections = {(c.findtext("receiver"), c.findtext("slot")) for c in ET.parse(UI).getroot().iter("connection")}
    for name, widget in _ui_widgets().items():
        if widget.get("class", "").startswith("qMRML") and widget.get("class") != "qMRMLWidget":
            assert (name, "setMRMLScene(vtkMRMLScene*)") in connections, f"{name} is not given the scene"


def _cmake_list(text: str, variable: str) -> list[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, f"{variable} not set"
    return [line.strip() for line in match.group(1).split("\n") if line.strip() and not line.strip().startswith("#")]


def test_module_cmakelists_lists_every_file():
    text = (MODULE_DIR / "CMakeLists.txt").read_text()
    expand = lambda items: {i.replace("${MODULE_NAME}", "RadiomicsWorkshop") for i in items}  # noqa: E731
    scripts = expand(_cmake_list(text, "MODULE_PYTHON_SCRIPTS"))
    resources = expand(_cmake_list(text, "MODULE_PYTHON_RESOURCES"))
    on_disk_scripts = {"RadiomicsWorkshop.py"} | {str(p.relative_to(MODULE_DIR)) for p in CORE.rglob("*.py")}
    on_disk_resources = {str(p.relative_to(MODULE_DIR)) for p in (MODULE_DIR / "Resources").rglob("*")
                         if p.is_file()} | {str(p.relative_to(MODULE_DIR)) for p in CORE.rglob("*")
                                            if p.is_file() and p.suffix not in (".py", ".pyc")
                                            and "__pycache__" not in p.parts}
    assert scripts == on_disk_scripts, (f"not listed: {sorted(on_disk_scripts - scripts)}; "
                                        f"listed but missing: {sorted(scripts - on_disk_scripts)}")
    assert resources == on_disk_resources, (f"not listed: {sorted(on_disk_resources - resources)}; "
                                            f"listed but missing: {sorted(resources - on_disk_resources)}")
    assert "slicerMacroBuildScriptedModule" in text and "slicer_add_python_unittest" in text
    testing = (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").read_text()
    for test in (MODULE_DIR / "Testing" / "Python").glob("*.py"):
        assert test.name in testing, f"{test.name} is not registered with slicer_add_python_unittest"


def test_top_level_cmakelists_is_a_slicer_extension():
    text = (REPO / "CMakeLists.txt").read_text()
    for needed in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})", "add_subdirectory(RadiomicsWorkshop)",
                   "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})",
                   "EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_DESCRIPTION", "EXTENSION_ICONURL",
                   "EXTENSION_DEPENDS"):
        assert needed in text, f"top-level CMakeLists.txt lacks {needed}"


FORBIDDEN_IN_CORE = {"slicer", "qt", "ctk", "vtk", "mrml", "vtkmrml", "qslicer"}


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_never_imports_slicer(path):
    for node in ast.walk(_tree(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            assert name.split(".")[0].lower() not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


COMPUTATION = {"radiomics", "SimpleITK", "sitk", "pandas", "scipy", "skimage", "torch", "monai", "sklearn",
               "pywt", "dask", "RadiomicsWorkshopLib"}


def test_slicer_layer_does_no_computation():
    """The module may import numpy only inside its in-Slicer test; the core runs as a subprocess."""
    tree = _tree(MODULE)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in COMPUTATION, f"RadiomicsWorkshop.py imports {name}"
    top_level = {a.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for a in node.names}
    assert "numpy" not in top_level, "numpy at module level: computation belongs in the core"
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef) or function.name.startswith("test_"):
            continue
        for node in ast.walk(function):
            imported = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            if "numpy" in imported or (isinstance(node, ast.Name) and node.id in ("np", "numpy")):
                pytest.fail(f"{function.name} uses numpy outside a test: computation belongs in the core")
    assert "RadiomicsWorkshopLib" in MODULE.read_text(), "the module must run the core (python -m RadiomicsWorkshopLib)"


def _reference() -> set[str]:
    lines = [line.split("\t")[0] for line in API_REFERENCE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return set(lines)


def test_every_slicer_api_used_is_in_slicers_source():
    reference = _reference()
    used = {name if kind == "chain" else name + "()" for kind, name in used_apis()}
    unknown = sorted(used - reference)
    assert not unknown, (f"Slicer APIs not checked against Slicer's source: {unknown}; read Slicer's source and add "
                         f"them to {API_REFERENCE.name} (Testing/tools/update_slicer_api_reference.py)")
    assert len(reference) > 40
