"""DICOM SEG: segments read onto their source series' grid, and label maps written as a SEG that references
the series they were computed on (highdicom; BINARY segments, empty frames omitted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from . import series as series_module
from .series import Series, sop_instance_uids

#: What a segment is when its writer says nothing more (SNOMED CT): "Tissue" of category "Tissue".
DEFAULT_CATEGORY = ("85756007", "SCT", "Tissue")
DEFAULT_TYPE = ("85756007", "SCT", "Tissue")


@dataclass(frozen=True)
class SegmentInfo:
    """A segment to write: its label value in the label map, its name, and its coded category and type
    (code value, coding scheme, meaning)."""

    label: int
    name: str
    category: tuple[str, str, str] = DEFAULT_CATEGORY
    type: tuple[str, str, str] = DEFAULT_TYPE


def _read(path: str | Path, case_id: str | None):
    highdicom = series_module.highdicom()

    try:
        return highdicom.seg.segread(str(path))
    except (ValueError, AttributeError, KeyError) as exc:
        raise InputError(f"not a readable DICOM SEG ({exc})", case_id=case_id, file=path,
                         hint="give a DICOM Segmentation object, or a label map / .seg.nrrd / RTSTRUCT") from None


def segment_names(path: str | Path, case_id: str | None = None) -> dict[int, str]:
    """Segment number -> label of a SEG."""
    seg = _read(path, case_id)
    return {int(n): str(seg.get_segment_description(n).segment_label) for n in seg.get_segment_numbers()}


def referenced_series_uid(path: str | Path) -> str | None:
    """The source series of a SEG (the first it references)."""
    from .series import header

    for item in header(path).get("ReferencedSeriesSequence", []):
        return str(item.SeriesInstanceUID)
    return None


def read_segment(path: str | Path, name: str, series: Series, *, case_id: str | None = None) -> np.ndarray:
    """Segment ``name`` (its label, or its number) of a SEG as a boolean array (z, y, x) on ``series``' grid."""
    seg = _read(path, case_id)
    names = segment_names(path, case_id)
    numbers = [n for n, label in names.items() if label == name or str(n) == str(name)]
    if not numbers:
        listed = ", ".join(f"{n}: {label}" for n, label in names.items()) or "none"
        raise InputError(f"the SEG has no segment '{name}' (it has {listed})", case_id=case_id, file=path,
                         hint="put one of these names in the manifest's roi column (--roi)")
    uids = sop_instance_uids(series)
    referenced = {str(uid[2]) for uid in seg.get_source_image_uids()}
    if referenced and not referenced & set(uids):
        raise InputError(f"the SEG's frames reference none of the image series' {len(uids)} instances "
                         f"(series {series.uid})", case_id=case_id, file=path,
                         hint="pair the SEG with the series it was made on")
    pixels = seg.get_pixels_by_source_instance(uids, segment_numbers=numbers[:1],
                                               assert_missing_frames_are_empty=True)
    return pixels[..., 0].astype(bool)


def write_seg(labels: sitk.Image, series: Series, segments: list[SegmentInfo], path: str | Path, *,
              algorithm: str, version: str) -> Path:
    """A label map on ``series``' grid as a DICOM SEG referencing that series; one segment per ``segments``."""
    highdicom = series_module.highdicom()
    import pydicom
    from pydicom.sr.coding import Code

    array = sitk.GetArrayFromImage(labels)
    sources = [pydicom.dcmread(f) for f in series.files]
    if array.shape != (len(sources), int(sources[0].Rows), int(sources[0].Columns)):
        raise ValueError(f"the label map ({array.shape}) is not on the series' grid ({len(sources)} slices)")
    identification = highdicom.AlgorithmIdentificationSequence(
        name=algorithm, version=version, family=Code("123109", "DCM", "Artificial Intelligence"))
    descriptions, label_map = [], np.zeros(array.shape, dtype=np.uint8)
    for number, segment in enumerate(segments, start=1):
        label_map[array == segment.label] = number
        descriptions.append(highdicom.seg.SegmentDescription(
            segment_number=number, segment_label=segment.name, segmented_property_category=Code(*segment.category),
            segmented_property_type=Code(*segment.type), algorithm_type="AUTOMATIC",
            algorithm_identification=identification))
    seg = highdicom.seg.Segmentation(
        source_images=sources, pixel_array=label_map, segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=highdicom.UID(), series_number=100,
        sop_instance_uid=highdicom.UID(), instance_number=1, manufacturer="RadiomicsWorkshop",
        manufacturer_model_name=algorithm, software_versions=version, device_serial_number="0",
        series_description=f"{algorithm} segmentation")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(str(path))
    return path


def labels_of(segments: Mapping[int, str]) -> list[SegmentInfo]:
    """SegmentInfo for label value -> name (default codes)."""
    return [SegmentInfo(label=int(label), name=str(name)) for label, name in sorted(segments.items())]
