"""Radiomics feature extraction for one case: PyRadiomics' classes by our engine (``engine``) or by
PyRadiomics' Python API (``ExtractionParams.engine``), plus our IBSI families.

One call handles every ROI of a case (labels of a label map, segments of a
segmentation) and returns one row per (case_id, roi) -- or, with slice-wise
settings, one row per (case_id, roi, slice). Feature columns carry
PyRadiomics' names (``original_glcm_Contrast``); PyRadiomics' diagnostics go
to the provenance, not into the table, so that every column is numeric.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import SimpleITK as sitk

from ..io import images, validation
from ..io.columns import IDENTIFIERS, ROW_KEY
from ..io.errors import InputError, WorkshopError
from .presets import ExtractionParams, load_params

KEY_COLUMNS = list(ROW_KEY)
logger = logging.getLogger(__name__)


@dataclass
class CaseResult:
    """Rows of one case plus what the provenance needs to know about them."""

    case_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return rows_to_frame(self.rows)


def rows_to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column not in IDENTIFIERS:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    return frame


def make_extractor(params: ExtractionParams):
    """The extractor of these settings: PyRadiomics' or our engine's (``params.engine``; both have PyRadiomics'
    ``execute``); None when nothing is left for it (the IBSI convention without shape)."""
    pyradiomics = pyradiomics_params(params)
    if params.convention == "ibsi" and not pyradiomics["featureClass"]:
        return None
    return extractor_for(pyradiomics, params.engine)


def pyradiomics_params(params: ExtractionParams) -> dict:
    """What PyRadiomics computes: all of the preset, but under the IBSI convention its first-order and texture
    classes (we compute those, ``ibsi.texture.OURS``) and its re-segmentation (shape takes the ROI as drawn,
    the IBSI's morphological mask). An empty ``featureClass`` means nothing here, not PyRadiomics' all."""
    from .engine.classes import DEFAULT_CLASSES
    from .ibsi.texture import OURS

    data = params.pyradiomics
    if params.convention != "ibsi":
        return data
    classes = {k: v for k, v in (data.get("featureClass") or DEFAULT_CLASSES).items() if k not in OURS}
    # shape on the morphological mask, the ROI as drawn: PyRadiomics crops it to the re-segmented ROI's box
    setting = {k: v for k, v in (data.get("setting") or {}).items()
               if k not in ("resegmentRange", "resegmentMode", "resegmentShape")}
    return {**data, "featureClass": classes, "setting": setting}


_EXTRACTORS: dict[str, Any] = {}


def extractor_for(pyradiomics_params: dict, engine: str = "pyradiomics"):
    """An extractor, one per engine and distinct settings per process (PyRadiomics' validates a schema)."""
    key = engine + json.dumps(pyradiomics_params, sort_keys=True, default=str)
    if key not in _EXTRACTORS:
        if engine == "ours":
            from .engine.extractor import Extractor

            _EXTRACTORS[key] = Extractor(copy.deepcopy(pyradiomics_params))
        else:
            import radiomics
            from radiomics import featureextractor

            radiomics.setVerbosity(logging.ERROR)
            _EXTRACTORS[key] = featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(pyradiomics_params))
    return _EXTRACTORS[key]


def _execute(extractor, image: sitk.Image, mask: sitk.Image, label: int, crop: bool) -> dict[str, Any]:
    from .engine.extractor import Extractor

    if isinstance(extractor, Extractor):  # ours crops around the ROI itself
        return extractor.execute(image, mask, label=label, crop=crop)
    if crop:
        from .roi_crop import execute_with_roi_crop

        return execute_with_roi_crop(extractor, image, mask, label=label)
    return extractor.execute(image, mask, label=label)


def _split_result(result: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    features, diagnostics = {}, {}
    for name, value in result.items():
        if name.startswith("diagnostics_"):
            diagnostics[name] = str(value)
        else:
            features[name] = float(np.asarray(value))
    return features, diagnostics


def _slice_axis(settings: dict) -> int:
    """SimpleITK axis of the slices: PyRadiomics' force2Ddimension counts numpy axes (z, y, x)."""
    return 2 - int(settings.get("force2Ddimension", 0))


def _slices_with_roi(mask: sitk.Image, label: int, axis: int) -> list[int]:
    array = sitk.GetArrayViewFromImage(mask) == label
    numpy_axis = 2 - axis
    other = tuple(a for a in range(3) if a != numpy_axis)
    return [int(k) for k in np.nonzero(array.any(axis=other))[0]]


def _take_slice(image: sitk.Image, axis: int, index: int) -> sitk.Image:
    region = [slice(None)] * 3
    region[axis] = slice(index, index + 1)
    return image[tuple(region)]


def _dicom_identity(series_info, mask) -> dict[str, str]:
    """What the provenance keeps of DICOM input: the series' UIDs and the patient's identifier (the feature
    table gets only ``patient_id``, and only where the manifest has none)."""
    if series_info is None:
        return {}
    out = {"image_series_uid": series_info.uid, "study_uid": series_info.study_uid,
           "frame_of_reference_uid": series_info.frame_of_reference_uid, "modality": series_info.modality}
    if series_info.patient_id:
        out["patient_id"] = series_info.patient_id
    if not isinstance(mask, sitk.Image) and images.dicom_mask_modality(mask):
        out["mask_modality"] = images.dicom_mask_modality(mask)
        out["mask_sop_instance_uid"] = str(images.dicom_series.header(mask).SOPInstanceUID)
    return out


def extract_case_result(
    image: str | Path | sitk.Image,
    mask: str | Path | sitk.Image,
    params: ExtractionParams,
    *,
    rois: Iterable[str | int] | None = None,
    case_id: str = "case",
    patient_id: str | None = None,
    resample_mask: bool = False,
    roi_crop: bool = True,
    extractor=None,
    series: str | None = None,
) -> CaseResult:
    """Extract every selected ROI of one case; raise :class:`WorkshopError` on bad input. ``series``: the
    image's SeriesInstanceUID where its folder holds several DICOM series."""
    t0 = time.perf_counter()
    image_file = str(image) if not isinstance(image, sitk.Image) else "<in-memory image>"
    mask_file = str(mask) if not isinstance(mask, sitk.Image) else "<in-memory mask>"
    try:
        image_obj, series_info = (image, None) if isinstance(image, sitk.Image) else images.read_case_image(
            image, case_id=case_id, series=series, mask=None if isinstance(mask, sitk.Image) else mask)
        if isinstance(mask, sitk.Image):
            roi_list = images.rois_from_label_image(mask, images.parse_roi_spec(rois), case_id=case_id,
                                                    source=mask_file)
        else:
            roi_list = images.read_rois(mask, rois, case_id=case_id, image=image_obj, series=series_info)
        dicom = _dicom_identity(series_info, mask)
        if patient_id is None and dicom.get("patient_id"):
            patient_id, dicom["patient_id_from"] = dicom["patient_id"], "DICOM header (PatientID)"
        settings = params.settings
        validation.check_finite(image_obj, case_id=case_id, image_file=image_file)
        preprocessing_log = None
        if params.recipe is not None:
            image_obj, roi_list, preprocessing_log = _preprocess(params.recipe, image_obj, roi_list, resample_mask,
                                                                 case_id, image_file, mask_file)
        validation.check_dimensionality(image_obj, settings, params.name, case_id=case_id, image_file=image_file)
        if extractor is None:
            extractor = make_extractor(params)
        result = CaseResult(case_id=case_id, info={"image": image_file, "mask": mask_file, "rois": {},
                                                   "preprocessing": preprocessing_log or _sidecar(image)})
        if dicom:
            result.info["dicom"] = dicom
        aligned: dict[int, tuple[sitk.Image, str | None]] = {}
        for roi in roi_list:
            if id(roi.mask) not in aligned:
                aligned[id(roi.mask)] = validation.align_mask(
                    image_obj, roi.mask, resample_mask=resample_mask, case_id=case_id,
                    image_file=image_file, mask_file=mask_file)
            mask_img, mask_note = aligned[id(roi.mask)]
            voxels = validation.check_roi(mask_img, roi.label, roi.name, minimum_voxels=params.minimum_roi_voxels,
                                          case_id=case_id, mask_file=mask_file)
            roi_info: dict[str, Any] = {"label": roi.label, "voxels": voxels, "mask_alignment": mask_note}
            keys = {"case_id": case_id, "roi": roi.name}
            if patient_id is not None:
                keys["patient_id"] = patient_id
            t_roi = time.perf_counter()
            if params.slicewise and image_obj.GetDimension() == 3:
                roi_info["slices"] = _extract_slices(extractor, image_obj, mask_img, roi, params, keys, result,
                                                     roi_crop, case_id, mask_file)
            else:
                features, diagnostics = ({}, {}) if extractor is None else \
                    _run(extractor, image_obj, mask_img, roi, roi_crop, case_id, mask_file)
                if params.convention != "ibsi":
                    for agg_name, aggregation in params.aggregations.items():
                        features.update(_aggregated(agg_name, aggregation, image_obj, mask_img, roi, params,
                                                    roi_crop, case_id, mask_file))
                if params.ibsi_families or params.convention == "ibsi":
                    features.update(_ibsi_families(image_obj, mask_img, roi, params, case_id, mask_file))
                row = dict(keys)
                if params.slicewise:
                    row["slice"] = 0
                row.update(features)
                result.rows.append(row)
                roi_info["diagnostics"] = diagnostics
            roi_info["seconds"] = round(time.perf_counter() - t_roi, 4)
            result.info["rois"][roi.name] = roi_info
        result.info["seconds"] = round(time.perf_counter() - t0, 4)
        return result
    except WorkshopError as exc:
        raise exc.with_context(case_id=case_id, file=image_file)


def _preprocess(recipe, image, roi_list, resample_mask, case_id, image_file, mask_file):
    """Apply a recipe on the fly; masks follow the image onto its new grid."""
    from ..preprocessing.filters import resample_mask as resample_label_map
    from ..preprocessing.recipes import apply_recipe_to_case

    first, _ = validation.align_mask(image, roi_list[0].mask, resample_mask=resample_mask, case_id=case_id,
                                     image_file=image_file, mask_file=mask_file)
    result, log = apply_recipe_to_case(recipe, image, first, case_id=case_id, image_file=image_file)
    options = dict(next((o for n, o in recipe.steps if n == "resample"), {}))
    moved: dict[int, sitk.Image] = {id(roi_list[0].mask): result.mask}
    for roi in roi_list:
        if id(roi.mask) not in moved:
            aligned, _ = validation.align_mask(image, roi.mask, resample_mask=resample_mask, case_id=case_id,
                                               image_file=image_file, mask_file=mask_file)
            moved[id(roi.mask)] = (resample_label_map(aligned, result.image,
                                                      mode=options.get("mask_mode", "partial_volume"),
                                                      threshold=options.get("mask_threshold", 0.5))
                                   if recipe.resamples() else aligned)
    rois = [images.Roi(r.name, r.label, moved[id(r.mask)], r.source) for r in roi_list]
    return result.image, rois, {"recipe": recipe.to_dict(), "steps": log, "applied": "on the fly"}


def _sidecar(image) -> dict | None:
    """What preprocessing made this image, when `radiomics-workshop preprocess` did."""
    if isinstance(image, sitk.Image):
        return None
    from ..preprocessing.recipes import read_sidecar

    return read_sidecar(image)


def _with_background(image: sitk.Image, mask: sitk.Image) -> tuple[sitk.Image, sitk.Image]:
    """PyRadiomics refuses a mask without background ("No labels found"): an ROI that fills the
    whole image (or slice) gets a one-voxel border, mirrored in the image, 0 in the mask."""
    if np.any(sitk.GetArrayViewFromImage(mask) == 0):
        return image, mask
    pad = [1 if size > 1 else 0 for size in image.GetSize()]
    return sitk.MirrorPad(image, pad, pad), sitk.ConstantPad(mask, pad, pad, 0)


def _run(extractor, image, mask, roi, crop, case_id, mask_file):
    image, mask = _with_background(image, mask)
    try:
        return _split_result(_execute(extractor, image, mask, roi.label, crop))
    except (ValueError, RuntimeError, IndexError) as exc:
        # PyRadiomics raises ValueError for ROIs it cannot use (e.g. too few dimensions).
        who = "our feature engine" if type(extractor).__name__ == "Extractor" else "PyRadiomics"
        raise InputError(f"{who} cannot extract ROI '{roi.name}': {' '.join(str(exc).split())}",
                         case_id=case_id, file=mask_file,
                         hint="check the ROI and the settings (a 2D ROI needs a 2D preset, e.g. MR_2D)") from None


def _aggregated(name: str, aggregation: dict, image, mask, roi, params, crop, case_id, mask_file) -> dict[str, float]:
    """Texture features of one extra aggregation, renamed ``<imageType>-<name>_<class>_<feature>``."""
    extractor = extractor_for(aggregation["pyradiomics"], params.engine)
    if aggregation["per_slice"]:  # IBSI "2D": features per slice, averaged over the slices
        axis = _slice_axis(aggregation["pyradiomics"]["setting"])
        per_slice = []
        for index in _slices_with_roi(mask, roi.label, axis):
            mask_slice = _take_slice(mask, axis, index)
            if np.count_nonzero(sitk.GetArrayViewFromImage(mask_slice) == roi.label) >= params.minimum_roi_voxels:
                per_slice.append(_run(extractor, _take_slice(image, axis, index), mask_slice, roi, crop,
                                      case_id, mask_file)[0])
        features = {key: float(np.mean([f[key] for f in per_slice])) for key in per_slice[0]} if per_slice else {}
    else:
        features = _run(extractor, image, mask, roi, crop, case_id, mask_file)[0]
    renamed = {}
    for key, value in features.items():
        image_type, rest = key.split("_", 1)
        renamed[f"{image_type}-{name}_{rest}"] = value
    return renamed


def ibsi_texture_aggregations(params: ExtractionParams) -> dict[str, tuple[str, int]]:
    """Column prefix -> (IBSI aggregation, numpy slice axis) for our GLDZM/NGLDM: the main extraction and
    every aggregation that computes GLSZM (see ``ibsi_families``)."""
    from .ibsi.families import texture_aggregation

    out = {"original": (texture_aggregation(params.settings, False), int(params.settings.get("force2Ddimension", 0)))}
    for name, aggregation in params.aggregations.items():
        pyradiomics = aggregation["pyradiomics"]
        if "glszm" in pyradiomics["featureClass"]:
            setting = pyradiomics["setting"]
            out[f"original-{name}"] = (texture_aggregation(setting, aggregation["per_slice"]),
                                       int(setting.get("force2Ddimension", 0)))
    return out


def our_extractions(params: ExtractionParams) -> dict[str, dict[str, Any]]:
    """Column prefix -> the settings, ``per_slice`` and feature classes of the main extraction and of every
    aggregation: what we compute under the IBSI convention (``ibsi.families.case_features``)."""
    from .engine.classes import DEFAULT_CLASSES

    out = {"original": {"setting": params.settings, "per_slice": False,
                        "featureClass": params.pyradiomics.get("featureClass") or DEFAULT_CLASSES}}
    for name, aggregation in params.aggregations.items():
        out[f"original-{name}"] = {"setting": aggregation["pyradiomics"]["setting"],
                                   "per_slice": aggregation["per_slice"],
                                   "featureClass": aggregation["pyradiomics"]["featureClass"]}
    return out


def _ibsi_families(image, mask, roi, params, case_id, mask_file) -> dict[str, float]:
    from .ibsi.families import case_features

    if image.GetDimension() != 3:
        raise InputError("the IBSI families ('workshop: ibsi_families') need a 3D image", case_id=case_id,
                         file=mask_file, hint="use a preset without ibsi_families for 2D images")
    image, mask = _with_background(image, mask)
    try:
        return case_features(image, mask, roi.label, params.settings, params.ibsi_families,
                             ibsi_texture_aggregations(params), ivh=params.ivh, convention=params.convention,
                             extractions=our_extractions(params) if params.convention == "ibsi" else None,
                             outliers=params.outliers)
    except (ValueError, RuntimeError, IndexError) as exc:
        raise InputError(f"the IBSI families cannot be computed for ROI '{roi.name}': {' '.join(str(exc).split())}",
                         case_id=case_id, file=mask_file, hint="check the ROI and the settings") from None


def _extract_slices(extractor, image, mask, roi, params, keys, result, crop, case_id, mask_file) -> dict:
    axis = _slice_axis(params.settings)
    done, skipped = [], []
    for index in _slices_with_roi(mask, roi.label, axis):
        mask_slice = _take_slice(mask, axis, index)
        count = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask_slice) == roi.label))
        if count < params.minimum_roi_voxels:
            skipped.append({"slice": index, "voxels": count, "reason": "too few voxels"})
            continue
        features, _ = _run(extractor, _take_slice(image, axis, index), mask_slice, roi, crop, case_id, mask_file)
        row = dict(keys)
        row["slice"] = index
        row.update(features)
        result.rows.append(row)
        done.append(index)
    if not done:
        raise InputError(f"ROI '{roi.name}' has no slice with at least {params.minimum_roi_voxels} voxels",
                         case_id=case_id, file=mask_file, hint="check the segmentation")
    return {"extracted": done, "skipped": skipped}


def extract_case(
    image: str | Path | sitk.Image,
    mask: str | Path | sitk.Image,
    *,
    preset: str | None = None,
    params_file: str | Path | None = None,
    params: dict | ExtractionParams | None = None,
    rois: Iterable[str | int] | str | int | None = None,
    case_id: str = "case",
    patient_id: str | None = None,
    resample_mask: bool = False,
    roi_crop: bool = True,
) -> pd.DataFrame:
    """Features of one case as a table: one row per ROI (or per slice with slice-wise settings).

    ``preset`` names a shipped preset (CT, MR, MR_2D, IBSI, ...), ``params_file``
    a PyRadiomics parameter file, ``params`` a PyRadiomics parameter dict.
    """
    if not isinstance(params, ExtractionParams):
        params = load_params(preset=preset, params_file=params_file, params=params)
    return extract_case_result(image, mask, params, rois=rois, case_id=case_id, patient_id=patient_id,
                               resample_mask=resample_mask, roi_crop=roi_crop).to_frame()
