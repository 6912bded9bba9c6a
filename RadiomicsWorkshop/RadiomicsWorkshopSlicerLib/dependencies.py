"""What the module installs into Slicer's Python, and on which Slicer it runs. Standard library only.

- **Slicer >= 5.10** (Python 3.12). Slicer 5.8 bundles Python 3.9; the core needs Python >= 3.10 and
  scikit-learn >= 1.8, which needs 3.10 or later.
- **PyRadiomics ships with the extension**: built on Slicer's extension build servers by
  ``SuperBuild/pyradiomics_recipe.py`` (PyPI's 3.0.1 source package, fixed for Python 3.12) into the
  extension's python-packages folder, which the Extension Manager puts on Slicer's path. It is never
  built on the user's machine; when it is missing, ``pyradiomicsProblem`` says what to do.
- **Everything else** (``Resources/requirements.txt``) is installed on first use from binary wheels
  (``--only-binary :all:``: no compiler needed) under a constraints file that pins every package
  Slicer's Python already has at its installed version, so nothing of Slicer's (numpy, scipy,
  SimpleITK, ...) is replaced. The one source package allowed is pure Python (``PURE_PYTHON_SOURCES``).

The Slicer-Python test lane (Testing/slicer_module/test_slicer_python_lane.py) runs ``install`` in a Python 3.12
holding Slicer 5.10's packages and checks that none of them changed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import tempfile
from typing import Callable, Optional

MINIMUM_SLICER = (5, 10)
MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(MODULE_DIR, "Resources", "requirements.txt")
# pykwalify (PyRadiomics' parameter-file validation) needs docopt, of which PyPI has only a source
# package: pure Python (one module), built without a compiler.
PURE_PYTHON_SOURCES = ("docopt",)
# Import names of the distributions in Resources/requirements.txt whose import name is not the
# distribution's name (Testing/slicer_module/test_slicer_layer.py checks that every package the core imports is covered).
IMPORT_NAMES = {"PyWavelets": "pywt", "scikit-image": "skimage", "scikit-learn": "sklearn", "PyYAML": "yaml",
                "pynrrd": "nrrd", "imbalanced-learn": "imblearn"}
# What deep features, CNNs and auto-segmentation add: torch through the PyTorch extension (it picks the
# build that fits the machine), then MONAI (and nibabel, for MONAI's orientation transforms).
TORCH_REQUIREMENT = ">=2.2"
DEEP_REQUIREMENTS = ["monai>=1.4", "nibabel>=5"]


def slicerVersionProblem(major: int, minor: int) -> Optional[str]:
    """A message for a Slicer older than the minimum, else None."""
    if (major, minor) >= MINIMUM_SLICER:
        return None
    return (f"Radiomics Workshop needs 3D Slicer {MINIMUM_SLICER[0]}.{MINIMUM_SLICER[1]} or later (its Python 3.12); "
            f"this is Slicer {major}.{minor}. Install a current Slicer from download.slicer.org and the extension "
            "from its Extension Manager.")


def requirementLines(path: str = REQUIREMENTS) -> list[str]:
    """The requirement specifiers of a requirements.txt (comments, blank lines and pip options left out)."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith("-")]


def distributionName(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]


def importName(requirement: str) -> str:
    """``scikit-image>=0.21`` -> ``skimage``: the module to look for, without importing it."""
    distribution = distributionName(requirement)
    return IMPORT_NAMES.get(distribution, distribution.lower().replace("-", "_"))


def missingRequirements(requirements: Optional[list[str]] = None) -> list[str]:
    """The requirements (default: Resources/requirements.txt) that are not installed, checked without
    importing them."""
    wanted = requirementLines() if requirements is None else requirements
    return [line for line in wanted if not importlib.util.find_spec(importName(line))]


def installedVersions() -> dict[str, str]:
    """Every distribution this Python has, name -> version (the first found on sys.path wins, as for imports)."""
    versions: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.lower() not in {key.lower() for key in versions}:
            versions[name] = distribution.version
    return versions


def constraintsText(installed: dict[str, str]) -> str:
    """pip constraints pinning each installed distribution at its version: pip may add, never replace."""
    lines = ["# What this Python already has (RadiomicsWorkshopSlicerLib.dependencies): pip may not change it."]
    lines += [f"{name}=={version}" for name, version in sorted(installed.items(), key=lambda item: item[0].lower())]
    return "\n".join(lines) + "\n"


def pipInstallArguments(requirements: list[str], constraintsFile: str) -> list[str]:
    """The arguments after ``pip install``: ``slicer.util.pip_install(list)`` prepends "install" itself
    (Slicer 5.10: util.py ``args = "install", *requirements``; 5.12: through slicer.packaging.pip_install)."""
    arguments = ["--only-binary", ":all:"]
    for name in PURE_PYTHON_SOURCES:
        arguments += ["--no-binary", name]
    return arguments + ["-c", constraintsFile, *requirements]


def install(pipInstall: Callable[[list[str]], object], requirements: Optional[list[str]] = None) -> list[str]:
    """Install the missing ones of ``requirements`` (default: Resources/requirements.txt) with
    ``pipInstall(arguments)``; returns what was missing.

    In Slicer ``pipInstall`` is ``slicer.util.pip_install``; the test lane runs ``python -m pip install``.
    The constraints are read from this Python at the moment of installing."""
    missing = missingRequirements(requirements)
    if not missing:
        return []
    with tempfile.TemporaryDirectory(prefix="RadiomicsWorkshop-pip-") as folder:
        constraintsFile = os.path.join(folder, "constraints.txt")
        with open(constraintsFile, "w", encoding="utf-8") as handle:
            handle.write(constraintsText(installedVersions()))
        pipInstall(pipInstallArguments(missing, constraintsFile))
    importlib.invalidate_caches()
    return missing


def pyradiomicsProblem() -> Optional[str]:
    """None when PyRadiomics can be imported, else what to do (it is never pip-installed here)."""
    if importlib.util.find_spec("radiomics"):
        return None
    return ("PyRadiomics is not in Slicer's Python. It ships with the Radiomics Workshop extension: install (or "
            "reinstall) the extension from the Extension Manager and restart Slicer. Running the module from a "
            "source checkout: build it with the extension's recipe, "
            "PythonSlicer SuperBuild/pyradiomics_recipe.py fetch DIR (it prints the source folder), then "
            "PythonSlicer SuperBuild/pyradiomics_recipe.py build SOURCE_FOLDER --prefix PREFIX "
            "(needs a C compiler), and add PREFIX's site-packages to Slicer's Python path.")
