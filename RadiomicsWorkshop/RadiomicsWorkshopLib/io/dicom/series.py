"""DICOM image series: which series a folder holds, one read by its SeriesInstanceUID (with the slices it
needs checked), and the identifiers its header gives (patient, study, series, frame of reference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError

#: Modalities of the DICOM objects that hold contours or segments, not images.
MASK_MODALITIES = ("RTSTRUCT", "SEG")


@dataclass(frozen=True)
class Series:
    """One image series: its files in slice order (GDCM's) and the header's identifiers."""

    uid: str
    files: tuple[str, ...]
    modality: str
    description: str
    patient_id: str
    study_uid: str
    frame_of_reference_uid: str


def highdicom():
    """highdicom (SEG and SR), or a clear error where it is missing or too old to run: releases before 0.23
    support pydicom 2 but use ``np.float_``, gone in numpy 2; 0.23 and later need pydicom 3. Slicer 5.10 pins
    pydicom 2.4.4 (its DICOM module) and numpy 2.0.2, so neither runs there."""
    from ..errors import SettingsError

    try:
        import highdicom as module
    except ImportError:
        module = None
    if module is None or tuple(int(part) for part in module.__version__.split(".")[:2]) < (0, 23):
        found = "not installed" if module is None else f"highdicom {module.__version__}"
        raise SettingsError(f"DICOM SEG and SR need highdicom 0.23 or later ({found})",
                            hint="run this step in a Python with `pip install 'highdicom>=0.23'` (it needs pydicom 3; "
                                 "Slicer 5.10's Python keeps pydicom 2.4.4, so use the command line outside Slicer)")
    return module


def is_dicom_file(path: str | Path) -> bool:
    """Whether a file is DICOM (Part 10: 128 bytes of preamble, then ``DICM``)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(132)[128:] == b"DICM"


def header(path: str | Path):
    """The header of a DICOM file (no pixel data)."""
    import pydicom

    return pydicom.dcmread(str(path), stop_before_pixels=True)


def _series(folder: Path, uid: str) -> Series:
    files = tuple(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid))
    first = header(files[0])
    return Series(uid=uid, files=files, modality=str(first.get("Modality", "")),
                  description=str(first.get("SeriesDescription", "")), patient_id=str(first.get("PatientID", "")),
                  study_uid=str(first.get("StudyInstanceUID", "")),
                  frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")))


def series_in(folder: str | Path) -> list[Series]:
    """The image series of a folder (not its RTSTRUCTs and SEGs)."""
    folder = Path(folder)
    found = [_series(folder, uid) for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))]
    return [s for s in found if s.modality not in MASK_MODALITIES]


def find_series(folder: str | Path, uid: str | None = None, *, case_id: str | None = None) -> Series:
    """The series ``uid`` of a folder, or its one series; a clear error where there is none, or several
    and no ``uid`` to choose."""
    folder = Path(folder)
    found = series_in(folder)
    if not found:
        raise InputError("folder holds no DICOM image series", case_id=case_id, file=folder,
                         hint="point to a folder with the DICOM files of an image series, or to an image file")
    if uid is not None:
        chosen = [s for s in found if s.uid == uid]
        if not chosen:
            raise InputError(f"folder holds no series {uid} (it holds: {_listed(found)})", case_id=case_id,
                             file=folder, hint="check the series UID (the manifest's series column, or the "
                                               "series the RTSTRUCT or SEG references)")
        return chosen[0]
    if len(found) > 1:
        raise InputError(f"folder holds {len(found)} DICOM series ({_listed(found)})", case_id=case_id, file=folder,
                         hint="choose one: a series column in the manifest (its SeriesInstanceUID), or a mask "
                              "(RTSTRUCT or SEG) that references it")
    return found[0]


def _listed(found: list[Series]) -> str:
    return "; ".join(f"{s.uid} {s.modality} '{s.description}' ({len(s.files)} files)" for s in found)


def read_series(series: Series, *, case_id: str | None = None) -> sitk.Image:
    """The series as one volume, after checking that no slice is missing (evenly spaced positions)."""
    check_slices(series, case_id=case_id)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(series.files))
    try:
        return reader.Execute()
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise InputError(f"DICOM series cannot be read ({lines[-1] if lines else exc})", case_id=case_id,
                         file=Path(series.files[0]).parent, hint="check that every file of the series is complete") from None


def check_slices(series: Series, *, case_id: str | None = None) -> None:
    """A missing slice shows as a gap between the slices' positions along the normal: refused, naming it."""
    if len(series.files) < 3:
        return
    headers = [header(f) for f in series.files]
    orientation = np.array(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([float(np.dot(normal, np.array(h.ImagePositionPatient, dtype=float))) for h in headers])
    steps = np.diff(positions)
    typical = float(np.median(np.abs(steps)))
    gaps = np.nonzero(np.abs(np.abs(steps) - typical) > 0.1 * typical)[0]
    if typical == 0 or gaps.size:
        where = ", ".join(f"between {positions[g]:.2f} and {positions[g + 1]:.2f} mm ({Path(series.files[g]).name}, "
                          f"{Path(series.files[g + 1]).name})" for g in gaps[:3]) or "every slice at one position"
        raise InputError(f"DICOM series {series.uid} is not evenly spaced: slices are {typical:.2f} mm apart, "
                         f"except {where}; a slice is missing or the series mixes acquisitions",
                         case_id=case_id, file=Path(series.files[0]).parent,
                         hint="add the missing file(s), or separate the acquisitions into folders of their own")


def sop_instance_uids(series: Series) -> list[str]:
    """The SOPInstanceUIDs of the series' files, in slice order."""
    return [str(header(f).SOPInstanceUID) for f in series.files]
