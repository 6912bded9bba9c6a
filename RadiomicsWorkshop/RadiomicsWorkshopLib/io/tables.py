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

import numpy as np
import pandas as pd

from .columns import SLICE, TEXT_COLUMNS
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


INTEGER_COLUMNS = (SLICE,)


def _is_number(value: Any) -> bool:
    try:
        float(value if value is not None else "nan")
        return True
    except (TypeError, ValueError):
        return False


class TableWriter:
    """A table written a chunk (one case's rows) at a time to a temporary file, renamed into place when
    closed without error: a cohort's rows are never all in memory at once.

    ``columns`` is the whole table's column list; every chunk is reindexed to it. Key columns are text,
    ``slice`` an integer (empty where missing); in a feature table (``numeric``) every other column is a
    float, in a manifest everything else is kept as text.
    """

    CHUNK_ROWS = 32  # rows buffered before they are written: few enough to bound memory, enough to be fast

    def __init__(self, path: str | Path, columns: list[str], *, numeric: bool = True) -> None:
        self.path = check_table_path(path)
        self.columns = list(columns)
        self.numeric = numeric
        self._numbers = [c for c in self.columns if numeric and c not in TEXT_COLUMNS and c not in INTEGER_COLUMNS]
        self._buffer: list[dict[str, Any]] = []
        self.rows = 0
        self._tmp = atomic_target(self.path)
        self._parquet = self.path.suffix.lower() == ".parquet"
        self._writer = None
        self._header = True

    def _typed(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The chunk on the table's columns and types. The numbers go through one NumPy block: a case has
        hundreds of feature columns, and pandas column by column is what would make assembly slow."""
        numbers = self._numbers
        values = np.array([[row.get(c) for c in numbers] for row in rows], dtype=object).reshape(len(rows), -1)
        try:
            block = values.astype(float)
        except (TypeError, ValueError):
            bad = next((column, value) for row in values for column, value in zip(numbers, row)
                       if not _is_number(value))
            raise ValueError(f"column '{bad[0]}' holds a value that is not a number: {bad[1]!r}") from None
        frame = pd.DataFrame(block, columns=numbers)
        for column in self.columns:
            if column in INTEGER_COLUMNS:
                frame[column] = pd.array([row.get(column) for row in rows], dtype="Int64")
            elif column not in numbers:
                frame[column] = pd.Series([row.get(column) for row in rows], dtype=object)
        return frame[self.columns]

    def _schema(self):
        import pyarrow as pa

        def kind(column: str):
            if column in INTEGER_COLUMNS:
                return pa.int64()
            return pa.string() if column in TEXT_COLUMNS or not self.numeric else pa.float64()

        return pa.schema([(column, kind(column)) for column in self.columns])

    def write(self, rows: list[dict[str, Any]] | pd.DataFrame) -> None:
        self._buffer.extend(rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows)
        if len(self._buffer) >= self.CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        frame = self._typed(self._buffer)
        self._buffer = []
        if self._parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, self._schema())
            self._writer.write_table(pa.Table.from_pandas(frame, schema=self._schema(), preserve_index=False))
        else:
            frame.to_csv(self._tmp, mode="w" if self._header else "a", header=self._header, index=False)
            self._header = False
        self.rows += len(frame)

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                self._flush()
                if self._header and not self._parquet:  # no rows at all: the header alone
                    pd.DataFrame(columns=self.columns).to_csv(self._tmp, index=False)
                if self._parquet and self._writer is None:
                    import pyarrow.parquet as pq

                    pq.write_table(self._schema().empty_table(), self._tmp)
                if self._writer is not None:
                    self._writer.close()
                os.replace(self._tmp, self.path)
        finally:
            if self._writer is not None and kind is not None:
                self._writer.close()
            self._tmp.unlink(missing_ok=True)


def write_json_streamed(path: str | Path, head: dict[str, Any], sections: dict[str, Any],
                        tail: Any = None) -> Path:
    """Write a JSON object atomically whose ``sections`` are filled from iterators of (key, value) pairs
    as they are consumed (a cohort's per-case records, one at a time). ``tail`` (a dict, or a callable
    returning one, evaluated after the sections) ends the object."""
    path = Path(path)
    tmp = atomic_target(path)
    try:
        with open(tmp, "w") as handle:
            handle.write("{")
            first = True

            def key(name: str) -> None:
                nonlocal first
                handle.write(("\n " if first else ",\n ") + json.dumps(name) + ": ")
                first = False

            for name, value in head.items():
                key(name)
                handle.write(json.dumps(value, default=str))
            for name, items in sections.items():
                key(name)
                handle.write("{")
                for i, (item_key, value) in enumerate(items() if callable(items) else items):
                    handle.write(("\n  " if i == 0 else ",\n  ") + json.dumps(str(item_key)) + ": "
                                 + json.dumps(value, default=str))
                handle.write("}")
            for name, value in (tail() if callable(tail) else tail or {}).items():
                key(name)
                handle.write(json.dumps(value, default=str))
            handle.write("\n}\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
