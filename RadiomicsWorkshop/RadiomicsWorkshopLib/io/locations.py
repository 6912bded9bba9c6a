"""Where the core finds its own files, wherever it runs: the source tree, a Slicer install or a pip install.

In the source tree and in Slicer the core sits in the module folder (``RadiomicsWorkshop/RadiomicsWorkshopLib``)
beside ``Resources/``; a pip install carries the same files inside the package (pyproject.toml maps
``Resources/Presets`` and ``Resources/Recipes`` to ``RadiomicsWorkshopLib/preset_files`` and ``recipe_files``).
"""

from __future__ import annotations

from pathlib import Path

#: The core package's folder (``RadiomicsWorkshopLib``).
CORE_DIR = Path(__file__).resolve().parents[1]
#: The Slicer module's folder in the source tree and in Slicer (``RadiomicsWorkshop``).
MODULE_DIR = CORE_DIR.parent
#: The repository's root, in the source tree.
REPOSITORY_DIR = MODULE_DIR.parent


def resource_dirs(kind: str) -> list[Path]:
    """Where files of one kind ("Presets", "Recipes") live: the module's Resources, then the installed package."""
    return [MODULE_DIR / "Resources" / kind, CORE_DIR / f"{kind.lower()[:-1]}_files"]
