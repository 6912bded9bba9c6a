"""The IBSI digital phantom as arrays and the comparison of our values with its reference values,
for the tests of the IBSI families PyRadiomics lacks."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import SimpleITK as sitk
from RadiomicsWorkshopLib.features.ibsi import reference as ibsi


def phantom_arrays() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """The phantom's intensities (z, y, x; its grey levels are 1..6 already), ROI mask and spacing (z, y, x)."""
    nifti = ibsi.default_reference_dir() / "digital_phantom" / "nifti"
    image = sitk.ReadImage(str(nifti / "image" / "phantom.nii.gz"))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(nifti / "mask" / "mask.nii.gz"))) > 0
    return sitk.GetArrayFromImage(image).astype(float), mask, image.GetSpacing()[::-1]


def reference_rows(select: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    reference = ibsi.load_reference(ibsi.default_reference_dir())
    return reference[select(reference)]


def misses(rows: pd.DataFrame, value_of: Callable[[object], float]) -> list[tuple]:
    """The reference rows our value (``value_of(row)``) does not reproduce within the IBSI tolerance."""
    out = []
    for row in rows.itertuples():
        value = value_of(row)
        if not abs(value - row.value) <= ibsi.tolerance_for(float(row.value), float(row.tolerance)) + 1e-12:
            out.append((row.ibsi_id, row.feature, row.aggregation, row.value, value))
    return out


def texture_family_misses(family: str, expected_rows: int, compute: Callable[..., dict[str, float]],
                          names: dict[str, str]) -> list[tuple]:
    """A texture family computed for the 2D, 2.5D and 3D aggregations on the phantom (grey levels 1..6)
    against its reference rows; ``names`` maps the IBSI feature names to ours."""
    values, mask, _ = phantom_arrays()
    rows = reference_rows(lambda r: r["family"] == family)
    assert len(rows) == expected_rows, f"{family}: {len(rows)} reference rows"
    ours = {aggregation: compute(values.astype(int), mask, n_levels=6, aggregation=aggregation)
            for aggregation in ("2D", "2.5D", "3D")}
    return misses(rows, lambda row: ours[row.aggregation][names[row.feature]])
