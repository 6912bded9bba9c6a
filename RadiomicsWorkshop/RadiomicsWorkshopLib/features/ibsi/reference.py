"""IBSI-1 reference values and how our feature columns map onto them.

The mapping is data: ``data/ibsi_feature_map.csv`` has one row per IBSI
digital-phantom reference value (keyed by family, feature, table caption and
texture aggregation, with the IBSI id), who computes it (``computed_by``:
``PyRadiomics``, or ``RadiomicsWorkshop`` for the families PyRadiomics lacks,
``ibsi_families``), the PyRadiomics feature (as PyRadiomics names it,
``original_glcm_JointAverage``), the ``variant`` of the IBSI preset that
computes it (``VARIANTS``; empty: the preset's main extraction), our table's
``column``, a ``transform`` where PyRadiomics uses another convention (only
``minus3``: kurtosis -> IBSI excess kurtosis) and a ``note``.
``ibsi_codes`` turns it round: a feature table's columns -> their IBSI codes,
written into the extraction's provenance.

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
from typing import Iterable, Mapping

import pandas as pd

from ...io.locations import REPOSITORY_DIR

MAP_FILE = Path(__file__).resolve().parent / "feature_map.csv"
REFERENCE_NAME = "digital_phantom_reference.csv"
#: Columns that identify a reference row (IBSI ids alone do not: the reference table repeats 1PR8 and
#: the intensity-volume histogram ids, and lacks the id of GLSZM small zone emphasis).
KEY = ["family", "feature", "table_caption", "aggregation"]
MAP_COLUMNS = KEY + ["ibsi_id", "computed_by", "pyradiomics_feature", "variant", "column", "transform", "note"]
COMPUTED_BY = ("PyRadiomics", "RadiomicsWorkshop")

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
    return REPOSITORY_DIR.parent / "shared" / "data" / "ibsi"


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


def load_feature_map(path: str | Path | None = None) -> pd.DataFrame:
    """The mapping of IBSI reference rows onto our columns (``data/ibsi_feature_map.csv``), checked."""
    from .families import FAMILIES

    frame = _read(Path(path) if path else MAP_FILE)
    missing = [c for c in MAP_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"IBSI map lacks column(s) {missing}")
    if frame.duplicated(KEY).any():
        raise ValueError(f"IBSI map repeats rows: {frame[frame.duplicated(KEY)][KEY].values.tolist()}")
    for row in frame.itertuples(index=False):
        where = f"IBSI map, {row.feature} ({row.aggregation or 'no aggregation'})"
        if row.transform not in TRANSFORMS or row.variant not in VARIANTS or row.computed_by not in COMPUTED_BY:
            raise ValueError(f"{where}: unknown transform, variant or computed_by")
        prefix = f"original-{row.variant}" if row.variant else "original"
        if row.computed_by == "PyRadiomics":
            image_type, rest = row.pyradiomics_feature.split("_", 1) if row.pyradiomics_feature else ("", "")
            expected = f"{image_type}-{row.variant}_{rest}" if row.variant else row.pyradiomics_feature
            if not row.pyradiomics_feature or row.column != expected:
                raise ValueError(f"{where}: column {row.column!r}, expected {expected!r}")
        elif row.pyradiomics_feature or row.transform or row.column.split("_")[0] != prefix \
                or row.column.split("_")[1] not in FAMILIES:
            raise ValueError(f"{where}: ours must be {prefix}_<one of {', '.join(FAMILIES)}>_<feature>, "
                             "without PyRadiomics feature or transform")
    return frame


#: Texture classes whose matrices have directions (IBSI: averaged or merged over them).
DIRECTIONAL = ("glcm", "glrlm")
ZONE_LIKE = ("glszm", "gldm", "ngtdm", "gldzm", "ngldm")
MERGING = {"3D": ("3D, averaged", "3D, merged"), "2.5D": ("2.5D, direction-merged", "2.5D, merged"),
           "2D": ("2D, averaged", "2D, slice-merged")}


def ibsi_aggregation(feature_class: str, setting: Mapping, per_slice: bool) -> str | None:
    """The IBSI aggregation of a texture class under PyRadiomics settings ("" for the classes without one;
    None where the settings are none of the IBSI's, e.g. a weighted direction merge)."""
    from .families import texture_aggregation

    if feature_class not in DIRECTIONAL + ZONE_LIKE:
        return ""
    dimension = texture_aggregation(setting, per_slice)
    if feature_class in ZONE_LIKE:
        return dimension
    norm = setting.get("weightingNorm")
    return {None: MERGING[dimension][0], "no_weighting": MERGING[dimension][1]}.get(norm)


def ibsi_codes(columns: Iterable[str], setting: Mapping, aggregations: Mapping[str, dict] | None = None
               ) -> dict[str, list[dict[str, str]]]:
    """The IBSI-1 code(s) of a feature table's columns, for its provenance: per column that computes an
    IBSI feature, a list of {ibsi_id, family, feature, aggregation, computed_by[, transform]}.

    Columns are ``<imageType>[-<aggregation name>]_<class>_<feature>``; ``setting`` is the extraction's
    PyRadiomics setting section, ``aggregations`` its ``workshop: aggregations`` (name -> {"pyradiomics",
    "per_slice"}), from which the IBSI aggregation of each texture column is derived. The image type does
    not change the feature (``wavelet-LLH_glcm_Contrast`` is the IBSI contrast of a filtered image). A
    column computing two reference rows (the same value in two families) lists both; a texture column
    whose settings are none of the IBSI's aggregations gets the feature's code with aggregation None.
    """
    aggregations = aggregations or {}
    by_feature: dict[str, list[dict[str, str]]] = {}
    for row in load_feature_map().itertuples(index=False):
        entry = {"ibsi_id": row.ibsi_id, "family": row.family, "feature": row.feature,
                 "aggregation": row.aggregation, "computed_by": row.computed_by}
        if row.transform:
            entry["transform"] = row.transform
        by_feature.setdefault(row.column.split("_", 1)[1], []).append(entry)
    names = sorted(aggregations, key=len, reverse=True)
    out = {}
    for column in columns:
        head, _, rest = column.partition("_")
        entries = by_feature.get(rest)
        if not entries:
            continue
        name = next((n for n in names if head.endswith(f"-{n}")), None)
        spec = aggregations[name] if name else {"pyradiomics": {"setting": setting}, "per_slice": False}
        aggregation = ibsi_aggregation(rest.split("_")[0], spec["pyradiomics"].get("setting") or {},
                                       spec["per_slice"])
        matching = [e for e in entries if e["aggregation"] == aggregation]
        out[column] = matching or [{**entries[0], "aggregation": None}]
    return out


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
    Columns: family, feature, ibsi_id, aggregation, reference, tolerance, computed_by, column,
    pyradiomics_feature, ours, implemented, reproduced, note. ``ours`` is NaN where the column is
    missing from ``features``; absent texts (no aggregation, no id) are None.
    """
    reference = load_reference() if reference is None else reference
    mapping = load_feature_map() if mapping is None else mapping
    joined = reference.merge(mapping.drop(columns=["ibsi_id"]), on=KEY, how="left", indicator=True,
                             validate="one_to_one")
    unmapped = joined[joined["_merge"] != "both"]
    if len(unmapped):
        raise ValueError(f"IBSI map lacks {len(unmapped)} reference row(s), e.g. "
                         f"{unmapped[KEY].iloc[0].tolist()}: update {MAP_FILE.name}")
    rows = []
    for ref in joined.itertuples(index=False):
        implemented = bool(ref.column)
        ours = None
        if implemented and ref.column in features:
            value = features[ref.column]
            ours = None if value is None or pd.isna(value) else TRANSFORMS[ref.transform](float(value))
        tolerance = tolerance_for(float(ref.value), float(ref.tolerance))
        rows.append({"family": ref.family, "feature": ref.feature, "ibsi_id": ref.ibsi_id or None,
                     "aggregation": ref.aggregation or None, "reference": float(ref.value), "tolerance": tolerance,
                     "computed_by": ref.computed_by, "column": ref.column or None, "pyradiomics_feature": ref.pyradiomics_feature or None,
                     "ours": ours, "implemented": implemented,
                     "reproduced": ours is not None and abs(ours - float(ref.value)) <= tolerance + 1e-12,
                     "note": ref.note or None})
    frame = pd.DataFrame(rows)
    frame["ours"] = frame["ours"].astype(float)
    for name in ("ibsi_id", "aggregation", "column", "pyradiomics_feature", "note"):
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def summary_by_family(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per IBSI family: reference values, those PyRadiomics computes, those our families compute, those
    reproduced; and a Total row."""
    comparison = comparison.assign(pyradiomics=comparison["computed_by"] == "PyRadiomics",
                                   workshop=comparison["computed_by"] == "RadiomicsWorkshop")
    table = comparison.groupby("family", sort=False).agg(
        reference_values=("feature", "size"), pyradiomics=("pyradiomics", "sum"), workshop=("workshop", "sum"),
        reproduced=("reproduced", "sum"))
    table.loc["Total"] = table.sum()
    return table.astype(int)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The per-family table in Markdown (docs/ibsi_phantom.md and the README)."""
    lines = ["| family | reference values | computed by PyRadiomics | computed by ours (`ibsi_families`) "
             "| reproduced |", "|---|---:|---:|---:|---:|"]
    for family, row in summary.iterrows():
        name = f"**{family}**" if family == "Total" else family
        values = [f"**{v}**" if family == "Total" else str(v)
                  for v in (row["reference_values"], row["pyradiomics"], row["workshop"], row["reproduced"])]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
