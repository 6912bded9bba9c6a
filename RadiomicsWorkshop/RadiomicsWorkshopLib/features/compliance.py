"""``radiomics-workshop ibsi-check``: this installation against the IBSI-1 reference values.

Every reference data set found under the IBSI data folder is extracted with its shipped preset (and recipe)
and compared with its consensus values, family by family: the digital phantom (preset ``IBSI``) and the CT
phantom's configurations A, B and C (presets and recipes ``IBSI_CT_A`` ...), and D and E where the reference
file holds their values (the IBSI data shipped here do not; the reference manual's tables do). The counts a correct
installation reproduces are shipped beside this module (``ibsi/compliance_expected.csv``, held against the
measurement by Testing/features/ibsi/test_ibsi_ct_phantom.py); a family reproducing fewer is a regression.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..io.errors import InputError
from .extraction import extract_case_result
from .ibsi.configurations import CONFIGURATIONS, Configuration
from .ibsi.reference import compare_to_reference, load_reference
from .presets import load_params

EXPECTED_FILE = Path(__file__).resolve().parent / "ibsi" / "compliance_expected.csv"


def expected_counts() -> pd.DataFrame:
    """configuration, family, reproduced, compared: what a correct installation reproduces."""
    return pd.read_csv(EXPECTED_FILE, dtype={"configuration": str})


def compare_configuration(configuration: Configuration, data_dir: Path) -> pd.DataFrame:
    """One configuration extracted and compared with its reference values (``compare_to_reference``'s rows)."""
    from ..preprocessing.recipes import load_recipe

    folder = data_dir / configuration.folder / "nifti"
    params = load_params(preset=configuration.preset)
    if configuration.recipe:
        params.recipe = load_recipe(configuration.recipe)
    result = extract_case_result(folder / "image" / "phantom.nii.gz", folder / "mask" / "mask.nii.gz", params,
                                 case_id=configuration.name)
    reference = load_reference(data_dir / configuration.reference)
    reference = reference[(reference["data"] == configuration.data) & reference["value"].notna()]
    if "consensus" in reference.columns:
        reference = reference[reference["consensus"] != ""]
    row = result.to_frame().iloc[0]
    return compare_to_reference(row, reference=reference.assign(data="dig. phantom")).assign(
        configuration=configuration.name)


def available(data_dir: Path) -> list[Configuration]:
    """The configurations whose image, mask and reference values are in ``data_dir``."""
    data_columns = {}  # reference file -> the values of its "data" column
    for reference in {c.reference for c in CONFIGURATIONS if (data_dir / c.reference).is_file()}:
        data_columns[reference] = set(load_reference(data_dir / reference)["data"])
    return [c for c in CONFIGURATIONS
            if (data_dir / c.folder / "nifti" / "image" / "phantom.nii.gz").is_file()
            and (data_dir / c.folder / "nifti" / "mask" / "mask.nii.gz").is_file()
            and c.data in data_columns.get(c.reference, ())]


def run_check(data_dir: str | Path, names: list[str] | None = None, progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the table: configuration, family, reproduced, compared, expected, regressed; every compared value)."""
    data_dir = Path(data_dir)
    todo = [c for c in available(data_dir) if not names or c.name in names]
    if not todo:
        raise InputError("no IBSI reference data set found", file=data_dir,
                         hint="give the IBSI data folder (holding digital_phantom/ and ct_phantom/ with their "
                              "reference CSVs) with --data" + (f", and one of {[c.name for c in CONFIGURATIONS]}"
                                                                if names else ""))
    if progress is not None:
        progress.start(len(todo), f"{len(todo)} IBSI configuration(s)")
    compared = []
    for configuration in todo:
        start = time.monotonic()
        compared.append(compare_configuration(configuration, data_dir))
        if progress is not None:
            progress.advance(f"{configuration.name} ({time.monotonic() - start:.1f} s)")
    values = pd.concat(compared, ignore_index=True)
    table = (values.groupby(["configuration", "family"], sort=False)["reproduced"].agg(["sum", "count"])
             .rename(columns={"sum": "reproduced", "count": "compared"}).reset_index())
    expected = expected_counts().rename(columns={"reproduced": "expected", "compared": "expected_compared"})
    table = table.merge(expected, on=["configuration", "family"], how="left")
    table["regressed"] = table["expected"].notna() & (table["reproduced"] < table["expected"])
    return table, values


def worst_misses(values: pd.DataFrame, configuration: str, n: int = 3) -> pd.DataFrame:
    """The values of a configuration furthest from their reference, in tolerances."""
    missed = values[(values["configuration"] == configuration) & ~values["reproduced"]].copy()
    missed["off_by_tolerances"] = (missed["ours"] - missed["reference"]).abs() / missed["tolerance"].clip(lower=1e-12)
    return missed.sort_values("off_by_tolerances", ascending=False).head(n)
