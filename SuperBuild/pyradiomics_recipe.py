"""Build PyRadiomics for Slicer's Python: the one recipe the extension ships and CI runs.

PyPI's PyRadiomics 3.0.1 source package (pyradiomics-source.json: URL and SHA-256) does not
build on Python 3.12, Slicer's Python since 5.10: its bundled versioneer.py (0.17) calls
``configparser.SafeConfigParser`` and ``ConfigParser.readfp``, both removed in Python 3.12
(pyradiomics issues #886, #949). ``patch`` replaces them with ``ConfigParser`` and ``read_file``,
which behave the same here (they exist since Python 3.2). Nothing else is changed.

Used by SuperBuild/External_python-pyradiomics.cmake on Slicer's extension build servers
(``build`` after CMake downloaded and checked the archive) and by the Slicer-Python test lane
(``fetch`` then ``build``, Testing/slicer_module/test_slicer_python_lane.py). Standard library only.

    python pyradiomics_recipe.py fetch DEST_DIR                 -> the unpacked source folder (as CMake's URL step)
    python pyradiomics_recipe.py build SOURCE_DIR --prefix DIR  -> patched, built and installed under DIR
    python pyradiomics_recipe.py build SOURCE_DIR --target DIR  -> the same, DIR being a site-packages folder
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

SOURCE = json.loads((Path(__file__).resolve().parent / "pyradiomics-source.json").read_text())

# (file, text of PyRadiomics 3.0.1, replacement): the Python 3.12 fix.
PY312_FIX = [
    ("versioneer.py", "parser = configparser.SafeConfigParser()", "parser = configparser.ConfigParser()"),
    ("versioneer.py", "parser.readfp(f)", "parser.read_file(f)"),
]


def patch(source: Path) -> list[str]:
    """Apply the Python 3.12 fix in place (again on a patched folder: nothing to do). Returns what changed."""
    changed = []
    for name, old, new in PY312_FIX:
        path = source / name
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
            changed.append(f"{name}: {old} -> {new}")
        elif new not in text:
            raise SystemExit(f"{path}: neither {old!r} nor {new!r} found: not PyRadiomics {SOURCE['version']}'s source")
    return changed


def fetch(dest: Path) -> Path:
    """Download the source package, check its SHA-256, unpack it into ``dest``; returns the source folder."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / Path(SOURCE["url"]).name
        urllib.request.urlretrieve(SOURCE["url"], archive)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SOURCE["sha256"]:
            raise SystemExit(f"{SOURCE['url']}: SHA-256 {digest}, expected {SOURCE['sha256']}")
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    return dest / f"pyradiomics-{SOURCE['version']}"


def pip_install_command(source: Path, prefix: str | None = None, target: str | None = None) -> list[str]:
    """pip without build isolation (the build imports numpy: the numpy of the Python that runs it, Slicer's)
    and without dependencies (PyWavelets, pykwalify and six come as wheels at run time, under the constraints
    of what Slicer has: Resources/requirements.txt)."""
    where = ["--prefix", prefix] if prefix else ["--target", target] if target else []
    return [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-warn-script-location",
            "--disable-pip-version-check", *where, str(source)]


def build(source: Path, prefix: str | None = None, target: str | None = None) -> None:
    for line in patch(source):
        print(f"patched {line}", flush=True)
    subprocess.run(pip_install_command(source, prefix, target), check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetching = commands.add_parser("fetch", help="download, check and unpack the source package")
    fetching.add_argument("dest", type=Path)
    building = commands.add_parser("build", help="patch, build and install a source folder")
    building.add_argument("source", type=Path)
    where = building.add_mutually_exclusive_group(required=True)
    where.add_argument("--prefix")
    where.add_argument("--target")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch(args.dest))
    else:
        build(args.source, args.prefix, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
