"""PyRadiomics' sample cases, fetched on request with pip (never at run time otherwise).

They ship in PyRadiomics' source distribution (``data/``): brain1, brain2,
breast1, lung1, lung2 images and labels, and ``data/baseline/*.csv``,
PyRadiomics' own reference feature values.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..io.errors import InputError
from ..io.locations import REPOSITORY_DIR

CASES = ["brain1", "brain2", "breast1", "lung1", "lung2"]
PYRADIOMICS_SDIST = "pyradiomics==3.0.1"


def default_data_dir() -> Path:
    """``$RADIOMICS_WORKSHOP_DATA``, else ``.cache/sample-data`` of the source checkout (where `make` puts it)."""
    import os

    return Path(os.environ.get("RADIOMICS_WORKSHOP_DATA", REPOSITORY_DIR / ".cache" / "sample-data"))


def has_sample_data(folder: Path) -> bool:
    return all((folder / f"{c}_image.nrrd").is_file() for c in CASES) and (folder / "baseline").is_dir()


def fetch_sample_data(dest: Path) -> Path:
    """Unpack PyRadiomics' ``data/`` folder into ``dest`` (skipped when already there)."""
    if has_sample_data(dest):
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        # --no-build-isolation: pip prepares the sdist's metadata, and PyRadiomics' setup needs numpy.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "--no-binary", ":all:",
               "--quiet", "--dest", tmp, PYRADIOMICS_SDIST]
        done = subprocess.run(cmd, capture_output=True, text=True)
        archives = list(Path(tmp).glob("pyradiomics-*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise InputError(f"pip could not download PyRadiomics' source distribution: {done.stderr.strip()[-500:]}",
                             file=PYRADIOMICS_SDIST, hint="check the connection to PyPI, or unpack the data/ folder "
                                                          "of a pyradiomics-3.0.1.tar.gz by hand")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                parts = Path(member.name).parts
                if len(parts) > 2 and parts[1] == "data" and (member.isfile() or member.isdir()):
                    member.name = str(Path(*parts[2:]))
                    archive.extract(member, dest, filter="data")
    return dest


def write_sample_manifest(folder: Path, manifest: Path) -> Path:
    import os

    manifest.parent.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(folder.resolve(), manifest.resolve().parent))
    lines = ["case_id,image,mask,patient_id"]
    lines += [f"{c},{rel / f'{c}_image.nrrd'},{rel / f'{c}_label.nrrd'},{c}" for c in CASES]
    manifest.write_text("\n".join(lines) + "\n")
    return manifest
