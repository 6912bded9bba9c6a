"""Feature tables and their sidecars, written atomically.

A table is CSV or Parquet (by suffix). Next to ``features.csv`` lie
``features.provenance.json`` (settings, versions, input hashes, timings,
failures) and, when cases failed, ``features.failures.csv``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import SettingsError

TABLE_SUFFIXES = (".csv", ".parquet")


def check_table_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise SettingsError(f"unsupported table type '{path.suffix}'", file=path,
                            hint="name the output .csv or .parquet")
    return path


def provenance_path(table: str | Path) -> Path:
    table = Path(table)
    return table.with_name(table.stem + ".provenance.json")


def failures_path(table: str | Path) -> Path:
    table = Path(table)
    return table.with_name(table.stem + ".failures.csv")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_target(path: Path):
    """A temporary file beside ``path`` (same file system, so the final rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(tmp, _FILE_MODE)  # mkstemp makes it private; outputs get the usual permissions
    return Path(tmp)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV/Parquet via a temporary file and an atomic rename."""
    path = check_table_path(path)
    tmp = atomic_target(path)
    try:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    path = check_table_path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    # round_trip: the numbers read back are exactly those written (the default parser may differ in the last bit)
    return pd.read_csv(path, dtype={"case_id": str, "roi": str, "patient_id": str}, float_precision="round_trip")


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (NaN allowed: feature values may be NaN)."""
    path = Path(path)
    tmp = atomic_target(path)
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file (a report) atomically."""
    path = Path(path)
    tmp = atomic_target(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
