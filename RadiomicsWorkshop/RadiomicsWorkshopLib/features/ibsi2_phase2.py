"""IBSI-2 phase 2 (``ibsi-check``, beside ``compliance``; the filters and phase 1: ``ibsi2/``): the IBSI-1 CT phantom filtered by each of the 18 configurations (1.A ... 9.B; A in each
slice, B in 3D after interpolation to 1 mm), with the 18 intensity statistics of the response map in the
re-segmented ROI against their consensus values (``reference/reference_values.csv`` of the IBSI-2 data).

Each configuration is a shipped preset (``IBSI2_CT_<n><A|B>``; B also the recipe ``IBSI2_CT_B``) run
through the ordinary extraction, so the check covers the code users run. Which column holds which IBSI
statistic is read from the IBSI-1 feature map (``ibsi/feature_map.csv``, matched on the statistic's name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .extraction import extract_case_result
from .ibsi.configurations import IBSI2_CONFIGURATIONS
from .ibsi.reference import TRANSFORMS, load_feature_map, tolerance_for
from .ibsi2.image_types import IMAGE_TYPES, filters
from .presets import load_params

REFERENCE = Path("reference") / "reference_values.csv"
CONFIGURATIONS = IBSI2_CONFIGURATIONS
FAMILY = "Intensity-based statistical features"


def configuration_ids(ibsi2_dir: str | Path) -> list[str]:
    """The configurations with consensus values in the IBSI-2 data folder, in their order (1.A, 1.B, ...)."""
    return list(dict.fromkeys(load_phase2_reference(ibsi2_dir)["filter_id"]))


def load_phase2_reference(ibsi2_dir: str | Path) -> pd.DataFrame:
    path = Path(ibsi2_dir) / REFERENCE
    if not path.is_file():
        raise FileNotFoundError(f"IBSI-2 phase-2 reference values not found: {path}")
    frame = pd.read_csv(path, sep=";", dtype={"filter_id": str})
    return frame.dropna(subset=["consensus_value"])


def preset_name(configuration: str) -> str:
    """'3.B' -> 'IBSI2_CT_3B'."""
    return "IBSI2_CT_" + configuration.replace(".", "")


def statistic_columns() -> dict[str, tuple[str, str]]:
    """The IBSI-2 statistic's name (lower case, as in the reference file) -> (our column's class_feature
    part, transform), from the IBSI-1 feature map."""
    rows = load_feature_map()
    rows = rows[(rows["family"] == FAMILY) & (rows["aggregation"] == "")]
    return {caption.lower(): (column.split("_", 1)[1], transform)
            for caption, column, transform in zip(rows["table_caption"], rows["column"], rows["transform"])}


def image_name(params) -> str:
    """The one image a phase-2 preset makes: 'original' or its IBSI-2 filter's name."""
    image_types = params.pyradiomics.get("imageType") or {"Original": {}}
    names = [f.name for t, custom in image_types.items() if t in IMAGE_TYPES for f in filters(t, custom)]
    return names[0] if names else "original"


def compare_configuration(configuration: str, ibsi2_dir: Path, ct_dir: Path) -> pd.DataFrame:
    """One configuration extracted from the CT phantom and compared value by value."""
    from ..preprocessing.recipes import load_recipe

    params = load_params(preset=preset_name(configuration))
    if configuration.endswith("B"):
        params.recipe = load_recipe("IBSI2_CT_B")
    folder = ct_dir / "nifti"
    result = extract_case_result(folder / "image" / "phantom.nii.gz", folder / "mask" / "mask.nii.gz", params,
                                 case_id=f"IBSI-2 {configuration}")
    row = result.to_frame().iloc[0]
    name, columns = image_name(params), statistic_columns()
    reference = load_phase2_reference(ibsi2_dir)
    rows: list[dict[str, Any]] = []
    for ref in reference[reference["filter_id"] == configuration].itertuples(index=False):
        part, transform = columns[ref.feature.lower()]
        column = f"{name}_{part}"
        ours = TRANSFORMS[transform](float(row[column])) if column in row.index else float("nan")
        tolerance = tolerance_for(float(ref.consensus_value), float(ref.tolerance))
        rows.append({"configuration": configuration, "family": "IBSI-2 phase 2", "feature": ref.feature,
                     "tag": ref.feature_tag, "column": column, "ours": ours, "reference": float(ref.consensus_value),
                     "tolerance": tolerance, "reproduced": abs(ours - float(ref.consensus_value)) <= tolerance})
    return pd.DataFrame(rows)


def run_phase2(ibsi2_dir: str | Path, ct_dir: str | Path, ids: Iterable[str] | None = None,
               progress=None) -> pd.DataFrame:
    """Every compared value of the chosen configurations (default all with consensus values)."""
    ibsi2_dir, ct_dir = Path(ibsi2_dir), Path(ct_dir)
    chosen = [c for c in configuration_ids(ibsi2_dir) if ids is None or c in set(ids)]
    if progress is not None:
        progress.start(len(chosen), f"IBSI-2 phase 2: {len(chosen)} configuration(s)")
    found = []
    for configuration in chosen:
        found.append(compare_configuration(configuration, ibsi2_dir, ct_dir))
        if progress is not None:
            progress.advance(f"IBSI-2 phase 2, {configuration}")
    return pd.concat(found, ignore_index=True)
