"""Shared by the benchmarks: where the code and the sample data are, and a timer.

Benchmarks print ratios against a baseline measured in the same run (the
machine is shared and noisy); absolute times are information only.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "RadiomicsWorkshop"))
CASES = ["brain1", "brain2", "breast1", "lung1", "lung2"]


def data_dir() -> Path:
    from RadiomicsWorkshopLib.examples.sampledata import default_data_dir, has_sample_data

    folder = default_data_dir()
    if not has_sample_data(folder):
        sys.exit(f"sample data not found in {folder}: run `make sample-data`")
    return folder


def case_paths(name: str) -> tuple[Path, Path]:
    folder = data_dir()
    return folder / f"{name}_image.nrrd", folder / f"{name}_label.nrrd"


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values) -> float:
    return statistics.median(values)


def write_repeated_manifest(path: Path, cases: int) -> Path:
    """A manifest of ``cases`` rows cycling through the five sample cases (distinct case ids)."""
    lines = ["case_id,image,mask"]
    for i in range(cases):
        image, mask = case_paths(CASES[i % len(CASES)])
        lines.append(f"case{i:02d},{image},{mask}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_extract(manifest: Path, out: Path, preset: str, *extra: str) -> None:
    """``radiomics-workshop extract`` on a manifest, as a user runs it (a separate process)."""
    import subprocess

    subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", "extract", "--manifest", str(manifest),
                    "--preset", preset, "--out", str(out), "--progress", "none", *extra],
                   check=True, capture_output=True)
