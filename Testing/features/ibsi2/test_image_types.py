"""The IBSI-2 filters as image types of the extraction: computed on the ROI crop with a margin that covers
the filter's reach, the features equal to the whole image's; names that say the filter; our engine alone
computes them; bad settings get errors that name the setting and what to use."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from RadiomicsWorkshopLib.features.engine.extractor import Extractor
from RadiomicsWorkshopLib.features.presets import params_from_dict
from RadiomicsWorkshopLib.features.roi_crop import plan_crop
from RadiomicsWorkshopLib.io.errors import SettingsError

FEATURES = {"firstorder": [], "statistics": [], "glcm": ["Contrast", "JointEntropy"]}
IMAGE_TYPES = {
    "mean 3D, zero": ("IBSIMean", {"support": [5, 7], "boundary": "zero"}),
    "LoG 2D, mirror": ("IBSILoG", {"sigma": [1.0, 2.5], "dimensions": 2}),
    "Laws energy 3D, invariant": ("IBSILaws", {"kernel": "L5E5E5", "rotation_invariant": True, "energy_distance": 3}),
    "Gabor 2D, nearest": ("IBSIGabor", {"sigma": 3.0, "wavelength": 4.0, "gamma": 1.5, "theta_step": 90.0,
                                        "boundary": "nearest", "dimensions": 2}),
    "wavelet level 2, periodic": ("IBSIWavelet", {"wavelet": "db3", "band": ["HHL", "LLL"], "level": 2,
                                                  "boundary": "periodic"}),
    "Simoncelli 3D (whole image)": ("IBSISimoncelli", {"level": [1, 2]}),
}


@pytest.mark.parametrize("name", IMAGE_TYPES)
def test_features_on_the_crop_equal_the_whole_images(name, sample_case):
    image_type, custom = IMAGE_TYPES[name]
    image, mask = (sitk.ReadImage(str(p)) for p in sample_case("brain1"))
    extractor = Extractor({"imageType": {image_type: custom}, "featureClass": FEATURES, "setting": {"binWidth": 25}})
    cropped, whole = extractor.execute(image, mask, 1, crop=True), extractor.execute(image, mask, 1, crop=False)
    columns = [k for k in whole if not k.startswith("diagnostics_")]
    assert columns and sorted(columns) == sorted(k for k in cropped if not k.startswith("diagnostics_"))
    n_images = max(len(v) for v in custom.values() if isinstance(v, list)) if any(
        isinstance(v, list) for v in custom.values()) else 1
    assert len({c.split("_")[0] for c in columns}) == n_images
    for column in columns:
        assert cropped[column] == pytest.approx(whole[column], rel=1e-9, abs=1e-9), column
    steps = plan_crop({image_type: custom}, {}, image.GetSize(), image.GetSpacing(), [40, 120, 40, 120, 5, 15])
    assert all((step.region is None) == (image_type == "IBSISimoncelli") for step in steps)


def test_names_say_filter_parameters_and_dimensions():
    from RadiomicsWorkshopLib.features.ibsi2.image_types import filters

    assert [f.name for f in filters("IBSILoG", {"sigma": [1.5], "dimensions": 2})] == ["ibsi-log-sigma-1-5-mm-2D-mirror"]
    assert filters("IBSIWavelet", {"wavelet": "db3", "band": "LLH", "rotation_invariant": True})[0].name == \
        "ibsi-wavelet-db3-LLH-level-1-invariant-mean-3D-mirror"
    assert filters("IBSILaws", {"kernel": "L5E5", "energy_distance": 7, "rotation_invariant": True,
                                "dimensions": 2})[0].name == "ibsi-laws-L5E5-energy-7-invariant-max-2D-mirror"


@pytest.mark.parametrize("image_types, says", [
    ({"IBSILoG": {"sgima": [1.0]}}, "unknown setting(s) sgima; needs sigma"),
    ({"IBSIMean": {"support": 5, "boundary": "reflect"}}, "boundary 'reflect'"),
    ({"IBSIGabor": {"sigma": 2.0}}, "needs wavelength, gamma"),
])
def test_bad_settings_name_the_setting_and_the_file(image_types, says):
    with pytest.raises(SettingsError) as error:
        params_from_dict({"imageType": image_types}, source="mine.yaml")
    assert says in str(error.value) and "mine.yaml" in str(error.value), str(error.value)


def test_our_engine_alone_computes_them():
    params = params_from_dict({"imageType": {"IBSIMean": {"support": 3}}, "featureClass": {"firstorder": []}})
    assert params.engine == "ours"
    with pytest.raises(SettingsError, match="our engine alone, not by PyRadiomics"):
        params_from_dict({"imageType": {"IBSIMean": {"support": 3}}, "workshop": {"engine": "pyradiomics"}})
