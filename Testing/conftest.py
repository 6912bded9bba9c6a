"""Shared fixtures: where the real data lies.

The PyRadiomics sample cases come from PyRadiomics' source distribution
(`make sample-data` fetches it with pip); the IBSI phantom from ../shared.
A missing data folder is an error, not a skip: the tests exist to run on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "RadiomicsWorkshop"))

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
