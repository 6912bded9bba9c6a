"""The IBSI-1 CT phantom, configurations A, B and C, through the shipped presets and recipes as a user runs them.

``radiomics-workshop extract --preset IBSI_CT_B --preprocess IBSI_CT_B`` and ``ibsi-check`` (all of A, B, C) on the phantom
(``../shared/data/ibsi/ct_phantom``, CC BY-NC: read there, never copied), compared with the consensus values of
``ct_phantom_reference.csv`` by ``ibsi.compare_to_reference``. Counted family by family against the counts
``ibsi-check`` expects (``features/ibsi/compliance_expected.csv``): every reference value with a consensus,
every family, is reproduced (the presets' ``convention: ibsi``: the IBSI's bins, counted from the
re-segmentation bound, and its texture definitions and aggregations, on one discretised ROI). The counts
are exact, so that a regression in any family shows.
"""

from __future__ import annotations

import pandas as pd
import pytest
from clitools import cli
from RadiomicsWorkshopLib.features.compliance import expected_counts
from RadiomicsWorkshopLib.features.ibsi.reference import compare_to_reference, default_reference_dir, load_reference

CT = default_reference_dir() / "ct_phantom" / "nifti"
CT_REFERENCE = default_reference_dir() / "ct_phantom_reference.csv"
#: configuration -> family -> (reproduced, reference values with a consensus): what ibsi-check expects too
EXPECTED = {name: {row.family: (int(row.reproduced), int(row.compared)) for row in rows.itertuples()}
            for name, rows in expected_counts().groupby("configuration", sort=False) if name in ("A", "B", "C")}


@pytest.mark.slow
@pytest.mark.parametrize("config", ["B"])  # A and C: the same presets through ibsi-check, below
def test_ct_phantom_configuration(config, tmp_path):
    if not (CT / "image" / "phantom.nii.gz").is_file():
        pytest.fail(f"the IBSI-1 CT phantom is not in {CT} (see ../shared/data/ibsi/README.md)", pytrace=False)
    preprocess = ["--preprocess", f"IBSI_CT_{config}"] if config != "A" else []
    cli("extract", "--image", CT / "image" / "phantom.nii.gz", "--mask", CT / "mask" / "mask.nii.gz",
        "--preset", f"IBSI_CT_{config}", *preprocess, "--case-id", "PAT1", "--jobs", 1,
        "--out", tmp_path / "features.csv", "--progress", "none")
    row = pd.read_csv(tmp_path / "features.csv").iloc[0]
    reference = load_reference(CT_REFERENCE)
    reference = reference[(reference["data"] == f"config. {config}") & reference["value"].notna()
                          & (reference["consensus"] != "")]
    compared = compare_to_reference(row, reference=reference.assign(data="dig. phantom"))
    counts = compared.groupby("family")["reproduced"].agg(["sum", "count"])
    measured = {family: (int(r["sum"]), int(r["count"])) for family, r in counts.iterrows()}
    missed = compared[~compared["reproduced"]]
    assert missed.empty, missed[["family", "feature", "aggregation", "reference", "tolerance", "ours"]].to_string()
    assert measured == EXPECTED[config], {f: (measured.get(f), e) for f, e in EXPECTED[config].items()
                                          if measured.get(f) != e}


def _markdown(expected: dict) -> str:
    """README's table of the CT configurations, rendered from EXPECTED."""
    configs = sorted(expected)
    lines = []
    for family in expected[configs[0]]:
        lines.append(f"| {family} | " + " | ".join(f"{expected[c][family][0]} / {expected[c][family][1]}"
                                                  for c in configs) + " |")
    totals = [(sum(v[0] for v in expected[c].values()), sum(v[1] for v in expected[c].values())) for c in configs]
    lines.append("| **Total** | " + " | ".join(f"**{done} / {of}**" for done, of in totals) + " |")
    return "\n".join(lines)


@pytest.mark.parametrize("doc", ["README.md", "docs/ibsi_phantom.md"])
def test_the_readme_table_is_the_measured_one(doc):
    """README's CT table is EXPECTED, which test_ct_phantom_configuration holds against the measurement."""
    from conftest import REPO

    table = _markdown(EXPECTED)
    assert table in (REPO / doc).read_text(encoding="utf-8"), f"update the CT phantom table in {doc} to:\n{table}"


@pytest.mark.slow
def test_ibsi_check_reproduces_every_configuration_and_reports_a_regression(tmp_path):
    data = default_reference_dir()
    done = cli("ibsi-check", "--data", data, "--out", tmp_path / "check.csv", "--progress", "none")
    table = pd.read_csv(tmp_path / "check.csv")
    expected = expected_counts()
    expected = expected[expected["configuration"].isin(table["configuration"])]  # D, E: no values here
    ibsi2 = {"IBSI2-phase1"} | {f"IBSI2-{n}.{d}" for n in range(1, 10) for d in "AB"}  # the IBSI-2 folder beside it
    assert set(table["configuration"]) == {"digital phantom", "A", "B", "C"} | ibsi2
    counts = ["reproduced", "compared"]
    pd.testing.assert_frame_equal(table.set_index(["configuration", "family"])[counts].sort_index(),
                                  expected.set_index(["configuration", "family"])[counts].sort_index(),
                                  check_dtype=False)
    assert not table["regressed"].any() and "digital phantom: 482 / 482" in done.stderr
    assert (table["reproduced"] == table["compared"]).all(), table
    assert (tmp_path / "check.values.csv").is_file()
    # A reference value moved (configuration A's mesh volume, by 10%): the family regresses, the exit says so.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "ct_phantom").symlink_to(data / "ct_phantom")  # the CC BY-NC phantom is linked, never copied
    reference = pd.read_csv(data / "ct_phantom_reference.csv", keep_default_na=False, dtype=str)
    at = (reference["data"] == "config. A") & (reference["ibsi_id"] == "RNU0")
    reference.loc[at, "value"] = str(1.1 * float(reference.loc[at, "value"].iloc[0]))
    reference.to_csv(moved / "ct_phantom_reference.csv", index=False)
    done = cli("ibsi-check", "--data", moved, "--configuration", "A", "--progress", "none", check=False)
    assert done.returncode == 1, done.stderr
    assert "A Morphological features (24 < 25)" in done.stderr and "REGRESSED" in done.stderr, done.stderr
    # nothing to check: a clear error
    done = cli("ibsi-check", "--data", tmp_path / "empty", "--progress", "none", check=False)
    assert done.returncode == 2 and "no IBSI reference data set found" in done.stderr, done.stderr
