"""Our engine behind PyRadiomics' interface: ``Extractor(params).execute(image, mask, label)`` gives what
``RadiomicsFeatureExtractor(params).execute`` gives -- the same feature names and values (``classes``) --
with diagnostics of our own that need no pass over the whole image: the engine, the image's and mask's
geometry, the ROI's voxel counts and bounding box, and hashes of the image's and mask's voxels in the ROI's
box (what the features are computed from; PyRadiomics hashes the whole image, which costs more than the
features of a small ROI).

One case goes to PyRadiomics itself when it is installed: a 2D image with ``force2D``, where PyRadiomics
keeps only the angles off ``force2Ddimension`` of the 2D array (one direction for GLCM and GLRLM), not a
slice's four; without PyRadiomics we compute the slice's four directions (``force2D`` off).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import SimpleITK as sitk

from ...io.errors import SettingsError
from . import choice, filters
from .classes import DEFAULT_CLASSES, roi_features, unsupported
from ..preparation import prepare

ENGINE = "RadiomicsWorkshop"


class Extractor:
    """PyRadiomics' parameters (``imageType``, ``featureClass``, ``setting``) computed by our engine."""

    def __init__(self, params: Mapping[str, Any]):
        problems = unsupported(params)
        if problems:
            raise SettingsError(f"our feature engine cannot compute {'; '.join(problems)}",
                                hint="use --engine pyradiomics (PyRadiomics installed) for these settings")
        self.settings = dict(params.get("setting") or {})
        self.feature_classes = dict(params.get("featureClass") or DEFAULT_CLASSES)
        self.image_types = {name: dict(custom or {}) for name, custom in (params.get("imageType") or
                                                                            {"Original": {}}).items()}

    def execute(self, image: sitk.Image, mask: sitk.Image, label: int | None = None,
                crop: bool = True) -> dict[str, Any]:
        """PyRadiomics' ``execute``; ``crop``: filter around the ROI (False: the whole image, as PyRadiomics)."""
        label = int(label if label is not None else self.settings.get("label", 1))
        settings = self.settings
        if image.GetDimension() == 2 and settings.get("force2D"):
            # PyRadiomics' force2D on a 2D image drops the angles along force2Ddimension of the 2D array
            # (cMatrices.generate_angles(size (y, x), force2D, 0) -> [(0, 1)] only): its numbers, by it
            if choice.pyradiomics_installed():
                return {**self._pyradiomics().execute(image, mask, label=label),
                        "diagnostics_Versions_Engine": "PyRadiomics (a 2D image with force2D)"}
            settings = {**settings, "force2D": False}  # without it: every in-plane direction, one slice
        roi = prepare(image, mask, label, settings)
        shape_classes = {k: v for k, v in self.feature_classes.items() if k.startswith("shape")}
        other_classes = {k: v for k, v in self.feature_classes.items() if not k.startswith("shape")}
        diagnostics = {
            "diagnostics_Versions_Engine": ENGINE,
            "diagnostics_Image-roi_Hash": _hash(roi.values),
            "diagnostics_Image-original_Spacing": tuple(image.GetSpacing()),
            "diagnostics_Image-original_Size": tuple(image.GetSize()),
            "diagnostics_Mask-roi_Hash": _hash(roi.drawn_mask),
            "diagnostics_Mask-original_VoxelNum": int(roi.drawn_mask.sum()),
            "diagnostics_Mask-resegmented_VoxelNum": int(roi.intensity_mask.sum()),
            "diagnostics_Image-prepared_Spacing": tuple(roi.image.GetSpacing()),
            "diagnostics_Image-prepared_Size": tuple(roi.image.GetSize()),
            "diagnostics_Mask-prepared_BoundingBoxSize": tuple(int(n) for n in roi.values.shape[::-1]),
            "diagnostics_Image-prepared_Mean": float(np.mean(roi.values[roi.intensity_mask])),
        }
        features = roi_features(roi, shape_classes, settings) if shape_classes else {}
        if other_classes:
            for filtered, box, name, type_settings in self._images(roi, settings, crop):
                values = sitk.GetArrayViewFromImage(filtered)[box].copy() if name != "original" else roi.values
                features.update(roi_features(replace(roi, values=values), other_classes, type_settings, prefix=name))
        return {**diagnostics, **features}

    def _images(self, roi, settings, crop: bool):
        """(image, where the ROI's box lies in it, name, settings) of every image type, in PyRadiomics' order,
        each filtered on the ROI's box grown by the filter's reach where that is smaller than the image
        (``roi_crop.plan_crop``: the margins and their measured errors there)."""
        from ..roi_crop import plan_crop

        image = roi.image
        bounds = [v for b in roi.box[::-1] for v in (b.start, b.stop - 1)]  # SimpleITK order, interleaved
        for step in plan_crop(self.image_types, settings, image.GetSize(), image.GetSpacing(), bounds):
            if step.image_type in filters.SCALED:  # voxel by voxel given the image's largest: the box only
                name = step.image_type.lower()
                box_values = filters.scaled(sitk.GetArrayViewFromImage(image)[roi.box], name,
                                            filters.largest_magnitude(image))
                yield sitk.GetImageFromArray(box_values), (slice(None),) * 3, name, {**settings, **step.custom}
                continue
            source, box = image, roi.box
            if crop and step.region is not None and step.image_type != "Original":
                source = image[tuple(slice(low, high + 1) for low, high in step.region)]
                box = tuple(slice(b.start - low, b.stop - low) for b, (low, _) in zip(roi.box, step.region[::-1]))
            for filtered, name, type_settings in filters.images(step.image_type, source, {**settings, **step.custom},
                                                                step.custom):
                yield filtered, box, name, type_settings

    def _pyradiomics(self):
        import logging

        import radiomics
        from radiomics import featureextractor

        radiomics.setVerbosity(logging.ERROR)
        return featureextractor.RadiomicsFeatureExtractor({"featureClass": self.feature_classes,
                                                            "setting": self.settings, "imageType": {"Original": {}}})


def _hash(array: np.ndarray) -> str:
    """A short hash of an array's type, shape and values."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()

