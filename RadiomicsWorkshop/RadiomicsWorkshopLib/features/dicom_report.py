"""A case's features as DICOM, beside its feature table: its ROIs as a DICOM SEG on the image series, and its
rows as a TID 1500 measurement report referencing that SEG (``io.dicom``; readable by Slicer's
QuantitativeReporting, OHIF, dcmqi).

Each feature is coded by its IBSI identifier where our feature map has one (scheme ``IBSI``; the column's
name as the meaning), else by its column name in our private scheme (``99RADWS``). Units (UCUM): mm, mm2,
mm3 and 1/mm for the shape's lengths, areas, volumes and ratio; Hounsfield units for the original CT
image's first-order intensities; "1" (no unit) for the rest. Features without a value (NaN) are left out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..io import images
from ..io.columns import IDENTIFIERS
from ..io.dicom import seg, sr
from ..io.errors import InputError

ALGORITHM = "RadiomicsWorkshop"
_SHAPE_UNITS = {"MeshVolume": "mm3", "VoxelVolume": "mm3", "SurfaceArea": "mm2", "SurfaceVolumeRatio": "/mm",
                "MeshSurface": "mm2", "PixelSurface": "mm2", "Perimeter": "mm", "PerimeterSurfaceRatio": "/mm"}
_INTENSITIES = ("Mean", "Median", "Minimum", "Maximum", "10Percentile", "90Percentile", "Range",
                "InterquartileRange", "MeanAbsoluteDeviation", "RobustMeanAbsoluteDeviation", "RootMeanSquared")


def unit_of(column: str, modality: str) -> str:
    """The UCUM unit of a feature column."""
    image_type, _, rest = column.partition("_")
    family, _, feature = rest.partition("_")
    if family.startswith("shape"):
        if feature in _SHAPE_UNITS:
            return _SHAPE_UNITS[feature]
        return "mm" if "Diameter" in feature or feature.endswith("AxisLength") else "1"
    if family == "firstorder" and image_type == "original" and modality == "CT" and feature in _INTENSITIES:
        return "[hnsf'U]"
    return "1"


def measurements(row: Mapping[str, Any], codes: Mapping[str, list[dict]], modality: str) -> list[sr.Feature]:
    """The coded measurements of one feature-table row (its numeric, non-missing features)."""
    out = []
    for column, value in row.items():
        if column in IDENTIFIERS or isinstance(value, str) or value is None or not math.isfinite(float(value)):
            continue
        ibsi = codes.get(column)
        code = (ibsi[0]["ibsi_id"], sr.IBSI_SCHEME) if ibsi else (column, sr.PRIVATE_SCHEME)
        out.append(sr.Feature(name=column, value=float(value), code=code, unit=unit_of(column, modality)))
    return out


def write_case_report(case_id: str, image: str | Path, mask: str | Path, rows: pd.DataFrame, out_dir: str | Path,
                      codes: Mapping[str, list[dict]], *, rois: Sequence[str] | None = None,
                      series_uid: str | None = None, version: str = "") -> tuple[Path, Path]:
    """(SEG, SR) of one case under ``out_dir`` (``<case_id>.seg.dcm``, ``<case_id>.sr.dcm``); ``rows``: the
    case's rows of the feature table (one per ROI)."""
    image_obj, found = images.read_case_image(image, case_id=case_id, series=series_uid, mask=mask)
    if found is None:
        raise InputError("a DICOM report needs the image as a DICOM series", case_id=case_id, file=image,
                         hint="give the image as its DICOM series folder, or leave out --dicom-report")
    labels, names = images.read_label_map(mask, case_id=case_id, image=image_obj, series=found,
                                          rois=[str(r) for r in rows["roi"]])
    segments = [seg.SegmentInfo(label=number, name=name) for number, name in enumerate(names, start=1)]
    out_dir = Path(out_dir)
    seg_path = seg.write_seg(labels, found, segments, out_dir / f"{case_id}.seg.dcm", algorithm=ALGORITHM,
                             version=version)
    groups = [sr.RoiMeasurements(roi=segment.name, segment_number=segment.label,
                                 features=measurements(row, codes, found.modality))
              for segment, (_, row) in zip(segments, rows.iterrows())]
    sr_path = sr.write_report(out_dir / f"{case_id}.sr.dcm", found.files, seg_path, groups, algorithm=ALGORITHM,
                              version=version)
    return seg_path, sr_path
