"""IBSI-1 reference values and how our feature columns map onto them.

The mapping is data: ``data/ibsi_pyradiomics_map.csv`` has one row per IBSI
digital-phantom reference value (keyed by family, feature, table caption and
texture aggregation, with the IBSI id), the PyRadiomics feature that computes
it (as PyRadiomics names it, ``original_glcm_JointAverage``), the ``variant``
of the IBSI preset that computes it (``VARIANTS``; empty: the preset's main
extraction), our table's ``column``, a ``transform`` where PyRadiomics uses
another convention (only ``minus3``: kurtosis -> IBSI excess kurtosis) and a
``note``. Values PyRadiomics does not compute have no PyRadiomics feature and
say why in the note.

``compare_to_reference`` checks one feature row (the IBSI preset's output on
the phantom) against the consensus values, so that the test, the docs and the
README take their numbers from one place.

Tolerances: the reference table gives one for the morphological features; the
others have none (the phantom's values are exact, given to 3 significant
digits), and count as reproduced when ours rounds to the same 3 significant
digits (within half a unit of the third significant digit).

No Slicer, Qt or VTK here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

MAP_FILE = Path(__file__).resolve().parent / "data" / "ibsi_pyradiomics_map.csv"
REFERENCE_NAME = "digital_phantom_reference.csv"
#: Columns that identify a reference row (IBSI ids alone do not: the reference table repeats 1PR8 and
#: the intensity-volume histogram ids, and lacks the id of GLSZM small zone emphasis).
KEY = ["family", "feature", "table_caption", "aggregation"]
MAP_COLUMNS = KEY + ["ibsi_id", "pyradiomics_feature", "variant", "column", "transform", "note"]

#: Variants of the IBSI preset (its ``workshop: aggregations``) and the IBSI aggregations they give.
VARIANTS = {
    "": ("3D, averaged (GLCM, GLRLM); 3D (GLSZM, NGTDM, NGLDM)",
         "the preset's main extraction: 13 directions, features per direction averaged (GLCM, GLRLM)"),
    "3D-merged": ("3D, merged", "weightingNorm: no_weighting (the 13 direction matrices summed into one)"),
    "2p5D-direction-merged": ("2.5D, direction-merged (GLCM, GLRLM); 2.5D (GLSZM, NGTDM, NGLDM)",
                              "force2D: true, force2Ddimension: 0 (in-plane neighbours only, all slices in "
                              "one matrix; GLCM/GLRLM: one per direction, features averaged over the 4)"),
    "2p5D-merged": ("2.5D, merged", "force2D and weightingNorm: no_weighting (one matrix over slices and directions)"),
    "2D-averaged": ("2D, averaged (GLCM, GLRLM); 2D (GLSZM, NGTDM, NGLDM)",
                    "force2D, each slice extracted on its own, features averaged over slices"),
    "2D-slice-merged": ("2D, slice-merged", "force2D and weightingNorm: no_weighting per slice, "
                        "features averaged over slices"),
}
TRANSFORMS = {"": lambda v: v, "minus3": lambda v: v - 3.0}


def default_reference_dir() -> Path:
    """``$RADIOMICS_WORKSHOP_IBSI_DIR``, else ``shared/data/ibsi`` beside the repository (``../shared``)."""
    env = os.environ.get("RADIOMICS_WORKSHOP_IBSI_DIR")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]  # RadiomicsWorkshop/RadiomicsWorkshopLib/ibsi.py
    return repo_root.parent / "shared" / "data" / "ibsi"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype=str, encoding="utf-8")


def load_reference(path: str | Path | None = None) -> pd.DataFrame:
    """The IBSI-1 digital-phantom reference values (482 rows); ``path``: the CSV or the folder holding it."""
    path = Path(path) if path else default_reference_dir()
    if path.is_dir():
        path = path / REFERENCE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"IBSI reference values not found: {path} (set RADIOMICS_WORKSHOP_IBSI_DIR)")
    frame = _read(path)
    for name in ("value", "tolerance"):
        frame[name] = pd.to_numeric(frame[name].replace("", None), errors="raise").astype(float)
    return frame


def load_pyradiomics_map(path: str | Path | None = None) -> pd.DataFrame:
    """The mapping of IBSI reference rows onto PyRadiomics features (``data/ibsi_pyradiomics_map.csv``)."""
    frame = _read(Path(path) if path else MAP_FILE)
    missing = [c for c in MAP_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"IBSI map lacks column(s) {missing}")
    if frame.duplicated(KEY).any():
        raise ValueError(f"IBSI map repeats rows: {frame[frame.duplicated(KEY)][KEY].values.tolist()}")
    for row in frame.itertuples(index=False):
        if row.transform not in TRANSFORMS or row.variant not in VARIANTS:
            raise ValueError(f"IBSI map, {row.feature} ({row.aggregation}): unknown transform or variant")
        if row.pyradiomics_feature:
            image_type, rest = row.pyradiomics_feature.split("_", 1)
            expected = f"{image_type}-{row.variant}_{rest}" if row.variant else row.pyradiomics_feature
            if row.column != expected:
                raise ValueError(f"IBSI map, {row.feature} ({row.aggregation}): column {row.column!r}, "
                                 f"expected {expected!r}")
        elif row.column or row.transform or not row.note:
            raise ValueError(f"IBSI map, {row.feature} ({row.aggregation}): no PyRadiomics feature, "
                             "so no column or transform, and a note saying why")
    return frame


def tolerance_for(reference: float, tolerance: float) -> float:
    """The stated tolerance, else half a unit of the reference's third significant digit."""
    if not math.isnan(tolerance):
        return tolerance
    if reference == 0:
        return 5e-4
    return 0.5 * 10 ** (math.floor(math.log10(abs(reference))) - 2)


def compare_to_reference(features: Mapping[str, float] | pd.Series, reference: pd.DataFrame | None = None,
                         mapping: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per IBSI reference value: the reference, its tolerance, ours, whether it is reproduced.

    ``features``: one row of the IBSI preset's feature table (a Series or a dict of column -> value).
    Columns: family, feature, ibsi_id, aggregation, reference, tolerance, column, pyradiomics_feature,
    ours, implemented, reproduced, note. ``ours`` is NaN where the mapping has no PyRadiomics feature
    or the column is missing from ``features``; absent texts (no aggregation, no id) are None.
    """
    reference = load_reference() if reference is None else reference
    mapping = load_pyradiomics_map() if mapping is None else mapping
    joined = reference.merge(mapping.drop(columns=["ibsi_id"]), on=KEY, how="left", indicator=True,
                             validate="one_to_one")
    unmapped = joined[joined["_merge"] != "both"]
    if len(unmapped):
        raise ValueError(f"IBSI map lacks {len(unmapped)} reference row(s), e.g. "
                         f"{unmapped[KEY].iloc[0].tolist()}: update {MAP_FILE.name}")
    rows = []
    for ref in joined.itertuples(index=False):
        implemented = bool(ref.pyradiomics_feature)
        ours = None
        if implemented and ref.column in features:
            value = features[ref.column]
            ours = None if value is None or pd.isna(value) else TRANSFORMS[ref.transform](float(value))
        tolerance = tolerance_for(float(ref.value), float(ref.tolerance))
        rows.append({"family": ref.family, "feature": ref.feature, "ibsi_id": ref.ibsi_id or None,
                     "aggregation": ref.aggregation or None, "reference": float(ref.value), "tolerance": tolerance,
                     "column": ref.column or None, "pyradiomics_feature": ref.pyradiomics_feature or None,
                     "ours": ours, "implemented": implemented,
                     "reproduced": ours is not None and abs(ours - float(ref.value)) <= tolerance + 1e-12,
                     "note": ref.note or None})
    frame = pd.DataFrame(rows)
    frame["ours"] = frame["ours"].astype(float)
    for name in ("ibsi_id", "aggregation", "column", "pyradiomics_feature", "note"):
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def summary_by_family(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per IBSI family: reference values, those PyRadiomics computes, those we reproduce; and a Total row."""
    table = comparison.groupby("family", sort=False).agg(
        reference_values=("feature", "size"), implemented=("implemented", "sum"), reproduced=("reproduced", "sum"))
    table.loc["Total"] = table.sum()
    return table.astype(int)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The per-family table in Markdown (docs/ibsi_phantom.md and the README)."""
    lines = ["| family | reference values | computed (PyRadiomics) | reproduced |", "|---|---:|---:|---:|"]
    for family, row in summary.iterrows():
        name = f"**{family}**" if family == "Total" else family
        values = [f"**{v}**" if family == "Total" else str(v)
                  for v in (row["reference_values"], row["implemented"], row["reproduced"])]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
