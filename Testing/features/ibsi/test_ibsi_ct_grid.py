"""The IBSI's interpolation grid (``resample`` with ``grid: ibsi``), and what it does for the IBSI-1 CT phantom.

The IBSI-1 reference manual (theibsi/ibsi-doc, docs/05_Reference_data_sets.rst, "Notes on interpolation"):
the new grid's size is the fractional size rounded up, the new grid is centred on the original one, the
intensities at its border are those of the nearest original voxels (no zero padding); the CT configurations round the
interpolated intensities to integers. Configuration B interpolates in-plane only (2 x 2 mm), C in 3D (2 mm).

On the CT phantom (``../shared/data/ibsi/ct_phantom``, CC BY-NC: read there, never copied), configurations B
and C through ``radiomics-workshop extract --preprocess`` as a user runs them: with the IBSI grid every
morphological, intensity-based statistical and local intensity reference value is reproduced (with the
plain grid: 16/25, 17/18 and 0/2 for B; 14/24, 16/18 and 0/2 for C). The texture and histogram families,
which also depend on the IBSI's bin numbering and aggregation: test_ibsi_ct_phantom.py and test_ibsi_texture.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml
from clitools import cli
from RadiomicsWorkshopLib.features.ibsi.reference import compare_to_reference, default_reference_dir, load_reference
from RadiomicsWorkshopLib.features.presets import preset_path
from RadiomicsWorkshopLib.preprocessing.filters import resample

CT = default_reference_dir() / "ct_phantom" / "nifti"
CT_REFERENCE = default_reference_dir() / "ct_phantom_reference.csv"
CONFIGS = {  # IBSI-1 configurations B and C: spacing (0 keeps the slice thickness), PyRadiomics settings
    "B": ([2.0, 2.0, 0.0], {"binCount": 32, "resegmentRange": [-500, 400]}),
    "C": ([2.0, 2.0, 2.0], {"binWidth": 25, "resegmentRange": [-1000, 400]}),
}
FAMILIES = ("Morphological features", "Intensity-based statistical features", "Local intensity features")


def _image(size=(204, 201, 60), spacing=(0.977, 0.977, 3.0), origin=(-174.4, -79.6, -100.4), direction=None):
    image = sitk.Image(list(size), sitk.sitkFloat32)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def _centre(image: sitk.Image) -> np.ndarray:
    return np.array(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))


@pytest.mark.parametrize("direction", [None, (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)],
                         ids=["identity", "rotated"])
def test_the_ibsi_grid_is_rounded_up_and_centred_on_the_original(direction):
    original = _image(direction=direction)
    in_plane = resample(original, spacing=[2.0, 2.0, 0.0], interpolator="linear", grid="ibsi").image
    volume = resample(original, spacing=[2.0, 2.0, 2.0], interpolator="linear", grid="ibsi").image
    # 204 x 0.977 / 2 = 99.65 -> 100; 201 x 0.977 / 2 = 98.19 -> 99; 60 x 3 / 2 = 90; 0 keeps the 60 slices
    assert in_plane.GetSize() == (100, 99, 60) and in_plane.GetSpacing() == (2.0, 2.0, 3.0)
    assert volume.GetSize() == (100, 99, 90)
    for image in (in_plane, volume):
        np.testing.assert_allclose(_centre(image), _centre(original), atol=1e-9)
        assert image.GetDirection() == original.GetDirection()
    # in-plane only: the slices stay where they were
    np.testing.assert_allclose(in_plane.GetOrigin()[2], original.GetOrigin()[2], atol=1e-9)
    # the plain grid keeps the extent instead: 204 x 0.977 / 2 rounds to 100, 201 x 0.977 / 2 to 98
    assert resample(original, spacing=[2.0, 2.0, 0.0], interpolator="linear").image.GetSize() == (100, 98, 60)


def test_the_ibsi_grid_extrapolates_the_border_and_rounds_intensities():
    array = np.full((6, 7, 8), 7.0, dtype=np.float32)
    array[:, :, :4] = -3.3  # a step along x: interpolation makes fractions at the step
    original = sitk.GetImageFromArray(array)
    original.SetSpacing((0.7, 0.7, 1.0))
    out = resample(original, spacing=[2.0, 2.0, 0.0], interpolator="linear", grid="ibsi").image
    values = sitk.GetArrayFromImage(out)
    # the new grid is larger than the old one (8 x 0.7 / 2 = 2.8 -> 3 voxels of 2 mm over 5.6 mm): its outer
    # voxels take the nearest border intensities, no zero creeps in
    assert values[:, :, -1].min() == pytest.approx(7.0) and values[:, :, 0].max() == pytest.approx(-3.3)
    assert not np.allclose(values, np.rint(values))  # a fraction somewhere, without rounding
    rounded = sitk.GetArrayFromImage(resample(original, spacing=[2.0, 2.0, 0.0], interpolator="linear", grid="ibsi",
                                              round_intensities=True).image)
    np.testing.assert_array_equal(rounded, np.rint(values))


def test_an_unknown_grid_is_a_clear_error():
    from RadiomicsWorkshopLib.io.errors import SettingsError

    with pytest.raises(SettingsError, match="unknown resampling grid 'centred'.*extent, ibsi"):
        resample(_image(size=(4, 4, 4)), spacing=[2, 2, 2], grid="centred")


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_ct_phantom_morphology_statistics_and_local_intensity_on_the_ibsi_grid(config, tmp_path):
    if not (CT / "image" / "phantom.nii.gz").is_file():
        pytest.fail(f"the IBSI-1 CT phantom is not in {CT} (see ../shared/data/ibsi/README.md)", pytrace=False)
    spacing, setting = CONFIGS[config]
    params = yaml.safe_load(preset_path("IBSI").read_text())  # the IBSI preset, with configuration's settings
    params["setting"] = {k: v for k, v in params["setting"].items() if k != "binWidth"} | setting
    params["featureClass"] = {"shape": params["featureClass"]["shape"], "firstorder": []}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "recipe.yaml").write_text(
        f"name: ibsi_{config}\nsteps:\n  - resample: {{spacing: {spacing}, interpolator: linear, "
        "mask_mode: partial_volume, mask_threshold: 0.5, grid: ibsi, round_intensities: true}\n")
    cli("extract", "--image", CT / "image" / "phantom.nii.gz", "--mask", CT / "mask" / "mask.nii.gz", "--params",
        tmp_path / "params.yaml", "--preprocess", tmp_path / "recipe.yaml", "--case-id", "PAT1", "--jobs", 1,
        "--out", tmp_path / "features.csv", "--progress", "none")
    row = pd.read_csv(tmp_path / "features.csv").iloc[0]
    reference = load_reference(CT_REFERENCE)
    reference = reference[(reference["data"] == f"config. {config}") & reference["family"].isin(FAMILIES)
                          & reference["value"].notna() & (reference["consensus"] != "")]
    compared = compare_to_reference(row, reference=reference.assign(data="dig. phantom"))
    missed = compared.loc[~compared["reproduced"], ["family", "feature", "reference", "tolerance", "ours"]]
    assert missed.empty, f"configuration {config}:\n{missed.to_string()}"
    assert len(compared) == {"B": 45, "C": 44}[config]  # 25 + 18 + 2 values; C has 24 morphological ones


def test_a_preset_that_extends_another_and_the_ivh_and_convention_options(tmp_path):
    from RadiomicsWorkshopLib.features.presets import load_params
    from RadiomicsWorkshopLib.io.errors import SettingsError

    ibsi, config_c = load_params("IBSI"), load_params("IBSI_CT_C")
    # the IBSI preset with C's settings laid over it: its own keys replaced, the others kept
    assert config_c.settings == {**ibsi.settings, "binWidth": 25, "resegmentRange": [-1000, 400]}
    assert config_c.pyradiomics["featureClass"] == ibsi.pyradiomics["featureClass"]
    assert config_c.aggregations.keys() == ibsi.aggregations.keys() and config_c.ibsi_families == ibsi.ibsi_families
    assert all(a["pyradiomics"]["setting"]["binWidth"] == 25 for a in config_c.aggregations.values())  # inherited
    assert (config_c.ivh, config_c.convention) == ({"method": "bin_width", "bin_width": 2.5}, "ibsi")
    assert (ibsi.ivh, ibsi.convention) == (None, "pyradiomics")
    assert not {"ivh", "convention"} & set(ibsi.to_dict())  # tables made before these options keep their digest
    cases = {
        "workshop: {extends: NoSuchPreset}": "unknown preset 'NoSuchPreset'",
        "workshop: {extends: IBSI, ivh: {bin_width: -1}}": "is not an IVH discretisation",
        "workshop: {extends: IBSI, ivh: sometimes}": "is not an IVH discretisation",
        "workshop: {extends: IBSI, convention: mirp}": "'workshop: convention: mirp' is unknown",
    }
    for text, message in cases.items():
        (tmp_path / "p.yaml").write_text(text + "\n")
        with pytest.raises(SettingsError, match=message):
            load_params(params_file=tmp_path / "p.yaml")
    (tmp_path / "loop.yaml").write_text("workshop: {extends: loop}\n")  # a file that extends itself, by name
    import RadiomicsWorkshopLib.features.presets as presets

    with pytest.raises(SettingsError, match="in a loop: loop -> loop"):
        presets._extended({"workshop": {"extends": "loop"}}, str(tmp_path / "loop.yaml"), ("loop",))


def test_the_ivh_takes_its_range_in_hu_only_from_an_absolute_resegmentation_range():
    """``resegmentRange`` is in HU for PyRadiomics' "absolute" mode only; with "sigma" it is [-3, 3] standard
    deviations, so the IVH's total range is then the re-segmented ROI's own minimum and maximum."""
    from RadiomicsWorkshopLib.features.ibsi import intensity
    from RadiomicsWorkshopLib.features.ibsi.families import case_features

    rng = np.random.default_rng(0)
    array = rng.integers(-200, 300, size=(12, 12, 12)).astype(np.float32)
    array[5, 5, 5] = 2000.0  # an outlier that 3 sigma re-segmentation removes
    image = sitk.GetImageFromArray(array)
    mask = sitk.GetImageFromArray(np.pad(np.ones((10, 10, 10), np.uint8), 1))
    for mode, bounds in (("absolute", [-100, 250]), ("sigma", [-3, 3])):
        settings = {"binWidth": 25, "resegmentRange": bounds, "resegmentMode": mode, "label": 1}
        ours = case_features(image, mask, 1, settings, families=("ivh",), ivh={"method": "none"})
        roi = array[1:11, 1:11, 1:11].ravel()
        kept = roi[(roi >= bounds[0]) & (roi <= bounds[1])] if mode == "absolute" else \
            roi[np.abs(roi - roi.mean()) <= 3 * roi.std()]
        total = (bounds[0], bounds[1]) if mode == "absolute" else (kept.min(), kept.max())
        expected = intensity.ivh_features(kept, level_range=total)
        assert ours == pytest.approx({f"original_ivh_{k}": v for k, v in expected.items()}), mode
