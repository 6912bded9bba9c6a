"""The IBSI preset on the IBSI digital phantom against the IBSI-1 consensus values.

Counts, family by family, how many of the 482 reference values our
extraction reproduces within tolerance. PyRadiomics implements 395 of them and
at its best settings reproduces 393; we must not be below that. The two it
misses are named below with the reason, and checked to still be off so that
the list stays true.
"""

from __future__ import annotations

import pytest

from RadiomicsWorkshopLib import ibsi
from RadiomicsWorkshopLib.extraction import extract_case

KNOWN_MISSES = {
    # PyRadiomics' axis lengths (4 sqrt(eigenvalue) of the covariance of the voxel centres)
    # come out 0.7% below the IBSI consensus on this 74-voxel phantom: 9.24 vs 9.31 +- 0.06,
    # 8.48 vs 8.54 +- 0.05 (the major axis, 11.33 vs 11.4 +- 0.1, just passes).
    ("Morphological features", "Minor axis length"): "PyRadiomics' PCA of voxel coordinates differs from IBSI's",
    ("Morphological features", "Least axis length"): "PyRadiomics' PCA of voxel coordinates differs from IBSI's",
}
EXPECTED_BY_FAMILY = {  # reproduced / implemented, from PyRadiomics' feature set
    "Morphological features": (12, 14),
    "Intensity-based statistical features": (15, 15),
    "Intensity histogram features": (15, 15),
    "Grey level co-occurrence based features": (150, 150),
    "Grey level run length based features": (96, 96),
    "Grey level size zone based features": (48, 48),
    "Neighbourhood grey tone difference based features": (15, 15),
    "Neighbouring grey level dependence based features": (42, 42),
}


@pytest.fixture(scope="module")
def comparison():
    folder = ibsi.default_reference_dir()
    if not (folder / "digital_phantom_reference.csv").is_file():
        pytest.fail(f"IBSI reference data not found in {folder} (set RADIOMICS_WORKSHOP_IBSI_DIR)", pytrace=False)
    phantom = folder / "digital_phantom" / "nifti"
    table = extract_case(phantom / "image" / "phantom.nii.gz", phantom / "mask" / "mask.nii.gz",
                         preset="IBSI", case_id="phantom")
    assert len(table) == 1
    return ibsi.compare_to_reference(table.iloc[0], ibsi.load_reference(folder))


def test_at_least_393_of_482_reference_values(comparison):
    summary = ibsi.summary_by_family(comparison)
    print("\n" + summary.to_string())
    assert len(comparison) == 482
    assert summary.loc["Total", "implemented"] == 395
    assert summary.loc["Total", "reproduced"] >= 393


@pytest.mark.parametrize("family", sorted(EXPECTED_BY_FAMILY))
def test_family_by_family(comparison, family):
    rows = comparison[comparison["family"] == family]
    reproduced, implemented = EXPECTED_BY_FAMILY[family]
    assert int(rows["implemented"].sum()) == implemented
    assert int(rows["reproduced"].sum()) >= reproduced
    for row in rows[rows["implemented"]].itertuples():
        assert row.ours is not None, f"{row.column} missing from the IBSI preset's table"
        if (row.family, row.feature) in KNOWN_MISSES:
            continue
        assert row.reproduced, (f"{row.feature} ({row.aggregation}): ours {row.ours:.5g}, "
                                f"IBSI {row.reference} +- {row.tolerance:.3g} ({row.column})")


def test_known_misses_are_still_missed(comparison):
    for (family, feature), reason in KNOWN_MISSES.items():
        row = comparison[(comparison["family"] == family) & (comparison["feature"] == feature)].iloc[0]
        assert row.implemented and not row.reproduced, f"{feature} is reproduced now: remove it ({reason})"
