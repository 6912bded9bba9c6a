"""``radiomics-workshop ibsi-check``: this installation against the IBSI-1 and IBSI-2 reference values.

Every reference data set found under the IBSI data folder is extracted with its shipped preset (and recipe)
and compared with its consensus values, family by family: the digital phantom (preset ``IBSI``) and the CT
phantom's configurations A, B and C (presets and recipes ``IBSI_CT_A`` ...), and D and E where the reference
file holds their values (the IBSI data shipped here do not; the reference manual's tables do). The IBSI-2
data folder, where found, adds phase 1 (every reference response map within 1% of its range) and phase 2
(the 18 filtered configurations: ``ibsi2.phase1``, ``ibsi2_phase2``). The counts a correct installation
reproduces are shipped beside this module (``ibsi/compliance_expected.csv``, held against the measurement
by Testing/features/ibsi/test_ibsi_ct_phantom.py and Testing/features/ibsi2/); a family reproducing fewer
is a regression.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..io.errors import InputError
from .extraction import extract_case_result
from .ibsi.configurations import CONFIGURATIONS, IBSI2_PHASE1, IBSI2_PREFIX, Configuration
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




def ibsi2_names(ibsi2_dir: Path | None, ct_dir: Path) -> list[str]:
    """The IBSI-2 checks whose data are found: phase 1 (phantoms and maps), phase 2 (values and CT phantom)."""
    from .ibsi2.phase1 import reference_path
    from .ibsi2_phase2 import configuration_ids

    if ibsi2_dir is None or not ibsi2_dir.is_dir():
        return []
    names = [IBSI2_PHASE1] if reference_path(ibsi2_dir, "1_a_1").is_file() else []
    if (ct_dir / "nifti" / "image" / "phantom.nii.gz").is_file() and (ibsi2_dir / "reference").is_dir():
        try:
            names += [IBSI2_PREFIX + c for c in configuration_ids(ibsi2_dir)]
        except FileNotFoundError:
            pass
    return names


def _ibsi2_values(ibsi2_dir: Path, ct_dir: Path, names: list[str], progress) -> list[pd.DataFrame]:
    """Phase 1 as one row per response map (ours: the deviation as a fraction of the range; tolerance 1%)
    and phase 2 value by value, in the table's columns."""
    from .ibsi2.phase1 import TOLERANCE, run_phase1
    from .ibsi2_phase2 import run_phase2

    found = []
    if IBSI2_PHASE1 in names:
        maps = pd.DataFrame(run_phase1(ibsi2_dir, progress=progress))
        found.append(pd.DataFrame({"configuration": IBSI2_PHASE1, "family": "IBSI-2 response maps",
                                   "feature": maps["test"] + " (" + maps["filter"] + ", " + maps["phantom"] + ")",
                                   "ours": maps["deviation"], "reference": 0.0, "tolerance": TOLERANCE,
                                   "reproduced": maps["passed"], "note": maps["settings"]}))
    phase2 = [n[len(IBSI2_PREFIX):] for n in names if n.startswith(IBSI2_PREFIX) and n != IBSI2_PHASE1]
    if phase2:
        values = run_phase2(ibsi2_dir, ct_dir, phase2, progress=progress)
        found.append(values.assign(configuration=IBSI2_PREFIX + values["configuration"]))
    return found


def run_check(data_dir: str | Path, names: list[str] | None = None, progress=None,
              ibsi2_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the table: configuration, family, reproduced, compared, expected, regressed; every compared value).
    ``ibsi2_dir``: the IBSI-2 data folder (default: ``ibsi2`` beside ``data_dir``), checked where found."""
    data_dir = Path(data_dir)
    ibsi2_dir = Path(ibsi2_dir) if ibsi2_dir else data_dir.parent / "ibsi2"
    todo = [c for c in available(data_dir) if not names or c.name in names]
    ibsi2 = [n for n in ibsi2_names(ibsi2_dir, data_dir / "ct_phantom") if not names or n in names]
    if not todo and not ibsi2:
        raise InputError("no IBSI reference data set found", file=data_dir,
                         hint="give the IBSI data folder (holding digital_phantom/ and ct_phantom/ with their "
                              "reference CSVs) with --data" + (f", and one of {[c.name for c in CONFIGURATIONS]}"
                                                                if names else "")
                              + "; the IBSI-2 data folder (digital_phantom/, reference/) beside it or with --ibsi2-data")
    if progress is not None and todo:
        progress.start(len(todo), f"{len(todo)} IBSI configuration(s)")
    compared = []
    for configuration in todo:
        start = time.monotonic()
        compared.append(compare_configuration(configuration, data_dir))
        if progress is not None:
            progress.advance(f"{configuration.name} ({time.monotonic() - start:.1f} s)")
    if ibsi2:
        compared += _ibsi2_values(ibsi2_dir, data_dir / "ct_phantom", ibsi2, progress)
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
