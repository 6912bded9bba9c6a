"""Static checks of the Slicer layer (Slicer cannot run here; docs/architecture.md, "How it is tested").

- every Python file of the module compiles;
- every widget the module uses as ``self.ui.<name>`` exists in the .ui file;
  every ``SlicerParameterName`` in the .ui is a field of the parameter node, on
  a widget that parameterNodeWrapper can connect to that field's type; MRML
  widgets get the scene from the module widget;
- the module's CMakeLists lists every .py and resource file, and nothing else;
  the top-level CMakeLists is a real Slicer extension; the icons are 128x128 PNGs;
- the core never imports slicer, qt, ctk, vtk or MRML;
- the Slicer layer does no computation: it imports no numerical/imaging
  library (numpy only in its in-Slicer test) and imports nothing of the core
  (allowlist below: empty), which it runs as a subprocess; every subcommand and
  option it passes to the core's CLI exists there; every package the core imports
  is installed in Slicer (requirements.txt) or shipped by Slicer;
- every Slicer/Qt/CTK/VTK API the module and its in-Slicer tests use is in
  Testing/slicer_api_reference.txt, built by reading Slicer's source;
- the console API (Logic.extractFeatures) keeps its documented signature.
"""

from __future__ import annotations

import argparse
import ast
import json
import py_compile
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "RadiomicsWorkshop"
MODULE = MODULE_DIR / "RadiomicsWorkshop.py"
UI = MODULE_DIR / "Resources" / "UI" / "RadiomicsWorkshop.ui"
CORE = MODULE_DIR / "RadiomicsWorkshopLib"
REQUIREMENTS = MODULE_DIR / "Resources" / "requirements.txt"
API_REFERENCE = REPO / "Testing" / "slicer_api_reference.txt"
sys.path.insert(0, str(REPO / "Testing" / "tools"))
from update_slicer_api_reference import MODULES, reference_key, used_apis  # noqa: E402
from update_slicer_api_reference import attribute_chain as _attribute_chain  # noqa: E402  (one scanner)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_constant(name: str):
    """A literal assigned at the module's top level (``DEEP_MODELS = [...]``)."""
    for node in _tree(MODULE).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"RadiomicsWorkshop.py has no constant {name}")


def _class(name: str) -> ast.ClassDef:
    for node in _tree(MODULE).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"RadiomicsWorkshop.py has no class {name}")


# (a) compiles


@pytest.mark.parametrize("path", sorted(MODULE_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_python_compiles(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


def test_module_follows_slicers_template():
    names = {node.name for node in _tree(MODULE).body if isinstance(node, ast.ClassDef)}
    for needed in ("RadiomicsWorkshop", "RadiomicsWorkshopParameterNode", "RadiomicsWorkshopWidget",
                   "RadiomicsWorkshopLogic", "RadiomicsWorkshopTest"):
        assert needed in names, f"RadiomicsWorkshop.py lacks class {needed}"
    bases = {node.name: {_attribute_chain(b) for b in node.bases} for node in _tree(MODULE).body
             if isinstance(node, ast.ClassDef)}
    assert bases["RadiomicsWorkshop"] == {"ScriptedLoadableModule"}
    assert bases["RadiomicsWorkshopWidget"] == {"ScriptedLoadableModuleWidget", "VTKObservationMixin"}
    assert bases["RadiomicsWorkshopLogic"] == {"ScriptedLoadableModuleLogic"}
    assert bases["RadiomicsWorkshopTest"] == {"ScriptedLoadableModuleTest"}
    decorators = {_attribute_chain(d) for d in _class("RadiomicsWorkshopParameterNode").decorator_list}
    assert decorators == {"parameterNodeWrapper"}
    text = MODULE.read_text()
    for needed in ("slicer.util.loadUI", "slicer.util.childWidgetVariables", ".connectGui(self.ui)",
                   'self.parent.title = _("Radiomics Workshop")'):
        assert needed in text, f"RadiomicsWorkshop.py lacks {needed}"
    # the module sits in the Modules menu under the extension's (Extensions Index) category
    category = _cmake_setting("EXTENSION_CATEGORY")
    assert f'translate("qSlicerAbstractCoreModule", "{category}")]' in text, \
        f"the module's category is not the extension's ({category})"


# (b) widgets and parameters


def _ui_widgets() -> dict[str, ET.Element]:
    return {w.get("name"): w for w in ET.parse(UI).getroot().iter("widget")}


def test_widgets_used_exist_in_ui():
    used = {node.attr for node in ast.walk(_tree(MODULE))
            if isinstance(node, ast.Attribute) and _attribute_chain(node.value) == "self.ui"}
    assert used, "the module uses no widget?"
    missing = used - set(_ui_widgets())
    assert not missing, f"RadiomicsWorkshop.py uses widgets missing from the .ui: {sorted(missing)}"


def test_extraction_section_has_its_widgets():
    widgets = _ui_widgets()
    classes = {name: w.get("class") for name, w in widgets.items()}
    expected = {"volumeSelector": "qMRMLNodeComboBox", "roiSelector": "qMRMLNodeComboBox",
                "segmentList": "QListWidget", "presetComboBox": "QComboBox",
                "parameterFileLineEdit": "ctkPathLineEdit", "outputTableSelector": "qMRMLNodeComboBox",
                "applyButton": "QPushButton", "progressBar": "QProgressBar", "statusLabel": "QLabel",
                "editRoiButton": "QPushButton", "featuresCollapsibleButton": "ctkCollapsibleButton"}
    for name, cls in expected.items():
        assert classes.get(name) == cls, f"{name} should be a {cls} in the .ui, is {classes.get(name)}"
    root = ET.parse(UI).getroot().find("widget")
    assert root.get("class") == "qMRMLWidget"

    def node_types(name):
        prop = [p for p in widgets[name].findall("property") if p.get("name") == "nodeTypes"]
        return [s.text for s in prop[0].iter("string")] if prop else []

    assert node_types("roiSelector") == ["vtkMRMLSegmentationNode", "vtkMRMLLabelMapVolumeNode"]
    assert node_types("volumeSelector") == ["vtkMRMLScalarVolumeNode"]
    assert node_types("outputTableSelector") == ["vtkMRMLTableNode"]


def _parameter_fields() -> dict[str, ast.expr]:
    node = _class("RadiomicsWorkshopParameterNode")
    return {item.target.id: item.annotation for item in node.body if isinstance(item, ast.AnnAssign)}


def test_parameter_node_fields():
    fields = _parameter_fields()
    for name in ("inputVolume", "inputSegmentation", "preset", "parameterFile", "outputTable"):
        assert name in fields, f"the parameter node lacks {name}"
    assert ast.unparse(fields["inputSegmentation"]) == \
        "Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]"
    assert ast.unparse(fields["parameterFile"]) == "str"


# Which widget classes parameterNodeWrapper connects to which field types: the canRepresent()
# methods of Base/Python/slicer/parameterNodeWrapper/guiConnectors.py (Slicer at the reference's commit).
CONNECTABLE = {
    "bool": {"QCheckBox", "ctkCheckBox", "QPushButton", "ctkCheckablePushButton"},
    "int": {"QSlider", "QSpinBox", "QDoubleSpinBox", "ctkSliderWidget", "qMRMLSliderWidget", "ctkDoubleSlider",
            "ctkDoubleSpinBox", "qMRMLSpinBox", "QComboBox", "ctkComboBox"},
    "float": {"QDoubleSpinBox", "ctkSliderWidget", "qMRMLSliderWidget", "ctkDoubleSlider", "ctkDoubleSpinBox",
              "qMRMLSpinBox", "QComboBox", "ctkComboBox"},
    "str": {"QLineEdit", "QLabel", "QTextEdit", "QComboBox", "ctkComboBox"},
    "pathlib.Path": {"ctkPathLineEdit", "ctkDirectoryButton"},
    "node": {"qMRMLNodeComboBox"},
}


def _field_kind(annotation: ast.expr) -> tuple[str, bool]:
    """('str', has Choice) for ``Annotated[str, Choice([...])]``; 'node' for MRML node types and unions."""
    text = ast.unparse(annotation)
    choice = "Choice(" in text
    if text.startswith("Annotated["):
        text = ast.unparse(annotation.slice.elts[0])
    if "vtkMRML" in text:
        return "node", choice
    return text, choice


def test_ui_parameter_names_are_connectable_parameter_node_fields():
    fields = _parameter_fields()
    bound = {}
    for name, widget in _ui_widgets().items():
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.find("string").text] = (name, widget.get("class"))
    assert bound, "no SlicerParameterName in the .ui"
    unknown = set(bound) - set(fields)
    assert not unknown, f"SlicerParameterName without a parameter: {sorted(unknown)}"
    for parameter, (widget, cls) in bound.items():
        kind, choice = _field_kind(fields[parameter])
        assert cls in CONNECTABLE.get(kind, set()), (
            f"{widget} ({cls}) cannot be connected to {parameter}: {kind} "
            "(parameterNodeWrapper has no such GUI connector)")
        if cls in ("QComboBox", "ctkComboBox"):
            assert choice, f"{parameter}: parameterNodeWrapper connects a combo box only with a Choice annotation"
    # MRML widgets must get the scene from the module widget, as Slicer's template does.
    connections = {(c.findtext("sender"), c.findtext("signal"), c.findtext("receiver"), c.findtext("slot"))
                   for c in ET.parse(UI).getroot().iter("connection")}
    for name, widget in _ui_widgets().items():
        if widget.get("class", "").startswith("qMRML") and widget.get("class") != "qMRMLWidget":
            assert ("RadiomicsWorkshop", "mrmlSceneChanged(vtkMRMLScene*)", name,
                    "setMRMLScene(vtkMRMLScene*)") in connections, f"{name} is not given the scene"


# (c) CMake


def _cmake_list(text: str, variable: str) -> list[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, f"{variable} not set"
    return [line.strip() for line in match.group(1).split("\n") if line.strip() and not line.strip().startswith("#")]


def test_module_cmakelists_lists_every_file():
    text = (MODULE_DIR / "CMakeLists.txt").read_text()
    expand = lambda items: {i.replace("${MODULE_NAME}", "RadiomicsWorkshop") for i in items}  # noqa: E731
    scripts = expand(_cmake_list(text, "MODULE_PYTHON_SCRIPTS"))
    resources = expand(_cmake_list(text, "MODULE_PYTHON_RESOURCES"))
    ignored = lambda p: "__pycache__" in p.parts or p.suffix == ".pyc"  # noqa: E731
    packages = [CORE, MODULE_DIR / "RadiomicsWorkshopSlicerLib"]
    assert sorted(packages) == sorted(p for p in MODULE_DIR.iterdir() if (p / "__init__.py").is_file())
    on_disk_scripts = {"RadiomicsWorkshop.py"} | {str(p.relative_to(MODULE_DIR)) for package in packages
                                                  for p in package.rglob("*.py") if not ignored(p)}
    on_disk_resources = ({str(p.relative_to(MODULE_DIR)) for p in (MODULE_DIR / "Resources").rglob("*")
                          if p.is_file() and not ignored(p)}
                         | {str(p.relative_to(MODULE_DIR)) for package in packages for p in package.rglob("*")
                            if p.is_file() and p.suffix != ".py" and not ignored(p)})
    fix = "; run Testing/tools/update_module_cmakelists.py"
    assert scripts == on_disk_scripts, (f"not listed: {sorted(on_disk_scripts - scripts)}; "
                                        f"listed but missing: {sorted(scripts - on_disk_scripts)}{fix}")
    assert resources == on_disk_resources, (f"not listed: {sorted(on_disk_resources - resources)}; "
                                            f"listed but missing: {sorted(resources - on_disk_resources)}{fix}")
    for needed in ("slicerMacroBuildScriptedModule", "SCRIPTS ${MODULE_PYTHON_SCRIPTS}",
                   "RESOURCES ${MODULE_PYTHON_RESOURCES}", "WITH_GENERIC_TESTS",
                   "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)", "add_subdirectory(Testing)"):
        assert needed in text, f"RadiomicsWorkshop/CMakeLists.txt lacks {needed}"
    assert "add_subdirectory(Python)" in (MODULE_DIR / "Testing" / "CMakeLists.txt").read_text()
    testing = (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").read_text()
    tests = list((MODULE_DIR / "Testing" / "Python").glob("*.py"))
    assert tests, "no in-Slicer test in RadiomicsWorkshop/Testing/Python"
    for test in tests:
        assert re.search(rf"slicer_add_python_unittest\(\s*SCRIPT\s+\S*{re.escape(test.name)}\s*\)", testing), (
            f"{test.name} is not registered with slicer_add_python_unittest")


def test_core_files_the_module_needs_exist():
    for name in ("__init__", "__main__", "cli", "commands", "io/errors", "io/images", "io/validation",
                 "features/presets", "features/extraction", "features/roi_crop", "io/manifest", "batch/runner",
                 "io/tables", "io/progress"):
        assert (CORE / f"{name}.py").is_file() or (CORE / name / "__init__.py").is_file(), \
            f"RadiomicsWorkshopLib/{name} is missing"
    presets = {p.stem for p in (MODULE_DIR / "Resources" / "Presets").glob("*.yaml")}
    assert {"CT", "MR", "MR_2D", "IBSI"} <= presets, f"presets: {sorted(presets)}"


def test_top_level_cmakelists_is_a_slicer_extension():
    text = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r"^cmake_minimum_required\(VERSION [0-9.]+(\.\.\.[0-9.]+)? FATAL_ERROR\)", text, re.M)
    assert re.search(r"^project\(RadiomicsWorkshop\)", text, re.M)
    for needed in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})", "add_subdirectory(RadiomicsWorkshop)",
                   "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})",
                   "EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS",
                   "EXTENSION_DESCRIPTION", "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        assert needed in text, f"top-level CMakeLists.txt lacks {needed}"
    order = [text.index(s) for s in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})",
                                     "add_subdirectory(RadiomicsWorkshop)", "include(${Slicer_EXTENSION_CPACK})")]
    assert order == sorted(order), "the extension's CMake steps are out of the template's order"


@pytest.mark.parametrize("path", [MODULE_DIR / "Resources" / "Icons" / "RadiomicsWorkshop.png",
                                  REPO / "Resources" / "Icons" / "RadiomicsWorkshop.png"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_icons_are_128_pngs(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    assert struct.unpack(">II", data[16:24]) == (128, 128)


# (d) the core is Slicer-free


FORBIDDEN_IN_CORE = {"slicer", "qt", "ctk", "vtk", "mrml", "vtkmrml", "qslicer", "slicerqt", "pythonqt"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_never_imports_slicer(path):
    for name in _imports(path):
        top = name.split(".")[0].lower()
        assert top not in FORBIDDEN_IN_CORE and not top.startswith(("vtk", "qmrml", "mrml")), (
            f"{path.name} imports {name}: the core must run without Slicer")


# (e) the Slicer layer computes nothing


COMPUTATION = {"radiomics", "SimpleITK", "sitk", "sitkUtils", "pandas", "scipy", "skimage", "torch", "monai",
               "sklearn", "pywt", "dask", "nibabel", "itk", "cv2", "numpy"}
# What RadiomicsWorkshop.py may import from the core in Slicer's process: only the command lines and the
# reading of their progress (commands.py, standard library only). It lists presets and recipes from
# Resources/ and checks packages with importlib.util.find_spec, without importing them.
ALLOWED_CORE_IMPORTS = {"RadiomicsWorkshopLib.commands"}
# nothing that takes time to import (Slicer has imported pathlib and dataclasses itself long before)
LIGHT_STANDARD_LIBRARY = {"__future__", "csv", "json", "os", "typing", "pathlib", "dataclasses"}


def _core_closure(path: Path) -> list[Path]:
    """``path`` and every file of the core that importing it runs: the modules it imports relatively, directly
    or through others, and their packages' ``__init__.py``."""
    seen, todo = [], [path]
    while todo:
        current = todo.pop()
        if current in seen or not current.is_file():
            continue
        seen.append(current)
        todo += [folder / "__init__.py" for folder in current.parents if CORE in folder.parents or folder == CORE]
        for node in ast.walk(_tree(current)):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = current.parents[node.level - 1].joinpath(*(node.module or "").split("."))
                todo += [base.with_suffix(".py"), base / "__init__.py"]
                todo += [base / f"{alias.name}.py" for alias in node.names]
    return seen


def test_the_core_module_slicer_imports_is_light():
    """commands.py runs in Slicer's process: it, and what it imports of the core, use the light standard library
    only -- no numpy, no torch, no scikit-learn."""
    closure = _core_closure(CORE / "commands.py")
    assert CORE / "io" / "columns.py" in closure and len(closure) < 12, [str(p.relative_to(CORE)) for p in closure]
    for path in closure:
        imported = {name.split(".")[0] for name in _imports(path)}
        assert imported <= LIGHT_STANDARD_LIBRARY, (
            f"{path.relative_to(MODULE_DIR)} imports {sorted(imported - LIGHT_STANDARD_LIBRARY)}: Slicer's process "
            "imports it through commands.py; keep it to the light standard library")


def test_slicer_layer_does_no_computation():
    tree = _tree(MODULE)
    tests = {node for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef) and cls.name.endswith("Test")
             for node in ast.walk(cls)}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module + "." + a.name for a in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == "RadiomicsWorkshopLib":
                assert name in ALLOWED_CORE_IMPORTS, f"RadiomicsWorkshop.py imports the core ({name}): run it"
            elif top in COMPUTATION and not (top == "numpy" and node in tests):
                pytest.fail(f"RadiomicsWorkshop.py imports {name}: computation belongs in the core")
    for node in ast.walk(tree):  # importlib.import_module("radiomics") / __import__ would hide an import
        if isinstance(node, ast.Call) and _attribute_chain(node.func) in ("importlib.import_module", "__import__"):
            pytest.fail("RadiomicsWorkshop.py imports modules dynamically")
    text = MODULE.read_text()
    assert 'CORE_PACKAGE = "RadiomicsWorkshopLib"' in text and '"-m", CORE_PACKAGE' in text, (
        "the module must run the core as PythonSlicer -m RadiomicsWorkshopLib")
    assert "slicer.util.launchConsoleProcess" in text


def _core_parser() -> argparse.ArgumentParser:
    sys.path.insert(0, str(MODULE_DIR))
    from RadiomicsWorkshopLib.cli import build_parser

    return build_parser()


def _core_commands() -> list[tuple[str, str, list]]:
    """(function, step, argument lists) of every ``*_args`` function of commands.py: the step is the first
    item of its first list literal; literal strings as str, anything else as None."""
    found = []
    for function in ast.walk(_tree(CORE / "commands.py")):
        if not (isinstance(function, ast.FunctionDef) and function.name.endswith("_args")):
            continue
        lists = [[e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                 for node in ast.walk(function) if isinstance(node, ast.List)]
        found.append((function.name, lists[0][0], [lists[0][1:]] + lists[1:]))
    return found


def test_module_builds_its_command_lines_with_the_cores_functions():
    """Every step the module runs goes through commands.py (no command line built by hand)."""
    text = MODULE.read_text()
    built = set(re.findall(r"coreCommand\(\*commands\.(\w+_args)\(", text))
    assert built == {name for name, _, _ in _core_commands()}, built
    assert len(re.findall(r"coreCommand\(", text)) == len(built) + 1, "a coreCommand call not built by commands.py"


def test_core_cli_accepts_what_the_module_passes():
    parser = _core_parser()
    steps = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    commands = _core_commands()
    assert {step for _, step, _ in commands} >= {"extract", "preprocess", "deep-features", "train", "predict", "segment"}
    for function, step, argument_lists in commands:
        assert step in steps, f"{function}: the core has no step '{step}'"
        options = {o: a for a in steps[step]._actions for o in a.option_strings}
        for arguments in argument_lists:
            for index, item in enumerate(arguments):
                if not (isinstance(item, str) and item.startswith("--")):
                    continue
                assert item in options, f"{function}: `{step}` has no option {item}"
                action = options[item]
                following = arguments[index + 1] if index + 1 < len(arguments) else None
                if action.choices and isinstance(following, str):
                    assert following in action.choices, f"{function}: {item} {following} not in {action.choices}"
    extract = {o for a in steps["extract"]._actions for o in a.option_strings}
    for needed in ("--image", "--mask", "--roi", "--preset", "--params", "--out", "--progress", "--case-id",
                   "--overwrite"):
        assert needed in extract


def test_the_module_takes_its_choices_from_the_core():
    """The combo boxes' choices are the core's own lists (through commands.py), not copies of them."""
    assigned = {node.targets[0].id: node.value for node in _tree(MODULE_DIR / "RadiomicsWorkshop.py").body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    for name, source in (("DEEP_MODELS", "DEEP_FEATURE_MODELS"), ("MODEL_CLASSIFIERS", "CLASSIFIERS"),
                         ("MODEL_SELECTIONS", "SELECTIONS")):
        value = assigned.get(name)
        assert value is not None, f"RadiomicsWorkshop.py: {name} is not assigned at the top level"
        attributes = [n.attr for n in ast.walk(value) if isinstance(n, ast.Attribute)
                      and getattr(n.value, "id", None) == "commands"]
        assert attributes == [source], f"RadiomicsWorkshop.py: {name} must be commands.{source}, not a copy"


SHIPPED_BY_SLICER = {"numpy", "SimpleITK", "scipy", "pydicom"}  # SuperBuild/External_python-*.cmake in Slicer's source
# highdicom (DICOM SEG and SR): 0.23+ needs pydicom 3, Slicer 5.10 pins pydicom 2.4.4 (External_python-dicom-requirements);
# 0.22 imports there but its writer uses np.float_, gone in numpy 2 (seen in the Slicer-Python lane). io/dicom/series.highdicom
# refuses it with that reason; RTSTRUCT input needs pydicom only.
NOT_IN_SLICER = {"highdicom"}
INSTALLED_APART = {"radiomics"}  # pyradiomics: ships with the extension (SuperBuild/External_python-pyradiomics.cmake)
DEEP_ONLY = {"torch", "monai", "nibabel"}  # ensureDependencies(deep=True): dependencies.DEEP_REQUIREMENTS
CLUSTER_ONLY = {"dask", "distributed"}  # --scheduler (Dask): installed where a cluster runs, never needed in Slicer


def _requirement_import_names() -> set[str]:
    from RadiomicsWorkshopSlicerLib import dependencies

    return {dependencies.importName(line) for line in dependencies.requirementLines()}


def test_requirements_cover_what_the_core_imports():
    provided = _requirement_import_names() | SHIPPED_BY_SLICER | INSTALLED_APART | DEEP_ONLY | CLUSTER_ONLY | NOT_IN_SLICER
    lines = REQUIREMENTS.read_text().lower()
    assert not re.search(r"^\s*(numpy|simpleitk)\b", lines, re.M), "never reinstall Slicer's numpy or SimpleITK"
    for path in sorted(CORE.rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "RadiomicsWorkshopLib" or top == "__future__":
                continue
            assert top in provided, (f"{path.name} imports {top}, which Slicer neither ships nor installs: "
                                     "add it to RadiomicsWorkshop/Resources/requirements.txt (and IMPORT_NAMES)")


def test_deep_requirements_cover_what_the_deep_steps_import():
    from RadiomicsWorkshopSlicerLib import dependencies

    assert {dependencies.importName(r) for r in dependencies.DEEP_REQUIREMENTS} | {"torch"} == DEEP_ONLY


def test_pyradiomics_is_never_built_or_pip_installed_in_slicer():
    """Defect 1: the module built PyPI's pyradiomics 3.0.1 source package in Slicer, which fails on Python 3.12
    and needs a compiler, and retried it on every click. PyRadiomics ships with the extension; the module
    installs nothing named pyradiomics, passes no build flags, and missingPackages() never lists it."""
    from RadiomicsWorkshopSlicerLib import dependencies

    layer = [MODULE, *sorted((MODULE_DIR / "RadiomicsWorkshopSlicerLib").glob("*.py"))]
    for path in layer:
        for call in ast.walk(_tree(path)):
            if isinstance(call, ast.Call) and (_attribute_chain(call.func) or "").endswith("pip_install"):
                text = ast.unparse(call).lower()
                assert "radiomics" not in text and "build-isolation" not in text, f"{path.name}: {ast.unparse(call)}"
    assert not any("radiomics" in line.lower() for line in dependencies.requirementLines()), \
        "requirements.txt lists PyRadiomics: it ships with the extension"
    assert "PYRADIOMICS = " not in MODULE.read_text() and "versioneer" not in MODULE.read_text()
    import inspect

    assert "SuperBuild/pyradiomics_recipe.py" in inspect.getsource(dependencies.pyradiomicsProblem), \
        "the message for a missing PyRadiomics names the recipe"


# (f) Slicer APIs


def _reference() -> set[str]:
    return {line.split("\t")[0] for line in API_REFERENCE.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def test_every_slicer_api_used_is_in_slicers_source():
    """Read at the oldest supported Slicer (v5.10.0): an API that came later fails here (defect 5:
    registerCustomSampleDataCategory, 5.12 only) unless it is listed as newer and used behind hasattr."""
    from RadiomicsWorkshopSlicerLib import dependencies
    from update_slicer_api_reference import MINIMUM_SLICER_TAG, NEWER_THAN_MINIMUM

    header = API_REFERENCE.read_text().splitlines()[:3]
    recorded = [re.search(r"Slicer/Slicer (v[0-9.]+) \(([0-9a-f]{40})\)", line) for line in header]
    recorded = [match for match in recorded if match]
    assert recorded, "the tag and commit read are not recorded"
    assert recorded[0].group(1) == MINIMUM_SLICER_TAG == "v{}.{}.0".format(*dependencies.MINIMUM_SLICER), \
        "the reference is not read at the oldest Slicer the module supports"
    reference = _reference()
    used = {reference_key(kind, name) for kind, name in used_apis()}
    unknown = sorted(used - reference)
    assert not unknown, (f"APIs not checked against Slicer's source: {unknown}; read Slicer's source and add "
                         f"them to {API_REFERENCE.name} (Testing/tools/update_slicer_api_reference.py)")
    for entry in ("slicer.util.launchConsoleProcess", "slicer.util.pip_install",
                  "slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode",
                  "slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView", "setSourceVolumeNode()"):
        assert entry in used, f"the module no longer uses {entry}?"
    text = "\n".join(path.read_text() for path in MODULES)
    for name in NEWER_THAN_MINIMUM:
        owner, _, attribute = name.rpartition(".")
        assert f'hasattr({owner}, "{attribute}")' in text, f"{name} is newer than {MINIMUM_SLICER_TAG}: guard it"


def test_sample_data_download_sample_is_never_unpacked_into_two():
    """Defect 5: SampleData.downloadSample returns one node (Modules/Scripted/SampleData/SampleData.py at
    v5.10.0: ``downloadSamples(sampleName)[0]``); downloadSamples returns the list."""
    readme_code = "\n".join(re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S))
    sources = {path.name: path.read_text() for path in MODULES} | {"README.md": readme_code}
    found = 0
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                chain = _attribute_chain(node.value.func) or ""
                if chain.endswith(("downloadSample", "downloadSamples")):
                    found += 1
                    unpacks = isinstance(node.targets[0], (ast.Tuple, ast.List))
                    assert not (unpacks and chain.endswith("downloadSample")), \
                        f"{name}:{node.lineno}: downloadSample returns one node: use downloadSamples"
    assert found >= 3, "no Sample Data download found: is the scan still right?"


def test_reference_entries_name_a_source():
    for line in API_REFERENCE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, where = line.partition("\t")
            assert where.strip(), f"{name}: no source file recorded"


# Console API


def test_console_api_signature():
    logic = _class("RadiomicsWorkshopLogic")
    methods = {node.name: node for node in logic.body if isinstance(node, ast.FunctionDef)}
    arguments = [a.arg for a in methods["extractFeatures"].args.args]
    assert arguments[:7] == ["self", "volumeNode", "segmentationNode", "preset", "segmentIds", "parameterFile",
                             "outputTableNode"]
    defaults = [ast.unparse(d) for d in methods["extractFeatures"].args.defaults]
    assert defaults[:4] == ["'MR'", "None", "None", "None"]
    for needed in ("startExtraction", "loadFeatureTable", "showTable", "ensureDependencies", "openSegmentEditor"):
        assert needed in methods, f"RadiomicsWorkshopLogic lacks {needed}"
    runners = [node for node in ast.walk(_tree(MODULE)) if isinstance(node, ast.ClassDef) and node.name == "CoreProcess"]
    assert len(runners) == 1, "one runner class for the core's subprocess"


SIGNATURES = REPO / "Testing" / "slicer_api_signatures.json"


def test_slicer_python_functions_are_called_with_their_signature():
    """Every call of a Slicer Python function (slicer.util.*, slicer.packaging.*, SampleData.*) passes
    arguments its definition in Slicer's source accepts: keywords it has, no more positional arguments than
    it takes, every parameter without a default given. The parameters were read from Slicer's source at the
    commit recorded (Testing/tools/update_slicer_api_reference.py)."""
    from update_slicer_api_reference import MODULES, _aliases, _resolve

    recorded = json.loads(SIGNATURES.read_text())
    reference_commit = re.search(r"Slicer/Slicer v[0-9.]+ \(([0-9a-f]{40})\)", API_REFERENCE.read_text()).group(1)
    assert recorded["slicer_commit"] == reference_commit, "signatures and API reference read from other commits"
    functions = recorded["functions"]
    for name in ("slicer.util.launchConsoleProcess", "slicer.util.pip_install",
                 "SampleData.SampleDataLogic.registerCustomSampleDataSource"):
        assert name in functions, f"{name}: no recorded signature"
    checked = 0
    for module in MODULES:
        tree = ast.parse(module.read_text())
        aliases = _aliases(tree)
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            chain = _resolve(_attribute_chain(call.func), aliases)
            signature = functions.get(chain or "")
            if not signature:
                continue
            checked += 1
            where = f"{module.name}:{call.lineno} {chain}"
            keywords = [k.arg for k in call.keywords if k.arg is not None]
            accepted = set(signature["params"]) | set(signature["kwonly"])
            unknown = [k for k in keywords if k not in accepted]
            assert signature["varkw"] or not unknown, f"{where}: no parameter(s) {unknown} in Slicer's definition"
            positional = [a for a in call.args if not isinstance(a, ast.Starred)]
            assert signature["varargs"] or len(positional) <= len(signature["params"]), (
                f"{where}: {len(positional)} positional arguments, Slicer's definition takes {signature['params']}")
            if not any(isinstance(a, ast.Starred) for a in call.args) and not any(k.arg is None for k in call.keywords):
                given = set(signature["params"][:len(positional)]) | set(keywords)
                missing = [p for p in signature["required"] if p not in given]
                assert not missing, f"{where}: required parameter(s) {missing} not given"
    assert checked >= 20, f"only {checked} calls checked: is the call scanner still finding them?"


CATALOG_ENTRY = REPO / "ExtensionsIndex" / "RadiomicsWorkshop.json"
# Slicer's catalog-entry schema, as in Slicer/Slicer at the commit the API reference records
# (Schemas/slicer-extension-catalog-entry-schema-v1.0.2.json).
CATALOG_SCHEMA = REPO / "Testing" / "data" / "slicer-extension-catalog-entry-schema-v1.0.2.json"


def _cmake_setting(name: str) -> str:
    match = re.search(rf'^set\({name} "([^"]*)"\)', (REPO / "CMakeLists.txt").read_text(), re.M)
    assert match, f"top-level CMakeLists.txt does not set {name}"
    return match.group(1)


def test_extensions_index_entry_is_valid_and_agrees_with_cmake():
    """The JSON to submit to Slicer/ExtensionsIndex validates against Slicer's schema and says what the
    CMake metadata says (category, dependencies, repository)."""
    import jsonschema

    entry = json.loads(CATALOG_ENTRY.read_text())
    jsonschema.validate(entry, json.loads(CATALOG_SCHEMA.read_text()))
    assert entry["$schema"].endswith(CATALOG_SCHEMA.name + "#")
    assert entry["category"] == _cmake_setting("EXTENSION_CATEGORY")
    depends = _cmake_setting("EXTENSION_DEPENDS")
    assert entry.get("build_dependencies", []) == ([] if depends == "NA" else depends.split(";"))
    homepage = _cmake_setting("EXTENSION_HOMEPAGE")
    assert entry["scm_url"].removesuffix(".git") == homepage.split("#")[0].rstrip("/")


def test_extension_metadata_is_complete_and_points_at_files_that_exist():
    for name in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                 "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        assert _cmake_setting(name).strip(), f"{name} is empty"
    assert "PyTorch" in _cmake_setting("EXTENSION_DEPENDS").split(";"), "torch comes from the PyTorch extension"
    owner_and_name = _cmake_setting("EXTENSION_HOMEPAGE").split("github.com/")[1].split("#")[0].strip("/")
    raw = f"https://raw.githubusercontent.com/{owner_and_name}/main/"
    for url in [_cmake_setting("EXTENSION_ICONURL")] + _cmake_setting("EXTENSION_SCREENSHOTURLS").split(" "):
        assert url.startswith(raw), f"{url}: not a file of this repository"
        path = REPO / url[len(raw):]
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{url}: no PNG at {path}"


def test_the_module_parses_on_slicer_5_8_to_say_it_is_too_old():
    """Defect 3: Slicer 5.8 (Python 3.9) cannot run the core (Python >= 3.10, scikit-learn >= 1.8). The module
    must still load there to tell the user (RadiomicsWorkshop.__init__, Widget.setup): what it imports at load
    time parses as Python 3.9, and the version check is wired to Slicer's version properties."""
    from RadiomicsWorkshopSlicerLib import dependencies

    for path in [MODULE, *sorted((MODULE_DIR / "RadiomicsWorkshopSlicerLib").glob("*.py")),
                 *_core_closure(CORE / "commands.py")]:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    assert dependencies.MINIMUM_SLICER == (5, 10)
    assert dependencies.slicerVersionProblem(5, 10) is None and dependencies.slicerVersionProblem(5, 12) is None
    assert dependencies.slicerVersionProblem(6, 0) is None
    message = dependencies.slicerVersionProblem(5, 8)
    assert message and "5.10" in message and "5.8" in message
    text = MODULE.read_text()
    assert "dependencies.slicerVersionProblem(slicer.app.majorVersion, slicer.app.minorVersion)" in text
    for method in (_class("RadiomicsWorkshop"), _class("RadiomicsWorkshopWidget")):
        calls = {ast.unparse(c.func) for c in ast.walk(method) if isinstance(c, ast.Call)}
        assert "slicerVersionProblem" in calls, f"{method.name} does not check the Slicer version"


# (g) PyRadiomics shipped with the extension: one recipe for Slicer's build servers and the test lane


def test_superbuild_ships_pyradiomics_by_the_recipe_the_lane_runs(tmp_path):
    """SuperBuild/External_python-pyradiomics.cmake downloads what pyradiomics-source.json names (CMake reads the
    JSON: run here with cmake -P) and builds it with SuperBuild/pyradiomics_recipe.py into python_packages_DIR,
    which the inner build installs into the extension; the Slicer-Python lane (Testing/tools/slicer_lane.py) runs that
    recipe."""
    import shutil
    import subprocess

    superbuild = REPO / "SuperBuild"
    source = json.loads((superbuild / "pyradiomics-source.json").read_text())
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is needed to read SuperBuild/PyRadiomicsSource.cmake (apt-get install cmake)", pytrace=False)
    script = f'include("{superbuild / "PyRadiomicsSource.cmake"}")\n' \
             'message("${PYRADIOMICS_URL}|${PYRADIOMICS_SHA256}|${PYRADIOMICS_VERSION}|${PYRADIOMICS_RECIPE}")\n'
    (tmp_path / "read.cmake").write_text(script)
    done = subprocess.run([cmake, "-P", str(tmp_path / "read.cmake")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    url, sha256, version, recipe = done.stderr.strip().split("|")
    assert (url, sha256, version) == (source["url"], source["sha256"], source["version"])
    assert Path(recipe).resolve() == (superbuild / "pyradiomics_recipe.py").resolve()
    external = (superbuild / "External_python-pyradiomics.cmake").read_text()
    for needed in ("include(${CMAKE_CURRENT_LIST_DIR}/PyRadiomicsSource.cmake)", "URL ${PYRADIOMICS_URL}",
                   "URL_HASH SHA256=${PYRADIOMICS_SHA256}", "${PYTHON_EXECUTABLE} ${PYRADIOMICS_RECIPE}",
                   "build <SOURCE_DIR> --prefix", "mark_as_superbuild(python_packages_DIR:PATH)"):
        assert needed in external, f"External_python-pyradiomics.cmake lacks {needed}"
    assert "set(${proj}_DEPENDS python-pyradiomics)" in (REPO / "SuperBuild.cmake").read_text()
    top = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r'install\(DIRECTORY "\$\{python_packages_DIR\}/"\s+DESTINATION '
                     r'\$\{Slicer_INSTALL_ROOT\}\$\{Slicer_BUNDLE_EXTENSIONS_LOCATION\}', top), \
        "the inner build does not install PyRadiomics into the extension"
    assert top.index('include("${CMAKE_CURRENT_SOURCE_DIR}/SuperBuild.cmake")') < top.index("add_subdirectory(RadiomicsWorkshop)")
    # the lane (Testing/tools/slicer_lane.py) runs the same recipe file, whose log the lane's tests check
    from tools.slicer_lane import RECIPE

    assert RECIPE.resolve() == Path(recipe).resolve()


def test_defect_7_models_kept_local_urls_and_torch_requirement():
    """Trained models are kept (not in slicer.app.temporaryPath, which the system cleans); the report opens
    with QUrl.fromLocalFile (a path with '#', '%' or a Windows drive is not a URL to paste after 'file:///');
    torch is installed through the PyTorch extension with a version requirement, and a failure is an error."""
    logic = _class("RadiomicsWorkshopLogic")
    methods = {node.name: node for node in logic.body if isinstance(node, ast.FunctionDef)}
    model_folder = ast.unparse(methods["_newModelFolder"])
    assert "temporaryPath" not in model_folder and "slicer.app.defaultScenePath" in model_folder
    text = MODULE.read_text()
    assert '"file:///"' not in text and "qt.QUrl.fromLocalFile(path)" in ast.unparse(methods["openReport"])
    ensure = methods["ensureDependencies"]
    calls = [c for c in ast.walk(ensure) if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "installTorch"]
    assert len(calls) == 1 and {k.arg for k in calls[0].keywords} >= {"torchVersionRequirement", "askConfirmation"}
    assert "if torch is None" in ast.unparse(ensure), "installTorch's result (None: not installed) is ignored"
    assert not [c for c in ast.walk(ensure) if isinstance(c, ast.Call) and ast.unparse(c) == "slicer.util.pip_install('torch')"], \
        "a plain pip install of torch pulls the wrong build"
    assert "pkill" not in text and "processes.killProcessTree(self.process)" in text
