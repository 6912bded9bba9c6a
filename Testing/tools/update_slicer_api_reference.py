"""Rebuild Testing/slicer_api_reference.txt by reading Slicer's source.

Usage: python Testing/tools/update_slicer_api_reference.py /path/to/Slicer.git [REV]
(a clone or bare mirror of github.com/Slicer/Slicer; REV defaults to MINIMUM_SLICER_TAG, the oldest
Slicer the module supports: what is found there is in every supported Slicer).

The scan (``used_apis``, shared with Testing/slicer_module/test_slicer_layer.py) lists what
RadiomicsWorkshop/RadiomicsWorkshop.py, its Qt-free package RadiomicsWorkshopSlicerLib/ and its
in-Slicer tests in RadiomicsWorkshop/Testing/Python/ use of Slicer, Qt, CTK and VTK:

- ``chain``: every attribute chain rooted at the modules ``slicer``, ``qt``,
  ``ctk``, ``vtk`` (or ``SampleData``, ``PyTorchUtils``) (``slicer.util.loadUI``, ``slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView``,
  ``qt.QTimer``), also through ``import slicer.packaging as packaging``, and
  every name imported from ``slicer...``;
- ``method``: every capitalised method called on any object (MRML/VTK, ``GetSegmentation()``),
  and every lower-case method called on an object that came from Slicer, Qt or
  CTK (``slicer.util.getModuleWidget(...).editor.setSourceVolumeNode()``,
  ``self.ui.progressBar.setMaximum()``);
- ``property``: every attribute read or written on a widget of the .ui (``self.ui.applyButton.enabled``):
  a misspelt Qt property would silently become a Python attribute.

For each it records the Slicer file that defines it: the Python function or
class, the header declaring the method (the classes the module handles are
searched first, then every header), or, for names that Qt, CTK or VTK define
(not in Slicer's repository), a Slicer file that uses them the same way. Names
it cannot find are printed and left out, so the test fails until resolved.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshop.py"
MODULES = [MODULE, *sorted((REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopSlicerLib").glob("*.py")),
           *sorted((REPO / "RadiomicsWorkshop" / "Testing" / "Python").glob("*.py"))]
# The oldest Slicer the module supports (RadiomicsWorkshopSlicerLib/dependencies.py MINIMUM_SLICER): the reference
# is read at this tag, so that an API newer than it fails the test unless listed in NEWER_THAN_MINIMUM.
MINIMUM_SLICER_TAG = "v5.10.0"
# APIs the module uses only where they exist (behind ``hasattr``): not in MINIMUM_SLICER_TAG, checked at the tag
# that introduced them. Testing/slicer_module/test_slicer_layer.py checks each is only used behind its hasattr guard.
NEWER_THAN_MINIMUM = {
    "SampleData.SampleDataLogic.registerCustomSampleDataCategory": "v5.12.0",
}
OUT = REPO / "Testing" / "slicer_api_reference.txt"
SIGNATURES = REPO / "Testing" / "slicer_api_signatures.json"  # the Python functions' parameters, for the call check
# Modules whose attribute chains are checked: Slicer's, Qt's, CTK's, VTK's (as Slicer's Python wraps them),
# Slicer's SampleData module, and the PyTorch extension's module (used when installed).
ROOTS = ("slicer", "qt", "ctk", "vtk", "SampleData", "PyTorchUtils")
SLICER_PYTHON_MODULES = {"SampleData": "Modules/Scripted/SampleData/SampleData.py"}

# Not Slicer at all: recorded with what they are, so that the list stays complete.
PYTORCH = "SlicerPyTorch extension, PyTorchUtils/PyTorchUtils.py (github.com/fepegar/SlicerPyTorch at e1c85cc0)"
NOT_SLICER = {
    "PyTorchUtils.PyTorchUtilsLogic": PYTORCH,
    "PyTorchUtilsLogic()": PYTORCH,
    "installTorch()": PYTORCH,
    "get()": "Python: dict (what slicer.util.startupEnvironment returns)",
    "mean()": "numpy.ndarray (what slicer.util.arrayFromVolume returns)",
    "poll()": "Python: subprocess.Popen (what slicer.util.launchConsoleProcess returns)",
    "wait()": "Python: subprocess.Popen (what slicer.util.launchConsoleProcess returns)",
    "kill()": "Python: subprocess.Popen (what slicer.util.launchConsoleProcess returns)",
    "readline()": "Python: subprocess.Popen.stdout (what slicer.util.launchConsoleProcess returns)",
    "startswith()": "Python: str (a column name read from vtkMRMLTableNode::GetColumnName)",
    # A static function of Qt's QUrl (PythonQt wraps static functions as class attributes); Slicer's C++ opens
    # local files with it the same way (Base/QTApp/qSlicerErrorReportDialog.cxx, v5.10.0 line 190).
    "qt.QUrl.fromLocalFile": "Qt: QUrl::fromLocalFile, as Base/QTApp/qSlicerErrorReportDialog.cxx uses it",
}

# Classes whose objects the module handles, most specific first: a method is looked up in these
# headers before any other (GetName() is vtkMRMLNode's, not the first header that mentions it).
CLASS_HEADERS = [
    "vtkMRMLTableNode.h", "vtkMRMLSegmentationNode.h", "vtkSegmentation.h", "vtkSegment.h",
    "vtkMRMLScalarVolumeNode.h", "vtkMRMLLabelMapVolumeNode.h", "vtkMRMLVolumeNode.h",
    "vtkMRMLDisplayableNode.h", "vtkMRMLTransformableNode.h", "vtkMRMLStorableNode.h", "vtkMRMLNode.h",
    "vtkMRMLScene.h", "vtkMRMLSelectionNode.h", "vtkMRMLApplicationLogic.h", "vtkSlicerApplicationLogic.h",
    "vtkSlicerSegmentationsModuleLogic.h", "vtkMRMLPlotSeriesNode.h", "vtkMRMLPlotChartNode.h",
    "vtkSlicerPlotsLogic.h",
    "qMRMLWidget.h", "qMRMLLayoutManager.h", "qSlicerLayoutManager.h", "qMRMLSegmentEditorWidget.h",
    "qMRMLNodeComboBox.h",
    "qSlicerAbstractCoreModule.h", "qSlicerCoreApplication.h", "qSlicerApplication.h",
]


def attribute_chain(node) -> str | None:
    """``slicer.util.loadUI`` for the AST of that expression; None when it does not start at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _spine_root(node) -> str | None:
    """The name an expression hangs from through attributes, calls and subscripts (``a`` in ``a.b().c[0]``)."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """``packaging`` -> ``slicer.packaging`` for ``import slicer.packaging as packaging``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name.split(".")[0] in ROOTS:
                    aliases[alias.asname] = alias.name
    return aliases


def _resolve(chain: str | None, aliases: dict[str, str]) -> str | None:
    if chain is None:
        return None
    head, _, rest = chain.partition(".")
    if head in aliases:
        return aliases[head] + ("." + rest if rest else "")
    return chain


def used_apis(modules: list[Path] | None = None) -> list[tuple[str, str]]:
    """What the module (and its in-Slicer tests) use of Slicer/Qt/CTK/VTK: (kind, name), kind chain,
    method or property."""
    chains, methods, properties = set(), set(), set()
    for module in modules or MODULES:
        _scan(ast.parse(module.read_text()), chains, methods, properties)
    return ([("chain", c) for c in sorted(chains)] + [("method", m) for m in sorted(methods)]
            + [("property", p) for p in sorted(properties)])


def _scan(tree: ast.Module, chains: set, methods: set, properties: set) -> None:
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "slicer":
            chains |= {f"{node.module}.{a.name}" for a in node.names}
        if isinstance(node, ast.Attribute):
            chain = _resolve(attribute_chain(node), aliases)
            if chain and chain.split(".")[0] in ROOTS and "." in chain:
                chains.add(chain)

    # Names and self attributes holding an object from Slicer/Qt/CTK/VTK (``editor = slicer.util...``,
    # ``self._timer = qt.QTimer()``), and the widgets of the .ui (``self.ui``).
    derived = {"self.ui"}
    for _ in range(2):  # twice: a name may come from another derived name
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = attribute_chain(node.targets[0])
                root = _resolve(_spine_root(node.value), aliases)
                if target and root and (root.split(".")[0] in ROOTS or root in derived):
                    derived.add(target)

    def from_slicer(receiver) -> bool:
        chain = attribute_chain(receiver)
        if chain is not None:  # a plain module chain (slicer.util.f) is a chain, not a method of an object
            return chain in derived or chain.startswith("self.ui.")
        root = _resolve(_spine_root(receiver), aliases)
        return bool(root) and (root.split(".")[0] in ROOTS or root in derived)

    # Calls of a module's function or class (qt.QTimer(), csv.DictReader()) are chains, or not Slicer's;
    # methods of the module's own classes (logic.extractFeatures()) are not Slicer's either.
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {alias.asname or alias.name for node in ast.walk(tree)  # the core's modules (commands) are ours,
                if isinstance(node, ast.ImportFrom)  # and so are the Slicer layer's (nodes, dependencies)
                and (node.module or "").split(".")[0] in ("RadiomicsWorkshopLib", "RadiomicsWorkshopSlicerLib")
                for alias in node.names}
    own = {node.name for module in MODULES for node in ast.walk(ast.parse(module.read_text()))
           if isinstance(node, ast.FunctionDef)}
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            called.add(id(node.func))
            name = node.func.attr
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id in modules:
                continue
            if name[:1].isupper():
                methods.add(name)
            elif name[:1].islower() and name not in own and from_slicer(receiver):
                methods.add(name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in called:
            receiver = attribute_chain(node.value)
            if receiver and receiver.startswith("self.ui.") and receiver.count(".") == 2:
                properties.add(node.attr)


def reference_key(kind: str, name: str) -> str:
    """How an API appears in the reference file: ``slicer.util.loadUI``, ``GetName()``, ``.enabled``."""
    return {"chain": name, "method": name + "()", "property": "." + name}[kind]


class SlicerSource:
    def __init__(self, git_dir: str, rev: str = MINIMUM_SLICER_TAG) -> None:
        self.git = ["git", f"--git-dir={git_dir}"]
        self.rev = rev
        self.commit = self._run("rev-parse", f"{rev}^{{commit}}").strip()
        self.files = self._run("ls-tree", "-r", "--name-only", self.commit).split("\n")
        self.by_name: dict[str, list[str]] = {}
        for path in self.files:
            self.by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)

    def _run(self, *args: str) -> str:
        return subprocess.run(self.git + list(args), capture_output=True, text=True).stdout

    def grep(self, pattern: str, paths: list[str]) -> list[str]:
        """Files (among pathspecs) with a line matching the extended regex."""
        if not paths:
            return []
        out = self._run("grep", "-l", "-E", pattern, self.commit, "--", *paths)
        return [line.split(":", 1)[1] for line in out.split("\n") if line]

    def header(self, basename: str) -> str | None:
        paths = [p for p in self.by_name.get(basename, []) if not p.startswith("Utilities/Templates")]
        return paths[0] if paths else None

    def declares(self, name: str, paths: list[str]) -> list[str]:
        """Headers declaring a method or property ``name`` (also through VTK's Get/Set macros)."""
        # A declaration: a return type, then the name and "(" (comments and calls do not match).
        patterns = [rf"^[[:space:]]*(virtual |static |inline |Q_INVOKABLE )*[A-Za-z_][A-Za-z0-9_:<>*& ]*[ *&]{name}[[:space:]]*\(",
                    rf"Q_PROPERTY\(.*\b{name}\b"]
        accessor = re.match(r"(Get|Set)(\w+)", name)
        if accessor:
            patterns.append(rf"vtk{accessor.group(1)}\w*Macro\(\s*{accessor.group(2)}\b")
        hits = self.grep("|".join(f"({p})" for p in patterns), paths)
        order = {path: index for index, path in enumerate(paths)}  # git grep lists in path order: use ours
        return sorted(hits, key=lambda path: order.get(path, len(order)))

    def used_in_python(self, pattern: str) -> str | None:
        hits = self.grep(pattern, ["*.py"])
        return hits[0] if hits else None


def locate(source: SlicerSource, kind: str, name: str) -> str | None:
    key = reference_key(kind, name)
    if key in NOT_SLICER:
        return NOT_SLICER[key]
    class_headers = [h for h in (source.header(b) for b in CLASS_HEADERS) if h]
    if kind == "chain":
        parts = name.split(".")
        root, second, last = parts[0], (parts[1] if len(parts) > 1 else ""), parts[-1]
        if root in SLICER_PYTHON_MODULES:
            path = SLICER_PYTHON_MODULES[root]
            hits = source.grep(rf"^\s*(def|class) {last}\b", [path])  # indented: a class's (static) method
            return hits[0] if hits else None
        if root != "slicer":  # Qt, CTK, VTK: not in Slicer's repository; find Slicer using it
            hit = source.used_in_python(rf"\b{re.escape(name)}\b")
            return f"{hit} (used there; defined by {root.upper() if root != 'ctk' else 'CTK'})" if hit else None
        python = {"util": "Base/Python/slicer/util.py", "packaging": "Base/Python/slicer/packaging.py",
                  "i18n": "Base/Python/slicer/i18n.py",
                  "ScriptedLoadableModule": "Base/Python/slicer/ScriptedLoadableModule.py"}
        if len(parts) == 2 and second in python:
            return python[second] if python[second] in source.files else None
        if second in python:
            hits = source.grep(rf"^(def|class) {last}\b", [python[second]])
            return hits[0] if hits else None
        if second == "parameterNodeWrapper":
            hits = source.grep(rf"^(def|class) {last}\b", ["Base/Python/slicer/parameterNodeWrapper/*.py"])
            return hits[0] if hits else None
        if len(parts) == 2 and second in ("app", "mrmlScene", "modules"):
            hits = source.grep(rf"\b{second}\b", ["Base/Python/slicer/__init__.py"])
            return f"{hits[0]} (set by Base/Python/slicerqt.py)" if hits else None
        if second == "app":
            hits = source.declares(last, [h for h in class_headers if "Application" in h])
            if hits:
                return hits[0]
            hit = source.used_in_python(rf"slicer\.app\.{last}\b")
            return f"{hit} (used there; defined by Qt's QCoreApplication)" if hit else None
        if second == "mrmlScene":
            header = source.header("vtkMRMLScene.h")
            return header if source.grep(rf"\b{last}\b", [header]) else None
        if second == "modules":
            if len(parts) == 3:  # slicer.modules.segmentations: a module of that (lower-cased) name
                folders = {p.split("/")[2] for p in source.files
                           if p.startswith(("Modules/Loadable/", "Modules/Scripted/")) and p.count("/") >= 3}
                match = [f for f in folders if f.lower() == last]
                return f"Modules/*/{match[0]} (module)" if match else None
            hits = source.declares(last, [source.header("qSlicerAbstractCoreModule.h")])
            return hits[0] if hits else None
        if second.startswith(("vtk", "q")):  # a class of Slicer's libraries, or one of its members
            header = source.header(second + ".h")
            if header is None:
                return None
            if len(parts) == 2:
                return header
            return header if source.grep(rf"\b{last}\b", [header]) else None
        return None
    if kind == "method":
        # Capitalised: MRML/VTK classes; lower case: Qt classes. Then, for methods VTK or Qt define, where
        # Slicer's Python calls them; last, any Slicer header that declares it.
        prefix = "vtk" if name[:1].isupper() else "q"
        hits = source.declares(name, [h for h in class_headers if h.rsplit("/", 1)[-1].startswith(prefix)])
        if hits:
            return hits[0]
        hit = source.used_in_python(rf"\.{name}\(")
        if hit:
            return f"{hit} (used there; defined by Qt/CTK/VTK)"
        hits = source.declares(name, ["*.h"])
        return hits[0] if hits else None
    if kind == "property":
        hit = source.used_in_python(rf"\.{name}\b")
        return f"{hit} (used there; a Qt/CTK widget property)" if hit else None
    return None


def python_signature(source: SlicerSource, chain: str, path: str) -> dict | None:
    """The parameters of the Python function a chain names (``slicer.util.f``, ``SampleData.SampleDataLogic.f``),
    read from Slicer's source with ``ast``: names in order, which have no default, ``*args``/``**kwargs``."""
    tree = ast.parse(source._run("show", f"{source.commit}:{path}"))
    *owners, name = chain.split(".")
    scopes = [tree] + [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name in owners]
    for scope in reversed(scopes):  # a class's method before a module function of the same name
        for node in scope.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                args = node.args
                params = [a.arg for a in args.posonlyargs + args.args]
                static = any(getattr(d, "id", None) == "staticmethod" for d in node.decorator_list)
                if scope is not tree and not static and params and params[0] in ("self", "cls"):
                    params = params[1:]
                required = params[:len(params) - len(args.defaults)]
                kwonly = [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults)]
                return {"source": path, "params": params, "required": required, "kwonly": kwonly,
                        "varargs": args.vararg is not None, "varkw": args.kwarg is not None}
    return None


def main(slicer_git_dir: str, rev: str = MINIMUM_SLICER_TAG) -> None:
    source = SlicerSource(slicer_git_dir, rev)
    newer = {tag: SlicerSource(slicer_git_dir, tag) for tag in set(NEWER_THAN_MINIMUM.values())}
    rows = []
    for kind, name in used_apis():
        key = reference_key(kind, name)
        where = locate(source, kind, name)
        if where is None and key in NEWER_THAN_MINIMUM:
            tag = NEWER_THAN_MINIMUM[key]
            found = locate(newer[tag], kind, name)
            where = f"{found} (from {tag} on; used behind hasattr)" if found else None
        rows.append((key, where))
    signatures = {}
    for key, where in rows:
        path = (where or "").split(" ")[0]
        if path.endswith(".py") and "." in key and not key.endswith(("()",)) and key.split(".")[0] in ROOTS \
                and "(used there" not in (where or ""):
            signature = python_signature(source, key, path)
            if signature:
                signatures[key] = signature
    SIGNATURES.write_text(json.dumps({"slicer_tag": source.rev, "slicer_commit": source.commit,
                                      "functions": signatures}, indent=1) + "\n")
    missing = [key for key, where in rows if not where]
    if missing:
        print("not found in Slicer's source (left out):", missing, file=sys.stderr)
    with open(OUT, "w") as out:
        out.write("# Slicer, Qt, CTK and VTK APIs used by RadiomicsWorkshop/RadiomicsWorkshop.py, RadiomicsWorkshopSlicerLib/\n")
        out.write("# and the in-Slicer tests (RadiomicsWorkshop/Testing/Python/), each checked against Slicer's source at\n")
        out.write(f"# the oldest supported Slicer: github.com/Slicer/Slicer {source.rev} ({source.commit})\n")
        out.write("# <name><TAB><Slicer file that defines it, or (for Qt/CTK/VTK) a Slicer file that uses it>\n")
        out.write("# chains: slicer.*, qt.*, ctk.*, vtk.*; Name(): a method called on an object; .name: a widget property.\n")
        out.write("# Regenerate with Testing/tools/update_slicer_api_reference.py; Testing/slicer_module/test_slicer_layer.py fails on\n")
        out.write("# any API the module uses that is not listed here.\n")
        for key, where in rows:
            if where:
                out.write(f"{key}\t{where}\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
