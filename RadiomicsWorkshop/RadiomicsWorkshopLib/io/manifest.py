"""Case manifests: ``case_id,image,mask`` (+ ``label``, ``patient_id``, ``site``, ``roi``, ``series``: the
image's SeriesInstanceUID where its DICOM folder holds several).

Paths are relative to the manifest's folder. The manifest itself is checked
up front (columns, duplicate or empty case ids); the files of each case are
checked when that case runs, so one bad case never stops the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .images import parse_roi_spec

REQUIRED = ["case_id", "image", "mask"]
OPTIONAL = ["label", "patient_id", "site", "roi", "series"]


@dataclass
class Case:
    case_id: str
    image: Path
    mask: Path | None
    rois: list[str] | None = None
    patient_id: str | None = None
    label: str | None = None
    site: str | None = None
    series: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def read_manifest(path: str | Path, *, require_mask: bool = True) -> list[Case]:
    """The cases of a manifest CSV. ``require_mask`` False (segmentation): the mask column may be left out
    or empty, and such cases get ``mask`` None."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError("manifest not found", file=path, hint="check the path given to --manifest")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several parser errors
        raise InputError(f"manifest cannot be read as CSV ({exc})", file=path,
                         hint="save it as comma-separated values with a header row") from None
    frame.columns = [c.strip() for c in frame.columns]
    required = REQUIRED if require_mask else ["case_id", "image"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"manifest lacks column(s) {', '.join(missing)} (has: {', '.join(frame.columns)})",
                         file=path, hint=f"the header must include {','.join(required)}")
    if "mask" not in frame.columns:
        frame["mask"] = ""
    frame = frame.apply(lambda col: col.str.strip())
    empty = frame.index[(frame[required] == "").any(axis=1)].tolist()
    if empty:
        raise InputError(f"manifest rows {', '.join(str(i + 2) for i in empty)} have an empty "
                         f"{', '.join(required[:-1])} or {required[-1]}", file=path,
                         hint="fill them in or delete those rows")
    duplicated = sorted(set(frame.loc[frame["case_id"].duplicated(), "case_id"]))
    if duplicated:
        raise InputError(f"duplicate case_id(s): {', '.join(duplicated)}", file=path,
                         hint="give each row its own case_id (several ROIs of one case go in the roi column, "
                              "separated by ';')")
    base = path.resolve().parent
    cases = []
    for record in frame.to_dict("records"):
        optional = {k: (record.get(k) or None) for k in OPTIONAL}
        cases.append(Case(
            case_id=record["case_id"], image=base / record["image"],
            mask=base / record["mask"] if record["mask"] else None,
            rois=parse_roi_spec(optional["roi"]), patient_id=optional["patient_id"], label=optional["label"],
            site=optional["site"], series=optional["series"],
            extra={k: v for k, v in record.items() if k not in REQUIRED + OPTIONAL}))
    return cases
