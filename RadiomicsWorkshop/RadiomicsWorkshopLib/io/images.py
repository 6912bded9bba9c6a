"""Reading images and masks: NRRD, NIfTI, MHA, ... and DICOM series through
SimpleITK; Slicer ``.seg.nrrd`` segmentations through SimpleITK (voxels) and
``slicerio`` (segment names, label values, layers).

A mask is turned into a list of :class:`Roi`: one per label of a label map or
per segment of a segmentation, each a label image plus the label value that
marks the ROI in it (what PyRadiomics takes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import SimpleITK as sitk

from .dicom import rtstruct, seg
from .dicom import series as dicom_series
from .errors import InputError

IMAGE_HINT = ("check that the file is complete and in a format SimpleITK reads "
              "(NRRD, NIfTI, MHA, a DICOM series folder); re-export it if needed")


@dataclass
class Roi:
    """One region of interest: ``label`` marks it in ``mask``."""

    name: str
    label: int
    mask: sitk.Image
    source: str


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # SimpleITK's messages start with a C++ location; the useful part is last.
    return lines[-1] if lines else type(exc).__name__


def write_image(image: sitk.Image, path: str | Path) -> Path:
    """Write an image atomically (compressed): a temporary file in the same folder, then a rename, so
    that an interrupted run never leaves a truncated image under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes) or '.nrrd'}")
    try:
        sitk.WriteImage(image, str(tmp), useCompression=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def is_segmentation_file(path: str | Path) -> bool:
    return str(path).lower().endswith(".seg.nrrd")


def read_image(path: str | Path, *, case_id: str | None = None, series: str | None = None) -> sitk.Image:
    """Read an image file, or a DICOM series of a folder (``series``: its SeriesInstanceUID, where the folder
    holds several)."""
    return read_case_image(path, case_id=case_id, series=series)[0]


def read_case_image(path: str | Path, *, case_id: str | None = None, series: str | None = None,
                    mask: str | Path | None = None) -> tuple[sitk.Image, "dicom_series.Series | None"]:
    """(image, its DICOM series or None for an image file). A folder holding several series: ``series``
    chooses, else the series a DICOM ``mask`` (RTSTRUCT or SEG) references."""
    path = Path(path)
    if not path.exists():
        raise InputError("image file not found", case_id=case_id, file=path,
                         hint="check the path (manifest paths are relative to the manifest's folder)")
    if path.is_dir():
        chosen = dicom_series.find_series(path, series or (mask_series(mask) if mask else None), case_id=case_id)
        image = dicom_series.read_series(chosen, case_id=case_id)
        check_volume(image, what="image", case_id=case_id, file=path)
        return image, chosen
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"cannot be read as an image ({_first_line(exc)})", case_id=case_id,
                         file=path, hint=IMAGE_HINT) from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"image has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                         "radiomics needs a scalar (grey-level) image", case_id=case_id, file=path,
                         hint="convert it to a single-channel image (e.g. pick one channel or convert RGB to grey)")
    check_volume(image, what="image", case_id=case_id, file=path)
    return image, None


def dicom_mask_modality(path: str | Path) -> str | None:
    """``RTSTRUCT`` or ``SEG`` for a DICOM mask file, else None."""
    if not dicom_series.is_dicom_file(path):
        return None
    modality = str(dicom_series.header(path).get("Modality", ""))
    return modality if modality in dicom_series.MASK_MODALITIES else None


def mask_series(mask: str | Path) -> str | None:
    """The image series a DICOM mask references (None: not a DICOM mask, or it names none)."""
    modality = dicom_mask_modality(mask)
    if modality == "RTSTRUCT":
        return rtstruct.referenced_series_uid(mask)
    return seg.referenced_series_uid(mask) if modality == "SEG" else None


def check_volume(image: sitk.Image, *, what: str, case_id: str | None, file: str | Path) -> None:
    """Radiomics works on one 2D or 3D volume: a 4D file (a time series, several b-values or echoes) is refused
    with how to take one volume out of it."""
    if image.GetDimension() > 3:
        size = " x ".join(str(n) for n in image.GetSize()[:3])
        raise InputError(f"the {what} is {image.GetDimension()}D: {image.GetSize()[3]} volumes of {size} voxels, "
                         "but radiomics needs one 3D volume", case_id=case_id, file=file,
                         hint="save the volume you want on its own, e.g. in Python sitk.WriteImage(sitk.ReadImage("
                              "path)[:, :, :, 0], 'volume0.nrrd'), or in Slicer with the Sequences module")


def parse_roi_spec(spec: str | int | Iterable[str | int] | None) -> list[str] | None:
    """Normalise ROI selections: ``"1;2"``, ``[1, "Tumor"]``, ``None`` (all)."""
    if spec is None:
        return None
    if isinstance(spec, (int, np.integer)):
        return [str(int(spec))]
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(";")]
    else:
        parts = [str(p).strip() for p in spec]
    parts = [p for p in parts if p and p.lower() != "nan"]
    return parts or None


def read_rois(path: str | Path, rois: Iterable[str | int] | None = None, *, case_id: str | None = None,
              image: sitk.Image | None = None, series: "dicom_series.Series | None" = None) -> list[Roi]:
    """Read a label map, a ``.seg.nrrd``, an RTSTRUCT or a DICOM SEG and return the selected ROIs.

    ``rois``: label values (label maps, or segmentations by label value) or segment names/IDs (segmentations,
    RTSTRUCT ROI names, SEG segment labels); ``None`` selects every label/segment. DICOM masks are drawn onto
    ``image`` (an RTSTRUCT) or its ``series`` (a SEG), which they must belong to.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("mask file not found", case_id=case_id, file=path,
                         hint="check the path (manifest paths are relative to the manifest's folder)")
    wanted = parse_roi_spec(rois)
    modality = dicom_mask_modality(path)
    if modality is not None:
        return _dicom_rois(path, modality, wanted, image, series, case_id)
    if is_segmentation_file(path):
        return _read_segmentation_rois(path, wanted, case_id=case_id)
    mask = read_image_any_components(path, case_id=case_id)
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"mask has {mask.GetNumberOfComponentsPerPixel()} components per voxel but is not a "
                         "Slicer segmentation (.seg.nrrd)", case_id=case_id, file=path,
                         hint="save the mask as a label map, or as a .seg.nrrd from Slicer")
    return rois_from_label_image(mask, wanted, case_id=case_id, source=str(path))


def _dicom_rois(path: Path, modality: str, wanted: list[str] | None, image: sitk.Image | None,
                series: "dicom_series.Series | None", case_id: str | None) -> list[Roi]:
    """The ROIs of an RTSTRUCT or a SEG as one label image each (1 inside), on the image's grid."""
    if image is None or (modality == "SEG" and series is None):
        raise InputError(f"a DICOM {modality} needs the image it was drawn on", case_id=case_id, file=path,
                         hint="give the image as the DICOM series folder the mask references (the image column)")
    names = wanted or (rtstruct.roi_names(path, case_id) if modality == "RTSTRUCT"
                       else list(seg.segment_names(path, case_id).values()))
    out = []
    for name in names:
        inside = rtstruct.rasterise(path, name, image, series, case_id=case_id) if modality == "RTSTRUCT" \
            else seg.read_segment(path, name, series, case_id=case_id)
        label = sitk.GetImageFromArray(inside.astype(np.uint8))
        label.CopyInformation(image)
        out.append(Roi(name=name, label=1, mask=label, source=str(path)))
    return out


def read_label_map(path: str | Path, *, case_id: str | None = None, image: sitk.Image | None = None,
                   series: "dicom_series.Series | None" = None, rois: Iterable[str | int] | None = None
                   ) -> tuple[sitk.Image, list[str]]:
    """(a label map, the names of its labels 1..) of any mask: a label map or ``.seg.nrrd`` file as it is
    (its names: the label values), an RTSTRUCT or SEG drawn onto ``image`` with ROI k as label k."""
    path = Path(path)
    if dicom_mask_modality(path) is None:
        mask = read_image_any_components(path, case_id=case_id)
        return mask, [str(v) for v in labels_present(mask)] if mask.GetNumberOfComponentsPerPixel() == 1 else []
    found = read_rois(path, rois, case_id=case_id, image=image, series=series)
    labels = np.zeros(image.GetSize()[::-1], dtype=np.uint8)
    for number, roi in enumerate(found, start=1):
        inside = sitk.GetArrayViewFromImage(roi.mask) == roi.label
        if (labels[inside] > 0).any():
            raise InputError(f"ROIs '{found[labels[inside].max() - 1].name}' and '{roi.name}' overlap: one label "
                             "map cannot hold both", case_id=case_id, file=path,
                             hint="choose ROIs that do not overlap (the roi column, --roi)")
        labels[inside] = number
    label_map = sitk.GetImageFromArray(labels)
    label_map.CopyInformation(image)
    return label_map, [roi.name for roi in found]


def rois_from_label_image(mask: sitk.Image, wanted: list[str] | None, *, case_id: str | None = None,
                          source: str = "<in-memory mask>") -> list[Roi]:
    """ROIs of a label map: the ``wanted`` label values, or every label present."""
    check_volume(mask, what="mask", case_id=case_id, file=source)
    _check_integer_labels(mask, case_id=case_id, source=source)
    present = labels_present(mask)
    if wanted is None:
        if not present:
            raise InputError("mask is empty (no voxel has a label other than 0)", case_id=case_id, file=source,
                             hint="draw the ROI (Segment Editor) or check that this is the right mask file")
        labels = present
    else:
        labels = []
        for item in wanted:
            try:
                labels.append(int(float(item)))
            except ValueError:
                raise InputError(f"ROI '{item}' is a name, but a label map has only label values "
                                 f"(present: {_fmt_labels(present)})", case_id=case_id, file=source,
                                 hint="give label numbers, or use a Slicer .seg.nrrd to select segments by name") from None
        missing = [lab for lab in labels if lab not in present]
        if missing:
            raise InputError(f"label {_fmt_labels(missing)} not in the mask; labels present: {_fmt_labels(present)}",
                             case_id=case_id, file=source, hint="choose one of the labels present (--roi / the manifest's roi column)")
    return [Roi(name=str(lab), label=lab, mask=mask, source=source) for lab in labels]


def read_image_any_components(path: Path, *, case_id: str | None = None) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"cannot be read as a mask ({_first_line(exc)})", case_id=case_id, file=path,
                         hint=IMAGE_HINT) from None


def _check_integer_labels(mask: sitk.Image, *, case_id: str | None, source: str) -> None:
    """A label map holds whole numbers; a float mask of fractions (a probability map, a resampled mask) does not."""
    if mask.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        return
    array = sitk.GetArrayViewFromImage(mask)
    fractional = array[(array != np.round(array)) & np.isfinite(array)]
    if fractional.size:
        raise InputError(f"the mask holds non-integer values ({fractional.size} voxels, e.g. {float(fractional[0]):g}): "
                         "a mask must hold integer labels", case_id=case_id, file=source,
                         hint="if it is a probability or a resampled mask, threshold it first, e.g. "
                              "sitk.Cast(mask >= 0.5, sitk.sitkUInt8), and save that as the label map")


def labels_present(mask: sitk.Image) -> list[int]:
    """Non-zero label values in a label image, sorted."""
    array = sitk.GetArrayViewFromImage(mask)
    return [int(v) for v in np.unique(array[array != 0])]  # ROIs are small: unique of the non-zero part only


def _fmt_labels(labels: Sequence[int]) -> str:
    return ", ".join(str(lab) for lab in labels) if labels else "none"


def _read_segmentation_rois(path: Path, wanted: list[str] | None, *, case_id: str | None) -> list[Roi]:
    import slicerio

    try:
        meta = slicerio.read_segmentation(str(path), skip_voxels=True)
    except Exception as exc:  # slicerio raises plain exceptions on malformed headers
        raise InputError(f"cannot be read as a Slicer segmentation ({_first_line(exc)})", case_id=case_id,
                         file=path, hint="re-save the segmentation from Slicer as .seg.nrrd") from None
    segments = meta.get("segments", [])
    voxels = read_image_any_components(path, case_id=case_id)
    names = [s.get("name", s.get("id")) for s in segments]
    if wanted is None:
        chosen = segments
    else:
        chosen = []
        for item in wanted:
            match = [s for s in segments if item in (s.get("name"), s.get("id"))]
            if not match and item.isdigit():
                match = [s for s in segments if int(s.get("labelValue", 1)) == int(item)]
            if not match:
                raise InputError(f"segment '{item}' not in the segmentation; segments present: "
                                 f"{', '.join(map(str, names)) or 'none'}", case_id=case_id, file=path,
                                 hint="choose one of the segments present (--roi / the manifest's roi column)")
            chosen.append(match[0])
    if not chosen:
        raise InputError("segmentation has no segments", case_id=case_id, file=path,
                         hint="draw the ROI in Segment Editor and save the segmentation again")
    layers: dict[int, sitk.Image] = {}
    result = []
    for seg in chosen:
        layer = int(seg.get("layer", 0))
        if layer not in layers:
            if voxels.GetNumberOfComponentsPerPixel() > 1:
                layers[layer] = sitk.VectorIndexSelectionCast(voxels, layer)
            else:
                layers[layer] = voxels
        result.append(Roi(name=str(seg.get("name", seg.get("id"))), label=int(seg.get("labelValue", 1)),
                          mask=layers[layer], source=str(path)))
    return result
