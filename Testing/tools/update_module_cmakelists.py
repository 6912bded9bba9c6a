"""Rewrite the file lists of RadiomicsWorkshop/CMakeLists.txt from what is on disk.

Usage: python Testing/tools/update_module_cmakelists.py [--check]

MODULE_PYTHON_SCRIPTS: RadiomicsWorkshop.py and every .py of its packages (RadiomicsWorkshopLib/,
RadiomicsWorkshopSlicerLib/);
MODULE_PYTHON_RESOURCES: every file under Resources/ and every non-Python file of
RadiomicsWorkshopLib/ (e.g. data/*.csv). Slicer installs only what these lists
name, so a file missing from them is missing from the installed extension.
With --check, only report (exit status 1 when the lists differ).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "RadiomicsWorkshop"
CMAKELISTS = MODULE_DIR / "CMakeLists.txt"


def _ignored(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc" or path.name.startswith(".")


def packages() -> list[Path]:
    """The module's Python packages: the core (RadiomicsWorkshopLib) and the Slicer layer's Qt-free part."""
    return sorted(p for p in MODULE_DIR.iterdir() if (p / "__init__.py").is_file())


def scripts() -> list[str]:
    code = sorted(str(p.relative_to(MODULE_DIR)) for package in packages() for p in package.rglob("*.py")
                  if not _ignored(p))
    return ["${MODULE_NAME}.py"] + code


def resources() -> list[str]:
    found = [p for p in (MODULE_DIR / "Resources").rglob("*") if p.is_file() and not _ignored(p)]
    found += [p for package in packages() for p in package.rglob("*")
              if p.is_file() and p.suffix != ".py" and not _ignored(p)]
    names = sorted(str(p.relative_to(MODULE_DIR)) for p in found)
    return [n.replace("RadiomicsWorkshop.png", "${MODULE_NAME}.png").replace("RadiomicsWorkshop.ui", "${MODULE_NAME}.ui")
            if n in ("Resources/Icons/RadiomicsWorkshop.png", "Resources/UI/RadiomicsWorkshop.ui") else n
            for n in names]


def rewrite(text: str, variable: str, items: list[str]) -> str:
    block = f"set({variable}\n" + "".join(f"  {item}\n" for item in items) + "  )"
    new, count = re.subn(rf"set\({variable}\s+.*?\)", lambda _: block, text, count=1, flags=re.S)
    if count != 1:
        raise SystemExit(f"{CMAKELISTS}: set({variable} ...) not found")
    return new


def main(argv: list[str]) -> int:
    text = CMAKELISTS.read_text()
    new = rewrite(rewrite(text, "MODULE_PYTHON_SCRIPTS", scripts()), "MODULE_PYTHON_RESOURCES", resources())
    if new == text:
        print("RadiomicsWorkshop/CMakeLists.txt lists every file")
        return 0
    if "--check" in argv:
        print("RadiomicsWorkshop/CMakeLists.txt is out of date: run Testing/tools/update_module_cmakelists.py")
        return 1
    CMAKELISTS.write_text(new)
    print("RadiomicsWorkshop/CMakeLists.txt updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
