"""Our IBSI families inside the extraction, on the PyRadiomics sample cases: they must see the same voxels
and grey levels as PyRadiomics' classes under every preparation setting (normalisation, resampling,
re-segmentation, bin width or count), and bad settings get clear errors. (Their values against the IBSI
reference: test_ibsi_phantom.py and the per-family tests.)
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from RadiomicsWorkshopLib.features.extraction import extract_case
from RadiomicsWorkshopLib.features.ibsi import reference as ibsi
from RadiomicsWorkshopLib.features.ibsi.morphology import _pairwise_autocorrelation
from RadiomicsWorkshopLib.features.presets import params_from_dict
from RadiomicsWorkshopLib.io.errors import InputError, SettingsError

SETTINGS = {  # case -> PyRadiomics settings exercising each preparation step
    "brain1": {"binCount": 32, "normalize": True, "normalizeScale": 100, "resegmentRange": [-2, 2],
               "resegmentMode": "sigma"},
    "lung2": {"binWidth": 25, "resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkBSpline"},
    "breast1": {"binWidth": 5},
}


def _params(setting: dict, **workshop):
    return params_from_dict({"imageType": {"Original": {}}, "featureClass": {"firstorder": [], "glszm": []},
                             "setting": {"label": 1, **setting}, "workshop": {"ibsi_families": True, **workshop}})


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_same_voxels_and_grey_levels_as_pyradiomics(sample_case, case):
    image, mask = sample_case(case)
    row = extract_case(image, mask, params=_params(SETTINGS[case]), case_id=case).iloc[0]
    # The NGLDM's row sums are the grey-level histogram: its normalised grey level non-uniformity is
    # firstorder's uniformity exactly when the ROI (after re-segmentation) and the grey levels are the same.
    assert np.isclose(row["original_ngldm_GrayLevelNonUniformityNormalized"], row["original_firstorder_Uniformity"],
                      rtol=1e-10)
    # The intensity statistics are on the same (normalised, resampled, re-segmented) intensities.
    assert np.isclose(row["original_statistics_CoefficientOfVariation"],
                      np.sqrt(row["original_firstorder_Variance"]) / row["original_firstorder_Mean"], rtol=1e-10)
    # GLDZM zones are GLSZM's zones (26-connected, same grey level): their counts agree.
    assert np.isclose(row["original_gldzm_ZonePercentage"], row["original_glszm_ZonePercentage"], rtol=1e-10)
    assert 0 < row["original_morphology_VolumeDensityConvexHull"] <= 1
    assert 0 < row["original_morphology_VolumeDensityAABB"] <= row["original_morphology_VolumeDensityConvexHull"]
    assert row["original_histogram_Minimum"] == 1 and row["original_ivh_VolumeAtIntensityFraction10"] <= 1


def test_texture_aggregations_follow_glszm(sample_case):
    image, mask = sample_case("breast1")
    workshop = {"aggregations": {"2D": {"per_slice": True, "setting": {"force2D": True},
                                        "featureClass": {"glszm": []}},
                                 "merged": {"setting": {"weightingNorm": "no_weighting"}, "featureClass": {"glcm": []}}}}
    params = _params({"binWidth": 5}, **workshop)
    row = extract_case(image, mask, params=params, case_id="breast1").iloc[0]
    assert "original-2D_gldzm_ZonePercentage" in row and "original-merged_gldzm_ZonePercentage" not in row
    assert np.isclose(row["original-2D_gldzm_ZonePercentage"], row["original-2D_glszm_ZonePercentage"], rtol=1e-10)
    codes = ibsi.ibsi_codes(list(row.index), params.settings, params.aggregations)
    assert [e["aggregation"] for e in codes["original-2D_gldzm_ZonePercentage"]] == ["2D"]
    assert [e["aggregation"] for e in codes["original-merged_glcm_Contrast"]] == ["3D, merged"]
    assert [e["aggregation"] for e in codes["original_glszm_ZonePercentage"]] == ["3D"]
    weighted = _params({"binWidth": 5, "weightingNorm": "euclidean"})
    assert ibsi.ibsi_codes(["original_glcm_Contrast"], weighted.settings)["original_glcm_Contrast"][0]["aggregation"] \
        is None


def test_morans_i_and_gearys_c_are_the_pair_sums():
    """The FFT form against the definition, pair by pair, on a random ROI with anisotropic voxels."""
    rng = np.random.default_rng(3)
    image = rng.normal(size=(6, 7, 8)) + np.linspace(0, 3, 8)  # a gradient: clearly autocorrelated
    mask = rng.random(image.shape) < 0.6
    spacing = (3.0, 1.0, 0.7)
    points = np.argwhere(mask) * np.asarray(spacing)
    values = image[mask]
    distance = np.linalg.norm(points[:, None] - points[None], axis=2)
    weight = np.where(distance > 0, 1 / np.where(distance > 0, distance, 1), 0)
    deviation = values - values.mean()
    n, total = values.size, weight.sum()
    moran = n / total * (weight * np.outer(deviation, deviation)).sum() / (deviation ** 2).sum()
    geary = (n - 1) * (weight * (values[:, None] - values[None]) ** 2).sum() / (2 * total * (deviation ** 2).sum())
    ours = _pairwise_autocorrelation(image, mask, spacing)
    assert np.allclose(ours, (moran, geary), rtol=1e-9) and moran > 0.05


def test_bad_settings_get_clear_errors(sample_case, tmp_path):
    with pytest.raises(SettingsError, match="unknown family glrlm.*known: morphology"):
        _params({}, ibsi_families=["gldzm", "glrlm"])
    with pytest.raises(SettingsError, match="must be bool or list"):
        _params({}, ibsi_families="all")
    with pytest.raises(SettingsError, match="'workshop: ibsi_families' and 'slicewise' do not go together"):
        _params({}, slicewise=True)
    image, mask = sample_case("breast1")
    slice_image = sitk.ReadImage(str(image))[:, :, 10]
    slice_mask = sitk.ReadImage(str(mask))[:, :, 10]
    with pytest.raises(InputError, match="case 'flat'.*the IBSI families .* need a 3D image"):
        extract_case(slice_image, slice_mask, params=_params({"force2D": True}), case_id="flat")
