"""Rebuild Testing/slicer_api_reference.txt by reading Slicer's source.

Usage: python Testing/tools/update_slicer_api_reference.py /path/to/Slicer.git
(a clone or bare mirror of github.com/Slicer/Slicer). Lists every slicer.* API,
and every capitalised (MRML/VTK/Qt) method the module calls, with the Slicer
file that defines it (or uses it, for Qt/VTK methods); names it cannot find are
printed and left out, so test_slicer_layer.py fails until they are resolved.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshop.py"
OUT = REPO / "Testing" / "slicer_api_reference.txt"
NOT_SLICER = {name: "not Slicer (Python standard library, psutil or Qt)"
              for name in ("Process", "QListWidgetItem", "QTimer", "Queue", "Thread", "DictReader")}
NOT_SLICER["PyTorchUtilsLogic"] = "SlicerPyTorch extension, PyTorchUtils/PyTorchUtils.py (github.com/fepegar/SlicerPyTorch)"


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


def used_apis() -> list[tuple[str, str]]:
    tree = ast.parse(MODULE.read_text())
    chain = attribute_chain

    chains, methods = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            c = chain(node)
            if c and c.split(".")[0] == "slicer":
                chains.add(c)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr[:1].isupper():
            methods.add(node.func.attr)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("slicer"):
            chains |= {f"{node.module}.{a.name}" for a in node.names}
    return [("chain", c) for c in sorted(chains)] + [("method", m) for m in sorted(methods)]
def main(slicer_git_dir: str) -> None:
    G = ["git", f"--git-dir={slicer_git_dir}"]
    commit = subprocess.run(G + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    def grep(pattern, paths=None):
        cmd = G + ["grep", "-l", "-E", pattern, "HEAD", "--"] + (paths or [])
        out = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
        return [o.split(":", 1)[1] for o in out]
    items = used_apis()

    rows = []
    for kind, name in items:
        where = None
        if kind == "chain":
            parts = name.split(".")
            last = parts[-1]
            if name in ("slicer.app", "slicer.mrmlScene", "slicer.util", "slicer.packaging"):
                where = {"slicer.app": "Base/Python/slicer/__init__.py", "slicer.mrmlScene": "Base/Python/slicer/__init__.py",
                         "slicer.util": "Base/Python/slicer/util.py", "slicer.packaging": "Base/Python/slicer/packaging.py"}[name]
                if not grep(r"(app|mrmlScene|util|packaging)", [where]): where = None
            elif parts[1] in ("util", "packaging", "i18n"):
                f = f"Base/Python/slicer/{parts[1]}.py"
                where = f if grep(rf"^(def|class) {last}\b", [f]) else None
            elif parts[1] == "ScriptedLoadableModule":
                f = "Base/Python/slicer/ScriptedLoadableModule.py"
                where = f if grep(rf"^class {last}\b", [f]) else None
            elif parts[1] == "parameterNodeWrapper":
                f = "Base/Python/slicer/parameterNodeWrapper/__init__.py"
                where = f if grep(rf"\b{last}\b", [f]) else None
            elif parts[1] == "app":
                hits = grep(rf"\b{last}\b", ["Base/QTCore/qSlicerCoreApplication.h", "Base/QTGUI/qSlicerApplication.h"])
                where = hits[0] if hits else None
            elif parts[1] == "mrmlScene":
                f = "Libs/MRML/Core/vtkMRMLScene.h"
                where = f if grep(rf"\b{last}\b", [f]) else None
            elif parts[1].startswith("vtkMRML"):
                hits = grep(rf"class .*\b{parts[1]}\b", ["*.h"])
                if hits and len(parts) == 3:
                    hits = [h for h in hits if grep(rf"\b{last}\b", [h])]
                where = hits[0] if hits else None
        else:
            if name in NOT_SLICER:
                where = NOT_SLICER[name]
            else:
                hits = grep(rf"\b{name}\(", ["*.h"])
                where = hits[0] if hits else None
        if not where:  # defined outside Slicer's headers (Qt, VTK) or re-exported: record where Slicer itself uses it
            last = name.split(".")[-1]
            pattern = rf"{re.escape(name)}\b" if kind == "chain" else rf"\.{last}\("
            if kind == "chain" and name.startswith("slicer.parameterNodeWrapper."):
                hits = grep(rf"^(def|class) {last}\b", ["Base/Python/slicer/parameterNodeWrapper/*.py"])
            else:
                hits = grep(pattern, ["*.py"])
            where = (hits[0] + " (used there; defined by Qt/VTK)" if kind != "chain" or not name.startswith("slicer.parameterNodeWrapper.") else hits[0]) if hits else None
        rows.append((name if kind == "chain" else name + "()", where))
    bad = [r for r in rows if not r[1]]
    print("missing:", bad, file=sys.stderr)
    with open(OUT, "w") as out:
        out.write(f"# Slicer APIs used by RadiomicsWorkshop/RadiomicsWorkshop.py, each checked to exist in Slicer's source\n")
        out.write(f"# (github.com/Slicer/Slicer at {commit}), with the file that defines it.\n")
        out.write("# Capitalised names with () are C++ (MRML/VTK/Qt) methods called on objects; found in that header.\n")
        out.write("# Regenerate with Testing/tools/update_slicer_api_reference.py; Testing/test_slicer_layer.py fails on any API not listed.\n")
        for name, where in rows:
            if where:
                out.write(f"{name}\t{where}\n")


if __name__ == "__main__":
    main(sys.argv[1])
