"""IBSI-2 phase 2: the IBSI-1 CT phantom filtered by each configuration's shipped preset, through the
ordinary extraction, against every consensus value (``reference/reference_values.csv``): all of them
reproduced, and ``ibsi/compliance_expected.csv`` says so. The 2D configurations run in the fast tier, the
3D ones (interpolation to 1 mm, then the filter) in the full suite."""

from __future__ import annotations

import pandas as pd
import pytest
from RadiomicsWorkshopLib.features.compliance import expected_counts
from RadiomicsWorkshopLib.features.ibsi.reference import default_reference_dir
from RadiomicsWorkshopLib.features import ibsi2_phase2 as phase2
from RadiomicsWorkshopLib.io.locations import REPOSITORY_DIR

IBSI2 = REPOSITORY_DIR.parent / "shared" / "data" / "ibsi2"
CT = default_reference_dir() / "ct_phantom"
pytestmark = pytest.mark.skipif(not (IBSI2 / phase2.REFERENCE).is_file() or not CT.is_dir(),
                                reason="no IBSI-2 reference values or CT phantom beside the repository")
SLOW_3D = pytest.mark.slow


@pytest.mark.parametrize("configuration", [pytest.param(c, marks=SLOW_3D) if c.endswith("B") else c
                                           for c in phase2.CONFIGURATIONS])
def test_every_consensus_value_reproduced(configuration):
    values = phase2.compare_configuration(configuration, IBSI2, CT)
    reference = phase2.load_phase2_reference(IBSI2)
    assert len(values) == (reference["filter_id"] == configuration).sum() > 0
    missed = values[~values["reproduced"]]
    assert missed.empty, missed[["feature", "ours", "reference", "tolerance"]].to_string()
    expected = expected_counts().set_index("configuration").loc[f"IBSI2-{configuration}"]
    assert (expected["reproduced"], expected["compared"]) == (len(values), len(values))


def test_the_reference_and_the_presets_name_the_same_configurations():
    assert phase2.configuration_ids(IBSI2) == list(phase2.CONFIGURATIONS)
    from RadiomicsWorkshopLib.features.presets import list_presets

    assert {phase2.preset_name(c) for c in phase2.CONFIGURATIONS} <= set(list_presets())


def test_a_moved_consensus_value_is_missed(tmp_path):
    """The comparison can fail: 3.A's mean moved by three tolerances is no longer reproduced."""
    (tmp_path / "reference").mkdir()
    reference = pd.read_csv(IBSI2 / phase2.REFERENCE, sep=";", dtype=str)
    at = (reference["filter_id"] == "3.A") & (reference["feature_tag"] == "stat_mean")
    reference.loc[at, "consensus_value"] = str(float(reference.loc[at, "consensus_value"].iloc[0])
                                               + 3 * float(reference.loc[at, "tolerance"].iloc[0]))
    reference.to_csv(tmp_path / phase2.REFERENCE, sep=";", index=False)
    values = phase2.compare_configuration("3.A", tmp_path, CT).set_index("tag")
    assert not values.loc["stat_mean", "reproduced"] and values.drop("stat_mean")["reproduced"].all()


def test_ibsi_check_reports_the_moved_value_as_a_regression(tmp_path):
    from clitools import cli

    (tmp_path / "reference").mkdir()
    reference = pd.read_csv(IBSI2 / phase2.REFERENCE, sep=";", dtype=str)
    at = (reference["filter_id"] == "3.A") & (reference["feature_tag"] == "stat_mean")
    reference.loc[at, "consensus_value"] = "100"
    reference.to_csv(tmp_path / phase2.REFERENCE, sep=";", index=False)
    done = cli("ibsi-check", "--data", default_reference_dir(), "--ibsi2-data", tmp_path, "--configuration",
               "IBSI2-3.A", "--progress", "none", check=False)
    assert done.returncode == 1, done.stderr
    assert "IBSI2-3.A: 17 / 18 reference values reproduced" in done.stderr and "REGRESSED" in done.stderr
    assert "furthest off: Mean (no aggregation)" in done.stderr, done.stderr
