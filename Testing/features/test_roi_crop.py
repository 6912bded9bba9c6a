"""Filtering around the ROI gives PyRadiomics' whole-image result: the same keys in
the same order, identical diagnostics and values for every image type except
LoG (an IIR filter), whose features stay within 0.1% relative; and the filters
really see a crop.

"Within 0.1%" is ``abs(ours - ref) <= 1e-9 + 1e-3 * abs(ref)``: the absolute
1e-9 is a floor for values that are (nearly) 0 in both.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import SimpleITK as sitk
from RadiomicsWorkshopLib.features import roi_crop

ALL_IMAGE_TYPES = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0, 4.0, 5.0]}, "Wavelet": {}, "Square": {},
                  "SquareRoot": {}, "Logarithm": {}, "Exponential": {}, "Gradient": {}, "LBP2D": {}, "LBP3D": {}},
    "setting": {"binWidth": 25, "voxelArrayShift": 2000},
}  # all feature classes (PyRadiomics' default)
REL, ABS = 1e-3, 1e-9


def _extractor(params):
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    return featureextractor.RadiomicsFeatureExtractor(params)


def _read(sample_case, name):
    image_file, mask_file = sample_case(name)
    return sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))


def _assert_same_result(ours, ref, what):
    """Same keys in the same order; LoG features within 0.1%, everything else identical."""
    assert list(ours) == list(ref), what
    for key, expected in ref.items():
        if key.startswith("diagnostics_"):
            assert repr(ours[key]) == repr(expected), f"{what} {key}"
        elif key.startswith("log-sigma-"):
            got, expected = float(ours[key]), float(expected)
            assert abs(got - expected) <= ABS + REL * abs(expected), f"{what} {key}: {got} vs whole image {expected}"
        else:
            assert float(ours[key]) == float(expected), f"{what} {key}: {float(ours[key])} vs {float(expected)}"


@pytest.mark.parametrize("case", ["brain2", "breast1"])
def test_all_image_types_match_the_whole_image(case, sample_case):
    image, mask = _read(sample_case, case)
    extractor = _extractor(ALL_IMAGE_TYPES)
    ref = extractor.execute(image, mask)
    ours = roi_crop.execute_with_roi_crop(extractor, image, mask)
    assert any(k.startswith("wavelet-HHH_glcm") for k in ref) and any(k.startswith("log-sigma-5-0") for k in ref)
    assert any(k.startswith("lbp-2D_") for k in ref) and any(k.startswith("square_") for k in ref)
    _assert_same_result(ours, ref, case)


def test_other_settings_and_orders(sample_case):
    """force2D (no margin across slices), two wavelet levels after a skipped one, a wider LBP2D,
    resegmentation, label given, whole-image types first and Original last."""
    image, mask = _read(sample_case, "brain2")
    params = {
        "imageType": {"Square": {}, "LoG": {"sigma": [2.0, 4.0]}, "Exponential": {},
                      "Wavelet": {"wavelet": "db2", "start_level": 1, "level": 2},
                      "LBP2D": {"lbp2DRadius": 2.0, "lbp2DSamples": 12}, "Gradient": {}, "Original": {}},
        "featureClass": {"firstorder": [], "glcm": [], "glszm": [], "shape": []},
        "setting": {"binWidth": 25, "force2D": True, "force2Ddimension": 0,
                    "resegmentRange": [-3, 3], "resegmentMode": "sigma"},
    }
    extractor = _extractor(params)
    ref = extractor.execute(image, mask, label=1)
    assert any(k.startswith("wavelet2-LL_") for k in ref) and not any(k.startswith("wavelet-LLL") for k in ref)
    _assert_same_result(roi_crop.execute_with_roi_crop(extractor, image, mask, label=1), ref, "variants")


@pytest.mark.filterwarnings("ignore:Applying `local_binary_pattern` to floating-point images")
@pytest.mark.parametrize("variant", ["normalised and resampled", "mask corrected"])
def test_loading_stays_pyradiomics(variant, sample_case):
    """Normalisation and resampling on the whole image; a mask on another grid corrected by PyRadiomics
    (its Mask-corrected diagnostics are PyRadiomics' own)."""
    image, mask = _read(sample_case, "brain2")
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {}, "Square": {},
                            "Gradient": {}, "LBP2D": {}},
              "featureClass": {"firstorder": [], "glcm": [], "shape": []}, "setting": {"binWidth": 25}}
    if variant == "mask corrected":
        mask = mask[190:240, 140:180, 4:16]  # same physical space, other grid
        params["setting"]["correctMask"] = True
    else:
        params["setting"].update(normalize=True, resampledPixelSpacing=[1.5, 1.5, 2.0], interpolator="sitkBSpline")
    extractor = _extractor(params)
    ref = extractor.execute(image, mask)
    assert any(k.startswith("diagnostics_Mask-corrected" if variant == "mask corrected"
                            else "diagnostics_Image-interpolated") for k in ref)
    _assert_same_result(roi_crop.execute_with_roi_crop(extractor, image, mask), ref, variant)


def test_roi_at_the_image_border(sample_case):
    """The wavelet wraps around the image: where the margin meets the border the crop keeps that axis whole."""
    image, mask = _read(sample_case, "brain2")
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.Execute(mask)
    x, y, z, size_x, size_y, _ = shape.GetBoundingBox(1)
    # Leave 2 voxels before the ROI in x, 1 before it in z, 3 after it in y: all within the wavelet's reach.
    region = (slice(x - 2, None), slice(None, y + size_y + 3), slice(z - 1, None))
    image, mask = image[region], mask[region]
    extractor = _extractor({"imageType": {"Wavelet": {}, "LoG": {"sigma": [3.0]}, "Gradient": {}, "LBP2D": {}},
                            "featureClass": {"firstorder": [], "glcm": []}, "setting": {"binWidth": 25}})
    _assert_same_result(roi_crop.execute_with_roi_crop(extractor, image, mask), extractor.execute(image, mask),
                        "border")


def test_2d_image(sample_case):
    image, mask = _read(sample_case, "brain2")
    image, mask = image[:, :, 9], mask[:, :, 9]
    assert image.GetDimension() == 2
    extractor = _extractor({"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {},
                                          "Gradient": {}, "LBP2D": {}},
                            "featureClass": {"firstorder": [], "glcm": [], "shape2D": []},
                            "setting": {"binWidth": 25}})
    ref = extractor.execute(image, mask)
    assert any(k.startswith("wavelet-HH_") for k in ref)
    _assert_same_result(roi_crop.execute_with_roi_crop(extractor, image, mask), ref, "2D")


def test_plan_crops_lung_filters_to_a_small_region(sample_case):
    from radiomics import imageoperations

    image, mask = _read(sample_case, "lung1")
    extractor = _extractor(ALL_IMAGE_TYPES)
    box, _ = imageoperations.checkMask(image, mask, **extractor.settings)
    size, spacing = np.array(image.GetSize()), np.array(image.GetSpacing())
    steps = roi_crop.plan_crop(extractor.enabledImagetypes, extractor.settings, size, spacing, box)
    assert [s.image_type for s in steps] == ["Original"] + ["LoG"] * 5 + [
        "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient", "LBP2D", "LBP3D"]
    assert [s.custom["sigma"] for s in steps if s.image_type == "LoG"] == [[1.0], [2.0], [3.0], [4.0], [5.0]]
    whole = {s.image_type for s in steps if s.region is None}
    assert whole == {"Original", "Square", "SquareRoot", "Logarithm", "Exponential", "LBP3D"}
    for step in steps:
        if step.region is None:
            continue
        low, high = np.array(step.region).T
        margin = roi_crop.crop_margin_voxels(step.image_type, {**extractor.settings, **step.custom}, spacing)
        np.testing.assert_array_equal(low, np.maximum(box[0::2] - margin, 0), step.image_type)
        np.testing.assert_array_equal(high, np.minimum(box[1::2] + margin, size - 1), step.image_type)
        assert np.prod(high - low + 1) < 0.2 * np.prod(size), step
    # The margins follow the filters: LoG 12 sigma in mm (at least 3 voxels), wavelet one filter length
    # per level, none across slices where PyRadiomics filters slice by slice.
    np.testing.assert_array_equal(roi_crop.crop_margin_voxels("LoG", {"sigma": [1.0, 5.0]}, spacing),
                                  [106, 106, 12])
    np.testing.assert_array_equal(roi_crop.crop_margin_voxels("LoG", {"sigma": [1.0]}, spacing), [22, 22, 3])
    assert roi_crop.crop_margin_voxels("Wavelet", {}, spacing) == (6, 6, 6)
    assert roi_crop.crop_margin_voxels("Wavelet", {"wavelet": "db4", "start_level": 1, "level": 2}, spacing) == (24,) * 3
    assert roi_crop.crop_margin_voxels("Wavelet", {"force2D": True, "force2Ddimension": 0}, spacing) == (6, 6, 0)
    assert roi_crop.crop_margin_voxels("LBP2D", {}, spacing) == (2, 2, 0)
    assert roi_crop.crop_margin_voxels("Square", {}, spacing) is None
    assert roi_crop.crop_margin_voxels("SomeFutureFilter", {}, spacing) is None
    # A ROI filling a small image: no crop, and the sigmas share one pass.
    steps = roi_crop.plan_crop({"LoG": {"sigma": [1.0, 2.0]}, "Wavelet": {}}, {}, (20, 20, 10), (1.0, 1.0, 1.0),
                               (2, 17, 2, 17, 1, 8))
    assert [(s.image_type, s.custom, s.region) for s in steps] == [("LoG", {"sigma": [1.0, 2.0]}, None),
                                                                   ("Wavelet", {}, None)]
    # A periodic filter whose margin meets the border keeps that axis whole.
    assert roi_crop.crop_region((100, 50), (3, 20, 10, 20), (6, 6), periodic=True) == ((0, 99), (4, 26))
    assert roi_crop.crop_region((100, 50), (3, 20, 10, 20), (6, 6)) == ((0, 26), (4, 26))


def test_the_filters_see_the_crop(sample_case, caplog):
    """End to end on lung1: each filtered image type (each LoG sigma) is handed to PyRadiomics as a small crop,
    Square (not cropped) as the whole image -- read from roi_crop's debug log of the images it passes."""
    image, mask = _read(sample_case, "lung1")
    extractor = _extractor({"imageType": {"LoG": {"sigma": [1.0, 5.0]}, "Wavelet": {}, "Gradient": {},
                                          "LBP2D": {}, "Square": {}},
                            "featureClass": {"firstorder": []}, "setting": {"binWidth": 25}})
    with caplog.at_level(logging.DEBUG, logger=roi_crop.__name__):
        result = roi_crop.execute_with_roi_crop(extractor, image, mask)
    assert any(k.startswith("log-sigma-5-0") for k in result)
    seen: dict[str, list[int]] = {}
    for record in caplog.records:
        if record.name == roi_crop.__name__ and record.args:
            seen.setdefault(record.args[0], []).append(int(np.prod(record.args[1])))
    full = int(np.prod(image.GetSize()))
    assert len(seen["LoG"]) == 2, seen  # one pass per sigma
    for name in ("LoG", "Wavelet", "Gradient", "LBP2D"):
        assert all(size < 0.2 * full for size in seen[name]), (name, seen[name], full)
    assert seen["Square"] == [full]  # the exact path: the whole image


def test_without_a_cropped_type_it_is_plain_pyradiomics(sample_case):
    image, mask = _read(sample_case, "breast1")
    extractor = _extractor({"imageType": {"Original": {}, "Square": {}}, "setting": {"binWidth": 25}})
    ref = extractor.execute(image, mask)
    ours = roi_crop.execute_with_roi_crop(extractor, image, mask)
    assert [(k, repr(v)) for k, v in ours.items()] == [(k, repr(v)) for k, v in ref.items()]


def test_pyradiomics_errors_are_unchanged(sample_case):
    image, mask = _read(sample_case, "breast1")
    extractor = _extractor(ALL_IMAGE_TYPES)
    with pytest.raises(ValueError, match="Label \\(7\\) not present"):
        extractor.execute(image, mask, label=7)
    with pytest.raises(ValueError, match="Label \\(7\\) not present"):
        roi_crop.execute_with_roi_crop(extractor, image, mask, label=7)


def test_no_roi_crop_on_the_command_line_is_pyradiomics_whole_image_path(sample_case, tmp_path):
    """`extract --no-roi-crop` filters the whole image: its LoG values are PyRadiomics' own to the last bit;
    without it, the crop's values stay within README's 0.1%."""
    import pandas as pd
    from clitools import cli

    image_file, mask_file = sample_case("breast1")
    params = {"imageType": {"LoG": {"sigma": [2.0]}}, "featureClass": {"firstorder": []},
              "setting": {"binWidth": 25}}
    (tmp_path / "p.yaml").write_text(json.dumps(params))  # YAML reads JSON
    base = ["extract", "--image", image_file, "--mask", mask_file, "--params", tmp_path / "p.yaml"]
    cli(*base, "--out", tmp_path / "plain.csv", "--no-roi-crop")
    cli(*base, "--out", tmp_path / "cropped.csv")
    plain, cropped = (pd.read_csv(tmp_path / f"{n}.csv").iloc[0] for n in ("plain", "cropped"))
    reference = _extractor(params).execute(str(image_file), str(mask_file))
    columns = [k for k in reference if k.startswith("log-sigma-2-0-mm-3D_firstorder_")]
    assert len(columns) == 18
    for column in columns:
        assert plain[column] == pytest.approx(float(reference[column]), rel=1e-12, abs=1e-12), column
        assert cropped[column] == pytest.approx(float(reference[column]), rel=REL, abs=ABS), column
    assert any(plain[c] != cropped[c] for c in columns), "the crop path was not taken without the flag"
