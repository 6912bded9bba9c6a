"""Joining feature tables (radiomics, deep) and clinical data on their keys.

Feature tables join on (case_id, roi); a clinical table joins on case_id (or
patient_id). Duplicate keys and keys missing from some table are refused with
a report naming them, unless ``inner=True`` keeps only the keys all tables share
(and the report says what was dropped).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io.columns import ROW_KEY
from ..io.errors import InputError
from ..io.tables import read_table

FEATURE_KEYS = list(ROW_KEY)


def read_input_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError("table not found", file=path, hint="check the path")
    return read_table(path) if path.suffix.lower() in (".csv", ".parquet") else pd.read_csv(path, dtype=str)


def _check_unique(frame: pd.DataFrame, keys: list[str], path) -> None:
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise InputError(f"table lacks key column(s) {', '.join(missing)}", file=path,
                         hint=f"feature tables need {', '.join(keys)}")
    duplicated = frame[frame.duplicated(keys, keep=False)][keys].drop_duplicates()
    if len(duplicated):
        shown = "; ".join("/".join(map(str, row)) for row in duplicated.head(10).itertuples(index=False))
        raise InputError(f"{len(duplicated)} duplicated key(s) ({'/'.join(keys)}): {shown}", file=path,
                         hint="each key must appear once; remove repeated rows")


def merge_tables(feature_tables: list[str | Path], clinical: str | Path | None = None, *,
                 clinical_key: str = "case_id", inner: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The joined table and a report (lines) of what was dropped, if anything."""
    if not feature_tables:
        raise InputError("no feature table to merge", hint="give at least one table")
    report: list[str] = []
    merged = None
    frames = [(path, read_input_table(path)) for path in feature_tables]
    # Tables of one row per case (no roi column, e.g. made by hand) join on case_id alone.
    keys = FEATURE_KEYS if all("roi" in frame.columns for _, frame in frames) else ["case_id"]
    for path, frame in frames:
        _check_unique(frame, keys, path)
        for key in keys:
            frame[key] = frame[key].astype(str)
        if merged is None:
            merged, first = frame, path
            continue
        overlap = [c for c in frame.columns if c in merged.columns and c not in keys + ["patient_id"]]
        if overlap:
            raise InputError(f"column(s) {', '.join(overlap[:5])} are in two tables", file=path,
                             hint="merge different feature families (radiomics + deep), not the same one twice")
        left = set(map(tuple, merged[keys].to_numpy()))
        right = set(map(tuple, frame[keys].to_numpy()))
        only_left, only_right = sorted(left - right), sorted(right - left)
        if (only_left or only_right) and not inner:
            raise InputError(
                f"keys differ: {len(only_left)} only in {first} (e.g. {only_left[:3]}), {len(only_right)} only in "
                f"{path} (e.g. {only_right[:3]})", file=path,
                hint="extract both from the same manifest, or pass --inner to keep the shared keys only")
        if only_left or only_right:
            report.append(f"dropped {len(only_left)} key(s) only in {first} and {len(only_right)} only in {path}")
        if "patient_id" in frame.columns and "patient_id" in merged.columns:
            frame = frame.drop(columns=["patient_id"])
        merged = merged.merge(frame, on=keys, how="inner")
    if clinical is not None:
        table = read_input_table(clinical)
        if clinical_key not in table.columns:
            raise InputError(f"clinical table lacks the key column '{clinical_key}'", file=clinical)
        table[clinical_key] = table[clinical_key].astype(str)
        _check_unique(table, [clinical_key], clinical)
        missing = sorted(set(merged[clinical_key].astype(str)) - set(table[clinical_key]))
        if missing and not inner:
            raise InputError(f"{len(missing)} {clinical_key}(s) have no clinical row (e.g. {missing[:5]})",
                             file=clinical, hint="add them to the clinical table, or pass --inner")
        if missing:
            report.append(f"dropped {len(missing)} {clinical_key}(s) without clinical data")
        overlap = [c for c in table.columns if c in merged.columns and c != clinical_key]
        merged = merged.merge(table.drop(columns=overlap), on=clinical_key, how="inner")
    return merged, report
