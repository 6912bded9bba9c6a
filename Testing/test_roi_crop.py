"""Cropping around the ROI before filtering gives PyRadiomics' full-image
numbers within 0.1%, same keys in the same order; the crop really happens."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk

from RadiomicsWorkshopLib import roi_crop

ALL_IMAGE_TYPES = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 3.0, 5.0]}, "Wavelet": {}, "Square": {},
                  "SquareRoot": {}, "Logarithm": {}, "Exponential": {}, "Gradient": {}, "LBP2D": {}},
    "featureClass": {"firstorder": [], "glcm": [], "glszm": [], "shape": []},
    "setting": {"binWidth": 25, "voxelArrayShift": 2000},
}
REL = 1e-3      # 0.1% relative ...
ABS = 1e-9      # ... with a floor for values that are exactly 0 in both


def _extractor(params):
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    return featureextractor.RadiomicsFeatureExtractor(params)


@pytest.mark.parametrize("case", ["brain2", "breast1"])
def test_cropped_equals_full_image(case, sample_case):
    image_file, mask_file = sample_case(case)
    image, mask = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))
    extractor = _extractor(ALL_IMAGE_TYPES)
    full = extractor.execute(image, mask)
    cropped = roi_crop.execute_with_roi_crop(extractor, image, mask)
    assert list(cropped) == list(full)
    assert any(k.startswith("wavelet-HHH") for k in full) and any(k.startswith("log-sigma-5") for k in full)
    for key, ref in full.items():
        if key.startswith("diagnostics_"):
            assert str(cropped[key]) == str(ref), key
            continue
        ours, ref = float(cropped[key]), float(ref)
        assert abs(ours - ref) <= REL * abs(ref) + ABS, f"{case} {key}: {ours} vs full image {ref}"


def test_crop_is_smaller_and_margins_follow_the_filters(sample_case):
    image = sitk.ReadImage(str(sample_case("lung1")[0]))
    mask = sitk.ReadImage(str(sample_case("lung1")[1]))
    enabled = ALL_IMAGE_TYPES["imageType"]
    cropped_types, exact = roi_crop.plan(enabled, ALL_IMAGE_TYPES["setting"])
    assert set(exact) == {"Square", "SquareRoot", "Logarithm", "Exponential"}
    assert {"Original", "LoG", "Wavelet", "Gradient", "LBP2D"} == set(cropped_types)
    spacing = image.GetSpacing()
    margin = roi_crop.crop_margin(cropped_types, enabled, ALL_IMAGE_TYPES["setting"], spacing)
    # LoG sigma 5 mm dominates in plane (0.57 mm voxels), and in z (5 mm slices) too.
    np.testing.assert_array_equal(margin, np.ceil(roi_crop.LOG_SIGMAS * 5.0 / np.array(spacing)) + 1)
    box = [206, 206 + 23, 347, 347 + 25, 32, 32 + 2]  # PyRadiomics' (min, max) per axis for lung1
    small_image, small_mask = roi_crop.crop_to_roi(image, mask, box, margin)
    assert np.prod(small_image.GetSize()) < 0.2 * np.prod(image.GetSize())
    assert small_image.GetSize() == small_mask.GetSize()
    # The crop keeps physical positions: the ROI's voxels are the same.
    assert sitk.GetArrayViewFromImage(small_mask).sum() == sitk.GetArrayViewFromImage(mask).sum()
    wider = roi_crop.margin_voxels("Wavelet", {"level": 2, "wavelet": "db4"}, spacing)
    assert (wider > roi_crop.margin_voxels("Wavelet", {}, spacing)).all()
    assert roi_crop.margin_voxels("Square", {}, spacing) is None
    assert roi_crop.margin_voxels("SomeFutureFilter", {}, spacing) is None


def test_original_only_is_plain_pyradiomics(sample_case):
    image_file, mask_file = sample_case("breast1")
    extractor = _extractor({"imageType": {"Original": {}}, "setting": {"binWidth": 25}})
    image, mask = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))
    a = extractor.execute(image, mask)
    b = roi_crop.execute_with_roi_crop(extractor, image, mask)
    assert {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}
