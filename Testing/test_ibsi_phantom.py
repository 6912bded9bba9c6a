"""The IBSI preset on the IBSI digital phantom against the IBSI-1 consensus values.

Counts, family by family, how many of the 482 reference values our
extraction (``extract_case(..., preset="IBSI")``) reproduces within tolerance.
PyRadiomics computes 395 of them (``RadiomicsWorkshopLib/data/ibsi_pyradiomics_map.csv``)
and at its best settings reproduces 393; we must not be below that. Every
computed value must be reproduced except the known exceptions named below with
the reason, which are checked to still be off so that the list stays true.
The per-family table in docs/ibsi_phantom.md (and the README) is checked
against the numbers measured here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from RadiomicsWorkshopLib import ibsi
from RadiomicsWorkshopLib.extraction import extract_case
from RadiomicsWorkshopLib.presets import load_params

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ibsi_phantom.md"

#: (IBSI id, aggregation) -> why PyRadiomics misses it. PyRadiomics takes the axis lengths as
#: 4 sqrt(eigenvalue) of the voxel-centre covariance normalised by N; the IBSI consensus matches the
#: sample covariance (N - 1). On the 74-voxel phantom that is sqrt(73/74), 0.7% lower: 9.245 vs
#: 9.31 +- 0.06 and 8.478 vs 8.54 +- 0.05 (with N - 1: 9.308 and 8.536). The major axis
#: (11.325 vs 11.4 +- 0.1) and the ratios (elongation, flatness) stay within tolerance.
KNOWN_EXCEPTIONS = {
    ("P9VJ", None): "Minor axis length: PyRadiomics' covariance uses 1/N, the IBSI consensus 1/(N-1)",
    ("7J51", None): "Least axis length: PyRadiomics' covariance uses 1/N, the IBSI consensus 1/(N-1)",
}
EXPECTED_BY_FAMILY = {  # (reproduced, computed by PyRadiomics)
    "Morphological features": (12, 14),
    "Local intensity features": (0, 0),
    "Intensity-based statistical features": (15, 15),
    "Intensity histogram features": (15, 15),
    "Intensity-volume histogram features": (0, 0),
    "Grey level co-occurrence based features": (150, 150),
    "Grey level run length based features": (96, 96),
    "Grey level size zone based features": (48, 48),
    "Grey level distance zone based features": (0, 0),
    "Neighbourhood grey tone difference based features": (15, 15),
    "Neighbouring grey level dependence based features": (42, 42),
}


@pytest.fixture(scope="module")
def phantom():
    folder = ibsi.default_reference_dir()
    if not (folder / ibsi.REFERENCE_NAME).is_file():
        pytest.fail(f"IBSI reference data not found in {folder} (set RADIOMICS_WORKSHOP_IBSI_DIR)", pytrace=False)
    nifti = folder / "digital_phantom" / "nifti"
    return folder, nifti / "image" / "phantom.nii.gz", nifti / "mask" / "mask.nii.gz"


@pytest.fixture(scope="module")
def table(phantom):
    _, image, mask = phantom
    return extract_case(image, mask, preset="IBSI", case_id="phantom")


@pytest.fixture(scope="module")
def comparison(phantom, table):
    assert len(table) == 1 and list(table.columns[:2]) == ["case_id", "roi"]
    return ibsi.compare_to_reference(table.iloc[0], ibsi.load_reference(phantom[0]))


def _key(row) -> tuple[str | None, str | None]:
    return row.ibsi_id, row.aggregation


def test_map_covers_every_reference_row(phantom):
    reference, mapping = ibsi.load_reference(phantom[0]), ibsi.load_pyradiomics_map()
    assert len(reference) == 482
    assert sorted(map(tuple, mapping[ibsi.KEY].values)) == sorted(map(tuple, reference[ibsi.KEY].values))
    assert (mapping["pyradiomics_feature"] != "").sum() == 395
    assert set(mapping["transform"]) == {"", "minus3"}  # only kurtosis -> excess kurtosis
    assert set(mapping["variant"]) == set(ibsi.VARIANTS) == {""} | set(load_params(preset="IBSI").aggregations)


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


def test_every_computed_value_is_reproduced_but_the_known_exceptions(comparison):
    failures = []
    for row in comparison[comparison["implemented"]].itertuples():
        assert not np.isnan(row.ours), f"{row.column} missing from the IBSI preset's table"
        if not row.reproduced and _key(row) not in KNOWN_EXCEPTIONS:
            failures.append(f"{row.feature} ({row.ibsi_id}, {row.aggregation}): ours {row.ours:.5g}, "
                            f"IBSI {row.reference} +- {row.tolerance:.3g} ({row.column})")
    assert not failures, "\n".join(failures)


def test_known_exceptions_are_still_off(comparison):
    for key, reason in KNOWN_EXCEPTIONS.items():
        rows = [row for row in comparison.itertuples() if _key(row) == key]
        assert len(rows) == 1, f"{key} is not one reference row"
        assert rows[0].implemented and not np.isnan(rows[0].ours), f"{key} is not computed any more ({reason})"
        assert not rows[0].reproduced, f"{key} is reproduced now: remove it from KNOWN_EXCEPTIONS ({reason})"


def test_our_columns_are_pyradiomics_own_values(phantom, table):
    """The preset's main extraction and its whole-volume variants equal plain PyRadiomics on the same settings."""
    from radiomics import featureextractor

    _, image_file, mask_file = phantom
    image, mask = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))
    params = load_params(preset="IBSI")
    runs = {"": params.pyradiomics}
    runs.update({name: spec["pyradiomics"] for name, spec in params.aggregations.items() if not spec["per_slice"]})
    assert set(runs) == {"", "3D-merged", "2p5D-direction-merged", "2p5D-merged"}
    for variant, pyradiomics_params in runs.items():
        result = featureextractor.RadiomicsFeatureExtractor(pyradiomics_params).execute(image, mask)
        for name, value in result.items():
            if name.startswith("diagnostics_"):
                continue
            image_type, rest = name.split("_", 1)
            column = f"{image_type}-{variant}_{rest}" if variant else name
            assert np.isclose(table[column].iloc[0], float(value), rtol=1e-9, atol=1e-12), column


def test_docs_table_is_current(comparison):
    expected = ibsi.summary_markdown(ibsi.summary_by_family(comparison))
    assert DOC.is_file() and expected in DOC.read_text(encoding="utf-8"), (
        f"update the table in {DOC.relative_to(REPO)} (and the README) to:\n{expected}")
