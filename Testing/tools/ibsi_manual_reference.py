"""The IBSI-1 CT phantom's reference values of configurations D and E, read from the IBSI reference manual.

The IBSI data here (``../shared/data/ibsi``) hold the consensus values of configurations A, B and C; the
manual's feature chapter (theibsi/ibsi-doc, ``docs/03_Image_features.rst``) tabulates all five. This reads
the manual's tables, checks that its A, B and C values are the shared file's (so the reading is right), and
writes an IBSI data folder for ``radiomics-workshop ibsi-check``: the phantom linked (CC BY-NC: never
copied) and a reference file with D and E beside A, B and C. Nothing of the manual is kept in the repository.

    python Testing/tools/ibsi_manual_reference.py ibsi-doc/docs/03_Image_features.rst ../shared/data/ibsi /tmp/ibsi
    radiomics-workshop ibsi-check --data /tmp/ibsi --configuration D --configuration E
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["feature", "ibsi_id", "aggregation", "occurrence"]  # ids repeat (1PR8, the IVH's): the n-th of a kind
ROW = re.compile(r"\s*\|\s*config\. ([A-E])\s*\|(.*)\|\s*$")
ID = re.compile(r'text-align:right">([A-Z0-9]{4})</p>')


def number(text: str) -> float | None:
    """A table cell as a number: ``0.232``, ``:math:`3.67 \\times 10^{5}```, ``:math:`-`\\ 49``; None for ``—``."""
    text = text.strip().replace(":math:`-`\\ ", "-").replace(":math:`-`", "-").replace("−", "-")
    math = re.fullmatch(r":math:`(.*)`", text)
    if math:
        text = math.group(1).replace(" ", "")
        power = re.fullmatch(r"(-?[\d.]+)?\\times10\^\{(-?\d+)\}|10\^\{(-?\d+)\}", text)
        if power:
            mantissa = float(power.group(1)) if power.group(1) else 1.0
            return mantissa * 10.0 ** int(power.group(2) or power.group(3))
    try:
        return float(text)
    except ValueError:
        return None


def manual_rows(text: str) -> pd.DataFrame:
    """Every ``config. X`` row of the manual's feature tables: feature (the section title), IBSI id,
    configuration data label, aggregation, value, tolerance, consensus."""
    lines = text.split("\n")
    rows, feature, ibsi_id = [], None, ""
    for k, line in enumerate(lines):
        underline = lines[k + 1].strip() if k + 1 < len(lines) else ""
        if line.strip() and underline and set(underline) == {"^"}:
            feature, ibsi_id = line.strip(), ""
        found = ID.search(line)
        if found:
            ibsi_id = found.group(1)
        found = ROW.match(line)
        if found:
            cells = [c.strip() for c in found.group(2).split("|")]
            aggregation, (value, tolerance, consensus) = (cells[0], cells[1:]) if len(cells) == 4 else ("", cells)
            rows.append({"feature": feature, "ibsi_id": ibsi_id, "data": f"config. {found.group(1)}",
                         "aggregation": aggregation, "value": number(value), "tolerance": number(tolerance),
                         "consensus": "" if consensus in ("—", "-") else consensus})
    out = pd.DataFrame(rows)
    out["occurrence"] = out.groupby(["data", "feature", "ibsi_id", "aggregation"]).cumcount()
    return out


def with_configurations(shared: pd.DataFrame, manual: pd.DataFrame, names=("D", "E")) -> pd.DataFrame:
    """The shared reference table with the manual's rows of ``names`` added (family and caption from
    configuration C's row of the same feature); raises if the manual disagrees with a shared value."""
    shared = shared.copy()
    shared["occurrence"] = shared.groupby(["data", "feature", "ibsi_id", "aggregation"]).cumcount()
    for data in sorted(set(shared["data"])):
        theirs = manual[manual["data"] == data].merge(shared[shared["data"] == data], on=KEY, suffixes=("", "_s"))
        values = pd.to_numeric(theirs["value_s"].replace("", None)).astype(float)
        same = np.isclose(values, theirs["value"].astype(float), rtol=1e-9, atol=0, equal_nan=True)
        if len(theirs) != (shared["data"] == data).sum() or not same.all():
            raise ValueError(f"the manual's {data} values are not the shared file's: the tables were misread")
    template = shared[shared["data"] == "config. C"].drop(columns=["data", "value", "tolerance", "consensus"])
    added = [template.merge(manual[manual["data"] == f"config. {n}"], on=KEY, validate="one_to_one") for n in names]
    table = pd.concat([shared, *added], ignore_index=True)
    for column in ("value", "tolerance"):
        table[column] = table[column].map(lambda v: "" if v is None or v == "" or pd.isna(v) else repr(float(v)))
    return table.drop(columns="occurrence")[shared.columns.drop("occurrence")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manual", type=Path, help="docs/03_Image_features.rst of theibsi/ibsi-doc")
    parser.add_argument("shared", type=Path, help="the IBSI data folder (ct_phantom/, ct_phantom_reference.csv)")
    parser.add_argument("out", type=Path, help="a new IBSI data folder for ibsi-check --data")
    args = parser.parse_args(argv)
    shared = pd.read_csv(args.shared / "ct_phantom_reference.csv", keep_default_na=False, dtype=str)
    table = with_configurations(shared, manual_rows(args.manual.read_text(encoding="utf-8")))
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "ct_phantom").exists():
        (args.out / "ct_phantom").symlink_to((args.shared / "ct_phantom").resolve())
    table.to_csv(args.out / "ct_phantom_reference.csv", index=False)
    counts = table["data"].value_counts().sort_index()
    print(", ".join(f"{k}: {v}" for k, v in counts.items()), f"-> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
