"""Slicer 5.10's Python for the Slicer-Python lane (Testing/slicer_module/test_slicer_python_lane.py), built once.

Usage: python Testing/tools/slicer_lane.py   (``make test`` runs it before the suite: building an environment is
set-up, like ``.venv``; the lane's tests build it themselves when it is missing or stale).

A Python 3.12 virtual environment gets exactly the packages Slicer 5.10.0 installs into its Python, at Slicer's
pinned versions (Testing/data/slicer-5.10.0-python-packages.txt, read from Slicer's SuperBuild); then, as in
Slicer, the module's own installation runs there (``RadiomicsWorkshopSlicerLib.dependencies.install``, with
``pip install`` standing in for ``slicer.util.pip_install``), and PyRadiomics is built by the extension's recipe
(SuperBuild/pyradiomics_recipe.py) into an extension python-packages folder (``--prefix``). What the lane held
before and after is kept in ``state.json`` for the tests to check. The environment lives in
.cache/slicer-python-5.10 and is rebuilt whenever one of its inputs changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class LaneError(RuntimeError):
    """The lane could not be built or a command in it failed."""


MODULE_DIR = REPO / "RadiomicsWorkshop"
PINS = REPO / "Testing" / "data" / "slicer-5.10.0-python-packages.txt"
RECIPE = REPO / "SuperBuild" / "pyradiomics_recipe.py"
LANE = REPO / ".cache" / "slicer-python-5.10"
INPUTS = [PINS, RECIPE, REPO / "SuperBuild" / "pyradiomics-source.json", MODULE_DIR / "Resources" / "requirements.txt",
          MODULE_DIR / "RadiomicsWorkshopSlicerLib" / "dependencies.py", Path(__file__)]
TEST_TOOLS = ["pytest>=7.4", "pytest-timeout>=2.2"]  # for running the baseline test there, added after the checks

# What the lane's Python reports of itself: every distribution and its version, the Python version.
REPORT = ("import importlib.metadata as m, json, sys; print(json.dumps({'python': list(sys.version_info[:2]), "
          "'packages': {d.metadata['Name'].lower(): d.version for d in m.distributions()}}))")
INSTALL = ("import subprocess, sys; sys.path.insert(0, sys.argv[1]); "
           "from RadiomicsWorkshopSlicerLib import dependencies; "
           "print(dependencies.install(lambda args: subprocess.run([sys.executable, '-m', 'pip', 'install', "
           "'--disable-pip-version-check', *args], check=True)))")


def pins() -> dict[str, str]:
    lines = [line.split("#", 1)[0].strip() for line in PINS.read_text().splitlines()]
    return {name.lower(): version for name, version in (line.split("==") for line in lines if line)}


def python312() -> str:
    """Slicer 5.10's Python version: $SLICER_PYTHON312, else python3.12 on the PATH or in pyenv."""
    candidates = [os.environ.get("SLICER_PYTHON312"), shutil.which("python3.12")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p / "bin" / "python3.12") for p in pyenv.glob("3.12*"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys, venv; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True).returncode == 0:
            return candidate
    raise LaneError("the Slicer-Python lane needs Python 3.12 (Slicer 5.10's): install it (pyenv install 3.12, or "
                    "your system's python3.12 with venv) or set SLICER_PYTHON312")


def run(*args, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; a non-zero exit raises LaneError with the command and the end of its output."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, **kwargs)
    if done.returncode != 0:
        raise LaneError(f"{' '.join(map(str, args))[:300]}\nexit {done.returncode}\n{done.stdout[-3000:]}\n"
                        f"{done.stderr[-3000:]}")
    return done


class Lane:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "venv" / "bin" / "python"
        self.extension = root / "extension"  # the extension's python-packages folder (pip --prefix)
        self.site = self.extension / "lib" / "python3.12" / "site-packages"

    def env(self) -> dict[str, str]:
        """As Slicer runs the core: the module folder (RadiomicsWorkshopLib) and the extension's site-packages
        on the path (RadiomicsWorkshop.py coreEnvironment; the Extension Manager's Python paths)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PYTHONPATH"] = os.pathsep.join([str(MODULE_DIR), str(self.site)])
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def report(self, with_extension: bool = True) -> dict:
        env = self.env() if with_extension else {**self.env(), "PYTHONPATH": ""}
        return json.loads(run(self.python, "-c", REPORT, env=env).stdout)

    def core(self, *args: str, with_extension: bool = True) -> subprocess.CompletedProcess:
        """The core's CLI as the module runs it; ``with_extension=False``: without the extension's packages
        (PyRadiomics), as in a Slicer where it is not installed."""
        env = self.env() if with_extension else {**self.env(), "PYTHONPATH": str(MODULE_DIR)}
        return run(self.python, "-m", "RadiomicsWorkshopLib", *args, env=env, cwd=self.root)


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(root: Path) -> dict:
    """Slicer 5.10's Python, then the module's installation, then PyRadiomics by the recipe; returns the
    package versions before and after."""
    lane = Lane(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    run(python312(), "-m", "venv", root / "venv")
    pip = [lane.python, "-m", "pip", "install", "--disable-pip-version-check", "--only-binary", ":all:"]
    run(*pip, [line for line in PINS.read_text().splitlines() if line.startswith("pip==")][0])
    run(*pip, "-r", PINS)
    before = lane.report(with_extension=False)
    installed = run(lane.python, "-c", INSTALL, MODULE_DIR, env=lane.env()).stdout.strip().splitlines()[-1]
    source = run(lane.python, RECIPE, "fetch", root / "source", env=lane.env()).stdout.strip().splitlines()[-1]
    build_log = run(lane.python, RECIPE, "build", source, "--prefix", lane.extension, env=lane.env()).stdout
    after = lane.report()
    run(lane.python, "-m", "pip", "install", "--disable-pip-version-check", *TEST_TOOLS)
    state = {"inputs": inputs_digest(), "before": before, "after": after, "installed": installed,
             "recipe_log": build_log[:1000] + "\n...\n" + build_log[-1000:]}
    (root / "state.json").write_text(json.dumps(state, indent=1))
    return state


def ensure(root: Path = LANE) -> tuple[Lane, dict]:
    """The lane and its state, built first when missing or built from other inputs."""
    state_file = root / "state.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else None
    if state is None or state.get("inputs") != inputs_digest() or not Lane(root).python.exists():
        state = build(root)
    return Lane(root), state


if __name__ == "__main__":
    try:
        lane, state = ensure()
    except LaneError as exc:
        sys.exit(f"slicer_lane: {exc}")
    print(f"Slicer-Python lane ready: {lane.python} (Python {'.'.join(map(str, state['before']['python']))}, "
          f"{len(state['after']['packages'])} packages)")
