"""RTSTRUCT contours as voxel masks on the image they were drawn on.

Each CLOSED_PLANAR contour is a polygon in patient coordinates (mm) on one slice. It is mapped to the image's
continuous index (its origin, spacing and direction), must lie on a slice (within 1% of the slice spacing),
and fills the voxels whose centres lie inside it (scikit-image's ``draw.polygon``). The contours of one ROI on
one slice combine by the even-odd rule (exclusive or): a contour inside another is a hole, as DICOM encodes
holes without keyholes (PS3.3 C.8.8.6.3) and as the IBSI's own conversions of these files treat them
(Testing/io/test_dicom.py holds our masks against them voxel for voxel).

Checked before anything is drawn: the image's frame of reference is the ROI's, and the series the structure
set references (where it names one) is the image's series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from .series import Series, header

#: A contour's distance from the nearest slice (in slices) that still counts as on it.
ON_SLICE = 0.01


def _structure_set(path: str | Path, case_id: str | None):
    import pydicom

    dataset = pydicom.dcmread(str(path))
    if dataset.get("Modality") != "RTSTRUCT":
        raise InputError(f"not an RTSTRUCT (its Modality is {dataset.get('Modality')!r})", case_id=case_id, file=path,
                         hint="give the structure set file (RS*.dcm), or a label map / .seg.nrrd / DICOM SEG")
    return dataset


def roi_names(path: str | Path, case_id: str | None = None) -> list[str]:
    """The ROI names of a structure set, in its order."""
    return [str(r.ROIName) for r in _structure_set(path, case_id).get("StructureSetROISequence", [])]


def referenced_series_uid(path: str | Path) -> str | None:
    """The SeriesInstanceUID of the image series a structure set references, where it names one."""
    for frame in header(path).get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                return str(series.SeriesInstanceUID)
    return None


def rasterise(path: str | Path, name: str, image: sitk.Image, series: Series | None = None, *,
              case_id: str | None = None) -> np.ndarray:
    """The ROI ``name`` of a structure set as a boolean array (z, y, x) on ``image``'s grid; ``series``: the
    image's DICOM series, for the frame-of-reference and series checks (None: an image from another file)."""
    dataset = _structure_set(path, case_id)
    rois = {str(r.ROIName): r for r in dataset.get("StructureSetROISequence", [])}
    if name not in rois:
        raise InputError(f"the structure set has no ROI '{name}' (it has: {', '.join(rois) or 'none'})",
                         case_id=case_id, file=path, hint="put one of these names in the manifest's roi column (--roi)")
    if series is not None:
        _check_references(dataset, rois[name], series, path, case_id)
    number = rois[name].ROINumber
    contours = next((c.get("ContourSequence", []) for c in dataset.get("ROIContourSequence", [])
                     if c.ReferencedROINumber == number), [])
    if not contours:
        raise InputError(f"ROI '{name}' has no contours", case_id=case_id, file=path,
                         hint="draw it, or choose another ROI")
    mask = np.zeros(image.GetSize()[::-1], dtype=bool)
    to_index = np.linalg.inv(np.array(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing()))
    origin = np.array(image.GetOrigin())
    for contour in contours:
        if contour.get("ContourGeometricType", "CLOSED_PLANAR") != "CLOSED_PLANAR":
            raise InputError(f"ROI '{name}' holds a {contour.ContourGeometricType} contour, which encloses no "
                             "voxels", case_id=case_id, file=path, hint="choose an ROI drawn as closed contours")
        index = (np.array(contour.ContourData, dtype=float).reshape(-1, 3) - origin) @ to_index.T  # x, y, z
        mask[_slice_of(index[:, 2], mask.shape[0], name, path, case_id)] ^= _filled(index[:, 1], index[:, 0],
                                                                                   mask.shape[1:])
    return mask


def _slice_of(k: np.ndarray, n_slices: int, name: str, path, case_id) -> int:
    z = int(round(float(np.mean(k))))
    if np.abs(k - z).max() > ON_SLICE:
        raise InputError(f"a contour of ROI '{name}' does not lie on a slice of the image (at slice index "
                         f"{np.mean(k):.2f})", case_id=case_id, file=path,
                         hint="use the image series the contours were drawn on")
    if not 0 <= z < n_slices:
        raise InputError(f"a contour of ROI '{name}' lies outside the image (slice {z} of 0..{n_slices - 1}): "
                         "the image series lacks slices the contours were drawn on", case_id=case_id, file=path,
                         hint="use the complete image series the structure set references")
    return z


def _filled(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.draw import polygon

    plane = np.zeros(shape, dtype=bool)
    rr, cc = polygon(rows, columns, shape=shape)
    plane[rr, cc] = True
    return plane


def _check_references(dataset, roi, series: Series, path, case_id) -> None:
    frame = str(roi.get("ReferencedFrameOfReferenceUID", ""))
    if frame and series.frame_of_reference_uid and frame != series.frame_of_reference_uid:
        raise InputError(f"the ROI '{roi.ROIName}' is in frame of reference {frame}, but the image series "
                         f"{series.uid} is in {series.frame_of_reference_uid}: the contours belong to another "
                         "acquisition", case_id=case_id, file=path,
                         hint="pair the structure set with the image series it was drawn on")
    referenced = referenced_series_uid(path)
    if referenced and referenced != series.uid:
        raise InputError(f"the structure set references image series {referenced}, but the image is series "
                         f"{series.uid}", case_id=case_id, file=path,
                         hint="pair the structure set with the series it references (the manifest's image column)")
