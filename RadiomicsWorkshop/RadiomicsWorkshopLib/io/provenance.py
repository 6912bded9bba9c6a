"""What a result was made from: library versions and input file hashes."""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path

LIBRARIES = ["pyradiomics", "SimpleITK", "numpy", "PyWavelets", "scipy", "scikit-image", "pandas", "slicerio",
             "torch", "monai"]


def library_versions() -> dict[str, str]:
    from .. import __version__

    versions = {"radiomics-workshop": __version__, "python": sys.version.split()[0],
                "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_digest(path: str | Path | None) -> str:
    """SHA-256 of a file, or of every file of a folder (DICOM series) in name order."""
    if path is None:
        return "none"
    path = Path(path)
    if not path.exists():
        return "missing"
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
