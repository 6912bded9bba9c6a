"""The core's layering holds: import-linter's contracts in pyproject.toml ([tool.importlinter]).

Data flows one way -- command line -> examples -> batch runner -> domain packages -> I/O, and the same inside
each package -- every module of the core sits in one of those layers (``exhaustive``), and no package's
modules import each other in a loop. The test runs ``lint-imports`` on the core as it is, then on copies with
an upward import, with the import loop the core once had (extraction -> the preprocessing step -> the runner
-> extraction), with a loop inside one package and with a module that has no layer, which must be refused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshopLib"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(package_parent: Path | None = None) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.is_file():
        pytest.fail("lint-imports (import-linter, requirements-dev.txt) is not installed", pytrace=False)
    env = None
    if package_parent is not None:  # analyse that copy of the core instead of the installed one
        import os

        env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, env=env)


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    shutil.copytree(CORE, tmp_path / "RadiomicsWorkshopLib", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "RadiomicsWorkshopLib" / f"{module.replace('.', '/')}.py", "a", encoding="utf-8") as handle:
        handle.write(f"\n{line}\n")
    return tmp_path


def test_the_contracts_hold():
    done = lint()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and " KEPT" in done.stdout


@pytest.mark.parametrize("module,line,culprit", [
    ("io.errors", "from .. import cli", "RadiomicsWorkshopLib.io is not allowed to import RadiomicsWorkshopLib.cli"),
    ("features.extraction", "from ..batch.preprocess import preprocess_case",
     "RadiomicsWorkshopLib.features.extraction -> RadiomicsWorkshopLib.batch.preprocess"),
    ("modeling.metrics", "from .workflow import train_model",
     "RadiomicsWorkshopLib.modeling.metrics is not allowed to import RadiomicsWorkshopLib.modeling.workflow"),
    ("deep.names", "from .embeddings import BACKBONES",
     "No import loop between the modules or packages of any package BROKEN"),
], ids=["upward import", "the old import loop", "upward inside a package", "loop inside a package"])
def test_an_upward_import_or_a_loop_is_refused(tmp_path, module, line, culprit):
    done = lint(_copy_with(tmp_path, module, line))
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-2000:]
    assert culprit in " ".join(done.stdout.split()), done.stdout[-2000:]  # its report wraps lines


def test_a_new_module_must_be_given_a_layer(tmp_path):
    copy = _copy_with(tmp_path, "io.errors", "")
    (copy / "RadiomicsWorkshopLib" / "stray.py").write_text("from .io import errors\n")
    done = lint(copy)
    assert done.returncode != 0 and "stray" in done.stdout, done.stdout[-2000:]
