"""Shared fixtures: where the real data lies.

The PyRadiomics sample cases come from PyRadiomics' source distribution
(`make sample-data` fetches it with pip); the IBSI phantom from ../shared.
A missing data folder is an error, not a skip: the tests exist to run on it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "RadiomicsWorkshop"))

# Under pytest-xdist every worker runs on its share of the cores, and so does every command it starts: the
# default of --jobs (RADIOMICS_WORKSHOP_JOBS, io/threads.py) and the jobs of in-process calls (JOBS). Two
# workers each training with torch on both cores of this machine took twice the CPU time of one thread each.
# Tests about parallelism pass their own --jobs.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
JOBS = max(1, len(os.sched_getaffinity(0)) // _WORKERS)
if _WORKERS > 1:
    os.environ.setdefault("RADIOMICS_WORKSHOP_JOBS", str(JOBS))


@pytest.fixture(autouse=True)
def _worker_share_of_the_cores():
    """In-process work (a network trained here, N4 on an image) on this worker's share of the cores too."""
    if _WORKERS > 1:
        import SimpleITK as sitk
        from threadpoolctl import threadpool_limits

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(JOBS)
        threadpool_limits(limits=JOBS)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(JOBS)
    yield

SAMPLE_CASES = ["brain1", "brain2", "breast1", "lung1", "lung2"]


def sample_data_dir() -> Path:
    from RadiomicsWorkshopLib.examples.sampledata import default_data_dir, has_sample_data

    folder = default_data_dir()
    if not has_sample_data(folder):
        pytest.fail(f"PyRadiomics sample data not found in {folder}: run `make sample-data` "
                    "(or set RADIOMICS_WORKSHOP_DATA)", pytrace=False)
    return folder


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return sample_data_dir()


@pytest.fixture(scope="session")
def sample_case(data_dir):
    def paths(name: str) -> tuple[Path, Path]:
        return data_dir / f"{name}_image.nrrd", data_dir / f"{name}_label.nrrd"
    return paths
