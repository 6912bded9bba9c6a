"""Our engine behind PyRadiomics' interface: ``Extractor(params).execute(image, mask, label)`` gives what
``RadiomicsFeatureExtractor(params).execute`` gives -- the same feature names and values (``classes``) --
with diagnostics of our own that need no pass over the whole image: the engine, the image's and mask's
geometry, the ROI's voxel counts and bounding box, and the image's and mask's hashes.

One case goes to PyRadiomics itself when it is installed: a 2D image with ``force2D``, where PyRadiomics
keeps only the angles off ``force2Ddimension`` of the 2D array (one direction for GLCM and GLRLM), not a
slice's four; without PyRadiomics we compute the slice's four directions (``force2D`` off).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import SimpleITK as sitk

from ...io.errors import SettingsError
from . import choice
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

    def execute(self, image: sitk.Image, mask: sitk.Image, label: int | None = None) -> dict[str, Any]:
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
        diagnostics = {
            "diagnostics_Versions_Engine": ENGINE,
            "diagnostics_Image-original_Hash": sitk.Hash(image),
            "diagnostics_Image-original_Spacing": tuple(image.GetSpacing()),
            "diagnostics_Image-original_Size": tuple(image.GetSize()),
            "diagnostics_Mask-original_Hash": sitk.Hash(mask),
            "diagnostics_Mask-original_VoxelNum": int(roi.drawn_mask.sum()),
            "diagnostics_Mask-resegmented_VoxelNum": int(roi.intensity_mask.sum()),
            "diagnostics_Image-prepared_Spacing": tuple(roi.image.GetSpacing()),
            "diagnostics_Image-prepared_Size": tuple(roi.image.GetSize()),
            "diagnostics_Mask-prepared_BoundingBoxSize": tuple(int(n) for n in roi.values.shape[::-1]),
            "diagnostics_Image-prepared_Mean": float(np.mean(roi.values[roi.intensity_mask])),
        }
        return {**diagnostics, **roi_features(roi, self.feature_classes, settings)}

    def _pyradiomics(self):
        import logging

        import radiomics
        from radiomics import featureextractor

        radiomics.setVerbosity(logging.ERROR)
        return featureextractor.RadiomicsFeatureExtractor({"featureClass": self.feature_classes,
                                                            "setting": self.settings, "imageType": {"Original": {}}})
